package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
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

// AuditFilter narrows the audit log; zero fields do not narrow.
type AuditFilter struct {
	// Actions match exactly, or by prefix when they end in a dot ("api_key.").
	Actions []string
	// Actor is part of the actor's email, case-insensitive.
	Actor    string
	From, To *time.Time
}

// maxAuditActions bounds the filter's action list.
const maxAuditActions = 50

// Validate reports every problem with the filter at once.
func (f AuditFilter) Validate() error {
	var errs []error
	if len(f.Actions) > maxAuditActions {
		errs = append(errs, invalid("at most %d actions may be given, not %d", maxAuditActions, len(f.Actions)))
	}
	for _, a := range f.Actions {
		if strings.TrimSpace(a) == "" || strings.Trim(a, ".") == "" {
			errs = append(errs, invalid("an action filter must name an action or an area such as api_key., not %q", a))
		}
	}
	if len(f.Actor) > 320 {
		errs = append(errs, invalid("the actor filter is %d characters long; at most 320", len(f.Actor)))
	}
	if f.From != nil && f.To != nil && !f.To.After(*f.From) {
		errs = append(errs, invalid("the audit log range must end after it starts (from %s, to %s)", f.From.Format(time.RFC3339), f.To.Format(time.RFC3339)))
	}
	return errors.Join(errs...)
}

// where is the filter as SQL conditions on audit_log, numbering its
// arguments after the n already given.
func (f AuditFilter) where(n int) (string, []any) {
	var sb strings.Builder
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(n+len(args))
	}
	if len(f.Actions) > 0 {
		exact, prefixes := []string{}, []string{}
		for _, a := range f.Actions {
			if strings.HasSuffix(a, ".") {
				prefixes = append(prefixes, escapeLike(a)+"%")
			} else {
				exact = append(exact, a)
			}
		}
		sb.WriteString(" AND (action = ANY(" + arg(exact) + "::text[]) OR action LIKE ANY(" + arg(prefixes) + "::text[]))")
	}
	if f.Actor != "" {
		sb.WriteString(" AND actor ILIKE " + arg("%"+escapeLike(f.Actor)+"%"))
	}
	if f.From != nil {
		sb.WriteString(" AND created_at >= " + arg(*f.From))
	}
	if f.To != nil {
		sb.WriteString(" AND created_at < " + arg(*f.To))
	}
	return sb.String(), args
}

// escapeLike makes s match itself in a LIKE pattern (backslash is the default escape).
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// AuditLog lists a tenant's audit log, newest first, narrowed by filter (admins).
func (s *AuditService) AuditLog(ctx context.Context, tenantID string, filter AuditFilter, page Page) (Connection[AuditEntry], error) {
	if _, _, err := s.authorize(ctx, tenantID, RoleAdmin); err != nil {
		return Connection[AuditEntry]{}, err
	}
	if err := filter.Validate(); err != nil {
		return Connection[AuditEntry]{}, err
	}
	where, args := filter.where(1)
	return listPage(ctx, s.db, page, bySerial, `SELECT id, actor, action, target_type, target_id, details::text, created_at FROM audit_log
		WHERE tenant_id = $1`+where, append([]any{tenantID}, args...),
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
