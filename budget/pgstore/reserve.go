package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/org/orgstore"
)

// ReserveInput asks to hold AmountNanoUSD against every hard budget covering
// a call by KeyID to Provider's Model with Dimensions, until ExpiresAt. The
// call's place in the hierarchy is read from the key (or a dimension
// mapping) in the reserving transaction.
type ReserveInput struct {
	TenantID      string
	KeyID         string
	Provider      string
	Model         string
	Dimensions    map[string]string
	AmountNanoUSD int64
	Now           time.Time
	ExpiresAt     time.Time
}

// Reserve holds in.AmountNanoUSD against every hard budget covering the
// call in the current period — tenant, workspace, team, project, key,
// provider, model and dimension alike — or none of them, in one
// transaction: for each budget (in id order, so counters are always locked
// in the same order) counted + reserved + amount <= cap is decided under
// the counter's row lock (counted: the metered spend, or the larger of
// metered and provider-reported for a budget on that basis), and the first
// that does not fit rolls back the holds already taken. Concurrent reservations over
// overlapping budgets can therefore never take any of them over its cap. A
// call covered by no hard budget still gets a reservation (with no
// budgets) so settlement is uniform.
func (s *Store) Reserve(ctx context.Context, in ReserveInput) (budget.Reservation, error) {
	switch {
	case !isUUID(in.TenantID):
		return budget.Reservation{}, fmt.Errorf("%w: tenant_id %q is not a UUID", budget.ErrInvalid, in.TenantID)
	case in.AmountNanoUSD < 0:
		return budget.Reservation{}, fmt.Errorf("%w: negative reservation amount", budget.ErrInvalid)
	case !in.ExpiresAt.After(in.Now):
		return budget.Reservation{}, fmt.Errorf("%w: reservation expires before it starts", budget.ErrInvalid)
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return budget.Reservation{}, fmt.Errorf("budget: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	rows, err := tx.Query(ctx, `SELECT `+budgetCols+` FROM budgets WHERE tenant_id = $1 AND hard ORDER BY id`, in.TenantID)
	if err != nil {
		return budget.Reservation{}, fmt.Errorf("budget: load budgets: %w", err)
	}
	list, err := scanBudgets(rows)
	if err != nil {
		return budget.Reservation{}, fmt.Errorf("budget: load budgets: %w", err)
	}
	place, err := orgstore.Place(ctx, tx, in.TenantID, in.KeyID, in.Dimensions)
	if err != nil {
		return budget.Reservation{}, fmt.Errorf("budget: place the call: %w", err)
	}
	subject := &budget.Subject{TenantID: in.TenantID, WorkspaceID: place.WorkspaceID, TeamID: place.TeamID, ProjectID: place.ProjectID,
		KeyID: in.KeyID, Provider: in.Provider, Model: in.Model, Dimensions: in.Dimensions}
	res := budget.Reservation{AmountNanoUSD: in.AmountNanoUSD, ExpiresAt: in.ExpiresAt.UTC(), BudgetIDs: []string{}}
	type held struct {
		id    string
		start time.Time
	}
	var holds []held
	for _, b := range list { // ordered by id: counters are locked in key order
		if !b.Matches(subject) {
			continue
		}
		start, end, err := budget.Bounds(b.Period, in.Now)
		if err != nil {
			return budget.Reservation{}, err
		}
		carried, err := carriedInto(ctx, tx, b, start)
		if err != nil {
			return budget.Reservation{}, err
		}
		// The counter row is locked (created first when the period has
		// none): the decision below (budget.Fits on what the budget counts,
		// budget.Counted) is taken under the row lock and holds until
		// commit, so concurrent reservations cannot take the budget over its
		// cap. The row exists for all but a period's first call, so the
		// lock is tried before the insert: two statements per budget.
		c, err := lockCounter(ctx, tx, b.ID, start)
		if isNoRows(err) {
			if _, err := tx.Exec(ctx, `INSERT INTO budget_spend (budget_id, period_start, period_end, spent_nano_usd, reserved_nano_usd, carried_nano_usd)
				VALUES ($1, $2, $3, 0, 0, $4) ON CONFLICT (budget_id, period_start) DO NOTHING`, b.ID, start, end, carried); err != nil {
				return budget.Reservation{}, fmt.Errorf("budget: reserve: %w", err)
			}
			c, err = lockCounter(ctx, tx, b.ID, start)
		}
		if err != nil {
			return budget.Reservation{}, fmt.Errorf("budget: reserve: %w", err)
		}
		limit, counted := c.limit(b), c.counted(b)
		if !budget.Fits(limit, counted, c.reserved, in.AmountNanoUSD) {
			// What is left tells the caller whether a smaller worst case
			// (max_tokens) would fit.
			return budget.Reservation{}, &budget.DeniedError{BudgetID: b.ID, BudgetName: b.Name, AmountNanoUSD: b.AmountNanoUSD,
				CallNanoUSD: in.AmountNanoUSD, LeftNanoUSD: max(limit-counted-c.reserved, 0)}
		}
		if _, err := tx.Exec(ctx, `UPDATE budget_spend SET reserved_nano_usd = reserved_nano_usd + $3, updated_at = now()
			WHERE budget_id = $1 AND period_start = $2`, b.ID, start, in.AmountNanoUSD); err != nil {
			return budget.Reservation{}, fmt.Errorf("budget: reserve: %w", err)
		}
		holds = append(holds, held{b.ID, start})
		res.BudgetIDs = append(res.BudgetIDs, b.ID)
	}
	if err := tx.QueryRow(ctx, `INSERT INTO budget_reservations (tenant_id, key_id, amount_nano_usd, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5) RETURNING id::text`, in.TenantID, in.KeyID, in.AmountNanoUSD, in.Now, in.ExpiresAt).Scan(&res.ID); err != nil {
		return budget.Reservation{}, fmt.Errorf("budget: reserve: %w", err)
	}
	for _, h := range holds {
		if _, err := tx.Exec(ctx, `INSERT INTO budget_reservation_items (reservation_id, budget_id, period_start, amount_nano_usd)
			VALUES ($1, $2, $3, $4)`, res.ID, h.id, h.start, in.AmountNanoUSD); err != nil {
			return budget.Reservation{}, fmt.Errorf("budget: reserve: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return budget.Reservation{}, fmt.Errorf("budget: commit: %w", err)
	}
	return res, nil
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// KeyBlocked reports whether a hard budget covering every call of the key
// (tenant, the key's workspace, team or project, or the key itself) is
// exhausted in the current period: spent plus open reservations at or over
// its cap. Provider, model and dimension budgets depend on each request;
// Reserve enforces them per call.
func (s *Store) KeyBlocked(ctx context.Context, tenantID, keyID string) (bool, string, error) {
	if !isUUID(tenantID) {
		return false, "", fmt.Errorf("%w: tenant_id %q is not a UUID", budget.ErrInvalid, tenantID)
	}
	place, err := orgstore.Place(ctx, s.db, tenantID, keyID, nil)
	if err != nil {
		return false, "", fmt.Errorf("budget: key blocked: %w", err)
	}
	key := &budget.Subject{TenantID: tenantID, WorkspaceID: place.WorkspaceID, TeamID: place.TeamID, ProjectID: place.ProjectID, KeyID: keyID}
	rows, err := s.db.Query(ctx, `SELECT `+budgetCols+` FROM budgets WHERE tenant_id = $1 AND hard
		AND scope IN ('tenant', 'workspace', 'team', 'project', 'key')`, tenantID)
	if err != nil {
		return false, "", fmt.Errorf("budget: key blocked: %w", err)
	}
	list, err := scanBudgets(rows)
	if err != nil {
		return false, "", fmt.Errorf("budget: key blocked: %w", err)
	}
	now := time.Now()
	for _, b := range list {
		if !b.CoversEveryCall(key) {
			continue
		}
		start, _, err := budget.Bounds(b.Period, now)
		if err != nil {
			return false, "", err
		}
		var c counter
		err = s.db.QueryRow(ctx, `SELECT spent_nano_usd, reported_nano_usd, reserved_nano_usd, carried_nano_usd FROM budget_spend
			WHERE budget_id = $1 AND period_start = $2`, b.ID, start).Scan(&c.metered, &c.reported, &c.reserved, &c.carried)
		if err != nil && !isNoRows(err) {
			return false, "", fmt.Errorf("budget: key blocked: %w", err)
		}
		if budget.Exhausted(c.limit(b), c.counted(b), c.reserved) {
			return true, "budget_exceeded", nil
		}
	}
	return false, "", nil
}

// Counter returns a budget's spent and reserved amounts in the period holding t.
func (s *Store) Counter(ctx context.Context, budgetID string, p budget.Period, t time.Time) (spent, reserved int64, err error) {
	start, _, err := budget.Bounds(p, t)
	if err != nil {
		return 0, 0, err
	}
	err = s.db.QueryRow(ctx, `SELECT spent_nano_usd, reserved_nano_usd FROM budget_spend WHERE budget_id = $1 AND period_start = $2`,
		budgetID, start).Scan(&spent, &reserved)
	if isNoRows(err) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("budget: counter: %w", err)
	}
	return spent, reserved, nil
}

// lockCounter reads a budget's counter of the period starting at start and
// locks its row until the transaction ends (pgx.ErrNoRows: no row yet).
func lockCounter(ctx context.Context, tx pgx.Tx, budgetID string, start time.Time) (counter, error) {
	var c counter
	err := tx.QueryRow(ctx, `SELECT spent_nano_usd, reported_nano_usd, reserved_nano_usd, carried_nano_usd FROM budget_spend
		WHERE budget_id = $1 AND period_start = $2 FOR UPDATE`, budgetID, start).Scan(&c.metered, &c.reported, &c.reserved, &c.carried)
	return c, err
}
