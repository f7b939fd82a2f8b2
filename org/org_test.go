package org

import (
	"slices"
	"testing"
)

var (
	ws   = Path{WorkspaceID: "w1"}
	pay  = Path{WorkspaceID: "w1", TeamID: "t-pay"}
	api  = Path{WorkspaceID: "w1", TeamID: "t-pay", ProjectID: "p-api"}
	web  = Path{WorkspaceID: "w1", TeamID: "t-pay", ProjectID: "p-web"}
	ml   = Path{WorkspaceID: "w1", TeamID: "t-ml"}
	lab  = Path{WorkspaceID: "w1", TeamID: "t-ml", ProjectID: "p-lab"}
	wsB  = Path{WorkspaceID: "w2", TeamID: "t-pay", ProjectID: "p-api"} // same ids below, other workspace
	tree = &Tree{
		Projects:    map[string]Path{"p-api": api, "p-web": web, "p-lab": lab},
		Teams:       map[string]Path{"t-pay": pay, "t-ml": ml},
		KeyProjects: map[string]string{"k-api": "p-api"},
		Mappings: []Mapping{
			{Name: "team", Value: "ml", TeamID: "t-ml"},
			{Name: "app", Value: "web", ProjectID: "p-web"},
		},
	}
)

func TestAttribute(t *testing.T) {
	t.Parallel()
	SortMappings(tree.Mappings)
	for name, c := range map[string]struct {
		key  string
		dims map[string]string
		want Path
	}{
		"a key's project wins over a mapping":    {"k-api", map[string]string{"app": "web"}, api},
		"a key without project, project mapping": {"k-x", map[string]string{"app": "web", "team": "ml"}, web},
		"a key without project, team mapping":    {"k-x", map[string]string{"team": "ml"}, ml},
		"no mapping matches":                     {"k-x", map[string]string{"team": "payments"}, Path{}},
		"no dimensions":                          {"k-x", nil, Path{}},
	} {
		if got := tree.Attribute(c.key, c.dims); got != c.want {
			t.Errorf("%s: %+v, want %+v", name, got, c.want)
		}
	}
	var none *Tree
	if !none.Attribute("k", nil).IsZero() {
		t.Error("a nil tree attributes nothing")
	}
}

func TestWithin(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		p, node Path
		want    bool
	}{
		"project in its team":           {api, pay, true},
		"project in its workspace":      {api, ws, true},
		"project in itself":             {api, api, true},
		"sibling project":               {web, api, false},
		"team is not in its project":    {pay, api, false},
		"other team":                    {lab, pay, false},
		"other workspace, same team id": {wsB, pay, false},
		"nothing is in the zero node":   {api, Path{}, false},
		"the zero path is in no node":   {Path{}, ws, false},
	} {
		if got := c.p.Within(c.node); got != c.want {
			t.Errorf("%s: %v, want %v", name, got, c.want)
		}
	}
}

func TestAccess(t *testing.T) {
	t.Parallel()
	teamAdmin := Access{Role: RoleMember, Grants: []Grant{{RoleTeamAdmin, pay}}}
	member := Access{Role: RoleMember, Grants: []Grant{{RoleProjectMember, api}}}
	viewer := Access{Role: RoleMember, Grants: []Grant{{RoleProjectViewer, api}}}
	for name, c := range map[string]struct {
		a    Access
		r    Right
		at   Path
		want bool
	}{
		"owner structures anywhere":            {Access{Role: RoleOwner}, Structure, ws, true},
		"admin manages the tenant":             {Access{Role: RoleAdmin}, Manage, Path{}, true},
		"tenant viewer reads everything":       {Access{Role: RoleViewer}, Read, lab, true},
		"tenant viewer manages nothing":        {Access{Role: RoleViewer}, Manage, lab, false},
		"team admin manages a project of it":   {teamAdmin, Manage, web, true},
		"team admin structures its projects":   {teamAdmin, Structure, web, true},
		"team admin renames its team":          {teamAdmin, Structure, pay, true},
		"team admin cannot create teams":       {teamAdmin, Structure, ws, false},
		"team admin reads its team":            {teamAdmin, Read, pay, true},
		"team admin stops at its team":         {teamAdmin, Read, lab, false},
		"team admin has no tenant-wide rights": {teamAdmin, Read, Path{}, false},
		"project member manages its project":   {member, Manage, api, true},
		"project member cannot see a sibling":  {member, Read, web, false},
		"project member cannot read its team":  {member, Read, pay, false},
		"project member does not structure":    {member, Structure, api, false},
		"project viewer reads":                 {viewer, Read, api, true},
		"project viewer does not manage":       {viewer, Manage, api, false},
		"a grant in another workspace":         {member, Read, wsB, false},
	} {
		if got := c.a.Can(c.r, c.at); got != c.want {
			t.Errorf("%s: %v, want %v", name, got, c.want)
		}
	}
	if !member.Scoped() || (Access{Role: RoleViewer}).Scoped() {
		t.Error("Scoped")
	}
}

func TestEffective(t *testing.T) {
	t.Parallel()
	workspace := KeyPolicy{AllowedProviders: []string{"openai", "anthropic"}, RequiredDimensions: []string{"env"},
		DefaultDimensions: map[string]string{"env": "prod", "cost_center": "100"}, RequestsPerMinute: 600}
	team := KeyPolicy{AllowedModels: []string{"gpt-4o*", "claude-*"}, TokensPerMinute: 1_000_000}
	project := KeyPolicy{AllowedProviders: []string{"openai", "gemini"}, DefaultDimensions: map[string]string{"cost_center": "200"},
		RequestsPerMinute: 1200, RequirePricedModels: true}
	key := KeyPolicy{AllowedModels: []string{"gpt-4o-mini"}, RequiredDimensions: []string{"app", "env"}, RequestsPerMinute: 60}
	p, closed := Effective(workspace, team, project, key)
	if closed || !slices.Equal(p.AllowedProviders, []string{"openai"}) || !slices.Equal(p.AllowedModels, []string{"gpt-4o-mini"}) ||
		!slices.Equal(p.RequiredDimensions, []string{"env", "app"}) || p.DefaultDimensions["env"] != "prod" ||
		p.DefaultDimensions["cost_center"] != "200" || !p.RequirePricedModels || p.RequestsPerMinute != 60 || p.TokensPerMinute != 1_000_000 {
		t.Fatalf("effective = %+v closed %v", p, closed)
	}
	// Without layers above, a key's own policy is what it was.
	own, closed := Effective(key)
	if closed || len(own.AllowedProviders) != 0 || own.RequestsPerMinute != 60 {
		t.Fatalf("key alone = %+v", own)
	}
	// Disjoint provider lists leave nothing: the key is closed.
	if _, closed := Effective(KeyPolicy{AllowedProviders: []string{"openai"}}, KeyPolicy{AllowedProviders: []string{"gemini"}}); !closed {
		t.Fatal("disjoint provider lists must close the key")
	}
}
