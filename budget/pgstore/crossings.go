package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/controlplane"
)

// counter is one budget_spend row's figures.
type counter struct {
	metered, reported, reserved, carried int64
}

// limit is the period's cap.
func (c *counter) limit(b *budget.Budget) int64 { return budget.Cap(b.AmountNanoUSD, c.carried) }

// counted is what the budget has spent by its basis (budget.Counted).
func (c *counter) counted(b *budget.Budget) int64 { return b.Counted(c.metered, c.reported) }

// recordCrossings records, in tx, what the budget's counted spend c has
// reached in the period [start, end): each threshold once per period (with
// its NATS, webhook and email outbox rows), and for a hard budget at its cap
// one breach per period (with a 'breach' outbox row when the budget has a
// breach webhook). Metered spend (ApplySpend) and provider reports
// (ApplyReported) both come here. It returns how many new alerts it
// recorded.
func (s *Store) recordCrossings(ctx context.Context, tx pgx.Tx, b *budget.Budget, start, end time.Time, c counter) (int, error) {
	limit, counted := c.limit(b), c.counted(b)
	alerts := 0
	for _, t := range budget.Reached(b.Thresholds, limit, counted) {
		var n int
		if err := tx.QueryRow(ctx, `WITH a AS (
				INSERT INTO budget_alerts (budget_id, tenant_id, threshold_percent, period_start, period_end, spent_nano_usd, amount_nano_usd)
				VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING id),
			n AS (INSERT INTO budget_alert_outbox (alert_id, budget_id, kind) SELECT id, $1, 'nats' FROM a),
			w AS (INSERT INTO budget_alert_outbox (alert_id, budget_id, kind, webhook_url, next_attempt_at)
				SELECT id, $1, 'webhook', $8, now() + $9 * interval '1 millisecond' FROM a WHERE $8 <> ''),
			e AS (INSERT INTO budget_alert_outbox (alert_id, budget_id, kind, next_attempt_at)
				SELECT id, $1, 'email', now() + $9 * interval '1 millisecond' FROM a WHERE cardinality($10::text[]) > 0
				AND NOT EXISTS (SELECT 1 FROM budget_alert_outbox o JOIN budget_alerts p ON p.id = o.alert_id
					WHERE o.kind = 'email' AND o.budget_id = $1 AND p.threshold_percent = $3
					AND p.created_at > now() - $11 * interval '1 millisecond'))
			SELECT count(*) FROM a`, b.ID, b.TenantID, t, start, end, counted, limit,
			b.WebhookURL, s.WebhookDebounce.Milliseconds(), b.AlertEmails, s.EmailDebounce.Milliseconds()).Scan(&n); err != nil {
			return 0, fmt.Errorf("budget: record alert: %w", err)
		}
		alerts += n
	}
	if b.Breached(limit, counted) {
		if err := s.recordBreach(ctx, tx, b, start, end, c); err != nil {
			return 0, err
		}
	}
	return alerts, nil
}

// recordBreach records a hard budget's cap breach once per period, audited,
// and queues its webhook call.
func (s *Store) recordBreach(ctx context.Context, tx pgx.Tx, b *budget.Budget, start, end time.Time, c counter) error {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM budget_breaches WHERE budget_id = $1 AND period_start = $2)`, b.ID, start).
		Scan(&exists); err != nil {
		return fmt.Errorf("budget: record breach: %w", err)
	}
	if exists {
		return nil
	}
	var eventID string
	if err := tx.QueryRow(ctx, `SELECT gen_random_uuid()::text`).Scan(&eventID); err != nil {
		return fmt.Errorf("budget: record breach: %w", err)
	}
	br := budget.Breach{EventID: eventID, Type: budget.BreachType, TenantID: b.TenantID, Budget: budget.ScopeOf(b),
		PeriodStart: start.UTC(), PeriodEnd: end.UTC(), LimitNanoUSD: c.limit(b), MeteredNanoUSD: c.metered,
		CountedNanoUSD: c.counted(b), SpendBasis: b.SpendBasis, KeyIDs: []string{}, OccurredAt: time.Now().UTC().Truncate(time.Millisecond)}
	if b.UsesReported() {
		br.ReportedNanoUSD = c.reported
	}
	if b.KeyID != "" {
		br.KeyIDs = []string{b.KeyID}
	}
	payload, err := json.Marshal(br)
	if err != nil {
		return err
	}
	// Concurrent recorders of one budget hold its counter row lock, so
	// the check above and this insert do not race; ON CONFLICT is the
	// belt to those braces.
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO budget_breaches (event_id, budget_id, tenant_id, period_start, period_end, limit_nano_usd,
			metered_nano_usd, reported_nano_usd, counted_nano_usd, payload)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (budget_id, period_start) DO NOTHING RETURNING id`,
		eventID, b.ID, b.TenantID, start, end, br.LimitNanoUSD, br.MeteredNanoUSD, br.ReportedNanoUSD, br.CountedNanoUSD, payload).Scan(&id)
	if isNoRows(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("budget: record breach: %w", err)
	}
	if b.BreachWebhookURL != "" {
		if _, err := tx.Exec(ctx, `INSERT INTO budget_alert_outbox (breach_id, budget_id, kind, webhook_url) VALUES ($1, $2, 'breach', $3)`,
			id, b.ID, b.BreachWebhookURL); err != nil {
			return fmt.Errorf("budget: record breach: %w", err)
		}
	}
	return controlplane.AuditTx(ctx, tx, b.TenantID, auth.Principal{}, "budget.breach", "budget", b.ID, map[string]any{
		"event_id": eventID, "period_start": start.UTC(), "limit_nano_usd": br.LimitNanoUSD, "metered_nano_usd": br.MeteredNanoUSD,
		"reported_nano_usd": br.ReportedNanoUSD, "counted_nano_usd": br.CountedNanoUSD, "webhook": b.BreachWebhookURL != ""})
}

