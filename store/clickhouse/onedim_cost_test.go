package clickhouse

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/spend"
)

// TestOneDimCost measures what the onedim family buys and costs, on
// ClickHouse's own clock (system.query_log): the series shapes it answers,
// read with it and with the plan before it (interleaved, both orders), over
// 1, 3 and 6 days of events at the 100 M set's density (46 K an hour), and
// the CPU of inserts with and without its view. It runs only when asked:
//
//	SPENDGATE_ONEDIM_COST=narrowdims_cost go test ./store/clickhouse -run TestOneDimCost -v -timeout 2h
//
// The database named is kept (and reused) for later runs; drop it after.
func TestOneDimCost(t *testing.T) {
	db := os.Getenv("SPENDGATE_ONEDIM_COST")
	if db == "" {
		t.Skip("SPENDGATE_ONEDIM_COST=<database> measures the onedim family")
	}
	ctx := context.Background()
	conn, err := Open(ctx, testenv.ClickHouseAddr(), db)
	testenv.Must(t, err, "open")
	testenv.Must(t, Migrate(ctx, conn, db), "migrate")
	days, perHour, ranges := 6, 46_300, []int{1, 3, 6}
	// A sparser set over 90 days: the onedim rows an hour saturate (every
	// team × model, key × app, key × team occurs every hour) far below
	// 46 K events an hour, so its 30- and 90-day reads are those of the
	// 100 M set; the families with more tuples an hour are not.
	if os.Getenv("SPENDGATE_ONEDIM_COST_SPARSE") != "" {
		days, perHour, ranges = 90, 2_000, []int{1, 30, 90}
	}
	end := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	keys := make([]string, 50)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%02d", i)
	}
	tenant := "22222222-2222-4222-8222-222222222222"
	g := Generation{Database: db, Tenant: tenant, Keys: keys, Start: end.Add(-time.Duration(days) * 24 * time.Hour), End: end,
		Events: days * 24 * perHour, V7IDs: true}
	t.Logf("%d events over %d days", g.Events, days)
	var stored uint64
	testenv.Must(t, conn.QueryRow(ctx, "SELECT count() FROM "+db+".usage_events").Scan(&stored), "count")
	if stored == 0 {
		t0 := time.Now()
		for lo := 0; lo < g.Events; lo += 100_000 {
			q := GenerateSlice(g, lo, min(100_000, g.Events-lo))
			testenv.Must(t, conn.Exec(ctx, q.SQL, q.Args...), "generate")
		}
		for _, r := range Rollups {
			testenv.Must(t, conn.Exec(ctx, "OPTIMIZE TABLE "+db+"."+r.Name+" FINAL"), "optimize")
		}
		t.Logf("generated %d events in %s", g.Events, time.Since(t0).Round(time.Second))
	} else if stored != uint64(g.Events) {
		t.Fatalf("%s holds %d events, want %d: drop it", db, stored, g.Events)
	}
	if os.Getenv("SPENDGATE_ONEDIM_COST_QUERIES") != "0" {
		oneDimQueryCost(t, conn, db, tenant, end, ranges)
	}
	if os.Getenv("SPENDGATE_ONEDIM_COST_INSERTS") != "0" {
		oneDimInsertCost(t, conn, db, keys)
	}
}

type serverCost struct{ ms, cpuUS, rows uint64 }

// costs reads ClickHouse's duration, CPU (user + system) and rows read of
// the finished queries tagged with each quota key starting with prefix.
func costs(t *testing.T, conn clickhouse.Conn, prefix string) map[string]serverCost {
	ctx := context.Background()
	testenv.Must(t, conn.Exec(ctx, "SYSTEM FLUSH LOGS"), "flush")
	rows, err := conn.Query(ctx, `SELECT quota_key, sum(query_duration_ms), sum(ProfileEvents.Values[indexOf(ProfileEvents.Names, 'UserTimeMicroseconds')] +
		ProfileEvents.Values[indexOf(ProfileEvents.Names, 'SystemTimeMicroseconds')]), sum(read_rows)
		FROM system.query_log WHERE type = 2 AND event_date >= yesterday() AND startsWith(quota_key, ?) GROUP BY quota_key`, prefix)
	testenv.Must(t, err, "query log")
	defer rows.Close()
	out := map[string]serverCost{}
	for rows.Next() {
		var k string
		var c serverCost
		testenv.Must(t, rows.Scan(&k, &c.ms, &c.cpuUS, &c.rows), "scan")
		out[k] = c
	}
	return out
}

func tagged(tag string) context.Context {
	return clickhouse.Context(context.Background(), clickhouse.WithSettings(clickhouse.Settings{"log_queries": 1}), clickhouse.WithQuotaKey(tag))
}

