package enginetest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chdb-io/chdb-go/chdb"

	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/store/clickhouse"
)

var current *chdbEngine

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "spendgate-chdb-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s, err := chdb.NewSession(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chDB (%s): %v\n", chdbPath(), err)
		os.Exit(1)
	}
	current = &chdbEngine{s: s}
	code := m.Run()
	s.Cleanup()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// The generated events span more than a whole month (March), so the
// ranges below read monthly, daily and hourly rollups and raw edges.
var (
	start = time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC)
	end   = start.Add(45 * 24 * time.Hour)
)

const (
	tenantA = "11111111-1111-4111-8111-111111111111"
	tenantB = "22222222-2222-4222-8222-222222222222"
)

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("aaaaaaaa-aaaa-4aaa-8aaa-%012d", i)
	}
	return out
}

// engines migrates a fresh database on both engines and fills both with the
// same generated data: two tenants' events, denials and corrections.
func engines(t *testing.T) (db string, es map[string]engine) {
	t.Helper()
	ctx := context.Background()
	_, db = testenv.ClickHouse(t)
	es = map[string]engine{"server": serverEngine{url: "http://" + testenv.ClickHouseHTTPAddr()}, "chdb": current}
	if _, err := current.run(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatalf("chdb: %v", err)
	}
	t.Cleanup(func() { _, _ = current.run(context.Background(), "DROP DATABASE IF EXISTS "+db) })
	for name, e := range es {
		v, err := e.run(ctx, "SELECT version()")
		testenv.Must(t, err, name+" version")
		t.Logf("%s: ClickHouse %s", name, strings.TrimSpace(v))
		testenv.Must(t, clickhouse.Migrate(ctx, conn{e}, db), name+" migrate")
		testenv.Must(t, clickhouse.Migrate(ctx, conn{e}, db), name+" migrate again")
		for _, g := range generations(db) {
			for lo := 0; lo < g.Events; lo += 10_000 {
				exec(t, e, name, clickhouse.GenerateSlice(g, lo, min(10_000, g.Events-lo)))
			}
			exec(t, e, name, clickhouse.GenerateDenialsSQL(g, 300))
			exec(t, e, name, clickhouse.GenerateCorrectionsSQL(g, g.Start.Add(g.End.Sub(g.Start)/2)))
		}
	}
	return db, es
}

func generations(db string) []clickhouse.Generation {
	return []clickhouse.Generation{
		{Database: db, Tenant: tenantA, Keys: keys(50), Start: start, End: end, Events: 30_000, IDPrefix: "a-", Varied: true},
		{Database: db, Tenant: tenantB, Keys: keys(5), Start: start.Add(-24 * time.Hour), End: end.Add(48 * time.Hour), Events: 5_000, IDPrefix: "b-", Varied: true},
	}
}

func exec(t *testing.T, e engine, name string, q clickhouse.Query) {
	t.Helper()
	sql, err := clickhouse.Bind(q)
	testenv.Must(t, err, "bind")
	if _, err := e.run(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, sql)
	}
}

// Every query builder's SQL, arguments bound, gives the same answer on the
// ClickHouse server and on chDB (ClickHouse 26.x).
func TestQueriesAnswerTheSameOnBothEngines(t *testing.T) {
	db, es := engines(t)
	ctx := context.Background()
	for name, q := range cases(t, db) {
		t.Run(name, func(t *testing.T) {
			sql, err := clickhouse.Bind(q)
			testenv.Must(t, err, "bind")
			answers := map[string]string{}
			for en, e := range es {
				out, err := e.run(ctx, sql)
				if err != nil {
					t.Fatalf("%s: %s\n%s", en, clip(err.Error()), clip(sql))
				}
				answers[en] = out
			}
			if answers["server"] != answers["chdb"] {
				t.Fatalf("answers differ\nSQL: %s\nserver:\n%s\nchdb:\n%s", sql, clip(answers["server"]), clip(answers["chdb"]))
			}
			if strings.TrimSpace(answers["server"]) == "" {
				t.Fatalf("no rows: the case tests nothing\n%s", sql)
			}
		})
	}
}

func clip(s string) string {
	if len(s) > 1500 {
		return s[:1500] + "…"
	}
	return s
}

