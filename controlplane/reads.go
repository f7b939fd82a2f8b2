package controlplane

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/spendgate/spendgate/auth"
)

// Authorize checks that the caller holds at least role need in tenantID. Other
// services (analytics, exports, subscriptions) use it so that every tenant
// read is authorized the same way as the management API.
func (s *Service) Authorize(ctx context.Context, tenantID string, need Role) (auth.Principal, error) {
	p, _, err := s.authorize(ctx, tenantID, need)
	return p, err
}

// KeyNames maps the given key ids of a tenant to their names (revoked keys
// included); ids that are not the tenant's keys are left out. The caller has
// authorized the tenant.
func (s *Service) KeyNames(ctx context.Context, tenantID string, ids []string) (map[string]string, error) {
	valid := make([]string, 0, len(ids))
	for _, id := range ids {
		if isUUID(id) {
			valid = append(valid, id)
		}
	}
	out := make(map[string]string, len(valid))
	if len(valid) == 0 {
		return out, nil
	}
	rows, err := s.db.Query(ctx, `SELECT id::text, name FROM api_keys WHERE tenant_id = $1 AND id = ANY($2::uuid[])`, tenantID, valid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, err
		}
		out[id] = name
	}
	return out, rows.Err()
}

// AuditedAction authorizes the caller for role need in tenantID, runs do (an
// action outside Postgres, such as replaying a dead letter on NATS) and then
// records it in the audit log. do's error is returned unaudited: nothing
// happened. An audit failure after do succeeded is returned too; the action
// stands.
func (s *Service) AuditedAction(ctx context.Context, tenantID string, need Role, action, targetType, targetID string,
	details map[string]any, do func(ctx context.Context) error) error {
	p, err := s.Authorize(ctx, tenantID, need)
	if err != nil {
		return err
	}
	if err := do(ctx); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error { return audit(ctx, tx, tenantID, p, action, targetType, targetID, details) })
}

// NotFound is the client error for an object the tenant does not have.
func NotFound(what string) error { return notFound(what) }
