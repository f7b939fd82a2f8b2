package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spendgate/spendgate/budget"
)

// Outbox kinds.
const (
	KindNATS    = "nats"
	KindWebhook = "webhook"
	KindEmail   = "email"
	// KindBreach rows post a hard-cap breach to the budget's breach webhook.
	KindBreach = "breach"
)

type outboxRow struct {
	id       int64
	budgetID string
	url      string
	emails   []string
	attempts int
	alert    budget.Alert
	breach   *budget.BreachDelivery
}

// DeliverDue claims due outbox rows of kind (at most limit), groups them, calls
// send for each delivery, and records the outcome: delivered, or retried after
// policy.Backoff, or failed for good after MaxAttempts. Rows are claimed with
// FOR UPDATE SKIP LOCKED inside one transaction, so several dispatchers never
// send the same row twice at once; a crash before commit sends again
// (at-least-once). It returns how many deliveries succeeded.
func (s *Store) DeliverDue(ctx context.Context, kind string, limit int, pol budget.DeliverPolicy, send func(context.Context, budget.Delivery) error) (int, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("budget: outbox: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	const cols = `o.id, o.budget_id::text, o.webhook_url, b.alert_emails, o.attempts, a.id, a.budget_id::text, b.name, a.tenant_id::text,
		a.threshold_percent, a.period_start, a.period_end, a.spent_nano_usd, a.amount_nano_usd, b.hard, a.created_at
		FROM budget_alert_outbox o JOIN budget_alerts a ON a.id = o.alert_id JOIN budgets b ON b.id = o.budget_id`
	var due []outboxRow
	if kind == KindBreach {
		due, err = dueBreaches(ctx, tx, limit)
	} else {
		var rows pgx.Rows
		rows, err = tx.Query(ctx, `SELECT `+cols+` WHERE o.kind = $1 AND o.delivered_at IS NULL AND o.failed_at IS NULL
			AND o.next_attempt_at <= now() ORDER BY o.id LIMIT $2 FOR UPDATE OF o SKIP LOCKED`, kind, limit)
		if err != nil {
			return 0, fmt.Errorf("budget: outbox: %w", err)
		}
		due, err = collectOutbox(rows)
	}
	if err != nil {
		return 0, err
	}
	if len(due) == 0 {
		return 0, nil
	}
	var groups [][]outboxRow
	if kind == KindWebhook || kind == KindEmail {
		// Coalesce: every pending webhook (email) row of the same budget and
		// URL joins the delivery, including rows still inside their debounce
		// window.
		var budgets []string
		seen := map[int64]bool{}
		for _, r := range due {
			budgets = append(budgets, r.budgetID)
			seen[r.id] = true
		}
		rows, err := tx.Query(ctx, `SELECT `+cols+` WHERE o.kind = $2 AND o.delivered_at IS NULL AND o.failed_at IS NULL
			AND o.budget_id = ANY($1::uuid[]) ORDER BY o.id FOR UPDATE OF o SKIP LOCKED`, budgets, kind)
		if err != nil {
			return 0, fmt.Errorf("budget: outbox: %w", err)
		}
		more, err := collectOutbox(rows)
		if err != nil {
			return 0, err
		}
		for _, r := range more {
			if !seen[r.id] {
				due = append(due, r)
			}
		}
		idx := map[string]int{}
		for _, r := range due {
			k := r.budgetID + " " + r.url
			i, ok := idx[k]
			if !ok {
				i = len(groups)
				idx[k] = i
				groups = append(groups, nil)
			}
			groups[i] = append(groups[i], r)
		}
	} else {
		for _, r := range due {
			groups = append(groups, []outboxRow{r})
		}
	}
	ok := 0
	for _, g := range groups {
		d := budget.Delivery{Kind: kind, WebhookURL: g[0].url, Emails: g[0].emails, Breach: g[0].breach}
		ids := make([]int64, 0, len(g))
		for _, r := range g {
			if r.breach == nil {
				d.Alerts = append(d.Alerts, r.alert)
			}
			d.Attempt = max(d.Attempt, r.attempts+1)
			ids = append(ids, r.id)
		}
		if err := send(ctx, d); err != nil {
			failed := pol.MaxAttempts > 0 && d.Attempt >= pol.MaxAttempts
			wait := time.Second
			if pol.Backoff != nil {
				wait = pol.Backoff(d.Attempt)
			}
			if _, err := tx.Exec(ctx, `UPDATE budget_alert_outbox SET attempts = attempts + 1, last_error = $2,
				next_attempt_at = now() + $3 * interval '1 millisecond', failed_at = CASE WHEN $4 THEN now() END
				WHERE id = ANY($1)`, ids, truncate(err.Error(), 500), wait.Milliseconds(), failed); err != nil {
				return ok, fmt.Errorf("budget: outbox: %w", err)
			}
			continue
		}
		if _, err := tx.Exec(ctx, `UPDATE budget_alert_outbox SET attempts = attempts + 1, delivered_at = now(), last_error = ''
			WHERE id = ANY($1)`, ids); err != nil {
			return ok, fmt.Errorf("budget: outbox: %w", err)
		}
		ok++
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("budget: outbox: %w", err)
	}
	return ok, nil
}

// dueBreaches claims due breach rows, each a delivery of its own.
func dueBreaches(ctx context.Context, tx pgx.Tx, limit int) ([]outboxRow, error) {
	rows, err := tx.Query(ctx, `SELECT o.id, o.budget_id::text, o.webhook_url, o.attempts, x.event_id::text, x.tenant_id::text, x.payload,
			b.breach_webhook_secret_sealed
		FROM budget_alert_outbox o JOIN budget_breaches x ON x.id = o.breach_id JOIN budgets b ON b.id = o.budget_id
		WHERE o.kind = 'breach' AND o.delivered_at IS NULL AND o.failed_at IS NULL AND o.next_attempt_at <= now()
		ORDER BY o.id LIMIT $1 FOR UPDATE OF o SKIP LOCKED`, limit)
	if err != nil {
		return nil, fmt.Errorf("budget: outbox: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (outboxRow, error) {
		o := outboxRow{breach: &budget.BreachDelivery{}}
		err := r.Scan(&o.id, &o.budgetID, &o.url, &o.attempts, &o.breach.EventID, &o.breach.TenantID, &o.breach.Payload, &o.breach.SecretSealed)
		o.breach.BudgetID = o.budgetID
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("budget: outbox: %w", err)
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func collectOutbox(rows pgx.Rows) ([]outboxRow, error) {
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (outboxRow, error) {
		var o outboxRow
		a := &o.alert
		err := r.Scan(&o.id, &o.budgetID, &o.url, &o.emails, &o.attempts, &a.ID, &a.BudgetID, &a.BudgetName, &a.TenantID,
			&a.Threshold, &a.PeriodStart, &a.PeriodEnd, &a.SpentNanoUSD, &a.AmountNanoUSD, &a.Hard, &a.Time)
		a.PeriodStart, a.PeriodEnd, a.Time = a.PeriodStart.UTC(), a.PeriodEnd.UTC(), a.Time.UTC()
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("budget: outbox: %w", err)
	}
	return out, nil
}

// Alerts lists a tenant's alerts, newest first (for the API and tests).
func (s *Store) Alerts(ctx context.Context, tenantID string, limit int) ([]budget.Alert, error) {
	rows, err := s.db.Query(ctx, `SELECT a.id, a.budget_id::text, b.name, a.tenant_id::text, a.threshold_percent, a.period_start,
		a.period_end, a.spent_nano_usd, a.amount_nano_usd, b.hard, a.created_at
		FROM budget_alerts a JOIN budgets b ON b.id = a.budget_id WHERE a.tenant_id = $1 ORDER BY a.created_at DESC, a.id DESC LIMIT $2`,
		tenantID, limit)
	if err != nil {
		return nil, fmt.Errorf("budget: alerts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (budget.Alert, error) {
		var a budget.Alert
		err := r.Scan(&a.ID, &a.BudgetID, &a.BudgetName, &a.TenantID, &a.Threshold, &a.PeriodStart, &a.PeriodEnd,
			&a.SpentNanoUSD, &a.AmountNanoUSD, &a.Hard, &a.Time)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("budget: alerts: %w", err)
	}
	return out, nil
}
