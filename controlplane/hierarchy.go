package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/org"
	"github.com/spendgate/spendgate/org/orgstore"
)

// Node kinds of the organisation tree.
const (
	KindWorkspace = "workspace"
	KindTeam      = "team"
	KindProject   = "project"
)

// Node is a workspace, team or project. ParentID is the workspace of a team
// and the team of a project ("" for a workspace); Path locates it.
type Node struct {
	ID, TenantID, Kind, ParentID, Name string
	Path                               org.Path
	KeyDefaults                        KeyPolicy
	ArchivedAt                         *time.Time
	CreatedAt                          time.Time
}

// Grant is a scoped role of a user on a node.
type Grant struct {
	UserID, Email string
	Role          Role
	Node          Node
	CreatedAt     time.Time
}

// Mapping attributes spend by a dimension value to a team or project.
type Mapping struct {
	ID, TenantID, DimensionName, DimensionValue string
	TeamID, ProjectID                           *string
	CreatedAt                                   time.Time
}

// HierarchyService manages the tenant's tree, scoped roles and mappings.
type HierarchyService struct {
	*core
	// keys' cache of verified keys holds effective policies: changes of the
	// tree evict it.
	keys *KeyService
}

// nodeSQL reads every node of a tenant with its path.
const nodeSQL = `SELECT id::text AS id, tenant_id::text AS tenant_id, 'workspace' AS kind, '' AS parent_id, name, id::text AS ws, '' AS team,
		'' AS project, key_defaults, archived_at, created_at FROM workspaces WHERE tenant_id = $1
	UNION ALL SELECT id::text, tenant_id::text, 'team', workspace_id::text, name, workspace_id::text, id::text, '', key_defaults, archived_at, created_at FROM teams WHERE tenant_id = $1
	UNION ALL SELECT p.id::text, p.tenant_id::text, 'project', p.team_id::text, p.name, t.workspace_id::text, t.id::text, p.id::text, p.key_defaults, p.archived_at, p.created_at
		FROM projects p JOIN teams t ON t.id = p.team_id WHERE p.tenant_id = $1`

func scanNode(r pgx.Row) (Node, error) {
	var n Node
	var defaults []byte
	err := r.Scan(&n.ID, &n.TenantID, &n.Kind, &n.ParentID, &n.Name, &n.Path.WorkspaceID, &n.Path.TeamID, &n.Path.ProjectID, &defaults, &n.ArchivedAt, &n.CreatedAt)
	if err == nil {
		err = json.Unmarshal(defaults, &n.KeyDefaults)
	}
	return n, err
}

func loadNodes(ctx context.Context, q orgstore.Querier, tenantID string) ([]Node, error) {
	rows, err := q.Query(ctx, `SELECT * FROM (`+nodeSQL+`) n ORDER BY kind DESC, name, id`, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Node, error) { return scanNode(r) })
}

// getNode reads one node of the tenant by id (any kind): INVALID_ARGUMENT
// for a malformed id, NOT_FOUND for another tenant's or none.
func getNode(ctx context.Context, q orgstore.Querier, tenantID, id string) (Node, error) {
	if err := checkID("id", id); err != nil {
		return Node{}, err
	}
	n, err := scanNode(q.QueryRow(ctx, `SELECT * FROM (`+nodeSQL+`) n WHERE id = $2`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return n, notFound("node")
	}
	return n, err
}

// visibleNode reads a node the caller may read: one it cannot (a sibling
// of its project) is NOT_FOUND, as another tenant's, so ids cannot be
// probed across subtrees either. A workspace or team above the caller's
// grants is visible (the tree shows it).
func (c *core) visibleNode(ctx context.Context, tenantID, id string) (Node, error) {
	_, a, err := c.rights(ctx, tenantID)
	if err != nil {
		return Node{}, err
	}
	n, err := getNode(ctx, c.db, tenantID, id)
	if err != nil {
		return n, err
	}
	if !a.Can(org.Read, n.Path) && !isAncestorOfGrant(n.Path, a) {
		return Node{}, notFound("node")
	}
	return n, nil
}

// rights reads what the caller may do in a tenant: the tenant role and the
// scoped grants with their nodes' paths, checking the session as authorize
// does. A caller without any right here is FORBIDDEN.
func (c *core) rights(ctx context.Context, tenantID string) (auth.Principal, org.Access, error) {
	p, role, err := c.authorize(ctx, tenantID, RoleMember)
	if err != nil {
		return p, org.Access{}, err
	}
	a := org.Access{Role: role}
	if role.Rank() >= RoleViewer.Rank() {
		return p, a, nil // a tenant role reads everything; grants add nothing
	}
	rows, err := c.db.Query(ctx, `SELECT g.role, n.ws, n.team, n.project FROM role_grants g JOIN (
			SELECT id, workspace_id::text AS ws, id::text AS team, '' AS project FROM teams WHERE tenant_id = $1
			UNION ALL SELECT p.id, t.workspace_id::text, t.id::text, p.id::text FROM projects p JOIN teams t ON t.id = p.team_id WHERE p.tenant_id = $1
		) n ON n.id = g.node_id WHERE g.tenant_id = $1 AND g.user_id = $2`, tenantID, p.UserID)
	if err != nil {
		return p, a, err
	}
	a.Grants, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (org.Grant, error) {
		var g org.Grant
		return g, r.Scan(&g.Role, &g.Node.WorkspaceID, &g.Node.TeamID, &g.Node.ProjectID)
	})
	if err != nil {
		return p, a, err
	}
	if len(a.Grants) == 0 {
		return p, a, forbidden("you have no role in this tenant's teams or projects")
	}
	return p, a, nil
}

