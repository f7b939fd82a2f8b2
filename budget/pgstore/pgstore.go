// Package pgstore keeps budget counters, alerts, their outbox and hard-cap
// reservations in Postgres (tables of migration 00100_budget_spend.sql). All
// arithmetic decisions come from package budget; this package makes them
// atomic. Counter rows are always locked in (budget_id, period_start) order,
// so concurrent appliers and reservers cannot deadlock.
package pgstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/pricing"
)

// ErrNotFound is returned for an unknown reservation.
var ErrNotFound = errors.New("budget: reservation not found")

// Store is the Postgres budget store.
type Store struct {
	db *pgxpool.Pool
	// WebhookDebounce delays a new webhook or email delivery so alerts of
	// one budget arriving within the window go out as one message.
	WebhookDebounce time.Duration
	// EmailDebounce is the least time between two emails about the same
	// budget and threshold: an alert within it of the last one emailed is
	// not emailed (it still goes to NATS and the webhook).
	EmailDebounce time.Duration
}

// New returns a store on db.
func New(db *pgxpool.Pool) *Store {
	return &Store{db: db, WebhookDebounce: 2 * time.Second, EmailDebounce: time.Hour}
}

// FromEvent adapts a priced ingest event: the tenant cost counts when the
// event was priced (unpriced usage counts zero and only settles).
func FromEvent(e *event.Event, c *pricing.Cost) budget.Spend {
	s := budget.Spend{EventID: e.EventID, Time: e.Time, ReservationID: e.ReservationID,
		Subject: budget.Subject{TenantID: e.TenantID, WorkspaceID: e.WorkspaceID, TeamID: e.TeamID, ProjectID: e.ProjectID,
			KeyID: e.KeyID, Provider: e.Provider, Model: e.Model(), Dimensions: e.Dimensions}}
	if e.Type == event.TypeUsage && c != nil && c.Priced {
		s.CostNanoUSD = c.TenantNanoUSD
	}
	return s
}

func isUUID(s string) bool { _, err := uuid.Parse(s); return err == nil }

type counterKey struct {
	budgetID    string
	periodStart time.Time
}

type delta struct {
	b         *budget.Budget
	end       time.Time
	spent     int64
	unreserve int64
}

const budgetCols = `id::text, tenant_id::text, name, scope, coalesce(workspace_id::text, ''), coalesce(team_id::text, ''),
	coalesce(project_id::text, ''), coalesce(key_id::text, ''), coalesce(provider, ''), coalesce(model, ''), coalesce(dimension_name, ''),
	coalesce(dimension_value, ''), period, amount_nano_usd, thresholds, hard, rollover, coalesce(webhook_url, ''), alert_emails,
	spend_basis, breach_webhook_url`

func scanBudgets(rows pgx.Rows) ([]*budget.Budget, error) {
	var out []*budget.Budget
	for rows.Next() {
		var b budget.Budget
		var period, scope, basis string
		var ts []int32
		if err := rows.Scan(&b.ID, &b.TenantID, &b.Name, &scope, &b.WorkspaceID, &b.TeamID, &b.ProjectID, &b.KeyID, &b.Provider, &b.Model,
			&b.DimensionName, &b.DimensionValue, &period, &b.AmountNanoUSD, &ts, &b.Hard, &b.Rollover, &b.WebhookURL, &b.AlertEmails,
			&basis, &b.BreachWebhookURL); err != nil {
			return nil, err
		}
		b.Period, b.Scope, b.SpendBasis = budget.Period(period), budget.Scope(scope), budget.SpendBasis(basis)
		for _, t := range ts {
			b.Thresholds = append(b.Thresholds, int(t))
		}
		out = append(out, &b)
	}
	return out, rows.Err()
}

