package clickhouse

import (
	"context"
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

func TestQuerySQL(t *testing.T) {
	t.Parallel()
	f := Filters{Providers: []string{"openai"}, Dimensions: map[string][]string{"team": {"search"}}}
	cases := []struct {
		name    string
		build   func() (Query, error)
		want    []string
		args    int
		wantErr string
	}{
		{"total", func() (Query, error) { return TotalSpendSQL("db", "t", t0, t1, Filters{}) },
			[]string{"FROM db.usage_events WHERE tenant_id = ? AND time >= ? AND time < ?", "sum(tenant_cost_nano_usd) AS tenant_nano_usd"}, 3, ""},
		{"filters", func() (Query, error) { return TotalSpendSQL("db", "t", t0, t1, f) },
			[]string{"AND has(?, provider) AND has(?, dim_values[indexOf(dim_names, 'team')])"}, 5, ""},
		{"breakdown", func() (Query, error) {
			return BreakdownSQL("db", "t", t0, t1, []string{"model", "dim:team"}, Filters{})
		},
			[]string{"SELECT if(model_served != '', model_served, model_requested) AS g0, dim_values[indexOf(dim_names, 'team')] AS g1, ",
				"GROUP BY g0, g1 ORDER BY tenant_nano_usd DESC, g0, g1"}, 3, ""},
		{"series", func() (Query, error) { return TimeSeriesSQL("db", "t", t0, t1, "day", []string{"key"}, Filters{}) },
			[]string{"SELECT toDateTime(toDate(time)) AS bucket, key_id AS g0, ", "GROUP BY bucket, g0 ORDER BY bucket, g0"}, 3, ""},
		{"bad group", func() (Query, error) { return BreakdownSQL("db", "t", t0, t1, []string{"tenant_id"}, Filters{}) }, nil, 0, `cannot group by "tenant_id"`},
		{"injection in dim", func() (Query, error) {
			return BreakdownSQL("db", "t", t0, t1, []string{"dim:x') OR 1=1 --"}, Filters{})
		}, nil, 0, "cannot group by"},
		{"injection in filter dim", func() (Query, error) {
			return TotalSpendSQL("db", "t", t0, t1, Filters{Dimensions: map[string][]string{"a'b": {"x"}}})
		}, nil, 0, "dimension name"},
		{"no group", func() (Query, error) { return BreakdownSQL("db", "t", t0, t1, nil, Filters{}) }, nil, 0, "at least one group-by"},
		{"bad bucket", func() (Query, error) { return TimeSeriesSQL("db", "t", t0, t1, "minute", nil, Filters{}) }, nil, 0, "use hour or day"},
		{"empty range", func() (Query, error) { return TotalSpendSQL("db", "t", t1, t0, Filters{}) }, nil, 0, "empty time range"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := c.build()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
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
			if strings.Count(q.SQL, "?") != len(q.Args) || len(q.Args) != c.args {
				t.Errorf("%d placeholders, %d args, want %d", strings.Count(q.SQL, "?"), len(q.Args), c.args)
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
	}
	w := NewWriter(conn, db)
	n, err := w.Write(ctx, evs)
	if err != nil || n != 4 {
		t.Fatalf("write: %d %v", n, err)
	}
	// Writing the same events again (a redelivery) stores nothing.
	if n, err := w.Write(ctx, append(evs, evs[0])); err != nil || n != 0 {
		t.Fatalf("rewrite: %d %v", n, err)
	}
	a := Analytics{Conn: conn, Database: db}
	tot, err := a.TotalSpend(ctx, tenant, t0, t1, Filters{})
	testenv.Must(t, err, "total")
	if tot != (Sums{Events: 4, UnpricedEvents: 1, ListNanoUSD: 4500, TenantNanoUSD: 2250, InputTokens: 40, OutputTokens: 20}) {
		t.Fatalf("total %+v", tot)
	}
	search, err := a.TotalSpend(ctx, tenant, t0, t1, Filters{KeyIDs: []string{kB}, Dimensions: map[string][]string{"team": {"search"}}})
	testenv.Must(t, err, "filtered total")
	if search.Events != 2 || search.ListNanoUSD != 500 {
		t.Fatalf("filtered total %+v", search)
	}
	groups, err := a.Breakdown(ctx, tenant, t0, t1, []string{"dim:team", "model"}, Filters{})
	testenv.Must(t, err, "breakdown")
	if len(groups) != 4 || groups[0].Keys[0] != "ads" || groups[0].TenantNanoUSD != 1500 {
		t.Fatalf("breakdown %+v", groups)
	}
	series, err := a.TimeSeries(ctx, tenant, t0, t1, "day", nil, Filters{})
	testenv.Must(t, err, "series")
	if len(series) != 2 || !series[0].Bucket.Equal(t0) || series[0].ListNanoUSD != 4000 || series[1].Events != 2 {
		t.Fatalf("series %+v", series)
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
