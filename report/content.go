package report

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spendgate/spendgate/spend"
)

// Report is the content of one report: what the CSV, the PDF, the email and
// the Slack message all show.
type Report struct {
	TenantID   string
	Name       string
	ScopeLabel string // "Tenant Acme" or "Team Search"
	TimeZone   string
	Period
	Current, Previous spend.Sums
	// Daily is tenant cost per local day of the period, PreviousDaily of
	// the previous period (for the charts).
	Daily, PreviousDaily []DayCost
	// Movers are the models, keys and teams whose spend changed most.
	Movers []Mover
	// Budgets are the scope's budgets in their current period.
	Budgets []BudgetLine
	// Anomalies and Recommendations come from the anomaly detector and the
	// recommender when they are installed (nil otherwise).
	Anomalies       []Anomaly
	Recommendations []Recommendation
}

// ChangeNanoUSD is the tenant cost of the period minus the previous one.
func (r *Report) ChangeNanoUSD() int64 { return r.Current.TenantNanoUSD - r.Previous.TenantNanoUSD }

// DayCost is the tenant cost of one local day.
type DayCost struct {
	Day      time.Time // local midnight
	NanoUSD  int64
	Requests uint64
}

// Mover is one model, key or team and its spend in both periods.
type Mover struct {
	Dimension               string // "model", "key" or "team"
	ID, Label               string
	CurrentNanoUSD          int64
	PreviousNanoUSD         int64
	CurrentEvents, Previous uint64
}

// ChangeNanoUSD is the mover's change.
func (m *Mover) ChangeNanoUSD() int64 { return m.CurrentNanoUSD - m.PreviousNanoUSD }

// BudgetLine is a budget where it stands now.
type BudgetLine struct {
	Name                   string
	Period                 string
	AmountNanoUSD          int64
	SpentNanoUSD           int64
	ForecastNanoUSD        int64
	PeriodStart, PeriodEnd time.Time
	Hard                   bool
}

// Percent is the spent share of the amount in whole percent (rounded down).
func (b *BudgetLine) Percent() int64 {
	if b.AmountNanoUSD <= 0 {
		return 0
	}
	// nano-USD amounts stay below 2^63/100 for any budget a person sets
	// (budget.MaxAmountNanoUSD is 10^18), so this cannot overflow.
	return b.SpentNanoUSD * 100 / b.AmountNanoUSD
}

// State is "exceeded", "at risk" (forecast above the amount) or "on track".
func (b *BudgetLine) State() string {
	switch {
	case b.SpentNanoUSD >= b.AmountNanoUSD:
		return "exceeded"
	case b.ForecastNanoUSD > b.AmountNanoUSD:
		return "at risk"
	}
	return "on track"
}

// Anomaly is one anomaly episode in the period.
type Anomaly struct {
	Start           time.Time
	Subject         string // "model gpt-4o", "key ci-bot"
	Severity        string
	ExpectedNanoUSD int64
	ActualNanoUSD   int64
	Description     string
}

// Recommendation is one open saving.
type Recommendation struct {
	Title                          string
	Detail                         string
	EstimatedMonthlySavingsNanoUSD int64
}

// SpendSource sums usage (store/clickhouse.Analytics is one). The report
// reads it directly, not through the analytics service: a scheduled run has
// no signed-in caller, and the tenant and scope come from the definition.
type SpendSource interface {
	TotalSpend(ctx context.Context, s spend.Spec) (spend.Sums, error)
	Breakdown(ctx context.Context, s spend.Spec, limit int) ([]spend.Group, spend.Sums, error)
	TimeSeries(ctx context.Context, s spend.Spec) ([]spend.Point, error)
}

// Directory names the tenant's keys, nodes and the tenant itself, and
// lists the scope's budgets (report/pgstore).
type Directory interface {
	TenantName(ctx context.Context, tenantID string) (string, error)
	KeyNames(ctx context.Context, tenantID string, ids []string) (map[string]string, error)
	NodeNames(ctx context.Context, tenantID string, ids []string) (map[string]string, error)
	Budgets(ctx context.Context, tenantID string, scope Scope, now time.Time) ([]BudgetLine, error)
}

