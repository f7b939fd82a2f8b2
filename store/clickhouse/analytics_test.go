package clickhouse

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/meter"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/usage"
)

var (
	t0 = time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	t1 = t0.Add(48 * time.Hour)
)

// The planner picks the source and splits the range; the cases name what
// each is about. The SQL they produce is pinned in the golden file.
func TestPlan(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		spec spend.Spec
		want string // table [from, to) per leg, hours after t0
	}{
		"whole days of a key breakdown read the core daily rollup": {spend.Spec{From: t0, To: t1, GroupBy: []string{"key"}},
			"usage_core_daily[0,48)"},
		"no key: the dims family": {spend.Spec{From: t0, To: t1, GroupBy: []string{"model", "status"}}, "usage_dims_daily[0,48)"},
		"a dimension pair and a key: the keydims family": {spend.Spec{From: t0, To: t1, GroupBy: []string{"dim:team", "dim:app"},
			Filters: spend.Filters{KeyIDs: []string{"k"}}}, "usage_keydims_daily[0,48)"},
		"a key, a model and a dimension: the attr family": {spend.Spec{From: t0, To: t1, GroupBy: []string{"model"},
			Filters: spend.Filters{KeyIDs: []string{"k"}, Dimensions: map[string][]string{"team": {"x"}}}}, "usage_attr_daily[0,48)"},
		"hourly series skip the daily rollup; no attribute: the totals family": {spend.Spec{From: t0, To: t1, Bucket: "hour"}, "usage_totals_hourly[0,48)"},
		"hour-aligned ends come from the hourly rollup": {spend.Spec{From: t0.Add(-3 * time.Hour), To: t1.Add(5 * time.Hour)},
			"usage_totals_hourly[-3,0) usage_dims_daily[0,48) usage_totals_hourly[48,53)"},
		"ragged ends come from raw events": {spend.Spec{From: t0.Add(-90 * time.Minute), To: t1.Add(30 * time.Minute)},
			"usage_events[-1.5,-1) usage_totals_hourly[-1,0) usage_dims_daily[0,48) usage_events[48,48.5)"},
		"less than an hour is raw": {spend.Spec{From: t0.Add(10 * time.Minute), To: t0.Add(50 * time.Minute)}, "usage_events[0.16666666666666666,0.8333333333333334)"},
		"whole months from the monthly rollup, days and hours at the ends": {spend.Spec{From: t0.Add(-10*24*time.Hour - 2*time.Hour), To: t0.Add(55*24*time.Hour + 3*time.Hour),
			GroupBy: []string{"key", "dim:app"}}, "usage_keydims_hourly[-242,-240) usage_keydims_daily[-240,-216) usage_keydims_monthly[-216,1248) usage_keydims_daily[1248,1320) usage_keydims_hourly[1320,1323)"},
		"daily and weekly series skip the monthly rollup": {spend.Spec{From: t0.Add(-9 * 24 * time.Hour), To: t0.Add(60 * 24 * time.Hour), Bucket: "week"},
			"usage_dims_daily[-216,1440)"},
		"an hourly series by one dimension and the model: the onedim family": {spend.Spec{From: t0.Add(-90 * time.Minute), To: t1, Bucket: "hour",
			GroupBy: []string{"team"}, Filters: spend.Filters{Models: []string{"m"}}}, "usage_events[-1.5,-1) usage_onedim_hourly[-1,48)"},
		"a daily series by key filtered by one dimension: onedim hours, not keydims days": {spend.Spec{From: t0, To: t1, Bucket: "day",
			GroupBy: []string{"key"}, Filters: spend.Filters{Dimensions: map[string][]string{"team": {"x"}}}}, "usage_onedim_hourly[0,48)"},
		"a dimension with a status is not onedim's": {spend.Spec{From: t0, To: t1, Bucket: "hour", GroupBy: []string{"dim:app"},
			Filters: spend.Filters{Statuses: []string{"200"}}}, "usage_dims_hourly[0,48)"},
		"two dimensions are not onedim's": {spend.Spec{From: t0, To: t1, Bucket: "hour", GroupBy: []string{"dim:app"},
			Filters: spend.Filters{TeamIDs: []string{"t"}}}, "usage_dims_hourly[0,48)"},
		"a key and a model are not onedim's": {spend.Spec{From: t0, To: t1, Bucket: "hour", GroupBy: []string{"key", "dim:app"},
			Filters: spend.Filters{Models: []string{"m"}}}, "usage_attr_hourly[0,48)"},
		"a scoped reader is not onedim's": {spend.Spec{From: t0, To: t1, Bucket: "hour", GroupBy: []string{"team"},
			Filters: spend.Filters{Within: &spend.Within{TeamIDs: []string{"t"}}}}, "usage_dims_hourly[0,48)"},
		"a breakdown by one dimension keeps days": {spend.Spec{From: t0, To: t1, GroupBy: []string{"key", "dim:app"}}, "usage_keydims_daily[0,48)"},
		"monthly series read it": {spend.Spec{From: t0.Add(-9 * 24 * time.Hour), To: t0.Add(60 * 24 * time.Hour), Bucket: "month", GroupBy: []string{"key"}},
			"usage_core_monthly[-216,1248) usage_core_daily[1248,1440)"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, l := range plan(&c.spec) {
				got = append(got, fmt.Sprintf("%s[%v,%v)", l.t.name, l.from.Sub(t0).Hours(), l.to.Sub(t0).Hours()))
			}
			if strings.Join(got, " ") != c.want {
				t.Fatalf("plan %s, want %s", strings.Join(got, " "), c.want)
			}
		})
	}
}

