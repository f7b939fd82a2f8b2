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
// in the same order) the conditional update spent + reserved + amount <=
// cap runs under the counter's row lock, and the first that does not fit
// rolls back the holds already taken. Concurrent reservations over
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
		denied := &budget.DeniedError{BudgetID: b.ID, BudgetName: b.Name, AmountNanoUSD: b.AmountNanoUSD, CallNanoUSD: in.AmountNanoUSD}
		// What is left tells the caller whether a smaller worst case
		// (max_tokens) would fit.
		left := func() error {
			denied.LeftNanoUSD = budget.Cap(b.AmountNanoUSD, carried) // nothing counted yet this period
			if err := tx.QueryRow(ctx, `SELECT greatest($2 + carried_nano_usd - spent_nano_usd - reserved_nano_usd, 0) FROM budget_spend
				WHERE budget_id = $1 AND period_start = $3`, b.ID, b.AmountNanoUSD, start).Scan(&denied.LeftNanoUSD); err != nil && !isNoRows(err) {
				return fmt.Errorf("budget: reserve: %w", err)
			}
			return nil
		}
		// The first hold of a period inserts the row: it must fit the cap
		// the row is created with. Later ones are checked by the update,
		// against the cap the row holds.
		if !budget.Fits(budget.Cap(b.AmountNanoUSD, carried), 0, 0, in.AmountNanoUSD) {
			if err := left(); err != nil {
				return budget.Reservation{}, err
			}
			return budget.Reservation{}, denied
		}
		var ok bool
		err = tx.QueryRow(ctx, `INSERT INTO budget_spend (budget_id, period_start, period_end, spent_nano_usd, reserved_nano_usd, carried_nano_usd)
			VALUES ($1, $2, $3, 0, $4, $6)
			ON CONFLICT (budget_id, period_start) DO UPDATE SET
				reserved_nano_usd = budget_spend.reserved_nano_usd + $4, updated_at = now()
			WHERE $4 <= $5 + budget_spend.carried_nano_usd - budget_spend.spent_nano_usd - budget_spend.reserved_nano_usd
			RETURNING true`, b.ID, start, end, in.AmountNanoUSD, b.AmountNanoUSD, carried).Scan(&ok)
		if err != nil {
			if !isNoRows(err) {
				return budget.Reservation{}, fmt.Errorf("budget: reserve: %w", err)
			}
			if err := left(); err != nil {
				return budget.Reservation{}, err
			}
			return budget.Reservation{}, denied
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
		var spent, reserved, carried int64
		err = s.db.QueryRow(ctx, `SELECT spent_nano_usd, reserved_nano_usd, carried_nano_usd FROM budget_spend WHERE budget_id = $1 AND period_start = $2`,
			b.ID, start).Scan(&spent, &reserved, &carried)
		if err != nil && !isNoRows(err) {
			return false, "", fmt.Errorf("budget: key blocked: %w", err)
		}
		if budget.Exhausted(budget.Cap(b.AmountNanoUSD, carried), spent, reserved) {
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
