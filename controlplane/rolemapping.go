package controlplane

import (
	"strings"

	"github.com/spendgate/spendgate/org"
)

// RoleMapping turns an identity provider's groups (the OIDC groups claim,
// SCIM group memberships) into what a member may do. It is one structure
// for both, stored with the tenant's provider. A rule grants a tenant role
// (owner, admin, viewer) or, with a team or project scope, a scoped role
// there (team_admin, project_member, project_viewer).
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

// GrantScope is where a grant applies: Kind "tenant" is the whole tenant,
// "team" or "project" the node with ID.
type GrantScope struct {
	Kind string `json:"kind"`
	ID   string `json:"id,omitempty"`
}

// GrantTenant is the scope kind of tenant roles.
const GrantTenant = "tenant"

// Empty reports whether the mapping grants nothing (no rule, no default):
// then roles are managed in spendgate, not by the provider.
func (m RoleMapping) Empty() bool { return len(m.Rules) == 0 && m.DefaultRole == "" }

func groupSet(groups []string) map[string]bool {
	in := make(map[string]bool, len(groups))
	for _, g := range groups {
		in[strings.ToLower(strings.TrimSpace(g))] = true
	}
	return in
}

func (r MappingRule) tenantScoped() bool { return r.Scope.Kind == "" || r.Scope.Kind == GrantTenant }

// TenantRole is the most powerful tenant role the groups grant; else
// member when they match only scoped rules (the member's rights are then
// its grants); else the default role ("" for none).
func (m RoleMapping) TenantRole(groups []string) Role {
	in := groupSet(groups)
	var best Role
	scoped := false
	for _, r := range m.Rules {
		if !in[strings.ToLower(strings.TrimSpace(r.Group))] {
			continue
		}
		if !r.tenantScoped() {
			scoped = true
		} else if r.Role.Rank() > best.Rank() {
			best = r.Role
		}
	}
	switch {
	case best != "":
		return best
	case scoped && m.DefaultRole == "":
		return RoleMember
	}
	return m.DefaultRole
}

// ScopedGrants are the scoped roles the groups grant, by node id: of two
// rules on one project, project_member wins over project_viewer.
func (m RoleMapping) ScopedGrants(groups []string) map[string]MappingRule {
	in := groupSet(groups)
	out := map[string]MappingRule{}
	for _, r := range m.Rules {
		if r.tenantScoped() || !in[strings.ToLower(strings.TrimSpace(r.Group))] {
			continue
		}
		if have, ok := out[r.Scope.ID]; ok && (have.Role == org.RoleProjectMember || r.Role == org.RoleProjectViewer) {
			continue
		}
		out[r.Scope.ID] = r
	}
	return out
}

// validate checks a mapping's rules (at most 100, known roles fitting their
// scope) and fills in scope kinds. That scoped rules' nodes exist is
// checked against the tenant's tree by checkMappingScopes.
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
		switch r.Scope.Kind {
		case "", GrantTenant:
			if r.Scope.ID != "" {
				return invalid("group mapping %d: a tenant role applies to the whole tenant; a team or project needs a scoped role", i+1)
			}
			if r.Role.Rank() == 0 {
				return invalid("group mapping %d: %q is not a tenant role (owner, admin, viewer; scoped roles need a team or project)", i+1, r.Role)
			}
			r.Scope = GrantScope{Kind: GrantTenant}
		case KindTeam, KindProject:
			kind, ok := r.Role.Scoped()
			if !ok || kind != r.Scope.Kind {
				return invalid("group mapping %d: the role on a %s must be %s, not %q", i+1, r.Scope.Kind, scopedRolesOf(r.Scope.Kind), r.Role)
			}
			if !isUUID(r.Scope.ID) {
				return invalid("group mapping %d: %q is not a %s id", i+1, r.Scope.ID, r.Scope.Kind)
			}
		default:
			return invalid("group mapping %d: unknown scope %q (tenant, team or project)", i+1, r.Scope.Kind)
		}
	}
	return nil
}

func scopedRolesOf(kind string) string {
	if kind == KindTeam {
		return string(org.RoleTeamAdmin)
	}
	return string(org.RoleProjectMember) + " or " + string(org.RoleProjectViewer)
}
