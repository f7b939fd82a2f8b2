package controlplane

import (
	"strings"
)

// RoleMapping turns an identity provider's groups (the OIDC groups claim,
// SCIM group memberships) into what a member may do. It is one structure
// for both, stored with the tenant's provider. Today every rule grants a
// tenant role (owner, admin, viewer); Scope names where a grant applies so
// team- and project-scoped roles can be added as new scope kinds without
// changing stored mappings.
type RoleMapping struct {
	Rules []MappingRule `json:"rules"`
	// DefaultRole is granted to users in no mapped group ("": none, such a
	// user gets no access).
	DefaultRole Role `json:"defaultRole,omitempty"`
}

// MappingRule grants Role at Scope to members of Group (a group name or id
// as the provider sends it; compared case-insensitively).
type MappingRule struct {
	Group string     `json:"group"`
	Role  Role       `json:"role"`
	Scope GrantScope `json:"scope"`
}

// GrantScope is where a grant applies. Kind "tenant" (the only kind so
// far) is the whole tenant; ID is for future kinds (a team's or project's
// id).
type GrantScope struct {
	Kind string `json:"kind"`
	ID   string `json:"id,omitempty"`
}

// GrantTenant is the scope kind of tenant roles.
const GrantTenant = "tenant"

// Empty reports whether the mapping grants nothing (no rule, no default):
// then roles are managed in spendgate, not by the provider.
func (m RoleMapping) Empty() bool { return len(m.Rules) == 0 && m.DefaultRole == "" }

// TenantRole is the most powerful tenant role the groups grant, else the
// default role ("" for none).
func (m RoleMapping) TenantRole(groups []string) Role {
	in := make(map[string]bool, len(groups))
	for _, g := range groups {
		in[strings.ToLower(strings.TrimSpace(g))] = true
	}
	var best Role
	for _, r := range m.Rules {
		if (r.Scope.Kind == "" || r.Scope.Kind == GrantTenant) && in[strings.ToLower(strings.TrimSpace(r.Group))] && r.Role.Rank() > best.Rank() {
			best = r.Role
		}
	}
	if best == "" {
		return m.DefaultRole
	}
	return best
}

// validate checks a mapping's rules (at most 100, known roles, tenant
// scope) and fills in scope kinds.
func (m *RoleMapping) validate() error {
	if len(m.Rules) > 100 {
		return invalid("at most 100 group mappings")
	}
	if m.DefaultRole != "" && m.DefaultRole.Rank() == 0 {
		return invalid("unknown default role %q", m.DefaultRole)
	}
	for i := range m.Rules {
		r := &m.Rules[i]
		r.Group = strings.TrimSpace(r.Group)
		if r.Group == "" || len(r.Group) > 256 {
			return invalid("group mapping %d: the group must be 1-256 characters", i+1)
		}
		if r.Role.Rank() == 0 {
			return invalid("group mapping %d: unknown role %q", i+1, r.Role)
		}
		switch r.Scope.Kind {
		case "", GrantTenant:
			r.Scope = GrantScope{Kind: GrantTenant}
		default:
			return invalid("group mapping %d: scope %q is not available (tenant roles only)", i+1, r.Scope.Kind)
		}
	}
	return nil
}
