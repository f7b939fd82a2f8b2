package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/spendgate/spendgate/analytics"
	"github.com/spendgate/spendgate/apiserver"
	"github.com/spendgate/spendgate/budget/pgstore"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/internal/envflag"
	"github.com/spendgate/spendgate/spend"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
)

// benchAnalytics generates events for one tenant in a scratch ClickHouse
// database (inside ClickHouse, INSERT … SELECT over numbers(), so the
// rollups are fed as by real inserts) and times a matrix of spend queries
// through the real GraphQL handler: 1–4 group-bys including dimension
// pairs, filters by key, model and dimension, ranges of 1, 30 and 90 days,
// breakdowns and hourly and daily series. Each row says which source
// answered (from the response's extensions) and whether p95 met the goal.
// The baseline, timed in the same run, is the same sums read from raw
// events only (the store's RawOnly), for a few shapes: the ratio shows what
// the rollups buy. Last, the compressed bytes on disk of the raw table and
// each rollup, scaled to 100 M events.
func benchAnalytics(ctx context.Context, args []string) error {
	fs := envflag.NewFlagSet("spendgate-bench analytics")
	admin := fs.String("postgres-admin-dsn", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "maintenance database DSN (a scratch database is created and dropped)")
	chAddr := fs.String("clickhouse-addr", "127.0.0.1:9000", "ClickHouse native address (a scratch database is created and dropped)")
	events := fs.Int("events", 10_000_000, "events to generate, spread over --days")
	days := fs.Int("days", 90, "days the events span, ending now")
	runs := fs.Int("runs", 20, "timed queries per measurement")
	goal := fs.Duration("goal", 100*time.Millisecond, "p95 goal per query")
	only := fs.String("only", "", "run only the shapes whose name contains this")
	generateOnly := fs.Bool("generate-only", false, "generate (or check) the events, report their storage, and time nothing")
	generators := fs.Int("generators", 2, "concurrent INSERTs generating the events, each owning a contiguous share of them: "+
		"ClickHouse 18.16 runs one INSERT and its views on one thread (a resumed run must pass the number the first one did)")
	reuse := fs.String("reuse-database", "", "keep the generated events in the Postgres and ClickHouse databases of this name and, "+
		"when a later run names them again, reuse them: generation is skipped when they hold --events events (resumed when an "+
		"earlier run stopped between slices)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed GraphQL queries (the API answering them in this process, "+
		"and the client) to this file; generation is not in it")
	if err := envflag.Parse(fs, args); err != nil {
		return err
	}
	if *generators < 1 || *generators > *events {
		return fmt.Errorf("--generators %d: between 1 and --events", *generators)
	}
	bt, cleanup, err := openBenchTenant(ctx, *admin, *reuse)
	if err != nil {
		return err
	}
	defer cleanup()
	cp, name, tenantID := bt.cp, bt.name, bt.tenantID
	keyIDs, err := benchKeys(bt, 50)
	if err != nil {
		return err
	}

	conn, err := chstore.Open(ctx, *chAddr, name)
	if err != nil {
		return err
	}
	defer func() {
		if *reuse == "" {
			_ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name)
		}
		_ = conn.Close()
	}()
	t0 := time.Now()
	if err := chstore.Migrate(ctx, conn, name); err != nil {
		return err
	}
	if d := time.Since(t0); d > 10*time.Second {
		fmt.Printf("migrated %s in %s\n", name, d.Round(time.Second))
	}
	ds, err := benchDataset(ctx, conn, name, tenantID, *events, *days, *generators)
	if err != nil {
		return err
	}
	start, end := ds.start, ds.end
	version := "?"
	if v, err := conn.ServerVersion(); err == nil {
		version = v.String()
	}
	switch {
	case ds.stored == *events:
		fmt.Printf("reusing %d events over %d days in %s (ClickHouse %s)\n\n", ds.stored, *days, name, version)
	case !ds.prefix():
		return fmt.Errorf("%s holds %d of %d events, not the first ones of each of --generators %d shares: pass the --generators "+
			"of the run that stored them, or drop the database on both (DROP DATABASE %s) and run again",
			name, ds.stored, *events, *generators, name)
	default:
		if ds.stored > 0 {
			// A killed INSERT may have stored a block in usage_events and not
			// yet in every rollup: timings are unaffected, exact sums may not be.
			fmt.Printf("resuming after the %d events stored\n", ds.stored)
		}
		t0 = time.Now()
		g := chstore.Generation{Database: name, Tenant: tenantID, Keys: keyIDs, Start: start, End: end, Events: *events, V7IDs: true}
		if err := generateShares(ctx, conn, g, ds, t0); err != nil {
			return err
		}
		fmt.Printf("generated %d events over %d days for one tenant in %s (ClickHouse %s)\n", *events-ds.stored, *days,
			time.Since(t0).Round(time.Second), version)
		// Parts merge in the background; what the bench measures is the
		// steady state a deployment sees, so let the merges finish first.
		t0 = time.Now()
		for _, table := range append([]string{chstore.UsageTable}, rollupNames()...) {
			if err := conn.Exec(ctx, "OPTIMIZE TABLE "+name+"."+table+" FINAL"); err != nil {
				return fmt.Errorf("optimize %s: %w", table, err)
			}
		}
		fmt.Printf("merged in %s\n\n", time.Since(t0).Round(time.Second))
	}

	if *generateOnly {
		return printStorage(ctx, conn, name, *events)
	}
	if err := bt.signIn(ctx); err != nil {
		return err
	}
	// An event from the middle of the range for usageEvent(id): its id is a
	// UUIDv7 of its time.
	var eventID string
	if err := conn.QueryRow(ctx, "SELECT event_id FROM "+name+".usage_events WHERE tenant_id = ? AND time >= ? ORDER BY time LIMIT 1",
		tenantID, start.Add(end.Sub(start)/2)).Scan(&eventID); err != nil {
		return fmt.Errorf("an event id: %w", err)
	}
	store := &chstore.Analytics{Conn: conn, Database: name}
	svc := analytics.New(cp, store, pgstore.New(bt.pool), analytics.DefaultLimits())
	srv := httptest.NewServer(withQueryID(apiserver.New(apiserver.Config{ServiceToken: "bench", Analytics: svc}, cp, bt.quiet).Handler()))
	defer srv.Close()

	// Where a shape's time goes: ClickHouse's own time, CPU and rows read
	// per request (from system.query_log, the requests tagged by query id)
	// next to the request's time over HTTP; the rest is Go, Postgres
	// (labels) and encoding.
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile() // on an error; stopping twice is harmless
	fmt.Printf("%-62s %8s %8s  %-10s %-17s %-8s %8s %8s %10s\n", "query (GraphQL over HTTP)", "p50", "p95", "source", "table", "p95 ≤ "+goal.String(),
		"ch p50", "ch cpu", "rows read")
	missed := 0
	nonce := time.Now().UnixNano()
	for i, c := range analyticsMatrix(tenantID, keyIDs, end, eventID) {
		if *only != "" && !strings.Contains(c.name, *only) {
			continue
		}
		var sources string
		run := 0
		tag := fmt.Sprintf("bench-%d-%d-", nonce, i)
		p50, p95, err := timeQuery(*runs, func() error {
			run++
			ext, err := postGraphQL(ctx, srv.URL+"/query", bt.token, tag+fmt.Sprint(run), c.query, c.vars)
			sources = ext
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		verdict := "met"
		if p95 > *goal {
			verdict, missed = "MISSED", missed+1
		}
		src, table, _ := strings.Cut(sources, " ")
		server, err := serverTimes(ctx, conn, tag)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		fmt.Printf("%-62s %8s %8s  %-10s %-17s %-8s %s\n", c.name, p50.Round(time.Millisecond/10), p95.Round(time.Millisecond/10), src, table, verdict, server)
	}
	stopProfile()
	fmt.Printf("%d shapes missed the goal\n\n", missed)

	// Baseline: the same sums from raw events only, store level (no HTTP).
	raw := &chstore.Analytics{Conn: conn, Database: name, RawOnly: true}
	fmt.Printf("%-62s %9s %9s %8s\n", "baseline (store level, sums)", "rollup p95", "raw p95", "speedup")
	for _, b := range []struct {
		name string
		spec spend.Spec
	}{
		{"breakdown by team × app, 30 days", spend.Spec{GroupBy: []string{"dim:team", "dim:app"}, From: end.Add(-30 * 24 * time.Hour)}},
		{"breakdown by key, filtered by team, 1 day", spend.Spec{GroupBy: []string{"key"}, From: end.Add(-24 * time.Hour),
			Filters: spend.Filters{Dimensions: map[string][]string{"team": {"search"}}}}},
		{"total, 90 days", spend.Spec{From: start}},
	} {
		s := b.spec
		s.Tenant, s.To = tenantID, end
		_, rp95, err := timeQuery(max(*runs/4, 3), func() error { _, _, err := store.Breakdown(ctx, withGroup(s), 0); return err })
		if err != nil {
			return err
		}
		_, wp95, err := timeQuery(3, func() error { _, _, err := raw.Breakdown(ctx, withGroup(s), 0); return err })
		if err != nil {
			return err
		}
		fmt.Printf("%-62s %9s %9s %7.1f×\n", b.name, rp95.Round(time.Millisecond/10), wp95.Round(time.Millisecond), float64(wp95)/float64(rp95))
	}

	// usageEvent(id) by the time in its UUIDv7 id, against the lookup over
	// all of the tenant's events (what an id without a time gets).
	_, wp95, err := timeQuery(max(*runs/4, 3), func() error { _, err := store.Event(ctx, tenantID, eventID); return err })
	if err != nil {
		return err
	}
	q := chstore.EventSQL(name, tenantID, eventID, time.Time{}, time.Time{})
	_, ap95, err := timeQuery(3, func() error {
		rows, err := conn.Query(ctx, q.SQL, q.Args...)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		rows.Close()
		return rows.Err()
	})
	if err != nil {
		return err
	}
	fmt.Printf("%-62s %9s %9s %7.1f×\n", "usageEvent(id): in its id's hour vs over every time", wp95.Round(time.Millisecond/10), ap95.Round(time.Millisecond), float64(ap95)/float64(wp95))
	fmt.Println()
	return printStorage(ctx, conn, name, *events)
}

// printStorage prints the compressed bytes of each table's active parts,
// per 100 M events.
func printStorage(ctx context.Context, conn driver.Conn, name string, events int) error {
	fmt.Printf("\n%-22s %14s %14s %16s\n", "table", "rows", "compressed", "per 100 M events")
	rows, err := conn.Query(ctx, `SELECT table, sum(rows), sum(data_compressed_bytes) FROM system.parts
		WHERE database = ? AND active AND table != 'bench_dataset' GROUP BY table ORDER BY table`, name)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var table string
		var n, bytes uint64
		if err := rows.Scan(&table, &n, &bytes); err != nil {
			return err
		}
		per := float64(bytes) * 100e6 / float64(events)
		fmt.Printf("%-22s %14d %13.1fM %15.1fM\n", table, n, float64(bytes)/1e6, per/1e6)
	}
	return rows.Err()
}

