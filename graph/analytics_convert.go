package graph

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spendgate/spendgate/analytics"
	"github.com/spendgate/spendgate/apierr"
	sgbudget "github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/budget/alerts"
	"github.com/spendgate/spendgate/graph/model"
	"github.com/spendgate/spendgate/graph/scalar"
	"github.com/spendgate/spendgate/spend"
)

// errNotAvailable answers for a feature this server runs without (spendgate
// api without NATS or ClickHouse).
func errNotAvailable(what string) error {
	return &apierr.Error{Code: apierr.CodeInternal, Message: what + " not available on this server"}
}

func badArg(format string, args ...any) error { return apierr.Invalid(format, args...) }

// groupBy turns GraphQL group-bys into the analytics names (dim:<name> for
// dimensions).
func groupBy(in []*model.SpendGroupBy) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, g := range in {
		name := strings.ToLower(string(g.Field))
		switch {
		case g.Field == model.SpendFieldDimension:
			if g.Dimension == nil || !spend.ValidDimensionName(*g.Dimension) {
				return nil, badArg("groupBy DIMENSION needs dimension: a name of letters, digits, _ . - (at most 64)")
			}
			name = "dim:" + *g.Dimension
		case g.Dimension != nil:
			return nil, badArg("groupBy %s takes no dimension name (only DIMENSION does)", g.Field)
		}
		out = append(out, name)
	}
	return out, nil
}

func filters(f *model.SpendFilter) (spend.Filters, error) {
	if f == nil {
		return spend.Filters{}, nil
	}
	out := spend.Filters{KeyIDs: f.KeyIds, Providers: f.Providers, Models: f.Models, Operations: f.Operations, Sources: f.Sources,
		WorkspaceIDs: f.WorkspaceIds, TeamIDs: f.TeamIds, ProjectIDs: f.ProjectIds}
	for _, s := range f.Statuses {
		if s < 100 || s > 599 {
			return spend.Filters{}, badArg("status %d is not an HTTP status (100-599)", s)
		}
		out.Statuses = append(out.Statuses, strconv.Itoa(s))
	}
	for _, d := range f.Dimensions {
		if !spend.ValidDimensionName(d.Name) {
			return spend.Filters{}, badArg("dimension filter %q: a name of letters, digits, _ . - (at most 64)", d.Name)
		}
		if len(d.Values) == 0 {
			return spend.Filters{}, badArg("dimension filter %q has no values", d.Name)
		}
		if out.Dimensions == nil {
			out.Dimensions = map[string][]string{}
		}
		out.Dimensions[d.Name] = append(out.Dimensions[d.Name], d.Values...)
	}
	return out, nil
}

// spendQuery builds an analytics query from resolver arguments.
func spendQuery(tenantID string, from, to time.Time, gb []*model.SpendGroupBy, f *model.SpendFilter) (analytics.Query, error) {
	names, err := groupBy(gb)
	if err != nil {
		return analytics.Query{}, err
	}
	fs, err := filters(f)
	if err != nil {
		return analytics.Query{}, err
	}
	return analytics.Query{TenantID: tenantID, From: from, To: to, GroupBy: names, Filters: fs}, nil
}

func totals(s spend.Sums) *model.SpendTotals {
	t := totalsValue(s)
	return &t
}

func totalsValue(s spend.Sums) model.SpendTotals {
	return model.SpendTotals{Requests: int64(s.Events), UnpricedRequests: int64(s.UnpricedEvents),
		ListCost: scalar.Money(s.ListNanoUSD), TenantCost: scalar.Money(s.TenantNanoUSD),
		InputTokens: s.InputTokens, OutputTokens: s.OutputTokens}
}

// points converts a series, its values allocated once per answer rather
// than twice per point.
func points(pts []analytics.Point) []*model.SpendPoint {
	out := make([]*model.SpendPoint, len(pts))
	values := make([]model.SpendPoint, len(pts))
	sums := make([]model.SpendTotals, len(pts))
	for i, p := range pts {
		sums[i] = totalsValue(p.Sums)
		values[i] = model.SpendPoint{Start: p.Start, Keys: p.Keys, Labels: p.Labels, Totals: &sums[i]}
		out[i] = &values[i]
	}
	return out
}

func breakdown(b analytics.Breakdown) *model.SpendBreakdown {
	out := &model.SpendBreakdown{GroupBy: b.GroupBy, Groups: make([]*model.SpendGroup, len(b.Groups)), Total: totals(b.Total)}
	values := make([]model.SpendGroup, len(b.Groups))
	sums := make([]model.SpendTotals, len(b.Groups))
	for i, g := range b.Groups {
		sums[i] = totalsValue(g.Sums)
		values[i] = model.SpendGroup{Keys: g.Keys, Labels: g.Labels, Totals: &sums[i]}
		out.Groups[i] = &values[i]
	}
	if b.OtherGroups {
		out.Other = totals(b.Other)
	}
	return out
}

