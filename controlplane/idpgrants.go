package controlplane

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/org"
	"github.com/spendgate/spendgate/org/orgstore"
)

// Grant sources: a scoped grant is an admin's (made by hand, never touched
// by the provider) or the identity provider's (reconciled with the groups).
const (
	grantByAdmin = "admin"
	grantByIdP   = "idp"
)

// checkMappingScopes refuses a mapping whose scoped rules name a team or
// project that is not the tenant's or is archived.
func checkMappingScopes(ctx context.Context, q orgstore.Querier, tenantID string, m RoleMapping) error {
	var nodes map[string]Node
	for i, r := range m.Rules {
		if r.tenantScoped() {
			continue
		}
		if nodes == nil {
			all, err := loadNodes(ctx, q, tenantID)
			if err != nil {
				return err
			}
			nodes = make(map[string]Node, len(all))
			for _, n := range all {
				nodes[n.ID] = n
			}
		}
		n, ok := nodes[r.Scope.ID]
		switch {
		case !ok || n.Kind != r.Scope.Kind:
			return invalid("group mapping %d: no %s %s in this tenant", i+1, r.Scope.Kind, r.Scope.ID)
		case n.ArchivedAt != nil:
			return invalid("group mapping %d: the %s %q is archived", i+1, n.Kind, n.Name)
		}
	}
	return nil
}

// syncIdPGrants makes userID's provider-made scoped grants in tenantID what
// the groups grant through m: grants of groups that appeared are added,
// those of groups that went away removed, changed roles updated. Grants an
// admin made by hand are left as they are (a rule on the same node does not
// take them over). Rules whose team or project was archived or deleted
// since the mapping was saved are skipped (logged). It reports whether a
// grant was removed or lowered, which must end live access to the subtree.
func syncIdPGrants(ctx context.Context, tx pgx.Tx, log *slog.Logger, tenantID string, actor auth.Principal, userID string, m RoleMapping, groups []string) (narrowed bool, err error) {
	want := m.ScopedGrants(groups)
	live := map[string]Node{}
	if len(want) > 0 {
		all, err := loadNodes(ctx, tx, tenantID)
		if err != nil {
			return false, err
		}
		for _, n := range all {
			live[n.ID] = n
		}
	}
	for id, r := range want {
		if n, ok := live[id]; !ok || n.Kind != r.Scope.Kind || n.ArchivedAt != nil {
			log.Warn("controlplane: group mapping names a team or project that is archived or gone; rule ignored",
				"tenant", tenantID, "group", r.Group, "scope", r.Scope.Kind, "id", id)
			delete(want, id)
		}
	}
	rows, err := tx.Query(ctx, `SELECT node_id::text, role, source FROM role_grants WHERE tenant_id = $1 AND user_id = $2 FOR UPDATE`, tenantID, userID)
	if err != nil {
		return false, err
	}
	type held struct {
		role   Role
		source string
	}
	have := map[string]held{}
	for rows.Next() {
		var id string
		var h held
		if err := rows.Scan(&id, &h.role, &h.source); err != nil {
			rows.Close()
			return false, err
		}
		have[id] = h
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, err
	}
	for id, h := range have {
		if h.source != grantByIdP {
			continue
		}
		if _, ok := want[id]; ok {
			continue
		}
		if _, err := tx.Exec(ctx, `DELETE FROM role_grants WHERE tenant_id = $1 AND user_id = $2 AND node_id = $3 AND source = 'idp'`, tenantID, userID, id); err != nil {
			return false, err
		}
		narrowed = true
		if err := audit(ctx, tx, tenantID, actor, "role.revoke", "user", userID, map[string]any{"node_id": id, "role": h.role, "via": "idp"}); err != nil {
			return false, err
		}
	}
	for id, r := range want {
		h, ok := have[id]
		switch {
		case ok && (h.source != grantByIdP || h.role == r.Role):
			continue // a hand-made grant, or already as the groups say
		case ok:
			narrowed = narrowed || r.Role == org.RoleProjectViewer
		}
		if _, err := tx.Exec(ctx, `INSERT INTO role_grants (tenant_id, user_id, role, node_kind, node_id, source) VALUES ($1, $2, $3, $4, $5, 'idp')
			ON CONFLICT (tenant_id, user_id, node_kind, node_id) DO UPDATE SET role = EXCLUDED.role WHERE role_grants.source = 'idp'`,
			tenantID, userID, r.Role, r.Scope.Kind, id); err != nil {
			return false, err
		}
		if err := audit(ctx, tx, tenantID, actor, "role.grant", "user", userID, map[string]any{"node_id": id, "role": r.Role, "group": r.Group, "via": "idp"}); err != nil {
			return false, err
		}
	}
	if narrowed {
		err = notifyAccess(ctx, tx, accessChange{User: userID, Tenant: tenantID, Grants: true})
	}
	return narrowed, err
}