// ApplyReported brings the tenant's budgets that count provider-reported
// spend up to date with the provider_reported rows (package reconcile's
// table) of days [from, to): for every period of such a budget that
// overlaps those days, the period's reported figure is summed again from the
// rows (so revised buckets replace, never add) and thresholds and a hard
// cap reached by it are recorded like metered spend's. Only the tenant's own
// rows count, and for a provider budget only that provider's. It returns how
// many new alerts it recorded.
func (s *Store) ApplyReported(ctx context.Context, tenantID string, from, to time.Time) (int, error) {
	if !isUUID(tenantID) {
		return 0, fmt.Errorf("%w: tenant_id %q is not a UUID", budget.ErrInvalid, tenantID)
	}
	if !from.Before(to) {
		return 0, nil
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("budget: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	rows, err := tx.Query(ctx, `SELECT `+budgetCols+` FROM budgets WHERE tenant_id = $1 AND spend_basis = $2 ORDER BY id`,
		tenantID, string(budget.BasisMaxMeteredReported))
	if err != nil {
		return 0, fmt.Errorf("budget: load budgets: %w", err)
	}
	list, err := scanBudgets(rows)
	if err != nil {
		return 0, fmt.Errorf("budget: load budgets: %w", err)
	}
	alerts := 0
	for _, b := range list { // by id, then period: the counter lock order
		provider, ok := b.ReportedProvider()
		if !ok {
			continue // cannot be stored (budget.Validate); never count it
		}
		for start := from; start.Before(to); {
			pStart, pEnd, err := budget.Bounds(b.Period, start)
			if err != nil {
				return 0, err
			}
			start = pEnd
			dayFrom, dayTo := budget.ReportedDays(pStart, pEnd)
			carried, err := carriedInto(ctx, tx, b, pStart)
			if err != nil {
				return 0, err
			}
			var c counter
			if err := tx.QueryRow(ctx, `WITH r AS (
					SELECT coalesce(sum(cost_nano_usd), 0)::bigint AS total FROM provider_reported
					WHERE tenant_id = $1 AND ($2 = '' OR provider = $2) AND day >= $3::date AND day < $4::date)
				INSERT INTO budget_spend (budget_id, period_start, period_end, spent_nano_usd, reserved_nano_usd, carried_nano_usd, reported_nano_usd)
				SELECT $5, $6, $7, 0, 0, $8, greatest(r.total, 0) FROM r
				ON CONFLICT (budget_id, period_start) DO UPDATE SET reported_nano_usd = EXCLUDED.reported_nano_usd, updated_at = now()
				RETURNING spent_nano_usd, reported_nano_usd, reserved_nano_usd, carried_nano_usd`,
				tenantID, provider, dayFrom.Format(time.DateOnly), dayTo.Format(time.DateOnly), b.ID, pStart, pEnd, carried).
				Scan(&c.metered, &c.reported, &c.reserved, &c.carried); err != nil {
				return 0, fmt.Errorf("budget: apply reported: %w", err)
			}
			n, err := s.recordCrossings(ctx, tx, b, pStart, pEnd, c)
			if err != nil {
				return 0, err
			}
			alerts += n
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("budget: commit: %w", err)
	}
	return alerts, nil
}

// Breaches lists a tenant's hard-cap breaches with their webhook delivery,
// newest first.
func (s *Store) Breaches(ctx context.Context, tenantID string, limit int) ([]budget.BreachRecord, error) {
	rows, err := s.db.Query(ctx, `SELECT x.payload, o.id IS NOT NULL, coalesce(o.attempts, 0), o.delivered_at, o.failed_at, coalesce(o.last_error, '')
		FROM budget_breaches x LEFT JOIN budget_alert_outbox o ON o.breach_id = x.id
		WHERE x.tenant_id = $1 ORDER BY x.created_at DESC, x.id DESC LIMIT $2`, tenantID, limit)
	if err != nil {
		return nil, fmt.Errorf("budget: breaches: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (budget.BreachRecord, error) {
		var b budget.BreachRecord
		var payload []byte
		if err := r.Scan(&payload, &b.Webhook, &b.Attempts, &b.DeliveredAt, &b.FailedAt, &b.LastError); err != nil {
			return b, err
		}
		return b, json.Unmarshal(payload, &b.Breach)
	})
	if err != nil {
		return nil, fmt.Errorf("budget: breaches: %w", err)
	}
	return out, nil
}