// authorizeAt checks that the caller has right on the node at path (the
// zero path is the tenant itself). This and org.Access.Can are the one
// place a scoped right is decided.
func (c *core) authorizeAt(ctx context.Context, tenantID string, right org.Right, at org.Path) (auth.Principal, org.Access, error) {
	p, a, err := c.rights(ctx, tenantID)
	if err != nil {
		return p, a, err
	}
	if !a.Can(right, at) {
		return p, a, forbidden("your roles in this tenant do not reach this %s", nodeWord(at))
	}
	return p, a, nil
}

func nodeWord(at org.Path) string {
	switch {
	case at.ProjectID != "":
		return "project"
	case at.TeamID != "":
		return "team"
	case at.WorkspaceID != "":
		return "workspace"
	}
	return "tenant-wide object"
}

// Access returns what the caller may do in a tenant (analytics and exports
// narrow a scoped caller's reads with it).
func (s *Service) Access(ctx context.Context, tenantID string) (org.Access, error) {
	_, a, err := s.core.rights(ctx, tenantID)
	return a, err
}

// Tree lists the tenant's workspaces, teams and projects that the caller
// reads: all of them for a tenant role, else the subtrees of the caller's
// grants and the nodes above them (so the subtree can be shown in place).
func (s *HierarchyService) Tree(ctx context.Context, tenantID string) ([]Node, error) {
	_, a, err := s.rights(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	nodes, err := loadNodes(ctx, s.db, tenantID)
	if err != nil || !a.Scoped() {
		return nodes, err
	}
	out := nodes[:0]
	for _, n := range nodes {
		if a.Can(org.Read, n.Path) || isAncestorOfGrant(n.Path, a) {
			out = append(out, n)
		}
	}
	return out, nil
}

func isAncestorOfGrant(p org.Path, a org.Access) bool {
	for _, g := range a.Grants {
		if g.Node.Within(p) {
			return true
		}
	}
	return false
}

// CreateNode adds a workspace (parentID ""), a team (parent: a workspace) or
// a project (parent: a team). Workspaces and teams need a tenant admin; a
// team admin adds projects to its team.
func (s *HierarchyService) CreateNode(ctx context.Context, tenantID, kind, parentID, name string, defaults KeyPolicy) (Node, error) {
	name, err := cleanName("name", name)
	if err != nil {
		return Node{}, err
	}
	if err := validatePolicy(&defaults); err != nil {
		return Node{}, err
	}
	at := org.Path{}
	var parent Node
	switch kind {
	case KindWorkspace:
		if parentID != "" {
			return Node{}, invalid("a workspace has no parent")
		}
	case KindTeam, KindProject:
		if parentID == "" {
			return Node{}, invalid("a %s needs a parentId (its %s)", kind, map[string]string{KindTeam: "workspace", KindProject: "team"}[kind])
		}
	default:
		return Node{}, invalid("kind must be workspace, team or project")
	}
	if parentID != "" {
		if _, _, err := s.rights(ctx, tenantID); err != nil {
			return Node{}, err
		}
		if parent, err = s.visibleNode(ctx, tenantID, parentID); err != nil {
			return Node{}, err
		}
		want := map[string]string{KindTeam: KindWorkspace, KindProject: KindTeam}[kind]
		if parent.Kind != want {
			return Node{}, invalid("the parent of a %s must be a %s, not a %s", kind, want, parent.Kind)
		}
		if parent.ArchivedAt != nil {
			return Node{}, newErr(apierr.CodeConflict, "the %s is archived", parent.Kind)
		}
		at = parent.Path
		if kind == KindTeam {
			at = org.Path{} // new teams are tenant structure: admins only
		}
	}
	p, _, err := s.authorizeAt(ctx, tenantID, org.Structure, at)
	if err != nil {
		return Node{}, err
	}
	defs, _ := json.Marshal(defaults)
	var n Node
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var id string
		var err error
		switch kind {
		case KindWorkspace:
			err = tx.QueryRow(ctx, `INSERT INTO workspaces (tenant_id, name, key_defaults) VALUES ($1, $2, $3) RETURNING id::text`, tenantID, name, defs).Scan(&id)
		case KindTeam:
			err = tx.QueryRow(ctx, `INSERT INTO teams (tenant_id, workspace_id, name, key_defaults) VALUES ($1, $2, $3, $4) RETURNING id::text`, tenantID, parentID, name, defs).Scan(&id)
		case KindProject:
			err = tx.QueryRow(ctx, `INSERT INTO projects (tenant_id, team_id, name, key_defaults) VALUES ($1, $2, $3, $4) RETURNING id::text`, tenantID, parentID, name, defs).Scan(&id)
		}
		if err != nil {
			return err
		}
		if n, err = getNode(ctx, tx, tenantID, id); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, kind+".create", kind, id, map[string]any{"name": name, "parent_id": parentID})
	})
	return n, err
}