// ApplySpend counts spends against every matching budget in the period of
// each spend's time, settles the reservations they name, and records the
// thresholds reached — all in one transaction together with the event ids, so
// applying the same events again changes nothing. It returns how many new
// alerts were recorded.
func (s *Store) ApplySpend(ctx context.Context, spends []budget.Spend) (int, error) {
	if len(spends) == 0 {
		return 0, nil
	}
	byID := make(map[string]*budget.Spend, len(spends))
	ids := make([]string, 0, len(spends))
	for i := range spends {
		sp := &spends[i]
		if err := sp.Validate(); err != nil {
			return 0, err
		}
		if _, dup := byID[sp.EventID]; !dup {
			byID[sp.EventID] = sp
			ids = append(ids, sp.EventID)
		}
	}
	slices.Sort(ids)

	tx, err := s.db.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("budget: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck

	rows, err := tx.Query(ctx, `INSERT INTO budget_applied_events (event_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING RETURNING event_id`, ids)
	if err != nil {
		return 0, fmt.Errorf("budget: record events: %w", err)
	}
	fresh, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("budget: record events: %w", err)
	}
	if len(fresh) == 0 {
		return 0, tx.Commit(ctx)
	}
	var tenants, reservations, reservationTenants []string
	for _, id := range fresh {
		sp := byID[id]
		if isUUID(sp.TenantID) && !slices.Contains(tenants, sp.TenantID) {
			tenants = append(tenants, sp.TenantID)
		}
		if sp.ReservationID != "" && isUUID(sp.ReservationID) && isUUID(sp.TenantID) {
			reservations = append(reservations, sp.ReservationID)
			reservationTenants = append(reservationTenants, sp.TenantID)
		}
	}
	budgets := map[string][]*budget.Budget{}
	byBudget := map[string]*budget.Budget{}
	if len(tenants) > 0 {
		rows, err := tx.Query(ctx, `SELECT `+budgetCols+` FROM budgets WHERE tenant_id = ANY($1::uuid[])`, tenants)
		if err != nil {
			return 0, fmt.Errorf("budget: load budgets: %w", err)
		}
		list, err := scanBudgets(rows)
		if err != nil {
			return 0, fmt.Errorf("budget: load budgets: %w", err)
		}
		for _, b := range list {
			budgets[b.TenantID] = append(budgets[b.TenantID], b)
			byBudget[b.ID] = b
		}
	}
	deltas := map[counterKey]*delta{}
	get := func(b *budget.Budget, start, end time.Time) *delta {
		k := counterKey{b.ID, start}
		d := deltas[k]
		if d == nil {
			d = &delta{b: b, end: end}
			deltas[k] = d
		}
		return d
	}
	for _, id := range fresh {
		sp := byID[id]
		if sp.CostNanoUSD == 0 {
			continue
		}
		for _, b := range budgets[sp.TenantID] {
			if !b.Matches(&sp.Subject) {
				continue
			}
			start, end, err := budget.Bounds(b.Period, sp.Time)
			if err != nil {
				return 0, err
			}
			get(b, start, end).spent += sp.CostNanoUSD
		}
	}
	if len(reservations) > 0 {
		// An event settles only a reservation of its own tenant.
		_, items, err := closeReservations(ctx, tx, "settled",
			`(id, tenant_id) IN (SELECT * FROM unnest($2::uuid[], $3::uuid[])) AND status = 'open'`, reservations, reservationTenants)
		if err != nil {
			return 0, err
		}
		for _, it := range items {
			b := byBudget[it.budgetID]
			if b == nil {
				continue // cannot happen: the reservation is of the event's tenant, whose budgets are loaded
			}
			_, end, err := budget.Bounds(b.Period, it.periodStart)
			if err != nil {
				return 0, err
			}
			get(b, it.periodStart, end).unreserve += it.amount
		}
	}
	keys := sortedKeys(deltas)
	alerts := 0
	for _, k := range keys {
		d := deltas[k]
		carried, err := carriedInto(ctx, tx, d.b, k.periodStart)
		if err != nil {
			return 0, err
		}
		var c counter
		if err := tx.QueryRow(ctx, `INSERT INTO budget_spend (budget_id, period_start, period_end, spent_nano_usd, reserved_nano_usd, carried_nano_usd)
			VALUES ($1, $2, $3, $4, 0, $6)
			ON CONFLICT (budget_id, period_start) DO UPDATE SET
				spent_nano_usd = budget_spend.spent_nano_usd + EXCLUDED.spent_nano_usd,
				reserved_nano_usd = greatest(0, budget_spend.reserved_nano_usd - $5),
				updated_at = now()
			RETURNING spent_nano_usd, reported_nano_usd, carried_nano_usd`, k.budgetID, k.periodStart, d.end, d.spent, d.unreserve, carried).
			Scan(&c.metered, &c.reported, &c.carried); err != nil {
			return 0, fmt.Errorf("budget: update counter: %w", err)
		}
		if d.spent == 0 {
			continue
		}
		n, err := s.recordCrossings(ctx, tx, d.b, k.periodStart, d.end, c)
		if err != nil {
			return 0, err
		}
		alerts += n
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("budget: commit: %w", err)
	}
	return alerts, nil
}

// carriedInto is what a rollover budget carries into the period starting at
// start: the unused amount of the period before (budget.Carry), read when
// the period's counter row is created (the value given on an existing row is
// ignored). Spend arriving late for the previous period after that does not
// change it.
func carriedInto(ctx context.Context, tx pgx.Tx, b *budget.Budget, start time.Time) (int64, error) {
	if !b.Rollover {
		return 0, nil
	}
	prev, err := budget.Previous(b.Period, start)
	if err != nil {
		return 0, err
	}
	var spent int64
	err = tx.QueryRow(ctx, `SELECT spent_nano_usd FROM budget_spend WHERE budget_id = $1 AND period_start = $2`, b.ID, prev).Scan(&spent)
	if err != nil && !isNoRows(err) {
		return 0, fmt.Errorf("budget: previous period of %s: %w", b.ID, err)
	}
	return budget.Carry(b, spent), nil
}