// cases calls every query builder over the generated data: each source a
// planner can pick (rollups, raw events, unaligned edges), every group-by
// and filter kind, every bucket.
func cases(t *testing.T, db string) map[string]clickhouse.Query {
	t.Helper()
	out := map[string]clickhouse.Query{}
	add := func(name string, q clickhouse.Query, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = q
	}
	spec := func(from, to time.Time, groupBy []string, bucket string, f spend.Filters) spend.Spec {
		return spend.Spec{Tenant: tenantA, From: from, To: to, GroupBy: groupBy, Bucket: bucket, Filters: f}
	}
	days := spec(start.Add(24*time.Hour), end, nil, "", spend.Filters{})
	hours := spec(start.Add(5*time.Hour), end.Add(-7*time.Hour), nil, "", spend.Filters{})
	odd := spec(start.Add(5*time.Hour+17*time.Minute), end.Add(-7*time.Hour-3*time.Second), nil, "", spend.Filters{})
	k := keys(50)
	filters := map[string]spend.Filters{
		"no filter":   {},
		"key":         {KeyIDs: []string{k[3], k[7]}},
		"model":       {Models: []string{"gpt-4o", "acme-internal-llm"}},
		"provider":    {Providers: []string{"anthropic"}},
		"team":        {Dimensions: map[string][]string{"team": {"search", "legal"}}},
		"app is none": {Dimensions: map[string][]string{"app": {""}}},
		"team and key and model": {KeyIDs: k[:20], Models: []string{"gpt-4o-mini", "o4-mini"},
			Dimensions: map[string][]string{"team": {"search", "support", "growth"}}},
		"status and operation and source": {Statuses: []string{"429", "200"}, Operations: []string{"chat.completions"}, Sources: []string{"gateway"}},
		"workspace and project":           {WorkspaceIDs: []string{"w-product"}, ProjectIDs: []string{"p-search-0", "p-growth-1", "p-legal-0"}},
		"a scoped reader":                 {Within: &spend.Within{TeamIDs: []string{"t-legal"}, ProjectIDs: []string{"p-search-1"}}},
		"a reader of nothing":             {Within: &spend.Within{}},
	}
	ranges := map[string]spend.Spec{"days": days, "hours": hours, "unaligned": odd}
	for rn, r := range ranges {
		for fn, f := range filters {
			s := r
			s.Filters = f
			q, err := clickhouse.TotalSpendSQL(db, s)
			add(fmt.Sprintf("total, %s, %s", rn, fn), q, err)
		}
	}
	groupings := [][]string{{"key"}, {"provider", "model"}, {"dim:team"}, {"dim:team", "dim:app"}, {"model", "dim:team"},
		{"status"}, {"operation", "service_tier", "source"}, {"key", "model", "dim:app", "dim:team"},
		{"workspace"}, {"workspace", "team", "project"}, {"key", "project"}}
	for rn, r := range ranges {
		for _, g := range groupings {
			for _, fn := range []string{"no filter", "team", "key", "a scoped reader"} {
				s := r
				s.GroupBy, s.Filters = g, filters[fn]
				for _, limit := range []int{0, 5} {
					q, err := clickhouse.BreakdownSQL(db, s, limit)
					add(fmt.Sprintf("breakdown by %v, %s, %s, top %d", g, rn, fn, limit), q, err)
				}
			}
		}
	}
	for rn, r := range ranges {
		for _, bucket := range []string{"hour", "day", "week", "month"} {
			for _, g := range [][]string{nil, {"model"}, {"dim:team"}, {"key", "dim:app"}, {"team"}} {
				s := r
				s.Bucket, s.GroupBy = bucket, g
				q, err := clickhouse.TimeSeriesSQL(db, s)
				add(fmt.Sprintf("series by %s %v, %s", bucket, g, rn), q, err)
			}
		}
	}
	// The onedim family: one dimension, filtered, with or without the
	// events lacking it, by the model or the key.
	for rn, r := range ranges {
		for name, f := range map[string]spend.Filters{
			"team where model":              {Models: []string{"gpt-4o", "o4-mini"}},
			"key where team":                {Dimensions: map[string][]string{"team": {"search"}}},
			"key where key and app or none": {KeyIDs: k[:3], Dimensions: map[string][]string{"app": {"", "web"}}},
		} {
			g := map[string][]string{"team where model": {"team"}, "key where team": {"key"}, "key where key and app or none": {"key"}}[name]
			for _, bucket := range []string{"hour", "day"} {
				s := r
				s.Bucket, s.GroupBy, s.Filters = bucket, g, f
				q, err := clickhouse.TimeSeriesSQL(db, s)
				add(fmt.Sprintf("onedim series by %s %s, %s", bucket, name, rn), q, err)
			}
		}
	}
	for _, g := range [][]string{nil, {"key", "model"}, {"reason", "source"}} {
		s := days
		s.GroupBy = g
		q, err := clickhouse.DenialsSQL(db, s)
		add(fmt.Sprintf("denials by %v", g), q, err)
	}
	q, err := clickhouse.UnknownModelsSQL(db, spec(start, end.Add(time.Hour), nil, "", spend.Filters{}), 20)
	add("unknown models", q, err)
	q, err = clickhouse.EventsSQL(db, days, nil, 20)
	add("events, first page", q, err)
	q, err = clickhouse.EventsSQL(db, spec(start, end, nil, "", filters["team and key and model"]),
		&spend.EventCursor{Time: end.Add(-48 * time.Hour), EventID: "a-2"}, 20)
	add("events, filtered page after a cursor", q, err)
	out["event"] = clickhouse.EventSQL(db, tenantA, "a-1000", time.Time{}, time.Time{})
	out["event within a window"] = clickhouse.EventSQL(db, tenantA, "a-1000", start, end)
	out["re-priced event"] = clickhouse.EventSQL(db, tenantA, "a-11", time.Time{}, time.Time{})
	q, err = clickhouse.UnpricedSQL(db, spec(start.Add(-24*time.Hour), end.Add(72*time.Hour), nil, "", spend.Filters{}),
		&spend.EventCursor{Time: start, EventID: "a-1"}, 20)
	add("unpriced", q, err)
	out["lookup"] = clickhouse.LookupSQL(db, "usage_events", "event_id", []any{tenantA, tenantB}, start, end,
		[]any{"a-1", "a-2", "a-3", "b-4", "nope"})
	out["lookup corrections"] = clickhouse.LookupSQL(db, clickhouse.CorrectionsTable, "correction_id", []any{tenantA}, start, end,
		[]any{"c-a-11", "c-a-23", "nope"})
	out["tenant totals"] = clickhouse.TenantTotalsSQL(db, tenantB, start, end)
	for _, g := range []string{"", "team", "project", "workspace", "dim:team"} {
		q, err := clickhouse.BillingUsageSQL(db, tenantA, start, end.Add(time.Hour), g)
		add(fmt.Sprintf("billing usage by %q", g), q, err)
	}
	return out
}
