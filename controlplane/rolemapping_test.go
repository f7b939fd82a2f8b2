package controlplane

import (
	"testing"

	"github.com/spendgate/spendgate/org"
)

const (
	teamID    = "00000000-0000-4000-8000-000000000001"
	projectID = "00000000-0000-4000-8000-000000000002"
)

func TestRoleMapping(t *testing.T) {
	m := RoleMapping{Rules: []MappingRule{
		{Group: "spend-admins", Role: RoleAdmin}, {Group: "Finance", Role: RoleViewer},
		{Group: "00000000-aaaa-bbbb-cccc-000000000001", Role: RoleOwner},
	}}
	if err := m.validate(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		groups []string
		def    Role
		want   Role
	}{
		"highest of several":          {[]string{"finance", "Spend-Admins"}, "", RoleAdmin},
		"an Entra group object id":    {[]string{"00000000-AAAA-bbbb-cccc-000000000001"}, "", RoleOwner},
		"no mapped group, no default": {[]string{"engineering"}, "", ""},
		"no mapped group, default":    {nil, RoleViewer, RoleViewer},
	} {
		m.DefaultRole = c.def
		if got := m.TenantRole(c.groups); got != c.want {
			t.Errorf("%s: %q, want %q", name, got, c.want)
		}
	}
	for name, bad := range map[string]RoleMapping{
		"unknown role":            {Rules: []MappingRule{{Group: "g", Role: "god"}}},
		"empty group":             {Rules: []MappingRule{{Group: " ", Role: RoleViewer}}},
		"tenant role on a team":   {Rules: []MappingRule{{Group: "g", Role: RoleViewer, Scope: GrantScope{Kind: "team", ID: teamID}}}},
		"project role on a team":  {Rules: []MappingRule{{Group: "g", Role: org.RoleProjectMember, Scope: GrantScope{Kind: "team", ID: teamID}}}},
		"scope without an id":     {Rules: []MappingRule{{Group: "g", Role: org.RoleTeamAdmin, Scope: GrantScope{Kind: "team"}}}},
		"unknown scope":           {Rules: []MappingRule{{Group: "g", Role: org.RoleTeamAdmin, Scope: GrantScope{Kind: "workspace", ID: teamID}}}},
		"tenant scope with an id": {Rules: []MappingRule{{Group: "g", Role: RoleAdmin, Scope: GrantScope{ID: teamID}}}},
		"bad default":             {DefaultRole: "root"},
	} {
		if err := bad.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestRoleMappingScoped: scoped rules make a member (tenant rules still
// win the tenant role) and yield one grant per node, the stronger one.
func TestRoleMappingScoped(t *testing.T) {
	m := RoleMapping{Rules: []MappingRule{
		{Group: "admins", Role: RoleAdmin},
		{Group: "leads", Role: org.RoleTeamAdmin, Scope: GrantScope{Kind: KindTeam, ID: teamID}},
		{Group: "readers", Role: org.RoleProjectViewer, Scope: GrantScope{Kind: KindProject, ID: projectID}},
		{Group: "devs", Role: org.RoleProjectMember, Scope: GrantScope{Kind: KindProject, ID: projectID}},
	}}
	if err := m.validate(); err != nil {
		t.Fatal(err)
	}
	if r := m.TenantRole([]string{"Readers"}); r != RoleMember {
		t.Errorf("scoped groups only: %q, want member", r)
	}
	if r := m.TenantRole([]string{"readers", "admins"}); r != RoleAdmin {
		t.Errorf("a tenant rule and a scoped one: %q, want admin", r)
	}
	for _, groups := range [][]string{{"readers", "devs"}, {"devs", "readers"}} {
		g := m.ScopedGrants(groups)
		if len(g) != 1 || g[projectID].Role != org.RoleProjectMember {
			t.Errorf("%v: %+v, want project_member on the project", groups, g)
		}
	}
	if g := m.ScopedGrants([]string{"leads", "admins"}); len(g) != 1 || g[teamID].Role != org.RoleTeamAdmin {
		t.Errorf("leads: %+v", g)
	}
	m.DefaultRole = RoleViewer
	if r := m.TenantRole([]string{"readers"}); r != RoleViewer {
		t.Errorf("scoped groups with a default role: %q, want the default", r)
	}
}

// TestGrantsNarrowedEndsScopedWatches: a removed or lowered grant ends the
// user's watches that rest on grants in that tenant, not tenant-role ones
// nor other tenants' or users'.
func TestGrantsNarrowedEndsScopedWatches(t *testing.T) {
	a := newAccessWatchers()
	ended := map[string]bool{}
	watchAs := func(name, user, tenant string, need Role) {
		a.add(user, &watch{tenantID: tenant, need: need, end: func(error) { ended[name] = true }})
	}
	watchAs("scoped", "u1", "t1", RoleMember)
	watchAs("viewer", "u1", "t1", RoleViewer)
	watchAs("other tenant", "u1", "t2", RoleMember)
	watchAs("other user", "u2", "t1", RoleMember)
	a.apply(accessChange{User: "u1", Tenant: "t1", Grants: true})
	if !ended["scoped"] || ended["viewer"] || ended["other tenant"] || ended["other user"] {
		t.Fatalf("ended: %v", ended)
	}
}