var update = flag.Bool("update", false, "rewrite testdata/queries.golden")

// Every query builder's whole SQL text and arguments, pinned for named
// cases (go test -run TestQueriesGolden -update rewrites the file; review
// the diff). Bad requests are pinned by their error.
func TestQueriesGolden(t *testing.T) {
	f := spend.Filters{Providers: []string{"openai"}, Dimensions: map[string][]string{"team": {"search"}}}
	spec := func(groupBy []string, bucket string, f spend.Filters) spend.Spec {
		return spend.Spec{Tenant: "t", From: t0, To: t1, GroupBy: groupBy, Bucket: bucket, Filters: f}
	}
	odd := t0.Add(90 * time.Minute) // aligned to nothing a rollup keeps
	cases := []struct {
		name  string
		build func() (Query, error)
	}{
		{"total from the daily rollup", func() (Query, error) { return TotalSpendSQL("db", spec(nil, "", spend.Filters{})) }},
		{"total over hour-aligned ends", func() (Query, error) {
			return TotalSpendSQL("db", spend.Spec{Tenant: "t", From: t0.Add(time.Hour), To: t1})
		}},
		{"total over ragged ends", func() (Query, error) { return TotalSpendSQL("db", spend.Spec{Tenant: "t", From: odd, To: t1}) }},
		{"total filtered by provider and dimension", func() (Query, error) { return TotalSpendSQL("db", spec(nil, "", f)) }},
		{"total filtered by status, operation and source", func() (Query, error) {
			return TotalSpendSQL("db", spec(nil, "", spend.Filters{Statuses: []string{"429"}, Operations: []string{"embeddings"}, Sources: []string{"envoy"}}))
		}},
		{"breakdown by model and dimension", func() (Query, error) {
			return BreakdownSQL("db", spec([]string{"model", "dim:team"}, "", spend.Filters{}), 0)
		}},
		{"top-5 breakdown by provider and model filtered by model", func() (Query, error) {
			return BreakdownSQL("db", spec([]string{"provider", "model"}, "", spend.Filters{Models: []string{"gpt-4o"}}), 5)
		}},
		{"breakdown by a dimension pair filtered by key", func() (Query, error) {
			return BreakdownSQL("db", spec([]string{"dim:team", "dim:app"}, "", spend.Filters{KeyIDs: []string{"k1", "k2"}}), 10)
		}},
		{"breakdown by four group-bys", func() (Query, error) {
			return BreakdownSQL("db", spec([]string{"key", "model", "status", "dim:env"}, "", spend.Filters{}), 0)
		}},
		{"daily series by key", func() (Query, error) { return TimeSeriesSQL("db", spec([]string{"key"}, "day", spend.Filters{})) }},
		{"hourly series", func() (Query, error) { return TimeSeriesSQL("db", spec(nil, "hour", spend.Filters{})) }},
		{"weekly series", func() (Query, error) { return TimeSeriesSQL("db", spec(nil, "week", spend.Filters{})) }},
		{"monthly series by status over ragged ends", func() (Query, error) {
			return TimeSeriesSQL("db", spend.Spec{Tenant: "t", From: odd, To: t1, GroupBy: []string{"status"}, Bucket: "month"})
		}},
		{"hourly series by team filtered by model: onedim, with the unattributed", func() (Query, error) {
			return TimeSeriesSQL("db", spend.Spec{Tenant: "t", From: odd, To: t1, GroupBy: []string{"team"}, Bucket: "hour",
				Filters: spend.Filters{Models: []string{"gpt-4o", "o4-mini"}}})
		}},
		{"hourly series by key and dimension: onedim", func() (Query, error) {
			return TimeSeriesSQL("db", spec([]string{"key", "dim:app"}, "hour", spend.Filters{}))
		}},
		{"daily series by key filtered by team: onedim, the team's rows only", func() (Query, error) {
			return TimeSeriesSQL("db", spec([]string{"key"}, "day", spend.Filters{Dimensions: map[string][]string{"team": {"search"}}, KeyIDs: []string{"k1"}}))
		}},
		{"weekly series filtered by a dimension taking none", func() (Query, error) {
			return TimeSeriesSQL("db", spec(nil, "week", spend.Filters{Dimensions: map[string][]string{"app": {"", "web"}}}))
		}},
		{"denials by reason filtered by key", func() (Query, error) { return DenialsSQL("db", spec(nil, "", spend.Filters{KeyIDs: []string{"k"}})) }},
		{"denials by model and dimension", func() (Query, error) {
			return DenialsSQL("db", spec([]string{"model", "dim:team"}, "", spend.Filters{}))
		}},
		{"unknown models", func() (Query, error) { return UnknownModelsSQL("db", spec(nil, "", spend.Filters{}), 50) }},
		{"events page after a cursor", func() (Query, error) {
			return EventsSQL("db", spec(nil, "", f), &spend.EventCursor{Time: t0, EventID: "e9"}, 21)
		}},
		{"event by id", func() (Query, error) { return EventSQL("db", "t", "e1", time.Time{}, time.Time{}), nil }},
		{"event by id within its window", func() (Query, error) {
			from, to, _ := EventWindow("019a5b2c-3d4e-7f00-8000-000000000001")
			return EventSQL("db", "t", "019a5b2c-3d4e-7f00-8000-000000000001", from, to), nil
		}},
		{"total over whole months, days and hours", func() (Query, error) {
			return TotalSpendSQL("db", spend.Spec{Tenant: "t", From: time.Date(2026, 1, 30, 22, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 2, 3, 0, 0, 0, time.UTC)})
		}},
		{"breakdown by key and dimension filtered by key over months", func() (Query, error) {
			return BreakdownSQL("db", spend.Spec{Tenant: "t", From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC),
				GroupBy: []string{"key", "dim:team"}, Filters: spend.Filters{KeyIDs: []string{"k1"}}}, 20)
		}},
		{"unpriced after a cursor", func() (Query, error) {
			return UnpricedSQL("db", spec(nil, "", spend.Filters{}), &spend.EventCursor{Time: t0, EventID: "e9"}, 100)
		}},
		{"stored ids", func() (Query, error) {
			return LookupSQL("db", "usage_events", "event_id", []any{"t1", "t2"}, t0, t1, []any{"e1", "e2"}), nil
		}},
		{"tenant totals", func() (Query, error) { return TenantTotalsSQL("db", "t", t0, t1), nil }},
		{"breakdown by workspace and project filtered by team", func() (Query, error) {
			return BreakdownSQL("db", spec([]string{"workspace", "project"}, "", spend.Filters{TeamIDs: []string{"tm1"}}), 0)
		}},
		{"a scoped reader's total, within teams and projects", func() (Query, error) {
			return TotalSpendSQL("db", spec(nil, "", spend.Filters{Within: &spend.Within{TeamIDs: []string{"tm1"}, ProjectIDs: []string{"p2"}}}))
		}},
		{"the reserved attribution is no dimension", func() (Query, error) {
			return BreakdownSQL("db", spec([]string{"dim:sg.project"}, "", spend.Filters{}), 0)
		}},
		{"denials have no status", func() (Query, error) {
			return DenialsSQL("db", spec(nil, "", spend.Filters{Statuses: []string{"200"}}))
		}},
		{"bad group", func() (Query, error) { return BreakdownSQL("db", spec([]string{"tenant_id"}, "", spend.Filters{}), 0) }},
		{"injection in dim", func() (Query, error) {
			return BreakdownSQL("db", spec([]string{"dim:x') OR 1=1 --"}, "", spend.Filters{}), 0)
		}},
		{"injection in filter dim", func() (Query, error) {
			return TotalSpendSQL("db", spec(nil, "", spend.Filters{Dimensions: map[string][]string{"a'b": {"x"}}}))
		}},
		{"no group", func() (Query, error) { return BreakdownSQL("db", spec(nil, "", spend.Filters{}), 0) }},
		{"bad bucket", func() (Query, error) { return TimeSeriesSQL("db", spec(nil, "minute", spend.Filters{})) }},
		{"empty range", func() (Query, error) { return TotalSpendSQL("db", spend.Spec{Tenant: "t", From: t1, To: t0}) }},
	}
	var out strings.Builder
	for _, c := range cases {
		q, err := c.build()
		fmt.Fprintf(&out, "=== %s\n", c.name)
		if err != nil {
			if !errors.Is(err, spend.ErrBadQuery) {
				t.Errorf("%s: %v is not spend.ErrBadQuery", c.name, err)
			}
			fmt.Fprintf(&out, "error: %v\n\n", err)
			continue
		}
		if strings.Count(q.SQL, "?") != len(q.Args) {
			t.Errorf("%s: %d placeholders, %d args", c.name, strings.Count(q.SQL, "?"), len(q.Args))
		}
		if _, err := Bind(q); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		fmt.Fprintf(&out, "%s\n-- source: %s %v\n", q.SQL, q.Source(), q.Tables)
		for i, a := range q.Args {
			lit, err := literal(a)
			if err != nil {
				t.Errorf("%s: arg %d: %v", c.name, i+1, err)
			}
			fmt.Fprintf(&out, "-- arg %d: %s\n", i+1, lit)
		}
		out.WriteString("\n")
	}
	golden := filepath.Join("testdata", "queries.golden")
	if *update {
		testenv.Must(t, os.MkdirAll("testdata", 0o755), "mkdir")
		testenv.Must(t, os.WriteFile(golden, []byte(out.String()), 0o644), "write golden")
	}
	want, err := os.ReadFile(golden)
	testenv.Must(t, err, "read golden (go test -run TestQueriesGolden -update writes it)")
	if string(want) != out.String() {
		t.Fatalf("queries differ from %s (rerun with -update and review the diff):\n%s", golden, firstDiff(string(want), out.String()))
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range min(len(wl), len(gl)) {
		if wl[i] != gl[i] {
			return fmt.Sprintf("line %d\nwant: %s\ngot:  %s", i+1, wl[i], gl[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(gl), len(wl))
}

func priced(id, key, model, team string, at time.Time, priced bool, cost int64) spend.PricedEvent {
	e := event.Event{SchemaVersion: 1, Type: event.TypeUsage, EventID: id, Time: at, Source: event.SourceGateway,
		TenantID: "11111111-1111-4111-8111-111111111111", KeyID: key, Provider: "openai", Operation: "chat.completions",
		ModelRequested: model, StatusCode: 200, Complete: true, Usage: usage.Tokens{Input: 10, Output: 5},
		Dimensions: map[string]string{"team": team}}
	c := pricing.Cost{Priced: priced}
	if priced {
		c.Model, c.ListNanoUSD, c.TenantNanoUSD = model, cost, cost/2
		c.Lines = []pricing.Line{{Class: "input", Quantity: 10, AmountNanoUSD: cost}}
	}
	return spend.PricedEvent{Event: e, Cost: c}
}

func denied(id, key, reason string, at time.Time) spend.PricedEvent {
	e := event.Event{SchemaVersion: 1, Type: event.TypeDenial, EventID: id, Time: at, Source: event.SourceGateway,
		TenantID: "11111111-1111-4111-8111-111111111111", KeyID: key, Provider: "openai", Operation: "chat.completions",
		ModelRequested: "gpt-4o", DenialReason: reason, DenialMessage: "no"}
	return spend.PricedEvent{Event: e}
}

func TestAnalyticsAgainstClickHouse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr, db := testenv.ClickHouse(t)
	conn, err := Open(ctx, addr, db)
	testenv.Must(t, err, "open")
	testenv.Must(t, Migrate(ctx, conn, db), "migrate")
	testenv.Must(t, Migrate(ctx, conn, db), "migrate again")
	const tenant = "11111111-1111-4111-8111-111111111111"
	const kA, kB = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
	evs := []spend.PricedEvent{
		priced("e1", kA, "gpt-4o", "search", t0.Add(time.Hour), true, 1000),
		priced("e2", kA, "gpt-4o", "ads", t0.Add(2*time.Hour), true, 3000),
		priced("e3", kB, "gpt-4o-mini", "search", t0.Add(25*time.Hour), true, 500),
		priced("e4", kB, "mystery", "search", t0.Add(26*time.Hour), false, 0),
		denied("d1", kA, "model_not_allowed", t0.Add(3*time.Hour)),
		denied("d2", kB, "model_not_allowed", t0.Add(4*time.Hour)),
		denied("d3", kB, "budget_exceeded", t0.Add(5*time.Hour)),
	}
	// Another tenant's events must never show.
	other := priced("x1", kA, "gpt-4o", "search", t0.Add(time.Hour), true, 7777)
	other.Event.TenantID = "22222222-2222-4222-8222-222222222222"
	w := NewWriter(conn, db)
	n, err := w.Write(ctx, append(evs, other))
	if err != nil || n != 8 {
		t.Fatalf("write: %d %v", n, err)
	}
	// Writing the same events again (a redelivery) stores nothing.
	if n, err := w.Write(ctx, append(evs, evs[0])); err != nil || n != 0 {
		t.Fatalf("rewrite: %d %v", n, err)
	}
	a := Analytics{Conn: conn, Database: db}
	all := spend.Spec{Tenant: tenant, From: t0, To: t1}
	want := spend.Sums{Events: 4, UnpricedEvents: 1, ListNanoUSD: 4500, TenantNanoUSD: 2250, InputTokens: 40, OutputTokens: 20}
	// The same totals from the daily rollup, the hourly rollup and raw events.
	for _, s := range []spend.Spec{all, {Tenant: tenant, From: t0.Add(-time.Hour), To: t1}, {Tenant: tenant, From: t0.Add(-time.Minute), To: t1}} {
		tot, err := a.TotalSpend(ctx, s)
		testenv.Must(t, err, "total")
		if tot != want {
			t.Fatalf("total %+v from %s, want %+v", tot, s.From, want)
		}
	}
	search, err := a.TotalSpend(ctx, spend.Spec{Tenant: tenant, From: t0, To: t1, Filters: spend.Filters{KeyIDs: []string{kB}, Dimensions: map[string][]string{"team": {"search"}}}})
	testenv.Must(t, err, "filtered total")
	if search.Events != 2 || search.ListNanoUSD != 500 {
		t.Fatalf("filtered total %+v", search)
	}
	groups, gtotal, err := a.Breakdown(ctx, spend.Spec{Tenant: tenant, From: t0, To: t1, GroupBy: []string{"dim:team", "model"}}, 0)
	testenv.Must(t, err, "breakdown")
	if gtotal != want {
		t.Fatalf("breakdown total %+v", gtotal)
	}
	if len(groups) != 4 || groups[0].Keys[0] != "ads" || groups[0].TenantNanoUSD != 1500 {
		t.Fatalf("breakdown %+v", groups)
	}
	top, ttotal, err := a.Breakdown(ctx, spend.Spec{Tenant: tenant, From: t0, To: t1, GroupBy: []string{"model"}}, 1)
	testenv.Must(t, err, "top breakdown")
	if ttotal != want { // the total counts the groups the limit left out
		t.Fatalf("top-1 total %+v", ttotal)
	}
	if len(top) != 1 || top[0].Keys[0] != "gpt-4o" || top[0].Events != 2 || top[0].ListNanoUSD != 4000 {
		t.Fatalf("top breakdown %+v", top)
	}
	byStatus, _, err := a.Breakdown(ctx, spend.Spec{Tenant: tenant, From: t0, To: t1, GroupBy: []string{"status"}}, 0)
	testenv.Must(t, err, "status breakdown")
	if len(byStatus) != 1 || byStatus[0].Keys[0] != "200" || byStatus[0].Events != 4 {
		t.Fatalf("status breakdown %+v", byStatus)
	}
	for _, bucket := range []string{"hour", "day", "week", "month"} {
		series, err := a.TimeSeries(ctx, spend.Spec{Tenant: tenant, From: t0, To: t1, Bucket: bucket})
		testenv.Must(t, err, "series")
		var sum spend.Sums
		for _, p := range series {
			sum.Add(p.Sums)
		}
		if sum != want {
			t.Fatalf("%s series sums to %+v", bucket, sum)
		}
		switch bucket {
		case "day":
			if len(series) != 2 || !series[0].Bucket.Equal(t0) || series[0].ListNanoUSD != 4000 || series[1].Events != 2 {
				t.Fatalf("day series %+v", series)
			}
		case "hour":
			if len(series) != 4 || !series[0].Bucket.Equal(t0.Add(time.Hour)) {
				t.Fatalf("hour series %+v", series)
			}
		case "week": // 2026-03-10 is a Tuesday; its week starts Monday 03-09.
			if len(series) != 1 || !series[0].Bucket.Equal(time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)) {
				t.Fatalf("week series %+v", series)
			}
		case "month":
			if len(series) != 1 || !series[0].Bucket.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) {
				t.Fatalf("month series %+v", series)
			}
		}
	}
	denials, err := a.Denials(ctx, all)
	testenv.Must(t, err, "denials")
	if len(denials) != 2 || denials[0].Keys[0] != "model_not_allowed" || denials[0].Events != 2 || denials[1].Events != 1 {
		t.Fatalf("denials %+v", denials)
	}
	unknown, err := a.UnknownModels(ctx, all, 10)
	testenv.Must(t, err, "unknown models")
	if len(unknown) != 1 || unknown[0].Model != "mystery" || unknown[0].Events != 1 || !unknown[0].FirstSeen.Equal(t0.Add(26*time.Hour)) {
		t.Fatalf("unknown models %+v", unknown)
	}
	// Paging newest first, two at a time, visits every event once.
	var ids []string
	var after *spend.EventCursor
	for range 3 {
		page, err := a.Events(ctx, all, after, 2)
		testenv.Must(t, err, "events")
		for _, e := range page {
			ids = append(ids, e.EventID)
		}
		if len(page) < 2 {
			break
		}
		last := page[len(page)-1]
		after = &spend.EventCursor{Time: last.Time, EventID: last.EventID}
	}
	if strings.Join(ids, ",") != "e4,e3,e2,e1" {
		t.Fatalf("paged events %v", ids)
	}
	e, err := a.Event(ctx, tenant, "e2")
	testenv.Must(t, err, "event")
	if e.KeyID != kA || !e.Priced || e.ListNanoUSD != 3000 || e.TenantNanoUSD != 1500 || !strings.Contains(e.CostLines, `"class":"input"`) ||
		len(e.DimNames) != 1 || e.DimValues[0] != "ads" || !e.Time.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("event %+v", e)
	}
	if _, err := a.Event(ctx, tenant, "x1"); !errors.Is(err, spend.ErrEventNotFound) {
		t.Fatalf("another tenant's event: %v", err)
	}
	// Every rollup agrees with the raw table (read with sum … GROUP BY).
	for _, r := range Rollups {
		var events uint64
		var list int64
		err := conn.QueryRow(ctx, "SELECT sum(events), sum(list_cost_nano_usd) FROM "+db+"."+r.Name+" WHERE tenant_id = ? AND "+r.EveryEvent(), tenant).Scan(&events, &list)
		testenv.Must(t, err, r.Name)
		if events != 4 || list != 4500 {
			t.Fatalf("%s: %d events, %d nano", r.Name, events, list)
		}
	}
}