// benchKeys creates n keys for the bench tenant, or lists them (in the
// order they were made: their names sort so) when its database is reused.
func benchKeys(bt *benchTenant, n int) ([]string, error) {
	var ids []string
	if bt.reused {
		rows, err := bt.pool.Query(bt.actx, "SELECT id::text FROM api_keys WHERE tenant_id = $1 ORDER BY name", bt.tenantID)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if len(ids) != n {
			return nil, fmt.Errorf("the reused database %s has %d bench keys, want %d: drop it and run again", bt.name, len(ids), n)
		}
		return ids, nil
	}
	for i := range n {
		k, err := bt.cp.CreateAPIKey(bt.actx, bt.tenantID, fmt.Sprintf("service %02d", i), controlplane.KeyPolicy{}, nil, nil)
		if err != nil {
			return nil, err
		}
		ids = append(ids, k.Key.ID)
	}
	return ids, nil
}

// benchData is what a bench database holds: its tenant's events span
// [start, end), stored of the events wanted.
type benchData struct {
	start, end time.Time
	stored     int
	// shares are the generators' contiguous ranges of event numbers; each
	// is generated in order, so a stopped run resumes each after its
	// stored events.
	shares []share
}

type share struct {
	lo, hi, stored int
	prefix         bool // the share's stored events are its first ones
}

