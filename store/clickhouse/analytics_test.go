package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/usage"
)

var (
	t0 = time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	t1 = t0.Add(48 * time.Hour)
)

func breakdownSQL(db string, s Spec, limit int) (Query, error) {
	q, _, err := BreakdownSQL(db, s, limit)
	return q, err
}

func TestQuerySQL(t *testing.T) {
	t.Parallel()
	f := Filters{Providers: []string{"openai"}, Dimensions: map[string][]string{"team": {"search"}}}
	spec := func(groupBy []string, bucket string, f Filters) Spec {
		return Spec{Tenant: "t", From: t0, To: t1, GroupBy: groupBy, Bucket: bucket, Filters: f}
	}
	odd := t0.Add(90 * time.Minute) // aligned to nothing a rollup keeps
	cases := []struct {
		name    string
		build   func() (Query, error)
		want    []string
		args    int
		wantErr string
	}{
		{"total from the daily rollup", func() (Query, error) { return TotalSpendSQL("db", spec(nil, "", Filters{})) },
			[]string{"FROM db.usage_daily WHERE tenant_id = ? AND bucket >= ? AND bucket < ?", "sum(tenant_cost_nano_usd) AS tenant_nano_usd"}, 3, ""},
		{"total from the hourly rollup", func() (Query, error) {
			return TotalSpendSQL("db", Spec{Tenant: "t", From: t0.Add(time.Hour), To: t1})
		}, []string{"FROM db.usage_hourly WHERE"}, 3, ""},
		{"total from raw events when the range is not aligned", func() (Query, error) {
			return TotalSpendSQL("db", Spec{Tenant: "t", From: odd, To: t1})
		}, []string{"FROM db.usage_events WHERE tenant_id = ? AND time >= ? AND time < ?", "countIf(priced = 0)"}, 3, ""},
		{"dimension filters read raw events", func() (Query, error) { return TotalSpendSQL("db", spec(nil, "", f)) },
			[]string{"FROM db.usage_events", "AND has(?, provider) AND has(?, dim_values[indexOf(dim_names, 'team')])"}, 5, ""},
		{"status filter", func() (Query, error) {
			return TotalSpendSQL("db", spec(nil, "", Filters{Statuses: []string{"429"}}))
		}, []string{"AND has(?, toString(status_code))"}, 4, ""},
		{"breakdown by dimension", func() (Query, error) {
			return breakdownSQL("db", spec([]string{"model", "dim:team"}, "", Filters{}), 0)
		},
			[]string{"SELECT if(model_served != '', model_served, model_requested) AS g0, dim_values[indexOf(dim_names, 'team')] AS g1, ",
				"FROM db.usage_events", "GROUP BY g0, g1 WITH TOTALS ORDER BY tenant_nano_usd DESC, list_nano_usd DESC, events DESC, g0, g1"}, 3, ""},
		{"top-N breakdown from the rollup", func() (Query, error) {
			return breakdownSQL("db", spec([]string{"provider", "model"}, "", Filters{Models: []string{"gpt-4o"}}), 5)
		}, []string{"SELECT provider AS g0, model AS g1, toInt64(sum(events)) AS events", "FROM db.usage_daily", "AND has(?, model)", "LIMIT 5"}, 4, ""},
		{"breakdown by one dimension from its rollup", func() (Query, error) {
			return breakdownSQL("db", spec([]string{"dim:team"}, "", Filters{}), 3)
		}, []string{"SELECT dim_value AS g0, toInt64(sum(events))", "FROM db.usage_dim_daily WHERE tenant_id = ? AND dim_name = 'team' AND bucket >= ?"}, 3, ""},
		{"total filtered by one dimension from its rollup", func() (Query, error) {
			return TotalSpendSQL("db", spec(nil, "", Filters{Dimensions: map[string][]string{"team": {"search"}}}))
		}, []string{"FROM db.usage_dim_daily", "AND has(?, dim_value)"}, 4, ""},
		{"a series grouped by an unfiltered dimension reads raw events", func() (Query, error) {
			return TimeSeriesSQL("db", spec([]string{"dim:team"}, "day", Filters{}))
		}, []string{"FROM db.usage_events"}, 3, ""},
		{"a filter for the empty value reads raw events", func() (Query, error) {
			return TotalSpendSQL("db", spec(nil, "", Filters{Dimensions: map[string][]string{"team": {""}}}))
		}, []string{"FROM db.usage_events"}, 4, ""},
		{"two dimensions read raw events", func() (Query, error) {
			return breakdownSQL("db", spec([]string{"dim:team"}, "", Filters{Dimensions: map[string][]string{"app": {"web"}}}), 0)
		}, []string{"FROM db.usage_events"}, 4, ""},
		{"daily series", func() (Query, error) { return TimeSeriesSQL("db", spec([]string{"key"}, "day", Filters{})) },
			[]string{"SELECT toDateTime(toDate(bucket)) AS bucket_start, key_id AS g0, ", "FROM db.usage_daily", "GROUP BY bucket_start, g0 ORDER BY bucket_start, g0"}, 3, ""},
		{"hourly series", func() (Query, error) { return TimeSeriesSQL("db", spec(nil, "hour", Filters{})) },
			[]string{"toStartOfHour(bucket) AS bucket_start", "FROM db.usage_hourly"}, 3, ""},
		{"weekly series", func() (Query, error) { return TimeSeriesSQL("db", spec(nil, "week", Filters{})) },
			[]string{"toDateTime(toMonday(bucket))"}, 3, ""},
		{"monthly series by status", func() (Query, error) { return TimeSeriesSQL("db", spec([]string{"status"}, "month", Filters{})) },
			[]string{"toDateTime(toStartOfMonth(time)) AS bucket_start, toString(status_code) AS g0", "FROM db.usage_events"}, 3, ""},
		{"denials by reason", func() (Query, error) { return DenialsSQL("db", spec(nil, "", Filters{KeyIDs: []string{"k"}})) },
			[]string{"SELECT denial_reason AS g0, count() AS events FROM db.denial_events", "AND has(?, key_id)", "ORDER BY events DESC, g0"}, 4, ""},
		{"denials have no status", func() (Query, error) { return DenialsSQL("db", spec(nil, "", Filters{Statuses: []string{"200"}})) },
			nil, 0, "cannot be filtered by status"},
		{"unknown models", func() (Query, error) { return UnknownModelsSQL("db", spec(nil, "", Filters{}), 50) },
			[]string{"AND priced = 0 AND event_id NOT IN (SELECT event_id FROM db.cost_corrections WHERE tenant_id = ?) GROUP BY provider, model", "LIMIT 50"}, 4, ""},
		{"events page", func() (Query, error) {
			return EventsSQL("db", spec(nil, "", Filters{}), &EventCursor{Time: t0, EventID: "e9"}, 21)
		}, []string{"ANY LEFT JOIN (SELECT event_id, sum(list_delta) AS c_list", "AND (time < ? OR (time = ? AND event_id < ?)) ORDER BY time DESC, event_id DESC LIMIT 21"}, 7, ""},
		{"bad group", func() (Query, error) { return breakdownSQL("db", spec([]string{"tenant_id"}, "", Filters{}), 0) }, nil, 0, `cannot group usage_events by "tenant_id"`},
		{"injection in dim", func() (Query, error) {
			return breakdownSQL("db", spec([]string{"dim:x') OR 1=1 --"}, "", Filters{}), 0)
		}, nil, 0, "cannot group"},
		{"injection in filter dim", func() (Query, error) {
			return TotalSpendSQL("db", spec(nil, "", Filters{Dimensions: map[string][]string{"a'b": {"x"}}}))
		}, nil, 0, "dimension name"},
		{"no group", func() (Query, error) { return breakdownSQL("db", spec(nil, "", Filters{}), 0) }, nil, 0, "at least one group-by"},
		{"bad bucket", func() (Query, error) { return TimeSeriesSQL("db", spec(nil, "minute", Filters{})) }, nil, 0, "use hour, day, week or month"},
		{"empty range", func() (Query, error) { return TotalSpendSQL("db", Spec{Tenant: "t", From: t1, To: t0}) }, nil, 0, "empty time range"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := c.build()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !errors.Is(err, ErrBadQuery) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(q.SQL, w) {
					t.Errorf("SQL lacks %q:\n%s", w, q.SQL)
				}
			}
			// Sums read two legs, the events and their cost corrections,
			// each with the filters' arguments.
			want := c.args
			if strings.Contains(q.SQL, " UNION ALL ") {
				want *= 2
				if !strings.Contains(q.SQL, "FROM db.cost_corrections WHERE tenant_id = ? AND time >= ? AND time < ?") {
					t.Errorf("sums without the corrections leg:\n%s", q.SQL)
				}
			}
			if strings.Count(q.SQL, "?") != len(q.Args) || len(q.Args) != want {
				t.Errorf("%d placeholders, %d args, want %d", strings.Count(q.SQL, "?"), len(q.Args), want)
			}
		})
	}
}