func usageEvent(e analytics.Event) *model.UsageEvent {
	out := &model.UsageEvent{ID: e.EventID, Time: e.Time, KeyID: e.KeyID, KeyName: e.KeyName, Source: e.Source, Provider: e.Provider,
		Operation: e.Operation, ModelRequested: e.ModelRequested, ModelServed: e.ModelServed, CatalogueModel: e.CatalogueModel,
		Status: int(e.StatusCode), Streaming: e.Streaming, Complete: e.Complete, LatencyMs: int(e.LatencyMs), TtfbMs: int(e.TTFBMs),
		RequestID: e.RequestID, ServiceTier: e.ServiceTier, Priced: e.Priced, OverrideIds: e.OverrideID, PricingTier: e.PricingTier,
		Repriced: e.Repriced, RawUsage: e.RawUsage,
		Dimensions: make([]*model.Dimension, 0, len(e.DimNames)), CostLines: make([]*model.CostLine, 0, len(e.Lines)),
		Tokens: &model.TokenUsage{Input: e.Input, CachedInput: e.CachedInput, CacheWrite5m: e.CacheWrite5m, CacheWrite1h: e.CacheWrite1h,
			Output: e.Output, Reasoning: e.Reasoning, AudioInput: e.AudioInput, AudioOutput: e.AudioOutput, ImageInput: e.ImageInput,
			ImageOutput: e.ImageOutput, WebSearches: e.WebSearches, Characters: e.Characters, Seconds: e.Seconds, Images: e.Images}}
	for i, n := range e.DimNames {
		if i < len(e.DimValues) {
			out.Dimensions = append(out.Dimensions, &model.Dimension{Name: n, Value: e.DimValues[i]})
		}
	}
	sort.Slice(out.Dimensions, func(i, j int) bool { return out.Dimensions[i].Name < out.Dimensions[j].Name })
	if e.Priced {
		list, tenant := scalar.Money(e.ListNanoUSD), scalar.Money(e.TenantNanoUSD)
		out.ListCost, out.TenantCost = &list, &tenant
	}
	if e.HasProviderReported {
		r := scalar.Money(e.ProviderReportedNanoUSD)
		out.ProviderReportedCost = &r
	}
	for _, l := range e.Lines {
		out.CostLines = append(out.CostLines, &model.CostLine{Class: l.Class, Quantity: l.Quantity, ListRatePerMillion: scalar.Money(l.RateNanoUSD),
			TenantRatePerMillion: scalar.Money(l.TenantRateNanoUSD), Amount: scalar.Money(l.AmountNanoUSD)})
	}
	return out
}

func budgetStatus(s analytics.BudgetStatus) *model.BudgetStatus {
	pct := 0.0
	if s.AmountNanoUSD > 0 {
		pct = float64(s.SpentNanoUSD) * 100 / float64(s.AmountNanoUSD)
	}
	out := &model.BudgetStatus{Budget: budget(s.Budget), PeriodStart: s.PeriodStart, PeriodEnd: s.PeriodEnd,
		Spent: scalar.Money(s.SpentNanoUSD), Reserved: scalar.Money(s.ReservedNanoUSD), Remaining: scalar.Money(s.RemainingNanoUSD()),
		PercentUsed: pct, Forecast: scalar.Money(s.ForecastNanoUSD), Blocked: s.Blocked,
		ForecastLow: scalar.Money(s.Projection.LowNanoUSD), ForecastHigh: scalar.Money(s.Projection.HighNanoUSD),
		WillExceedOn: s.Projection.ExceedsOn, ForecastMethod: strings.ToUpper(s.Projection.Method),
		SpendBasis: spendBasis(string(s.Basis)), Metered: scalar.Money(s.MeteredNanoUSD)}
	if s.Basis == sgbudget.BasisMaxMeteredReported {
		r := scalar.Money(s.ReportedNanoUSD)
		out.Reported = &r
	}
	return out
}

func budgetBreach(b *sgbudget.BreachRecord) *model.BudgetBreach {
	keys := b.KeyIDs
	if keys == nil {
		keys = []string{}
	}
	return &model.BudgetBreach{EventID: b.EventID, BudgetID: b.Budget.ID, BudgetName: b.Budget.Name,
		Scope: model.BudgetScope(strings.ToUpper(string(b.Budget.Scope))), PeriodStart: b.PeriodStart.UTC(), PeriodEnd: b.PeriodEnd.UTC(),
		Limit: scalar.Money(b.LimitNanoUSD), Metered: scalar.Money(b.MeteredNanoUSD), Reported: scalar.Money(b.ReportedNanoUSD),
		Counted: scalar.Money(b.CountedNanoUSD), SpendBasis: spendBasis(string(b.SpendBasis)), KeyIds: keys, OccurredAt: b.OccurredAt.UTC(),
		Webhook: b.Webhook, Attempts: b.Attempts, DeliveredAt: b.DeliveredAt, FailedAt: b.FailedAt, LastError: b.LastError}
}

func budgetAlert(a sgbudget.Alert) *model.BudgetAlert {
	return &model.BudgetAlert{ID: strconv.FormatInt(a.ID, 10), BudgetID: a.BudgetID, BudgetName: a.BudgetName, Threshold: a.Threshold,
		PeriodStart: a.PeriodStart.UTC(), PeriodEnd: a.PeriodEnd.UTC(), Spent: scalar.Money(a.SpentNanoUSD), Amount: scalar.Money(a.AmountNanoUSD),
		Hard: a.Hard, Message: a.Text(), At: a.Time.UTC()}
}

func spendTick(t alerts.SpendTick) *model.SpendTick {
	return &model.SpendTick{At: t.At, Requests: t.Requests, UnpricedRequests: t.UnpricedRequests,
		ListCost: scalar.Money(t.ListNanoUSD), TenantCost: scalar.Money(t.TenantNanoUSD)}
}

// relay converts a subscription's feed into GraphQL values until the feed
// ends or the subscriber leaves.
func relay[T, U any](ctx context.Context, in <-chan T, conv func(T) U) <-chan U {
	out := make(chan U)
	go func() {
		defer close(out)
		defer tellWhyEnded(ctx)
		for v := range in {
			// Once ctx ended (the subscriber's access ended, say), nothing
			// more is delivered, however the select below would choose.
			if ctx.Err() != nil {
				return
			}
			select {
			case out <- conv(v):
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