// prefix says whether every share holds its first events only, so that
// generation can resume.
func (d benchData) prefix() bool {
	for _, s := range d.shares {
		if !s.prefix {
			return false
		}
	}
	return true
}

// generateShares generates each share's events not yet stored, the shares
// concurrently and each in order, in slices so one INSERT never holds too
// much in memory on a small machine, nor runs past the client's read
// timeout on a loaded one.
func generateShares(ctx context.Context, conn driver.Conn, g chstore.Generation, d benchData, t0 time.Time) error {
	const slice = 100_000
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		done  = d.stored
		first error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, sh := range d.shares {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := sh.lo + sh.stored; lo < sh.hi; lo += slice {
				n := min(slice, sh.hi-lo)
				q := chstore.GenerateSlice(g, lo, n)
				err := conn.Exec(ctx, q.SQL, q.Args...)
				mu.Lock()
				if err != nil {
					if first == nil {
						first = fmt.Errorf("generate events: %w", err)
					}
					mu.Unlock()
					cancel()
					return
				}
				done += n
				fmt.Printf("  … %d/%d events (%s)\n", done, g.Events, time.Since(t0).Round(time.Second))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// benchDataset records in bench_dataset (a table of the bench's own, next
// to the schema's) which tenant, range and event count a database was
// generated for, the first time, and reads it back after: a reused
// database keeps the range it was generated over, whatever today is.
func benchDataset(ctx context.Context, conn driver.Conn, db, tenant string, events, days, generators int) (benchData, error) {
	if err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+db+".bench_dataset (tenant_id String, start DateTime, end DateTime, events UInt64) "+
		"ENGINE = MergeTree() ORDER BY tenant_id"); err != nil {
		return benchData{}, fmt.Errorf("bench_dataset: %w", err)
	}
	var d benchData
	var gotTenant string
	var gotEvents uint64
	err := conn.QueryRow(ctx, "SELECT tenant_id, start, end, events FROM "+db+".bench_dataset LIMIT 1").Scan(&gotTenant, &d.start, &d.end, &gotEvents)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		d.end = time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
		d.start = d.end.Add(-time.Duration(days) * 24 * time.Hour)
		if err := conn.Exec(ctx, "INSERT INTO "+db+".bench_dataset (tenant_id, start, end, events) SELECT ?, ?, ?, ?",
			tenant, d.start, d.end, uint64(events)); err != nil {
			return benchData{}, fmt.Errorf("bench_dataset: %w", err)
		}
	case err != nil:
		return benchData{}, fmt.Errorf("bench_dataset: %w", err)
	case gotTenant != tenant || int(gotEvents) != events || d.end.Sub(d.start) != time.Duration(days)*24*time.Hour:
		return benchData{}, fmt.Errorf("%s was generated for tenant %s with %d events over %s, not %d events over %d days "+
			"for tenant %s: pass those, or drop the database (Postgres and ClickHouse) and run again",
			db, gotTenant, gotEvents, d.end.Sub(d.start), events, days, tenant)
	}
	d.start, d.end = d.start.UTC(), d.end.UTC()
	var stored uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".usage_events WHERE tenant_id = ?", tenant).Scan(&stored); err != nil {
		return benchData{}, fmt.Errorf("count events: %w", err)
	}
	d.stored = int(stored)
	if d.stored > events {
		return benchData{}, fmt.Errorf("%s holds %d events, more than --events %d", db, d.stored, events)
	}
	// Share i holds event numbers [ceil(i·events/generators), the next
	// share's start), so floor(n·generators/events) is event n's share.
	for i := range generators {
		d.shares = append(d.shares, share{lo: (i*events + generators - 1) / generators, hi: ((i+1)*events + generators - 1) / generators, prefix: true})
	}
	if d.stored == 0 || d.stored == events {
		if d.stored == events {
			for i := range d.shares {
				d.shares[i].stored = d.shares[i].hi - d.shares[i].lo
			}
		}
		return d, nil
	}
	// Each share resumes after its stored events when they are its first:
	// event n's number is the last 48 bits of its UUIDv7 id, and k distinct
	// numbers from lo up to lo+k-1 are lo…lo+k-1.
	rows, err := conn.Query(ctx, "SELECT toUInt64(intDiv(n * ?, ?)) AS share, count(), max(n) FROM (SELECT "+
		"reinterpretAsUInt64(reverse(unhex(substring(event_id, 25, 12)))) AS n FROM "+db+".usage_events WHERE tenant_id = ?) GROUP BY share",
		uint64(generators), uint64(events), tenant)
	if err != nil {
		return benchData{}, fmt.Errorf("stored events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var i, n, top uint64
		if err := rows.Scan(&i, &n, &top); err != nil {
			return benchData{}, fmt.Errorf("stored events: %w", err)
		}
		if int(i) >= generators {
			return benchData{}, fmt.Errorf("%s holds event number %d, beyond --events %d", db, top, events)
		}
		sh := &d.shares[i]
		sh.stored, sh.prefix = int(n), int(top)+1-sh.lo == int(n)
	}
	if err := rows.Err(); err != nil {
		return benchData{}, fmt.Errorf("stored events: %w", err)
	}
	return d, nil
}

// withGroup makes a total a breakdown by provider (Breakdown needs one).
func withGroup(s spend.Spec) spend.Spec {
	if len(s.GroupBy) == 0 {
		s.GroupBy = []string{"provider"}
	}
	return s
}

func rollupNames() []string {
	var out []string
	for _, r := range chstore.Rollups {
		out = append(out, r.Name)
	}
	return out
}

type analyticsCase struct {
	name, query string
	vars        map[string]any
}

// analyticsMatrix is the query shapes timed: for each range, breakdowns by
// 1–4 group-bys (dimension pairs among them), unfiltered and filtered by
// key, model and dimension, a summary, and daily and hourly series.
// Hourly series grouped by a high-cardinality pair are only asked for one
// day: over 30 days they would return hundreds of thousands of points.
func analyticsMatrix(tenant string, keys []string, end time.Time, eventID string) []analyticsCase {
	type groupBy struct{ name, gql string }
	var (
		provModel  = groupBy{"provider × model", `[{field:PROVIDER},{field:MODEL}]`}
		key        = groupBy{"key", `[{field:KEY}]`}
		team       = groupBy{"team", `[{field:DIMENSION,dimension:"team"}]`}
		teamApp    = groupBy{"team × app", `[{field:DIMENSION,dimension:"team"},{field:DIMENSION,dimension:"app"}]`}
		teamModel  = groupBy{"team × model", `[{field:DIMENSION,dimension:"team"},{field:MODEL}]`}
		keyApp     = groupBy{"key × app", `[{field:KEY},{field:DIMENSION,dimension:"app"}]`}
		four       = groupBy{"key × model × team × app", `[{field:KEY},{field:MODEL},{field:DIMENSION,dimension:"team"},{field:DIMENSION,dimension:"app"}]`}
		model      = groupBy{"model", `[{field:MODEL}]`}
		statusTier = groupBy{"status × tier", `[{field:STATUS},{field:SERVICE_TIER}]`}
	)
	type filter struct{ name, gql string }
	var (
		none      = filter{"", ""}
		byKey     = filter{"key", fmt.Sprintf(`filter:{keyIds:[%q,%q]},`, keys[0], keys[1])}
		byModel   = filter{"model", `filter:{models:["gpt-4o","claude-sonnet-4-5"]},`}
		byTeam    = filter{"team", `filter:{dimensions:[{name:"team",values:["search"]}]},`}
		keyAndDim = filter{"key+team", fmt.Sprintf(`filter:{keyIds:[%q],dimensions:[{name:"team",values:["search","legal"]}]},`, keys[2])}
	)
	out := []analyticsCase{{"usageEvent(id)", `query($t:ID!,$id:ID!){usageEvent(tenantId:$t,id:$id){id time provider}}`,
		map[string]any{"t": tenant, "id": eventID}}}
	for _, days := range []int{1, 30, 90} {
		vars := map[string]any{"t": tenant, "f": end.Add(-time.Duration(days) * 24 * time.Hour).Format(time.RFC3339), "to": end.Format(time.RFC3339)}
		add := func(name, query string) {
			out = append(out, analyticsCase{fmt.Sprintf("%s, %dd", name, days), query, vars})
		}
		breakdown := func(g groupBy, f filter) {
			name := "by " + g.name
			if f.name != "" {
				name += " where " + f.name
			}
			add(name, `query($t:ID!,$f:Time!,$to:Time!){spendBreakdown(tenantId:$t,from:$f,to:$to,`+f.gql+`groupBy:`+g.gql+`,top:20){groups{labels totals{requests tenantCost}} other{requests} total{tenantCost}}}`)
		}
		series := func(bucket string, g *groupBy, f filter) {
			name := bucket + " series"
			gql := ""
			if g != nil {
				name += " by " + g.name
				gql = "groupBy:" + g.gql + ","
			}
			if f.name != "" {
				name += " where " + f.name
			}
			add(name, `query($t:ID!,$f:Time!,$to:Time!){spendTimeSeries(tenantId:$t,from:$f,to:$to,bucket:`+bucket+`,`+gql+f.gql+`){start keys totals{tenantCost requests}}}`)
		}
		add("summary", `query($t:ID!,$f:Time!,$to:Time!){spendSummary(tenantId:$t,from:$f,to:$to){requests tenantCost unpricedRequests}}`)
		add("summary where key+team", `query($t:ID!,$f:Time!,$to:Time!){spendSummary(tenantId:$t,from:$f,to:$to,`+strings.TrimSuffix(keyAndDim.gql, ",")+`){requests tenantCost}}`)
		for _, g := range []groupBy{provModel, key, team, teamApp, teamModel, keyApp, four, statusTier} {
			breakdown(g, none)
		}
		breakdown(teamApp, byKey)
		breakdown(key, byTeam)
		breakdown(team, byModel)
		breakdown(model, keyAndDim)
		series("DAY", nil, none)
		series("DAY", &model, none)
		series("DAY", &teamApp, none)
		series("DAY", &key, byTeam)
		series("HOUR", nil, none)
		series("HOUR", &team, byModel)
		if days == 1 {
			series("HOUR", &teamApp, byKey)
			series("HOUR", &keyApp, none)
		}
	}
	return out
}

// timeQuery runs f once to warm up, then runs times, and returns p50 and p95.
func timeQuery(runs int, f func() error) (p50, p95 time.Duration, err error) {
	d, err := latencies(1, runs, f)
	if err != nil {
		return 0, 0, err
	}
	return pct(d, 50), pct(d, 95), nil
}

// postGraphQL sends one query, fails on transport or GraphQL errors, and
// returns what answered it: "source table" from extensions.spendSources.
func postGraphQL(ctx context.Context, url, token, queryID, query string, vars map[string]any) (string, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set(benchQueryIDHeader, queryID)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var answer struct {
		Errors     []json.RawMessage `json:"errors"`
		Extensions struct {
			SpendSources []analytics.Source `json:"spendSources"`
		} `json:"extensions"`
	}
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(raw, &answer); err != nil || len(answer.Errors) > 0 || res.StatusCode != http.StatusOK {
		if len(raw) > 500 {
			raw = raw[:500]
		}
		return "", fmt.Errorf("graphql: HTTP %d: %s", res.StatusCode, raw)
	}
	var parts []string
	for _, s := range answer.Extensions.SpendSources {
		parts = append(parts, s.Source+" "+strings.Join(s.Tables, "+"))
	}
	return strings.Join(parts, "; "), nil
}

// benchQueryIDHeader tags a bench request's ClickHouse queries (their
// quota key: one request may run several queries, and a query id may be
// used by one at a time) so serverTimes finds them in system.query_log.
const benchQueryIDHeader = "X-Bench-Query-Id"

// withQueryID logs the ClickHouse queries of tagged requests (log_queries
// per query: the server's default logs none) under the tag.
func withQueryID(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tag := r.Header.Get(benchQueryIDHeader); tag != "" {
			r = r.WithContext(clickhouse.Context(r.Context(), clickhouse.WithSettings(clickhouse.Settings{"log_queries": 1}),
				clickhouse.WithQuotaKey(tag)))
		}
		h.ServeHTTP(w, r)
	})
}

