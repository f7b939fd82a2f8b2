package org

// Role is a user's role in a tenant (the membership) or on one node of its
// tree (a grant). The model is a role plus a scope: a tenant role reaches
// the whole tenant, a grant the subtree of its node. Other ways in (an
// identity provider's groups) map onto the same pairs.
type Role string

// Tenant roles, from most to least powerful. RoleMember has no right of its
// own in the tenant: a member's rights are its grants.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleViewer Role = "viewer"
	RoleMember Role = "member"
)

// Scoped roles, granted on a node.
const (
	RoleTeamAdmin     Role = "team_admin"     // on a team: manage it, its projects, keys and budgets
	RoleProjectMember Role = "project_member" // on a project: manage its keys and budgets
	RoleProjectViewer Role = "project_viewer" // on a project: read it
)

// Rank orders tenant roles (0 for a scoped or unknown one).
func (r Role) Rank() int {
	switch r {
	case RoleOwner:
		return 3
	case RoleAdmin:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// Tenant reports whether r is a tenant role.
func (r Role) Tenant() bool { return r.Rank() > 0 || r == RoleMember }

// Scoped reports whether r is granted on a node, and the kind of node.
func (r Role) Scoped() (kind string, ok bool) {
	switch r {
	case RoleTeamAdmin:
		return "team", true
	case RoleProjectMember, RoleProjectViewer:
		return "project", true
	}
	return "", false
}

// Grant is a scoped role on one node; Node is the node's path (filled down
// to its level).
type Grant struct {
	Role Role
	Node Path
}

// Right is what an operation needs on a node.
type Right int

// Rights.
const (
	// Read reads the node's keys, budgets and spend.
	Read Right = iota + 1
	// Manage creates and changes keys and budgets at or below the node.
	Manage
	// Structure creates, renames, archives and moves nodes below the node.
	Structure
)

// Access is everything a user may do in one tenant: the tenant role and the
// grants. It is the one place a scoped right is decided.
type Access struct {
	Role   Role
	Grants []Grant
}

// TenantWide reports whether the tenant role alone gives right on every
// node: viewers read, admins and owners manage and structure.
func (a Access) TenantWide(r Right) bool {
	if r == Read {
		return a.Role.Rank() >= RoleViewer.Rank()
	}
	return a.Role.Rank() >= RoleAdmin.Rank()
}

// Can reports whether a has right r on the node at path (a node, a key's
// project, a budget's scope). A zero path is the tenant itself (keys
// without a project, tenant-wide budgets): only tenant roles reach it.
func (a Access) Can(r Right, at Path) bool {
	if a.TenantWide(r) {
		return true
	}
	if at.IsZero() {
		return false
	}
	for _, g := range a.Grants {
		if !at.Within(g.Node) {
			continue
		}
		switch g.Role {
		case RoleTeamAdmin:
			return true
		case RoleProjectMember:
			if r <= Manage {
				return true
			}
		case RoleProjectViewer:
			if r == Read {
				return true
			}
		}
	}
	return false
}

// Scoped reports whether a's reads are limited to its grants' subtrees
// (the tenant role does not read the whole tenant).
func (a Access) Scoped() bool { return !a.TenantWide(Read) }

// Readable lists the nodes a scoped access reads (its grants' nodes).
func (a Access) Readable() []Path {
	out := make([]Path, 0, len(a.Grants))
	for _, g := range a.Grants {
		out = append(out, g.Node)
	}
	return out
}