func sortedKeys(m map[counterKey]*delta) []counterKey {
	keys := make([]counterKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b counterKey) int {
		if c := cmp.Compare(a.budgetID, b.budgetID); c != 0 {
			return c
		}
		return a.periodStart.Compare(b.periodStart)
	})
	return keys
}

type item struct {
	budgetID    string
	periodStart time.Time
	amount      int64
}

// closeReservations moves the open reservations selected by where (over
// budget_reservations, with args from $2 on) to status and returns how many
// it closed and their items.
func closeReservations(ctx context.Context, tx pgx.Tx, status, where string, args ...any) (int, []item, error) {
	rows, err := tx.Query(ctx, `WITH r AS (
			UPDATE budget_reservations SET status = $1, closed_at = now()
			WHERE id IN (SELECT id FROM budget_reservations WHERE `+where+` ORDER BY id FOR UPDATE)
			RETURNING id)
		SELECT r.id::text, i.budget_id::text, i.period_start, i.amount_nano_usd
		FROM r LEFT JOIN budget_reservation_items i ON r.id = i.reservation_id`,
		append([]any{status}, args...)...)
	if err != nil {
		return 0, nil, fmt.Errorf("budget: close reservations: %w", err)
	}
	defer rows.Close()
	closed := map[string]bool{}
	var items []item
	for rows.Next() {
		var id string
		var b *string
		var start *time.Time
		var amount *int64
		if err := rows.Scan(&id, &b, &start, &amount); err != nil {
			return 0, nil, fmt.Errorf("budget: close reservations: %w", err)
		}
		closed[id] = true
		if b != nil {
			items = append(items, item{*b, *start, *amount})
		}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("budget: close reservations: %w", err)
	}
	return len(closed), items, nil
}

// unreserve gives back the items' amounts, locking counters in order.
func unreserve(ctx context.Context, tx pgx.Tx, items []item) error {
	slices.SortFunc(items, func(a, b item) int {
		if c := cmp.Compare(a.budgetID, b.budgetID); c != 0 {
			return c
		}
		return a.periodStart.Compare(b.periodStart)
	})
	for _, it := range items {
		if _, err := tx.Exec(ctx, `UPDATE budget_spend SET reserved_nano_usd = greatest(0, reserved_nano_usd - $3), updated_at = now()
			WHERE budget_id = $1 AND period_start = $2`, it.budgetID, it.periodStart, it.amount); err != nil {
			return fmt.Errorf("budget: unreserve: %w", err)
		}
	}
	return nil
}

// Release gives back an open reservation (the call failed or was not made).
// Releasing a reservation already settled, released or expired does nothing.
func (s *Store) Release(ctx context.Context, id string) error {
	if !isUUID(id) {
		return fmt.Errorf("%w: reservation id %q", ErrNotFound, id)
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("budget: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM budget_reservations WHERE id = $1)`, id).Scan(&exists); err != nil {
		return fmt.Errorf("budget: release: %w", err)
	}
	if !exists {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	_, items, err := closeReservations(ctx, tx, "released", `id = $2::uuid AND status = 'open'`, id)
	if err != nil {
		return err
	}
	if err := unreserve(ctx, tx, items); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// ExpireReservations closes open reservations whose expiry is before now and
// gives their amounts back, so a lost settlement cannot block a key for
// longer than the reservation TTL. It returns how many expired.
func (s *Store) ExpireReservations(ctx context.Context, now time.Time) (int, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("budget: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	n, items, err := closeReservations(ctx, tx, "expired", `status = 'open' AND expires_at <= $2::timestamptz`, now)
	if err != nil || n == 0 {
		return 0, err
	}
	if err := unreserve(ctx, tx, items); err != nil {
		return 0, err
	}
	return n, tx.Commit(ctx)
}

// Prune deletes applied-event ids and closed reservations older than before.
// An event id must be kept as long as the event can be redelivered (the
// stream's max age), or a redelivery would count twice.
func (s *Store) Prune(ctx context.Context, before time.Time) (events, reservations int64, err error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM budget_applied_events WHERE applied_at < $1`, before)
	if err != nil {
		return 0, 0, fmt.Errorf("budget: prune: %w", err)
	}
	events = tag.RowsAffected()
	tag, err = s.db.Exec(ctx, `DELETE FROM budget_reservations WHERE status <> 'open' AND closed_at < $1`, before)
	if err != nil {
		return events, 0, fmt.Errorf("budget: prune: %w", err)
	}
	return events, tag.RowsAffected(), nil
}