// serverTimes sums, per request tagged tag, ClickHouse's own duration,
// CPU (user + system) and rows read, and prints their medians.
func serverTimes(ctx context.Context, conn driver.Conn, tag string) (string, error) {
	if err := conn.Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
		return "", fmt.Errorf("flush query log: %w", err)
	}
	rows, err := conn.Query(ctx, `SELECT sum(query_duration_ms), sum(ProfileEvents.Values[indexOf(ProfileEvents.Names, 'UserTimeMicroseconds')] +
		ProfileEvents.Values[indexOf(ProfileEvents.Names, 'SystemTimeMicroseconds')]), sum(read_rows)
		FROM system.query_log WHERE type = 2 AND event_date >= yesterday() AND startsWith(quota_key, ?)
		GROUP BY quota_key`, tag)
	if err != nil {
		return "", fmt.Errorf("query log: %w", err)
	}
	defer rows.Close()
	var ms, cpu, read []uint64
	for rows.Next() {
		var a, b, c uint64
		if err := rows.Scan(&a, &b, &c); err != nil {
			return "", err
		}
		ms, cpu, read = append(ms, a), append(cpu, b), append(read, c)
	}
	if err := rows.Err(); err != nil || len(ms) == 0 {
		return "", err
	}
	med := func(v []uint64) uint64 { slices.Sort(v); return v[len(v)/2] }
	return fmt.Sprintf("%6dms %6.1fms %10d", med(ms), float64(med(cpu))/1000, med(read)), nil
}
