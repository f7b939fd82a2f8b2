package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/spendgate/spendgate/budget"
)

// PeriodTotals returns spent and reserved of each budget in the period that
// holds now, with the forecast to period end. Budgets without spend in the
// period yet get zeros. Budgets whose period cannot be computed are an error.
func (s *Store) PeriodTotals(ctx context.Context, budgets []*budget.Budget, now time.Time) (map[string]budget.Status, error) {
	out := make(map[string]budget.Status, len(budgets))
	byID := make(map[string]*budget.Budget, len(budgets))
	ids := make([]string, 0, len(budgets))
	starts := make([]time.Time, 0, len(budgets))
	for _, b := range budgets {
		start, end, err := budget.Bounds(b.Period, now)
		if err != nil {
			return nil, err
		}
		basis := b.SpendBasis
		if basis == "" {
			basis = budget.BasisMetered
		}
		out[b.ID] = budget.Status{PeriodStart: start, PeriodEnd: end, AmountNanoUSD: b.AmountNanoUSD, Basis: basis}
		byID[b.ID] = b
		ids = append(ids, b.ID)
		starts = append(starts, start)
	}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.Query(ctx, `SELECT s.budget_id::text, s.spent_nano_usd, s.reported_nano_usd, s.reserved_nano_usd, s.carried_nano_usd
		FROM budget_spend s JOIN unnest($1::uuid[], $2::timestamptz[]) AS want(id, start)
		ON s.budget_id = want.id AND s.period_start = want.start`, ids, starts)
	if err != nil {
		return nil, fmt.Errorf("budget: period totals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var c counter
		if err := rows.Scan(&id, &c.metered, &c.reported, &c.reserved, &c.carried); err != nil {
			return nil, fmt.Errorf("budget: period totals: %w", err)
		}
		b, st := byID[id], out[id]
		// A rollover budget's period may spend what the one before left.
		st.AmountNanoUSD, st.ReservedNanoUSD = c.limit(b), c.reserved
		st.SpentNanoUSD, st.MeteredNanoUSD = c.counted(b), c.metered
		if b.UsesReported() {
			st.ReportedNanoUSD = c.reported
		}
		out[id] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("budget: period totals: %w", err)
	}
	for id, st := range out {
		st.ForecastNanoUSD = budget.Forecast(st.SpentNanoUSD, st.PeriodStart, st.PeriodEnd, now)
		out[id] = st
	}
	return out, nil
}

// ScopeBudgets lists a tenant's budgets that count spend of a team or a
// project: for a team its own budgets and those of its projects, for a
// project its own; with neither, every budget of the tenant. Ordered by name.
func (s *Store) ScopeBudgets(ctx context.Context, tenantID, teamID, projectID string) ([]*budget.Budget, error) {
	rows, err := s.db.Query(ctx, `SELECT `+budgetCols+` FROM budgets WHERE tenant_id = $1
		AND ($2 = '' OR team_id::text = $2 OR project_id IN (SELECT id FROM projects WHERE tenant_id = $1 AND team_id::text = $2))
		AND ($3 = '' OR project_id::text = $3)
		ORDER BY name, id`, tenantID, teamID, projectID)
	if err != nil {
		return nil, fmt.Errorf("budget: scope budgets: %w", err)
	}
	out, err := scanBudgets(rows)
	if err != nil {
		return nil, fmt.Errorf("budget: scope budgets: %w", err)
	}
	return out, nil
}
