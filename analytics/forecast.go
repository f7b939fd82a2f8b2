package analytics

import (
	"context"
	"time"

	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/spend"
)

// Forecast is where a tenant's spend is headed at the end of the month.
type Forecast struct {
	PeriodStart, PeriodEnd time.Time
	SpentNanoUSD           int64
	budget.Projection
}

// MonthForecast projects the tenant's spend (tenant cost) at the end of the
// current UTC month, weekday-aware, with a band (budget.Project). A caller
// with scoped roles gets the forecast of the spend it can read.
func (s *Service) MonthForecast(ctx context.Context, tenantID string) (Forecast, error) {
	now := s.Now().UTC()
	start, end, _ := budget.Bounds(budget.Month, now)
	q := Query{TenantID: tenantID, From: start, To: now.Add(time.Second)}
	if !start.Before(q.To) {
		q.To = start.Add(time.Second)
	}
	spec, err := s.spec(ctx, &q)
	if err != nil {
		return Forecast{}, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	sums, err := s.store.TotalSpend(ctx, spec)
	if err != nil {
		return Forecast{}, storeErr(err)
	}
	history, err := s.dailyHistory(ctx, tenantID, spec.Filters, now)
	if err != nil {
		return Forecast{}, storeErr(err)
	}
	p := budget.Project(budget.ProjectionInput{PeriodStart: start, PeriodEnd: end, Now: now, SpentNanoUSD: sums.TenantNanoUSD, History: history})
	return Forecast{PeriodStart: start, PeriodEnd: end, SpentNanoUSD: sums.TenantNanoUSD, Projection: p}, nil
}

// dailyHistory is the spend of the budget.ProjectionHistoryDays whole UTC
// days before now's day, zero days included.
func (s *Service) dailyHistory(ctx context.Context, tenantID string, f spend.Filters, now time.Time) ([]budget.DaySpend, error) {
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	from := today.AddDate(0, 0, -budget.ProjectionHistoryDays)
	points, err := s.store.TimeSeries(ctx, spend.Spec{Tenant: tenantID, From: from, To: today, Filters: f, Bucket: "day"})
	if err != nil {
		return nil, err
	}
	byDay := map[time.Time]int64{}
	for _, p := range points {
		byDay[p.Bucket.UTC()] += p.TenantNanoUSD
	}
	out := make([]budget.DaySpend, 0, budget.ProjectionHistoryDays)
	for d := from; d.Before(today); d = d.AddDate(0, 0, 1) {
		out = append(out, budget.DaySpend{Day: d, NanoUSD: byDay[d]})
	}
	return out, nil
}

// budgetFilters selects the spend a budget counts (budget.Budget.Matches
// in analytics terms).
func budgetFilters(b *controlplane.Budget) spend.Filters {
	one := func(p *string) []string {
		if p == nil || *p == "" {
			return nil
		}
		return []string{*p}
	}
	var f spend.Filters
	switch budget.Scope(b.Scope) {
	case budget.ScopeWorkspace:
		f.WorkspaceIDs = one(b.WorkspaceID)
	case budget.ScopeTeam:
		f.TeamIDs = one(b.TeamID)
	case budget.ScopeProject:
		f.ProjectIDs = one(b.ProjectID)
	case budget.ScopeKey:
		f.KeyIDs = one(b.KeyID)
	case budget.ScopeProvider:
		f.Providers = one(b.Provider)
	case budget.ScopeModel:
		f.Models, f.Providers = one(b.Model), one(b.Provider)
	case budget.ScopeDimension:
		if b.DimensionName != nil && b.DimensionVal != nil {
			f.Dimensions = map[string][]string{*b.DimensionName: {*b.DimensionVal}}
		}
	}
	return f
}

// project replaces a budget status's run-rate forecast by the weekday-aware
// projection when ClickHouse has its scope's daily history; without it (no
// ClickHouse, or it did not answer) the run rate stands.
func (s *Service) project(ctx context.Context, b *controlplane.Budget, st *budget.Status, now time.Time) budget.Projection {
	run := budget.Projection{ExpectedNanoUSD: st.ForecastNanoUSD, LowNanoUSD: st.ForecastNanoUSD, HighNanoUSD: st.ForecastNanoUSD, Method: "run_rate"}
	in := budget.ProjectionInput{PeriodStart: st.PeriodStart, PeriodEnd: st.PeriodEnd, Now: now, SpentNanoUSD: st.SpentNanoUSD, AmountNanoUSD: st.AmountNanoUSD}
	if s.store != nil {
		ctx, cancel := s.timeout(ctx)
		defer cancel()
		if h, err := s.dailyHistory(ctx, b.TenantID, budgetFilters(b), now); err == nil {
			in.History = h
			return budget.Project(in)
		}
	}
	// The run rate, with its exceed date.
	p := budget.Project(in)
	run.ExceedsOn = p.ExceedsOn
	return run
}