// changeNode authorizes right on node id and runs change in a transaction
// with its audit entry; it returns the node as it is afterwards.
func (s *HierarchyService) changeNode(ctx context.Context, tenantID, id string, right org.Right, action string, details map[string]any,
	change func(tx pgx.Tx, n Node) error) (Node, error) {
	if _, _, err := s.rights(ctx, tenantID); err != nil {
		return Node{}, err
	}
	n, err := s.visibleNode(ctx, tenantID, id)
	if err != nil {
		return Node{}, err
	}
	at := n.Path
	if n.Kind == KindWorkspace {
		at = org.Path{} // a workspace is tenant structure
	}
	p, _, err := s.authorizeAt(ctx, tenantID, right, at)
	if err != nil {
		return Node{}, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := change(tx, n); err != nil {
			return err
		}
		var err error
		if n, err = getNode(ctx, tx, tenantID, id); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, n.Kind+"."+action, n.Kind, id, details)
	})
	if err == nil {
		s.keys.evictAll()
	}
	return n, err
}

func nodeTable(kind string) string {
	return map[string]string{KindWorkspace: "workspaces", KindTeam: "teams", KindProject: "projects"}[kind]
}

// RenameNode renames a workspace, team or project.
func (s *HierarchyService) RenameNode(ctx context.Context, tenantID, id, name string) (Node, error) {
	name, err := cleanName("name", name)
	if err != nil {
		return Node{}, err
	}
	return s.changeNode(ctx, tenantID, id, org.Structure, "rename", map[string]any{"name": name}, func(tx pgx.Tx, n Node) error {
		_, err := tx.Exec(ctx, `UPDATE `+nodeTable(n.Kind)+` SET name = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, id, name)
		return err
	})
}

// ArchiveNode archives (or restores) a node. An archived node keeps its
// keys working and its spend attributed: archiving hides it from new
// structure (no children can be added) without losing history.
func (s *HierarchyService) ArchiveNode(ctx context.Context, tenantID, id string, archived bool) (Node, error) {
	action := "archive"
	if !archived {
		action = "restore"
	}
	return s.changeNode(ctx, tenantID, id, org.Structure, action, nil, func(tx pgx.Tx, n Node) error {
		_, err := tx.Exec(ctx, `UPDATE `+nodeTable(n.Kind)+` SET archived_at = CASE WHEN $3 THEN coalesce(archived_at, now()) END
			WHERE tenant_id = $1 AND id = $2`, tenantID, id, archived)
		return err
	})
}

// SetNodeKeyDefaults replaces the key defaults a node hands down to every
// key below it (org.Effective combines them). Managing a node's keys is
// enough to set its defaults.
func (s *HierarchyService) SetNodeKeyDefaults(ctx context.Context, tenantID, id string, defaults KeyPolicy) (Node, error) {
	if err := validatePolicy(&defaults); err != nil {
		return Node{}, err
	}
	defs, _ := json.Marshal(defaults)
	return s.changeNode(ctx, tenantID, id, org.Manage, "key_defaults", map[string]any{"key_defaults": defaults}, func(tx pgx.Tx, n Node) error {
		_, err := tx.Exec(ctx, `UPDATE `+nodeTable(n.Kind)+` SET key_defaults = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, id, defs)
		return err
	})
}

