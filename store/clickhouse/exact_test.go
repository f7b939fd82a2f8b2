package clickhouse

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/spend"
)

// Whatever the planner reads (rollups, hourly ends, raw edges), every sums
// query answers exactly as raw events do: on generated events, events the
// writer was given twice (in one batch and redelivered), and corrections
// from re-pricing (one event re-priced twice).
// Over both insert paths (http-lz4 sends the same block compressed; the
// TestWriter* tests cover it).
func TestRollupsAnswerAsRawEvents(t *testing.T) {
	forEachInsert(t, testRollupsAnswerAsRawEvents, "native", "http")
}

func testRollupsAnswerAsRawEvents(t *testing.T, insert string) {
	ctx := context.Background()
	conn, db, w := migratedWriter(t, insert)
	const tenant = "11111111-1111-4111-8111-111111111111"
	start := time.Date(2026, 4, 28, 0, 0, 0, 0, time.UTC)
	// 40 days: a whole month (May) for the monthly rollups.
	g := Generation{Database: db, Tenant: tenant, Keys: []string{"k1", "k2", "k3", "k4"}, Start: start, End: start.Add(40 * 24 * time.Hour),
		Events: 12_000, IDPrefix: "g-", Varied: true}
	for lo := 0; lo < g.Events; lo += 7_000 {
		q := GenerateSlice(g, lo, min(7_000, g.Events-lo))
		testenv.Must(t, conn.Exec(ctx, q.SQL, q.Args...), "generate")
	}
	evs := []spend.PricedEvent{
		priced("w1", "k1", "gpt-4o", "search", start.Add(26*time.Hour+17*time.Minute), true, 1000),
		priced("w2", "k9", "mystery", "ads", start.Add(49*time.Hour+59*time.Minute), false, 0),
		priced("w3", "k2", "gpt-4o", "", start.Add(3*time.Hour), true, 700),
	}
	for i := range evs {
		evs[i].Event.TenantID = tenant
	}
	if n, err := w.Write(ctx, append(evs, evs[0], evs[1])); err != nil || n != 3 {
		t.Fatalf("write with duplicates: %d %v", n, err)
	}
	if n, err := w.Write(ctx, evs); err != nil || n != 0 {
		t.Fatalf("redelivery stored %d (%v)", n, err)
	}
	// Arrays no writer makes but a raw insert could: a name twice (raw
	// events read its first value), values missing, an empty name. The
	// onedim view must neither fail the insert nor count them twice.
	for i, dims := range []string{"['team', 'app', 'team'], ['ads', 'web', 'search']", "['app', 'team', ''], ['batch']"} {
		testenv.Must(t, conn.Exec(ctx, fmt.Sprintf(`INSERT INTO %s.usage_events (event_id, time, tenant_id, key_id, source, provider, operation,
			model_requested, status_code, input, output, priced, list_cost_nano_usd, tenant_cost_nano_usd, dim_names, dim_values, ingested_at)
			SELECT 'odd%d', toDateTime(%d), ?, 'k1', 'gateway', 'openai', 'chat.completions', 'gpt-4o', 200, 10, 5, 1, 900, 450, %s, now()`,
			db, i, start.Add(27*time.Hour+time.Duration(i)*time.Minute).Unix(), dims), tenant), "odd arrays")
	}
	q := GenerateCorrectionsSQL(g, start.Add(60*time.Hour))
	testenv.Must(t, conn.Exec(ctx, q.SQL, q.Args...), "re-price")
	// w2 re-priced, then re-priced again at another price.
	corr := func(id string, list int64, unpriced int64) spend.Correction {
		return spend.Correction{ID: id, EventID: "w2", Time: evs[1].Event.Time, TenantID: tenant, KeyID: "k9", Source: "gateway", Provider: "openai",
			Operation: "chat.completions", Model: "mystery", StatusCode: 200, DimNames: []string{"team"}, DimValues: []string{"ads"},
			ListDelta: list, TenantDelta: list / 2, UnpricedDelta: unpriced}
	}
	if n, err := w.WriteCorrections(ctx, []spend.Correction{corr("c1", 500, -1), corr("c1", 500, -1), corr("c2", 200, 0)}); err != nil || n != 2 {
		t.Fatalf("corrections: %d %v", n, err)
	}

	a, raw := Analytics{Conn: conn, Database: db}, Analytics{Conn: conn, Database: db, RawOnly: true}
	ranges := map[string][2]time.Time{
		"whole days":                           {start.Add(24 * time.Hour), start.Add(4 * 24 * time.Hour)},
		"hour ends":                            {start.Add(5 * time.Hour), start.Add(100 * time.Hour)},
		"ragged ends":                          {start.Add(26*time.Hour + 17*time.Minute), start.Add(49*time.Hour + 59*time.Minute + 30*time.Second)},
		"a month, days, hours and ragged ends": {start.Add(26*time.Hour + 17*time.Minute), start.Add(36*24*time.Hour + 5*time.Hour + 30*time.Second)},
	}
	filters := map[string]spend.Filters{
		"none":           {},
		"key":            {KeyIDs: []string{"k1", "k9"}},
		"model and team": {Models: []string{"mystery", "gpt-4o", "acme-internal-llm"}, Dimensions: map[string][]string{"team": {"search", "ads"}}},
		"no app":         {Dimensions: map[string][]string{"app": {""}}},
		"status and key": {Statuses: []string{"429", "200"}, KeyIDs: []string{"k2"}, Dimensions: map[string][]string{"app": {"web"}}},
		// One dimension and the model or the key: the onedim family for
		// series (the writer's events have no attribution and no app; w3's
		// team is set to "").
		"team of the hierarchy":   {TeamIDs: []string{"t-search", "t-legal"}},
		"app or none, and models": {Models: []string{"gpt-4o", "o4-mini", "mystery"}, Dimensions: map[string][]string{"app": {"", "batch"}}},
	}
	groupings := [][]string{nil, {"model", "status"}, {"dim:team", "dim:app"}, {"key", "dim:app"},
		{"provider", "operation", "service_tier", "source"}, {"key", "model", "dim:team", "dim:app"},
		{"dim:app"}, {"dim:team", "model"}, {"team"}, {"key"}}
	checked, oneDims := 0, 0
	for rn, r := range ranges {
		for fn, f := range filters {
			for _, gb := range groupings {
				s := spend.Spec{Tenant: tenant, From: r[0], To: r[1], Filters: f, GroupBy: gb}
				name := fmt.Sprintf("%s, filter %s, by %v", rn, fn, gb)
				if gb == nil {
					got, err := a.TotalSpend(ctx, s)
					testenv.Must(t, err, name)
					want, err := raw.TotalSpend(ctx, s)
					testenv.Must(t, err, name)
					if got != want {
						t.Fatalf("%s: total %+v, raw %+v", name, got, want)
					}
				} else {
					got, gotTotal, err := a.Breakdown(ctx, s, 7)
					testenv.Must(t, err, name)
					want, wantTotal, err := raw.Breakdown(ctx, s, 7)
					testenv.Must(t, err, name)
					if fmt.Sprint(got) != fmt.Sprint(want) || gotTotal != wantTotal {
						t.Fatalf("%s:\nrollups %+v %+v\nraw     %+v %+v", name, got, gotTotal, want, wantTotal)
					}
				}
				// One bucket per spec, taking turns (the machine is shared);
				// every bucket the onedim family answers.
				buckets := []string{[]string{"hour", "day", "week", "month"}[checked%4]}
				if _, _, ok := oneDim(&spend.Spec{Bucket: "hour", GroupBy: gb, Filters: f}); ok {
					buckets, oneDims = []string{"hour", "day", "week"}, oneDims+1
				}
				for _, bucket := range buckets {
					s.Bucket = bucket
					got, err := a.TimeSeries(ctx, s)
					testenv.Must(t, err, name)
					want, err := raw.TimeSeries(ctx, s)
					testenv.Must(t, err, name)
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Fatalf("%s, %s series:\nrollups %+v\nraw     %+v", name, bucket, got, want)
					}
				}
				checked++
			}
		}
	}
	// The corrections count: the re-priced event is priced, at the last
	// price, and re-priced generated events are too.
	all, err := a.TotalSpend(ctx, spend.Spec{Tenant: tenant, From: start.Add(-time.Hour), To: start.Add(41 * 24 * time.Hour)})
	testenv.Must(t, err, "all")
	plain, err := (Analytics{Conn: conn, Database: db}).TotalSpend(ctx, spend.Spec{Tenant: tenant, From: start.Add(-time.Hour), To: start.Add(41 * 24 * time.Hour),
		Filters: spend.Filters{Models: []string{"acme-internal-llm"}}})
	testenv.Must(t, err, "unpriced model")
	if all.Events != uint64(g.Events+5) || plain.UnpricedEvents == 0 || plain.UnpricedEvents >= plain.Events {
		t.Fatalf("all %+v; the unpriced model %+v (some re-priced, not all)", all, plain)
	}
	if oneDims < 20 {
		t.Fatalf("only %d specs the onedim family answers", oneDims)
	}
	t.Logf("%d specs × (sums + a series) equal to raw, %d of them read by the onedim family in series", checked, oneDims)
}
