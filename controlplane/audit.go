package controlplane

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spendgate/spendgate/auth"
)

// AuditEntry is one audited mutation.
type AuditEntry struct {
	ID                                  int64
	Actor, Action, TargetType, TargetID string
	Details                             string
	CreatedAt                           time.Time
}

// AuditService reads the audit log and audits actions outside Postgres.
type AuditService struct{ *core }

// AuditLog lists a tenant's audit log, newest first (admins).
func (s *AuditService) AuditLog(ctx context.Context, tenantID string, page Page) (Connection[AuditEntry], error) {
	if _, _, err := s.authorize(ctx, tenantID, RoleAdmin); err != nil {
		return Connection[AuditEntry]{}, err
	}
	return listPage(ctx, s.db, page, bySerial, `SELECT id, actor, action, target_type, target_id, details::text, created_at FROM audit_log
		WHERE tenant_id = $1`, []any{tenantID},
		func(r pgx.Row) (AuditEntry, error) {
			var a AuditEntry
			return a, r.Scan(&a.ID, &a.Actor, &a.Action, &a.TargetType, &a.TargetID, &a.Details, &a.CreatedAt)
		}, func(a AuditEntry) (time.Time, string) { return a.CreatedAt, strconv.FormatInt(a.ID, 10) })
}

// AuditedAction authorizes the caller for role need in tenantID, runs do (an
// action outside Postgres, such as replaying a dead letter on NATS) and then
// records it in the audit log. do's error is returned unaudited: nothing
// happened. An audit failure after do succeeded is returned too; the action
// stands.
func (s *AuditService) AuditedAction(ctx context.Context, tenantID string, need Role, action, targetType, targetID string,
	details map[string]any, do func(ctx context.Context) error) error {
	p, _, err := s.authorize(ctx, tenantID, need)
	if err != nil {
		return err
	}
	if err := do(ctx); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error { return audit(ctx, tx, tenantID, p, action, targetType, targetID, details) })
}

// audit records a mutation in tx, so it is recorded exactly when the
// mutation commits. An empty tenantID records it without a tenant (for
// operators); a principal without a user records actor "system".
func audit(ctx context.Context, tx pgx.Tx, tenantID string, p auth.Principal, action, targetType, targetID string, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	b, _ := json.Marshal(details)
	actor := p.Email
	var actorID any = p.UserID
	if p.UserID == "" {
		actor, actorID = "system", nil
	}
	var tid any = tenantID
	if tenantID == "" {
		tid = nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO audit_log (tenant_id, actor_user_id, actor, action, target_type, target_id, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, tid, actorID, actor, action, targetType, targetID, b)
	return err
}

// AuditTx records an action in the audit log inside tx, for services that
// change shared (not tenant) state in their own transaction, such as
// applying a pricing revision. tenantID "" records it without a tenant.
func AuditTx(ctx context.Context, tx pgx.Tx, tenantID string, p auth.Principal, action, targetType, targetID string, details map[string]any) error {
	return audit(ctx, tx, tenantID, p, action, targetType, targetID, details)
}
