package controlplane

import "testing"

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
		"unknown role":   {Rules: []MappingRule{{Group: "g", Role: "god"}}},
		"empty group":    {Rules: []MappingRule{{Group: " ", Role: RoleViewer}}},
		"team scope yet": {Rules: []MappingRule{{Group: "g", Role: RoleViewer, Scope: GrantScope{Kind: "team", ID: "x"}}}},
		"bad default":    {DefaultRole: "root"},
	} {
		if err := bad.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