func priced(id, key, model, team string, at time.Time, priced bool, cost int64) PricedEvent {
	e := event.Event{SchemaVersion: 1, Type: event.TypeUsage, EventID: id, Time: at, Source: event.SourceGateway,
		TenantID: "11111111-1111-4111-8111-111111111111", KeyID: key, Provider: "openai", Operation: "chat.completions",
		ModelRequested: model, StatusCode: 200, Complete: true, Usage: usage.Tokens{Input: 10, Output: 5},
		Dimensions: map[string]string{"team": team}}
	c := pricing.Cost{Priced: priced}
	if priced {
		c.Model, c.ListNanoUSD, c.TenantNanoUSD = model, cost, cost/2
		c.Lines = []pricing.Line{{Class: "input", Quantity: 10, AmountNanoUSD: cost}}
	}
	return PricedEvent{Event: e, Cost: c}
}

func denied(id, key, reason string, at time.Time) PricedEvent {
	e := event.Event{SchemaVersion: 1, Type: event.TypeDenial, EventID: id, Time: at, Source: event.SourceGateway,
		TenantID: "11111111-1111-4111-8111-111111111111", KeyID: key, Provider: "openai", Operation: "chat.completions",
		ModelRequested: "gpt-4o", DenialReason: reason, DenialMessage: "no"}
	return PricedEvent{Event: e}
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
	evs := []PricedEvent{
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
	all := Spec{Tenant: tenant, From: t0, To: t1}
	want := Sums{Events: 4, UnpricedEvents: 1, ListNanoUSD: 4500, TenantNanoUSD: 2250, InputTokens: 40, OutputTokens: 20}
	// The same totals from the daily rollup, the hourly rollup and raw events.
	for _, s := range []Spec{all, {Tenant: tenant, From: t0.Add(-time.Hour), To: t1}, {Tenant: tenant, From: t0.Add(-time.Minute), To: t1}} {
		tot, err := a.TotalSpend(ctx, s)
		testenv.Must(t, err, "total")
		if tot != want {
			t.Fatalf("total %+v from %s, want %+v", tot, s.From, want)
		}
	}
	search, err := a.TotalSpend(ctx, Spec{Tenant: tenant, From: t0, To: t1, Filters: Filters{KeyIDs: []string{kB}, Dimensions: map[string][]string{"team": {"search"}}}})
	testenv.Must(t, err, "filtered total")
	if search.Events != 2 || search.ListNanoUSD != 500 {
		t.Fatalf("filtered total %+v", search)
	}
	groups, gtotal, err := a.Breakdown(ctx, Spec{Tenant: tenant, From: t0, To: t1, GroupBy: []string{"dim:team", "model"}}, 0)
	testenv.Must(t, err, "breakdown")
	if gtotal != want {
		t.Fatalf("breakdown total %+v", gtotal)
	}
	if len(groups) != 4 || groups[0].Keys[0] != "ads" || groups[0].TenantNanoUSD != 1500 {
		t.Fatalf("breakdown %+v", groups)
	}
	top, ttotal, err := a.Breakdown(ctx, Spec{Tenant: tenant, From: t0, To: t1, GroupBy: []string{"model"}}, 1)
	testenv.Must(t, err, "top breakdown")
	if ttotal != want { // the total counts the groups the limit left out
		t.Fatalf("top-1 total %+v", ttotal)
	}
	if len(top) != 1 || top[0].Keys[0] != "gpt-4o" || top[0].Events != 2 || top[0].ListNanoUSD != 4000 {
		t.Fatalf("top breakdown %+v", top)
	}
	byStatus, _, err := a.Breakdown(ctx, Spec{Tenant: tenant, From: t0, To: t1, GroupBy: []string{"status"}}, 0)
	testenv.Must(t, err, "status breakdown")
	if len(byStatus) != 1 || byStatus[0].Keys[0] != "200" || byStatus[0].Events != 4 {
		t.Fatalf("status breakdown %+v", byStatus)
	}
	for _, bucket := range []string{"hour", "day", "week", "month"} {
		series, err := a.TimeSeries(ctx, Spec{Tenant: tenant, From: t0, To: t1, Bucket: bucket})
		testenv.Must(t, err, "series")
		var sum Sums
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
	var after *EventCursor
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
		after = &EventCursor{Time: last.Time, EventID: last.EventID}
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
	if _, err := a.Event(ctx, tenant, "x1"); !errors.Is(err, ErrEventNotFound) {
		t.Fatalf("another tenant's event: %v", err)
	}
	// The rollups agree with the raw table (read with sum … GROUP BY).
	for _, table := range []string{HourlyRollup, DailyRollup} {
		var events uint64
		var list int64
		err := conn.QueryRow(ctx, "SELECT sum(events), sum(list_cost_nano_usd) FROM "+db+"."+table+" WHERE tenant_id = ?", tenant).Scan(&events, &list)
		testenv.Must(t, err, table)
		if events != 4 || list != 4500 {
			t.Fatalf("%s: %d events, %d nano", table, events, list)
		}
	}
}

// The dimension rollups give the raw events' answers: breakdowns by a
// dimension (events without it grouped as ""), top-N, and totals and series
// filtered by a dimension. Unaligned ranges covering the same events make the
// store read raw events for comparison. The rollups are also filled from
// events stored before their migration (POPULATE).
func TestDimensionRollupsMatchRawEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr, db := testenv.ClickHouse(t)
	conn, err := Open(ctx, addr, db)
	testenv.Must(t, err, "open")
	const tenant = "11111111-1111-4111-8111-111111111111"
	evs := []PricedEvent{
		priced("a1", "k", "gpt-4o", "search", t0.Add(time.Hour), true, 1000),
		priced("a2", "k", "gpt-4o", "search", t0.Add(2*time.Hour), true, 1000),
		priced("a3", "k", "gpt-4o", "ads", t0.Add(3*time.Hour), true, 5000),
		priced("a4", "k", "gpt-4o", "infra", t0.Add(30*time.Hour), true, 300),
		priced("a5", "k", "mystery", "search", t0.Add(31*time.Hour), false, 0),
	}
	noTeam := priced("a6", "k", "gpt-4o", "", t0.Add(4*time.Hour), true, 2500)
	noTeam.Event.Dimensions = map[string]string{"app": "web"}
	evs = append(evs, noTeam)
	// Half the events exist before the dimension rollups do.
	testenv.Must(t, migrateTo(ctx, conn, db, 4), "migrate to the plain rollups")
	w := NewWriter(conn, db)
	if n, err := w.Write(ctx, evs[:3]); err != nil || n != 3 {
		t.Fatalf("write: %d %v", n, err)
	}
	testenv.Must(t, Migrate(ctx, conn, db), "migrate")
	if n, err := w.Write(ctx, evs[3:]); err != nil || n != 3 {
		t.Fatalf("write: %d %v", n, err)
	}
	a := Analytics{Conn: conn, Database: db}
	rollup := Spec{Tenant: tenant, From: t0, To: t1}
	raw := Spec{Tenant: tenant, From: t0.Add(-time.Second), To: t1}
	for _, limit := range []int{0, 1, 2, 3} {
		rollup.GroupBy, raw.GroupBy = []string{"dim:team"}, []string{"dim:team"}
		got, gotTotal, err := a.Breakdown(ctx, rollup, limit)
		testenv.Must(t, err, "rollup breakdown")
		want, wantTotal, err := a.Breakdown(ctx, raw, limit)
		testenv.Must(t, err, "raw breakdown")
		if fmt.Sprint(got) != fmt.Sprint(want) || len(want) == 0 || gotTotal != wantTotal || wantTotal.Events != 6 {
			t.Fatalf("top %d by team:\nrollup %+v %+v\nraw    %+v %+v", limit, got, gotTotal, want, wantTotal)
		}
	}
	all, _, err := a.Breakdown(ctx, rollup, 0)
	testenv.Must(t, err, "breakdown")
	if len(all) != 4 || all[0].Keys[0] != "ads" || all[1].Keys[0] != "" || all[1].TenantNanoUSD != 1250 {
		t.Fatalf("by team %+v", all)
	}
	rollup.GroupBy, raw.GroupBy = nil, nil
	rollup.Filters.Dimensions = map[string][]string{"team": {"search", "infra"}}
	raw.Filters = rollup.Filters
	got, err := a.TotalSpend(ctx, rollup)
	testenv.Must(t, err, "rollup total")
	want, err := a.TotalSpend(ctx, raw)
	testenv.Must(t, err, "raw total")
	if got != want || want.Events != 4 || want.UnpricedEvents != 1 {
		t.Fatalf("search+infra: rollup %+v raw %+v", got, want)
	}
	rollup.Bucket, raw.Bucket = "day", "day"
	gotSeries, err := a.TimeSeries(ctx, rollup)
	testenv.Must(t, err, "rollup series")
	wantSeries, err := a.TimeSeries(ctx, raw)
	testenv.Must(t, err, "raw series")
	if fmt.Sprint(gotSeries) != fmt.Sprint(wantSeries) || len(wantSeries) != 2 {
		t.Fatalf("series:\nrollup %+v\nraw    %+v", gotSeries, wantSeries)
	}
}