func oneDimQueryCost(t *testing.T, conn clickhouse.Conn, db, tenant string, end time.Time, ranges []int) {
	a := Analytics{Conn: conn, Database: db}
	shapes := []struct {
		name string
		spec spend.Spec
	}{
		{"hourly by team where model", spend.Spec{Bucket: "hour", GroupBy: []string{"dim:team"}, Filters: spend.Filters{Models: []string{"gpt-4o", "claude-sonnet-4-5"}}}},
		{"hourly by key x app", spend.Spec{Bucket: "hour", GroupBy: []string{"key", "dim:app"}}},
		{"daily by key where team", spend.Spec{Bucket: "day", GroupBy: []string{"key"}, Filters: spend.Filters{Dimensions: map[string][]string{"team": {"search"}}}}},
		{"hourly by team (hierarchy)", spend.Spec{Bucket: "hour", GroupBy: []string{"team"}}},
	}
	run := fmt.Sprintf("nd%d-", time.Now().Unix())
	const runs = 9
	for _, sh := range shapes {
		for _, d := range ranges {
			s := sh.spec
			s.Tenant, s.From, s.To = tenant, end.Add(-time.Duration(d)*24*time.Hour), end
			_, tables := SumsSource(s)
			var before, after []string
			for i := range runs {
				arms := []bool{false, true}
				if i%2 == 1 {
					arms = []bool{true, false}
				}
				for _, on := range arms {
					useOneDim = on
					tag := fmt.Sprintf("%s%s-%d-%t-%d", run, sh.name, d, on, i)
					if _, err := a.TimeSeries(tagged(tag), s); err != nil {
						useOneDim = true
						t.Fatalf("%s: %v", tag, err)
					}
					if i > 0 { // the first run of each warms the cache
						if on {
							after = append(after, tag)
						} else {
							before = append(before, tag)
						}
					}
				}
			}
			useOneDim = true
			c := costs(t, conn, run+sh.name+"-"+strconv.Itoa(d)+"-")
			summary := func(tags []string) string {
				var cpu, ms []float64
				var rows uint64
				for _, tag := range tags {
					cpu, ms, rows = append(cpu, float64(c[tag].cpuUS)/1000), append(ms, float64(c[tag].ms)), c[tag].rows
				}
				slices.Sort(cpu)
				slices.Sort(ms)
				return fmt.Sprintf("cpu min %.1f med %.1f ms, time min %.0f med %.0f ms, %d rows", cpu[0], cpu[len(cpu)/2], ms[0], ms[len(ms)/2], rows)
			}
			useOneDim = false
			_, old := SumsSource(s)
			useOneDim = true
			t.Logf("%s, %dd: before %v: %s | after %v: %s", sh.name, d, old, summary(before), tables, summary(after))
		}
	}
}

// oneDimInsertCost inserts the same generated slices, taking turns, into
// three databases: every view (a), every view but onedim's (b), no view
// (c), and compares ClickHouse's CPU per inserted event.
func oneDimInsertCost(t *testing.T, conn clickhouse.Conn, db string, keys []string) {
	ctx := context.Background()
	dbs := map[string]string{"a": db + "_ins_all", "b": db + "_ins_noonedim", "c": db + "_ins_noviews"}
	for arm, name := range dbs {
		testenv.Must(t, conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name), "drop")
		testenv.Must(t, conn.Exec(ctx, "CREATE DATABASE "+name), "create")
		testenv.Must(t, Migrate(ctx, conn, name), "migrate")
		for _, r := range Rollups {
			if arm == "c" || arm == "b" && r.OneDim {
				testenv.Must(t, conn.Exec(ctx, "DROP TABLE "+name+"."+r.Name+"_mv"), "drop view")
			}
		}
	}
	defer func() {
		for _, name := range dbs {
			_ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name)
		}
	}()
	const batch = 2000
	rounds := 40
	if n, err := strconv.Atoi(os.Getenv("SPENDGATE_ONEDIM_COST_ROUNDS")); err == nil {
		rounds = n
	}
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	run := fmt.Sprintf("ndins%d-", time.Now().Unix())
	for i := range rounds {
		order := []string{"a", "b", "c"}
		if i%2 == 1 {
			order = []string{"c", "b", "a"}
		}
		// A batch is 2,000 events of about 2.6 seconds at 46 K an hour.
		g := Generation{Tenant: "33333333-3333-4333-8333-333333333333", Keys: keys, Start: start.Add(time.Duration(i) * 156 * time.Second),
			End: start.Add(time.Duration(i+1) * 156 * time.Second), Events: batch, V7IDs: true}
		for _, arm := range order {
			g.Database = dbs[arm]
			q := GenerateSlice(g, 0, batch)
			testenv.Must(t, conn.Exec(tagged(fmt.Sprintf("%s%s-%02d", run, arm, i)), q.SQL, q.Args...), "insert")
		}
	}
	c := costs(t, conn, run)
	per := map[string][]float64{}
	for i := 2; i < rounds; i++ { // the first two warm up
		for _, arm := range []string{"a", "b", "c"} {
			per[arm] = append(per[arm], float64(c[fmt.Sprintf("%s%s-%02d", run, arm, i)].cpuUS)/batch)
		}
	}
	med := func(v []float64) float64 { v = slices.Clone(v); slices.Sort(v); return v[len(v)/2] }
	var diff []float64
	for i := range per["a"] {
		diff = append(diff, per["a"][i]-per["b"][i])
	}
	q := func(v []float64, p int) float64 { v = slices.Clone(v); slices.Sort(v); return v[len(v)*p/100] }
	t.Logf("ClickHouse CPU per inserted event (µs, median of %d interleaved INSERTs of %d generated events): every view %.2f, "+
		"without onedim's %.2f, no view %.2f; onedim's view: %.2f (paired median; quartiles %.2f–%.2f)",
		len(per["a"]), batch, med(per["a"]), med(per["b"]), med(per["c"]), med(diff), q(diff, 25), q(diff, 75))
}
