package controlplane

import (
	"context"
	"slices"
	"testing"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/org"
)

// TestHierarchyScopedRoles builds workspace → team → two projects, gives a
// user a project member role on one, and checks what that user reaches:
// its project's keys and budgets, never the sibling's, and nothing
// tenant-wide.
func TestHierarchyScopedRoles(t *testing.T) {
	s, _ := newTestService(t)
	ctx, tenant := owner(t, s, "ann@example.com", "acme")
	ws, err := s.CreateNode(ctx, tenant, KindWorkspace, "", "Prod", KeyPolicy{AllowedProviders: []string{"openai", "anthropic"}})
	testenv.Must(t, err, "workspace")
	team, err := s.CreateNode(ctx, tenant, KindTeam, ws.ID, "Payments", KeyPolicy{})
	testenv.Must(t, err, "team")
	api, err := s.CreateNode(ctx, tenant, KindProject, team.ID, "API", KeyPolicy{AllowedProviders: []string{"openai"}, RequestsPerMinute: 100})
	testenv.Must(t, err, "project")
	web, err := s.CreateNode(ctx, tenant, KindProject, team.ID, "Web", KeyPolicy{})
	testenv.Must(t, err, "sibling")
	if api.Path != (org.Path{WorkspaceID: ws.ID, TeamID: team.ID, ProjectID: api.ID}) || api.ParentID != team.ID {
		t.Fatalf("project node %+v", api)
	}
	apiKey, err := s.CreateAPIKey(ctx, tenant, "api key", KeyPolicy{RequestsPerMinute: 600}, nil, &api.ID)
	testenv.Must(t, err, "key in project")
	webKey, err := s.CreateAPIKey(ctx, tenant, "web key", KeyPolicy{}, nil, &web.ID)
	testenv.Must(t, err, "key in sibling")
	legacy, err := s.CreateAPIKey(ctx, tenant, "legacy key", KeyPolicy{}, nil, nil)
	testenv.Must(t, err, "key outside the tree")
	// The effective policy narrows down the tree; the policy endpoint answers it.
	eff, err := s.EffectivePolicy(ctx, tenant, apiKey.Key.ID)
	testenv.Must(t, err, "effective")
	if !slices.Equal(eff.AllowedProviders, []string{"openai"}) || eff.RequestsPerMinute != 100 {
		t.Fatalf("effective policy %+v", eff)
	}
	ans, err := s.PolicyAnswer(ctx, apiKey.Secret)
	testenv.Must(t, err, "policy answer")
	if !slices.Equal(ans.Policy.AllowedProviders, []string{"openai"}) || ans.Policy.RequestsPerMinute != 100 {
		t.Fatalf("policy answer %+v", ans.Policy)
	}
	// Budgets at every level.
	money := int64(5_000_000_000)
	mk := func(in BudgetInput) Budget {
		t.Helper()
		in.Period, in.AmountNanoUSD = "quarter", money
		b, err := s.CreateBudget(ctx, tenant, in)
		testenv.Must(t, err, "budget "+in.Name)
		return b
	}
	apiBudget := mk(BudgetInput{Name: "api", Scope: "project", ProjectID: &api.ID})
	webBudget := mk(BudgetInput{Name: "web", Scope: "project", ProjectID: &web.ID})
	teamBudget := mk(BudgetInput{Name: "team", Scope: "team", TeamID: &team.ID, Rollover: true})
	mk(BudgetInput{Name: "tenant", Scope: "tenant"})
	covering, err := s.BudgetsCoveringKey(ctx, tenant, apiKey.Key.ID)
	testenv.Must(t, err, "covering")
	if names := budgetNames(covering); !slices.Equal(names, []string{"api", "team", "tenant"}) {
		t.Fatalf("budgets covering the api key: %v", names)
	}
	if _, err := s.CreateBudget(ctx, tenant, BudgetInput{Name: "bad", Scope: "team", ProjectID: &api.ID, Period: "month", AmountNanoUSD: 1}); apierr.CodeOf(err) != apierr.CodeInvalidArgument {
		t.Fatalf("team budget naming a project: %v", err)
	}
	if _, err := s.CreateBudget(ctx, tenant, BudgetInput{Name: "bad", Scope: "team", TeamID: &api.ID, Period: "month", AmountNanoUSD: 1}); apierr.CodeOf(err) != apierr.CodeNotFound {
		t.Fatalf("team budget naming a project id: %v", err)
	}

	// Dave: a member with a project member role on API only.
	m, err := s.AddMember(ctx, tenant, "dave@example.com", "Dave", "dave-password", RoleMember)
	testenv.Must(t, err, "member")
	_, err = s.GrantRole(ctx, tenant, m.User.ID, org.RoleProjectMember, api.ID)
	testenv.Must(t, err, "grant")
	dave := auth.WithPrincipal(context.Background(), auth.Principal{UserID: m.User.ID, Email: "dave@example.com"})
	keys, err := s.APIKeys(dave, tenant, Page{}, "")
	testenv.Must(t, err, "dave's keys")
	if len(keys.Items) != 1 || keys.Items[0].ID != apiKey.Key.ID {
		t.Fatalf("dave lists %d keys, want only the api key", len(keys.Items))
	}
	for _, id := range []string{webKey.Key.ID, legacy.Key.ID} {
		if _, err := s.APIKey(dave, tenant, id); apierr.CodeOf(err) != apierr.CodeNotFound {
			t.Fatalf("dave reading a key outside his project: %v", err)
		}
		if _, err := s.RevokeAPIKey(dave, tenant, id); apierr.CodeOf(err) != apierr.CodeNotFound {
			t.Fatalf("dave revoking a key outside his project: %v", err)
		}
	}
	bs, err := s.Budgets(dave, tenant, Page{})
	testenv.Must(t, err, "dave's budgets")
	if names := budgetNames(bs.Items); !slices.Equal(names, []string{"api"}) {
		t.Fatalf("dave's budgets %v, want [api]", names)
	}
	for _, id := range []string{webBudget.ID, teamBudget.ID} {
		if _, err := s.Budget(dave, tenant, id); apierr.CodeOf(err) != apierr.CodeNotFound {
			t.Fatalf("dave reading budget %s: %v", id, err)
		}
	}
	// He manages his project: keys and budgets there, nothing elsewhere.
	_, err = s.CreateAPIKey(dave, tenant, "dave's", KeyPolicy{}, nil, &api.ID)
	testenv.Must(t, err, "dave creates a key in his project")
	if _, err := s.CreateAPIKey(dave, tenant, "x", KeyPolicy{}, nil, &web.ID); apierr.CodeOf(err) != apierr.CodeNotFound {
		t.Fatalf("dave creating a key in the sibling (which he cannot see): %v", err)
	}
	if _, err := s.CreateAPIKey(dave, tenant, "x", KeyPolicy{}, nil, nil); apierr.CodeOf(err) != apierr.CodeForbidden {
		t.Fatalf("dave creating a tenant key: %v", err)
	}
	_, err = s.UpdateBudget(dave, tenant, apiBudget.ID, BudgetInput{Name: "api", Scope: "project", ProjectID: &api.ID, Period: "month", AmountNanoUSD: money})
	testenv.Must(t, err, "dave updates his project's budget")
	if _, err := s.UpdateBudget(dave, tenant, apiBudget.ID, BudgetInput{Name: "api", Scope: "project", ProjectID: &web.ID, Period: "month", AmountNanoUSD: money}); apierr.CodeOf(err) != apierr.CodeNotFound {
		t.Fatalf("dave moving his budget onto the sibling: %v", err)
	}
	if _, err := s.CreateBudget(dave, tenant, BudgetInput{Name: "t", Scope: "tenant", Period: "day", AmountNanoUSD: 1}); apierr.CodeOf(err) != apierr.CodeForbidden {
		t.Fatalf("dave creating a tenant budget: %v", err)
	}
	if _, err := s.RenameNode(dave, tenant, api.ID, "mine"); apierr.CodeOf(err) != apierr.CodeForbidden {
		t.Fatalf("a project member renaming the project: %v", err)
	}
	if _, err := s.AuditLog(dave, tenant, AuditFilter{}, Page{}); apierr.CodeOf(err) != apierr.CodeForbidden {
		t.Fatalf("dave reading the audit log: %v", err)
	}
	tree, err := s.Tree(dave, tenant)
	testenv.Must(t, err, "dave's tree")
	var names []string
	for _, n := range tree {
		names = append(names, n.Name)
	}
	if slices.Sort(names); !slices.Equal(names, []string{"API", "Payments", "Prod"}) {
		t.Fatalf("dave's tree %v: his project and the nodes above it", names)
	}

	// A team admin structures the team: renames, moves projects between
	// teams it administers, grants roles there.
	team2, err := s.CreateNode(ctx, tenant, KindTeam, ws.ID, "Search", KeyPolicy{})
	testenv.Must(t, err, "team 2")
	eve, err := s.AddMember(ctx, tenant, "eve@example.com", "Eve", "eve-password-1", RoleMember)
	testenv.Must(t, err, "eve")
	_, err = s.GrantRole(ctx, tenant, eve.User.ID, org.RoleTeamAdmin, team.ID)
	testenv.Must(t, err, "team admin")
	eveCtx := auth.WithPrincipal(context.Background(), auth.Principal{UserID: eve.User.ID, Email: "eve@example.com"})
	if _, err := s.MoveProject(eveCtx, tenant, web.ID, team2.ID); apierr.CodeOf(err) != apierr.CodeNotFound {
		t.Fatalf("moving a project to a team eve does not see: %v", err)
	}
	_, err = s.CreateNode(eveCtx, tenant, KindProject, team.ID, "Batch", KeyPolicy{})
	testenv.Must(t, err, "team admin adds a project")
	if _, err := s.CreateNode(eveCtx, tenant, KindTeam, ws.ID, "Rogue", KeyPolicy{}); apierr.CodeOf(err) != apierr.CodeForbidden {
		t.Fatalf("team admin creating a team: %v", err)
	}
	moved, err := s.MoveProject(ctx, tenant, web.ID, team2.ID)
	testenv.Must(t, err, "owner moves the project")
	if moved.Path.TeamID != team2.ID || moved.ParentID != team2.ID {
		t.Fatalf("moved project %+v", moved)
	}
	// The web key followed its project; eve's team no longer holds it.
	if _, err := s.APIKey(eveCtx, tenant, webKey.Key.ID); apierr.CodeOf(err) != apierr.CodeNotFound {
		t.Fatalf("eve reading the moved project's key: %v", err)
	}
	// Archived nodes take no children; their keys keep working.
	_, err = s.ArchiveNode(ctx, tenant, team2.ID, true)
	testenv.Must(t, err, "archive")
	if _, err := s.CreateNode(ctx, tenant, KindProject, team2.ID, "late", KeyPolicy{}); apierr.CodeOf(err) != apierr.CodeConflict {
		t.Fatalf("project under an archived team: %v", err)
	}
	if a, err := s.PolicyAnswer(ctx, webKey.Secret); err != nil || !a.Valid {
		t.Fatalf("key of an archived team: %+v %v", a, err)
	}
}

func budgetNames(bs []Budget) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Name)
	}
	slices.Sort(out)
	return out
}