// MoveProject moves a project (with its keys and budgets) to another team,
// of any workspace of the tenant. It needs structure rights on both teams.
// Spend already stored stays where it was attributed (docs/hierarchy.md).
func (s *HierarchyService) MoveProject(ctx context.Context, tenantID, id, teamID string) (Node, error) {
	if _, _, err := s.rights(ctx, tenantID); err != nil {
		return Node{}, err
	}
	to, err := s.visibleNode(ctx, tenantID, teamID)
	if err != nil {
		return Node{}, err
	}
	if to.Kind != KindTeam {
		return Node{}, invalid("a project moves to a team, not a %s", to.Kind)
	}
	if to.ArchivedAt != nil {
		return Node{}, newErr(apierr.CodeConflict, "the team is archived")
	}
	if _, _, err := s.authorizeAt(ctx, tenantID, org.Structure, to.Path); err != nil {
		return Node{}, err
	}
	return s.changeNode(ctx, tenantID, id, org.Structure, "move", map[string]any{"team_id": teamID}, func(tx pgx.Tx, n Node) error {
		if n.Kind != KindProject {
			return invalid("only projects move; this is a %s", n.Kind)
		}
		_, err := tx.Exec(ctx, `UPDATE projects SET team_id = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, id, teamID)
		return err
	})
}

// keyPath is where a key sits (the zero path for a key without a project).
func keyPath(ctx context.Context, q orgstore.Querier, tenantID, keyID string) (org.Path, error) {
	return orgstore.Place(ctx, q, tenantID, keyID, nil)
}

// SetAPIKeyProject puts a key into a project (projectID nil: back to the
// tenant, outside the tree). The caller manages the key where it is and
// where it goes.
func (s *HierarchyService) SetAPIKeyProject(ctx context.Context, tenantID, keyID string, projectID *string) (APIKey, error) {
	if _, _, err := s.rights(ctx, tenantID); err != nil {
		return APIKey{}, err
	}
	k, err := getKey(ctx, s.db, tenantID, keyID)
	if err != nil {
		return APIKey{}, err
	}
	from, err := keyPath(ctx, s.db, tenantID, keyID)
	if err != nil {
		return APIKey{}, err
	}
	if _, _, err := s.authorizeAt(ctx, tenantID, org.Manage, from); err != nil {
		return APIKey{}, err
	}
	to := org.Path{}
	if projectID != nil {
		n, err := s.visibleNode(ctx, tenantID, *projectID)
		if err != nil {
			return APIKey{}, err
		}
		if n.Kind != KindProject {
			return APIKey{}, invalid("keys belong to projects, not to a %s", n.Kind)
		}
		to = n.Path
	}
	p, _, err := s.authorizeAt(ctx, tenantID, org.Manage, to)
	if err != nil {
		return APIKey{}, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if k, err = scanKey(tx.QueryRow(ctx, `UPDATE api_keys SET project_id = $3 WHERE tenant_id = $1 AND id = $2 RETURNING `+keyColumns,
			tenantID, keyID, projectID)); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "api_key.project", "api_key", keyID, map[string]any{"project_id": projectID})
	})
	if err == nil {
		s.keys.evictAll()
	}
	return k, err
}

// Grants lists the scoped roles of the tenant on nodes the caller reads.
func (s *HierarchyService) Grants(ctx context.Context, tenantID string) ([]Grant, error) {
	_, a, err := s.rights(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	nodes, err := loadNodes(ctx, s.db, tenantID)
	if err != nil {
		return nil, err
	}
	byID := map[string]Node{}
	for _, n := range nodes {
		byID[n.ID] = n
	}
	rows, err := s.db.Query(ctx, `SELECT g.user_id::text, u.email, g.role, g.node_id::text, g.created_at FROM role_grants g
		JOIN users u ON u.id = g.user_id WHERE g.tenant_id = $1 ORDER BY u.email, g.created_at`, tenantID)
	if err != nil {
		return nil, err
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Grant, error) {
		var g Grant
		var node string
		err := r.Scan(&g.UserID, &g.Email, &g.Role, &node, &g.CreatedAt)
		g.Node = byID[node]
		return g, err
	})
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, g := range all {
		if a.Can(org.Read, g.Node.Path) {
			out = append(out, g)
		}
	}
	return out, nil
}

// GrantRole gives a member of the tenant a scoped role on a node (team_admin
// on a team, project_member or project_viewer on a project), replacing the
// role the user had on that node. Granting needs structure rights there:
// tenant admins anywhere, team admins in their team. A grant made here is
// the admin's: the identity provider's group reconciliation (syncIdPGrants)
// leaves it alone, even where the provider had made it.
func (s *HierarchyService) GrantRole(ctx context.Context, tenantID, userID string, role Role, nodeID string) (Grant, error) {
	kind, ok := role.Scoped()
	if !ok {
		return Grant{}, invalid("%q is not a scoped role (team_admin, project_member, project_viewer)", role)
	}
	if err := checkID("userId", userID); err != nil {
		return Grant{}, err
	}
	if _, _, err := s.rights(ctx, tenantID); err != nil {
		return Grant{}, err
	}
	n, err := s.visibleNode(ctx, tenantID, nodeID)
	if err != nil {
		return Grant{}, err
	}
	if n.Kind != kind {
		return Grant{}, invalid("%s is granted on a %s, not a %s", role, kind, n.Kind)
	}
	p, _, err := s.authorizeAt(ctx, tenantID, org.Structure, n.Path)
	if err != nil {
		return Grant{}, err
	}
	g := Grant{UserID: userID, Role: role, Node: n}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.tenant_id = $1 AND m.user_id = $2`,
			tenantID, userID).Scan(&g.Email)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("member")
		}
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO role_grants (tenant_id, user_id, role, node_kind, node_id) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (tenant_id, user_id, node_kind, node_id) DO UPDATE SET role = EXCLUDED.role, source = 'admin' RETURNING created_at`,
			tenantID, userID, role, kind, nodeID).Scan(&g.CreatedAt); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "role.grant", "user", userID, map[string]any{"role": role, "node_id": nodeID})
	})
	return g, err
}

// RevokeRole removes a user's scoped role on a node.
func (s *HierarchyService) RevokeRole(ctx context.Context, tenantID, userID, nodeID string) error {
	if err := checkID("userId", userID); err != nil {
		return err
	}
	if _, _, err := s.rights(ctx, tenantID); err != nil {
		return err
	}
	n, err := s.visibleNode(ctx, tenantID, nodeID)
	if err != nil {
		return err
	}
	p, _, err := s.authorizeAt(ctx, tenantID, org.Structure, n.Path)
	if err != nil {
		return err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM role_grants WHERE tenant_id = $1 AND user_id = $2 AND node_id = $3`, tenantID, userID, nodeID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("role grant")
		}
		if err := notifyAccess(ctx, tx, accessChange{User: userID, Tenant: tenantID, Grants: true}); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "role.revoke", "user", userID, map[string]any{"node_id": nodeID})
	})
	if err == nil {
		s.access.grantsNarrowed(userID, tenantID)
	}
	return err
}