// AnomalySource lists anomaly episodes of a scope in [from, to).
type AnomalySource interface {
	Anomalies(ctx context.Context, tenantID string, scope Scope, from, to time.Time) ([]Anomaly, error)
}

// RecommendationSource lists a scope's open recommendations.
type RecommendationSource interface {
	OpenRecommendations(ctx context.Context, tenantID string, scope Scope) ([]Recommendation, error)
}

// Generator builds reports. Anomalies and Recommendations may be nil: the
// sections are then left out.
type Generator struct {
	Spend           SpendSource
	Directory       Directory
	Anomalies       AnomalySource
	Recommendations RecommendationSource
	// MoversPerDimension is how many models, keys and teams are listed
	// (default 5 each).
	MoversPerDimension int
	Now                func() time.Time
}

// moverDimensions are the group-bys movers are looked for in, with the
// label they have in the report.
var moverDimensions = []string{"model", "key", "team"}

// Generate builds the report of d for the period p.
func (g *Generator) Generate(ctx context.Context, d *Definition, p Period) (*Report, error) {
	loc, err := d.Location()
	if err != nil {
		return nil, err
	}
	r := &Report{TenantID: d.TenantID, Name: d.Name, TimeZone: loc.String(), Period: p}
	if r.ScopeLabel, err = g.scopeLabel(ctx, d); err != nil {
		return nil, err
	}
	filters := scopeFilters(d.Scope)
	cur := spend.Spec{Tenant: d.TenantID, From: p.From, To: p.To, Filters: filters}
	prev := spend.Spec{Tenant: d.TenantID, From: p.PrevFrom, To: p.PrevTo, Filters: filters}
	if r.Current, err = g.Spend.TotalSpend(ctx, cur); err != nil {
		return nil, fmt.Errorf("report: spend of the period: %w", err)
	}
	if r.Previous, err = g.Spend.TotalSpend(ctx, prev); err != nil {
		return nil, fmt.Errorf("report: spend of the previous period: %w", err)
	}
	if r.Daily, err = g.daily(ctx, cur, loc); err != nil {
		return nil, err
	}
	if r.PreviousDaily, err = g.daily(ctx, prev, loc); err != nil {
		return nil, err
	}
	if r.Movers, err = g.movers(ctx, d.TenantID, cur, prev); err != nil {
		return nil, err
	}
	now := time.Now()
	if g.Now != nil {
		now = g.Now()
	}
	if r.Budgets, err = g.Directory.Budgets(ctx, d.TenantID, d.Scope, now); err != nil {
		return nil, fmt.Errorf("report: budgets: %w", err)
	}
	if g.Anomalies != nil {
		if r.Anomalies, err = g.Anomalies.Anomalies(ctx, d.TenantID, d.Scope, p.From, p.To); err != nil {
			return nil, fmt.Errorf("report: anomalies: %w", err)
		}
	}
	if g.Recommendations != nil {
		if r.Recommendations, err = g.Recommendations.OpenRecommendations(ctx, d.TenantID, d.Scope); err != nil {
			return nil, fmt.Errorf("report: recommendations: %w", err)
		}
		slices.SortStableFunc(r.Recommendations, func(a, b Recommendation) int {
			return cmp.Compare(b.EstimatedMonthlySavingsNanoUSD, a.EstimatedMonthlySavingsNanoUSD)
		})
	}
	return r, nil
}

func scopeFilters(s Scope) spend.Filters {
	switch s.Kind {
	case ScopeTeam:
		return spend.Filters{TeamIDs: []string{s.NodeID}}
	case ScopeProject:
		return spend.Filters{ProjectIDs: []string{s.NodeID}}
	}
	return spend.Filters{}
}

func (g *Generator) scopeLabel(ctx context.Context, d *Definition) (string, error) {
	if d.Scope.Kind == ScopeTenant {
		name, err := g.Directory.TenantName(ctx, d.TenantID)
		if err != nil {
			return "", fmt.Errorf("report: tenant name: %w", err)
		}
		return "Tenant " + name, nil
	}
	names, err := g.Directory.NodeNames(ctx, d.TenantID, []string{d.Scope.NodeID})
	if err != nil {
		return "", fmt.Errorf("report: %s name: %w", d.Scope.Kind, err)
	}
	name, ok := names[d.Scope.NodeID]
	if !ok {
		return "", fmt.Errorf("report: the %s %s of the report is gone", d.Scope.Kind, d.Scope.NodeID)
	}
	kind := string(d.Scope.Kind)
	return string(kind[0]-'a'+'A') + kind[1:] + " " + name, nil
}

