package apiserver

import (
	"time"

	"github.com/spendgate/spendgate/graph"
	"github.com/spendgate/spendgate/graph/model"
)

// DefaultMaxComplexity admits a full page of keys (250) or a 2,500-bucket series
// with their usual fields, or the portal's dashboard (8 analytics queries), and
// refuses queries that nest or multiply far beyond that: at most ~24
// ClickHouse queries in one request.
const DefaultMaxComplexity = 50_000

// analyticsQuery is what a field answered by its own ClickHouse query costs
// besides its rows: a query scans a tenant's events or rollups, milliseconds
// to seconds of database time, where a field of a loaded object costs
// nothing. Priced by rows alone, 500 aliased spendBreakdowns (500 queries)
// fitted under the limit.
const analyticsQuery = 2_000

// pagedComplexity makes list fields cost their size times their children's
// cost, so the complexity limit bounds the rows a query can ask for, not just
// its field count. Sizes are the page size asked for (or the default), the
// top-N of a breakdown, or the bucket count of a series.
func pagedComplexity(c *graph.ComplexityRoot) {
	paged := func(child int, first *int, def int) int {
		n := def
		if first != nil && *first > 0 {
			n = *first
		}
		return 1 + child*n
	}
	q := &c.Query
	q.APIKeys = func(child int, _ string, first *int, _ *string, _ *model.KeyStatus) int {
		return paged(child, first, 50)
	}
	q.Members = func(child int, _ string, first *int, _ *string) int { return paged(child, first, 50) }
	q.Budgets = func(child int, _ string, first *int, _ *string) int { return paged(child, first, 50) }
	q.PricingOverrides = func(child int, _ string, first *int, _ *string) int { return paged(child, first, 50) }
	q.AuditLog = func(child int, _ string, first *int, _ *string, _ *model.AuditFilter) int {
		return paged(child, first, 50)
	}
	q.BudgetAlertHistory = func(child int, _ string, first *int) int { return paged(child, first, 50) }
	q.UsageEvents = func(child int, _ string, _, _ time.Time, _ *model.SpendFilter, first *int, _ *string) int {
		return analyticsQuery + paged(child, first, 50)
	}
	q.UsageEvent = func(child int, _, _ string) int { return analyticsQuery + child }
	q.SpendSummary = func(child int, _ string, _, _ time.Time, _ *model.SpendFilter) int { return analyticsQuery + child }
	q.UnknownModels = func(child int, _ string, _, _ time.Time) int { return analyticsQuery + child*10 }
	q.Denials = func(child int, _ string, _, _ time.Time, _ []*model.SpendGroupBy, _ *model.SpendFilter) int {
		return analyticsQuery + child*10
	}
	q.SpendBreakdown = func(child int, _ string, _, _ time.Time, _ []*model.SpendGroupBy, _ *model.SpendFilter, top *int) int {
		return analyticsQuery + paged(child, top, 10)
	}
	// Re-pricing scans and rewrites a range of events.
	c.Mutation.RepriceUnpricedEvents = func(child int, _ string, _, _ time.Time) int { return 5 * analyticsQuery }
	q.SpendTimeSeries = func(child int, _ string, from, to time.Time, bucket model.TimeBucket, groupBy []*model.SpendGroupBy, _ *model.SpendFilter) int {
		size := map[model.TimeBucket]time.Duration{model.TimeBucketHour: time.Hour, model.TimeBucketDay: 24 * time.Hour,
			model.TimeBucketWeek: 7 * 24 * time.Hour, model.TimeBucketMonth: 28 * 24 * time.Hour}[bucket]
		n := 1
		if size > 0 && to.After(from) {
			n = int(min(to.Sub(from)/size+1, 10_000))
		}
		// Groups multiply the rows; count a modest fan-out per group-by.
		for range groupBy {
			n *= 4
		}
		return analyticsQuery + 1 + child*n
	}
}