const mappingColumns = `id::text, tenant_id::text, dimension_name, dimension_value, team_id::text, project_id::text, created_at`

func scanMapping(r pgx.Row) (Mapping, error) {
	var m Mapping
	return m, r.Scan(&m.ID, &m.TenantID, &m.DimensionName, &m.DimensionValue, &m.TeamID, &m.ProjectID, &m.CreatedAt)
}

// Mappings lists the tenant's dimension mappings (tenant roles only: a
// mapping decides attribution for the whole tenant).
func (s *HierarchyService) Mappings(ctx context.Context, tenantID string) ([]Mapping, error) {
	if _, _, err := s.authorize(ctx, tenantID, RoleViewer); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+mappingColumns+` FROM attribution_mappings WHERE tenant_id = $1 ORDER BY dimension_name, dimension_value`, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Mapping, error) { return scanMapping(r) })
}

// CreateMapping attributes spend whose dimension name has value (of keys
// without a project) to a team or a project, from now on.
func (s *HierarchyService) CreateMapping(ctx context.Context, tenantID, name, value, nodeID string) (Mapping, error) {
	p, _, err := s.authorize(ctx, tenantID, RoleAdmin)
	if err != nil {
		return Mapping{}, err
	}
	if err := validatePolicy(&KeyPolicy{DefaultDimensions: map[string]string{name: value}}); err != nil {
		return Mapping{}, err
	}
	n, err := s.visibleNode(ctx, tenantID, nodeID)
	if err != nil {
		return Mapping{}, err
	}
	var team, project *string
	switch n.Kind {
	case KindTeam:
		team = &n.ID
	case KindProject:
		project = &n.ID
	default:
		return Mapping{}, invalid("a dimension maps to a team or a project, not a %s", n.Kind)
	}
	var m Mapping
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		m, err = scanMapping(tx.QueryRow(ctx, `INSERT INTO attribution_mappings (tenant_id, dimension_name, dimension_value, team_id, project_id)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+mappingColumns, tenantID, name, value, team, project))
		if isUniqueViolation(err) {
			return newErr(apierr.CodeConflict, "%s=%s is mapped already", name, value)
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "attribution_mapping.create", "attribution_mapping", m.ID,
			map[string]any{"dimension_name": name, "dimension_value": value, "node_id": nodeID})
	})
	return m, err
}

// DeleteMapping removes a dimension mapping.
func (s *HierarchyService) DeleteMapping(ctx context.Context, tenantID, id string) error {
	return s.deleteOne(ctx, tenantID, id, "attribution_mappings", "attribution mapping", "attribution_mapping")
}

// TenantTree reads the attribution tree of a tenant, for ingest (no caller:
// the data path, not the API).
func (s *Service) TenantTree(ctx context.Context, tenantID string) (*org.Tree, error) {
	return orgstore.Tree(ctx, s.core.db, tenantID)
}

// EffectivePolicy is the policy in force for a key: its workspace's, team's
// and project's key defaults combined with its own (org.Effective) — what
// the policy endpoint answers the data plane.
func (s *HierarchyService) EffectivePolicy(ctx context.Context, tenantID, keyID string) (KeyPolicy, error) {
	if _, err := s.authorizeKey(ctx, tenantID, keyID, org.Read); err != nil {
		return KeyPolicy{}, err
	}
	k, err := getKey(ctx, s.db, tenantID, keyID)
	if err != nil {
		return KeyPolicy{}, err
	}
	var layers []KeyPolicy
	if k.ProjectID != nil {
		rows, err := s.db.Query(ctx, `SELECT d FROM (
			SELECT 1 AS o, w.key_defaults AS d FROM projects p JOIN teams t ON t.id = p.team_id JOIN workspaces w ON w.id = t.workspace_id WHERE p.id = $1
			UNION ALL SELECT 2, t.key_defaults FROM projects p JOIN teams t ON t.id = p.team_id WHERE p.id = $1
			UNION ALL SELECT 3, key_defaults FROM projects WHERE id = $1) layers ORDER BY o`, *k.ProjectID)
		if err != nil {
			return KeyPolicy{}, err
		}
		raw, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil {
			return KeyPolicy{}, err
		}
		for _, b := range raw {
			var l KeyPolicy
			if err := json.Unmarshal(b, &l); err != nil {
				return KeyPolicy{}, err
			}
			layers = append(layers, l)
		}
	}
	p, closed := org.Effective(append(layers, k.Policy)...)
	if closed {
		p.AllowedProviders = []string{org.ClosedProvider}
	}
	return p, nil
}

// NodeNames maps workspace, team and project ids of a tenant to their names
// (archived included); other ids are left out. The caller has authorized
// the tenant.
func (s *HierarchyService) NodeNames(ctx context.Context, tenantID string, ids []string) (map[string]string, error) {
	return namesByID(ctx, s.db, `SELECT id::text, name FROM workspaces WHERE tenant_id = $1 AND id = ANY($2::uuid[])
		UNION ALL SELECT id::text, name FROM teams WHERE tenant_id = $1 AND id = ANY($2::uuid[])
		UNION ALL SELECT id::text, name FROM projects WHERE tenant_id = $1 AND id = ANY($2::uuid[])`, tenantID, ids)
}