// daily sums tenant cost per local day. The store buckets by UTC day, so
// days are summed one query each over local-midnight bounds instead: a
// week is seven small queries, a month about thirty, each answered from the
// rollups where the zone's offset is whole hours.
func (g *Generator) daily(ctx context.Context, cur spend.Spec, loc *time.Location) ([]DayCost, error) {
	var out []DayCost
	from := cur.From.In(loc)
	for day := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, loc); day.Before(cur.To); day = day.AddDate(0, 0, 1) {
		s := cur
		s.From, s.To = maxTime(day, cur.From), minTime(day.AddDate(0, 0, 1), cur.To)
		if !s.From.Before(s.To) {
			continue
		}
		sums, err := g.Spend.TotalSpend(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("report: spend of %s: %w", day.Format(time.DateOnly), err)
		}
		out = append(out, DayCost{Day: day, NanoUSD: sums.TenantNanoUSD, Requests: sums.Events})
	}
	return out, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// movers compares every model, key and team of both periods and keeps the
// largest absolute changes of each (ties by label, so the order is stable).
func (g *Generator) movers(ctx context.Context, tenantID string, cur, prev spend.Spec) ([]Mover, error) {
	n := g.MoversPerDimension
	if n <= 0 {
		n = 5
	}
	var out []Mover
	for _, dim := range moverDimensions {
		cur.GroupBy, prev.GroupBy = []string{dim}, []string{dim}
		now, _, err := g.Spend.Breakdown(ctx, cur, 0)
		if err != nil {
			return nil, fmt.Errorf("report: %s breakdown: %w", dim, err)
		}
		before, _, err := g.Spend.Breakdown(ctx, prev, 0)
		if err != nil {
			return nil, fmt.Errorf("report: %s breakdown of the previous period: %w", dim, err)
		}
		byID := map[string]*Mover{}
		var list []*Mover
		get := func(id string) *Mover {
			m, ok := byID[id]
			if !ok {
				m = &Mover{Dimension: dim, ID: id, Label: id}
				byID[id] = m
				list = append(list, m)
			}
			return m
		}
		for _, gr := range now {
			m := get(gr.Keys[0])
			m.CurrentNanoUSD, m.CurrentEvents = gr.TenantNanoUSD, gr.Events
		}
		for _, gr := range before {
			m := get(gr.Keys[0])
			m.PreviousNanoUSD, m.Previous = gr.TenantNanoUSD, gr.Events
		}
		if err := g.label(ctx, tenantID, dim, list); err != nil {
			return nil, err
		}
		slices.SortStableFunc(list, func(a, b *Mover) int {
			if c := cmp.Compare(abs(b.ChangeNanoUSD()), abs(a.ChangeNanoUSD())); c != 0 {
				return c
			}
			return cmp.Compare(a.Label, b.Label)
		})
		for i, m := range list {
			if i == n || m.ChangeNanoUSD() == 0 {
				break
			}
			out = append(out, *m)
		}
	}
	return out, nil
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// label names keys and teams; spend not attributed to any team (empty id)
// is "(no team)", and a key without a name keeps its id.
func (g *Generator) label(ctx context.Context, tenantID, dim string, list []*Mover) error {
	var ids []string
	for _, m := range list {
		if m.ID != "" {
			ids = append(ids, m.ID)
		}
	}
	var names map[string]string
	var err error
	switch dim {
	case "key":
		names, err = g.Directory.KeyNames(ctx, tenantID, ids)
	case "team":
		names, err = g.Directory.NodeNames(ctx, tenantID, ids)
	default:
		return nil
	}
	if err != nil {
		return fmt.Errorf("report: %s names: %w", dim, err)
	}
	for _, m := range list {
		switch {
		case m.ID == "":
			m.Label = "(no " + dim + ")"
		case names[m.ID] != "":
			m.Label = names[m.ID]
		}
	}
	return nil
}