// The names the domain says can be grouped by are the ones the raw table
// can group by.
func TestGroupByNamesAreTheDomains(t *testing.T) {
	var names []string
	for k := range usageTable.cols {
		names = append(names, k)
	}
	for k := range attributionCols {
		names = append(names, k)
	}
	sort.Strings(names)
	if fmt.Sprint(names) != fmt.Sprint(spend.GroupByNames()) {
		t.Fatalf("usage_events groups by %v; spend.GroupByNames says %v", names, spend.GroupByNames())
	}
}

// usageEvent(id) finds an event whatever its id: in the hour a UUIDv7 id
// names, after it (a call that lasted longer than the window), and with an
// id that carries no time; an id stored nowhere is not found.
func TestEventByIDWithAndWithoutTheTimeInIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, db := migratedDB(t)
	at := time.Date(2026, 6, 3, 10, 20, 30, 0, time.UTC)
	inWindow := meter.NewEventID(at.Add(40*time.Second), [10]byte{1})
	longCall := meter.NewEventID(at.Add(3*time.Hour), [10]byte{2})
	missing := meter.NewEventID(at, [10]byte{3})
	evs := []spend.PricedEvent{
		priced(inWindow, "k1", "gpt-4o", "search", at, true, 100),
		priced(longCall, "k1", "gpt-4o", "search", at, true, 200),
		priced("sender-own-id-7", "k1", "gpt-4o", "search", at.Add(-40*24*time.Hour), true, 300),
	}
	_, err := NewWriter(conn, db).Write(ctx, evs)
	testenv.Must(t, err, "write")
	a := Analytics{Conn: conn, Database: db}
	for _, e := range evs {
		got, err := a.Event(ctx, e.Event.TenantID, e.Event.EventID)
		testenv.Must(t, err, e.Event.EventID)
		if got.EventID != e.Event.EventID || !got.Time.Equal(e.Event.Time) || got.ListNanoUSD != e.Cost.ListNanoUSD {
			t.Fatalf("%s: got %s at %s cost %d", e.Event.EventID, got.EventID, got.Time, got.ListNanoUSD)
		}
	}
	if from, to, ok := EventWindow(inWindow); !ok || at.Before(from) || !at.Before(to) {
		t.Fatalf("window [%s, %s) %v misses %s", from, to, ok, at)
	}
	if from, _, ok := EventWindow(longCall); !ok || !at.Before(from) {
		t.Fatalf("the long call's event at %s is inside its window from %s: the fallback is not tested", at, from)
	}
	if _, err := a.Event(ctx, evs[0].Event.TenantID, missing); !errors.Is(err, spend.ErrEventNotFound) {
		t.Fatalf("missing id: %v", err)
	}
}
