package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/usage"
)

func benchEvents(n int, tenant string, at time.Time) []spend.PricedEvent {
	out := make([]spend.PricedEvent, n)
	for i := range out {
		id, _ := uuid.NewV7()
		out[i] = spend.PricedEvent{Event: event.Event{SchemaVersion: 1, Type: event.TypeUsage, EventID: id.String(), Time: at,
			TenantID: tenant, KeyID: "22222222-2222-4222-8222-222222222222", Provider: "openai", Operation: "chat.completions",
			ModelRequested: "gpt-4o-mini", StatusCode: 200, Complete: true, Usage: usage.Tokens{Input: 1200, Output: 300},
			Dimensions: map[string]string{"team": "search"}},
			Cost: pricing.Cost{Priced: true, ListNanoUSD: 360_000, TenantNanoUSD: 360_000, Model: "gpt-4o-mini"}}
	}
	return out
}

// Lanes and the chunked id lookup (more ids than one query holds) still
// store every id exactly once, across calls and within one.
func TestWriterStoresEachIDOnceAcrossLanesAndChunks(t *testing.T) {
	forEachInsert(t, testWriterStoresEachIDOnceAcrossLanesAndChunks)
}

func testWriterStoresEachIDOnceAcrossLanesAndChunks(t *testing.T, insert string) {
	ctx := context.Background()
	conn, db, w := migratedWriter(t, insert)
	w.Lanes = 4
	tenant := uuid.NewString()
	now := time.Now().UTC()
	first := benchEvents(3*lookupChunk+500, tenant, now)
	first = append(first, first[:700]...) // repeated inside the batch
	n, err := w.Write(ctx, first)
	if err != nil || n != 3*lookupChunk+500 {
		t.Fatalf("first write: %d %v", n, err)
	}
	// A redelivery of everything plus new events, some an hour earlier (a
	// wider lookup range).
	second := append(benchEvents(1200, tenant, now.Add(-time.Hour)), first...)
	n, err = w.Write(ctx, second)
	if err != nil || n != 1200 {
		t.Fatalf("second write stored %d (%v), want 1200", n, err)
	}
	var rows, rolled uint64
	testenv.Must(t, conn.QueryRow(ctx, "SELECT count() FROM "+db+".usage_events").Scan(&rows), "rows")
	testenv.Must(t, conn.QueryRow(ctx, "SELECT sum(events) FROM "+db+".usage_core_hourly").Scan(&rolled), "rollup")
	if want := uint64(3*lookupChunk + 500 + 1200); rows != want || rolled != want {
		t.Fatalf("%d rows, %d in the rollup; want %d", rows, rolled, want)
	}
}

// unknown_model flags events the catalogue could not match, old rows
// included; the migration adding it survives a crash before it was recorded.
func TestUnknownModelColumnAndRerunnableMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr, db := testenv.ClickHouse(t)
	conn, err := Open(ctx, addr, db)
	testenv.Must(t, err, "open")
	testenv.Must(t, migrateTo(ctx, conn, Schema{Database: db}, 6), "migrate to 6")
	// The writer writes the catalogue cost columns, added later: they are
	// added by hand here (later migrations then find them done).
	for _, m := range migrations {
		if strings.Contains(m.sql, "catalogue_cost_nano_usd") || strings.Contains(m.sql, "has_catalogue_cost") {
			testenv.Must(t, conn.Exec(ctx, replaceDB(m.sql, db)), "add a catalogue cost column by hand")
		}
	}
	w := NewWriter(conn, db)
	tenant := uuid.NewString()
	evs := benchEvents(3, tenant, time.Now().UTC())
	evs[1].Event.ModelRequested = "gpt-99-secret"
	evs[1].Cost = pricing.Cost{} // unpriced
	evs[2].Event.ModelRequested = "tenant-only-model"
	evs[2].Cost = pricing.Cost{Priced: true, MatchedBy: "override", TenantNanoUSD: 5}
	_, err = w.Write(ctx, evs)
	testenv.Must(t, err, "write")
	// Migration 7 ran but was never recorded (the process died in between).
	testenv.Must(t, conn.Exec(ctx, replaceDB(migrations[6].sql, db)), "apply 7 by hand")
	testenv.Must(t, Migrate(ctx, conn, db), "migrate after an unrecorded step")
	testenv.Must(t, Migrate(ctx, conn, db), "migrate again")
	rows, err := conn.Query(ctx, "SELECT model_requested, unknown_model, priced FROM "+db+".usage_events ORDER BY model_requested")
	testenv.Must(t, err, "select")
	defer rows.Close()
	got := map[string][2]uint8{}
	for rows.Next() {
		var m string
		var unknown, priced uint8
		testenv.Must(t, rows.Scan(&m, &unknown, &priced), "scan")
		got[m] = [2]uint8{unknown, priced}
	}
	want := map[string][2]uint8{"gpt-4o-mini": {0, 1}, "gpt-99-secret": {1, 0}, "tenant-only-model": {1, 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("unknown_model, priced = %v, want %v", got, want)
	}
}

// BenchmarkWriterWrite measures stored events per second with the id
// lookup (dedup) on, by batch size and lanes; compare the lanes within one
// run (the machine's load moves absolute figures). cpu-µs/event is this
// process's CPU (the ClickHouse client: lookups, columns, encoding, and the
// garbage collector) over the Write calls alone, which the machine's load
// moves little.
func BenchmarkWriterWrite(b *testing.B) {
	ctx := context.Background()
	addr, db := testenv.ClickHouse(b)
	conn, err := Open(ctx, addr, db)
	testenv.Must(b, err, "open")
	testenv.Must(b, Migrate(ctx, conn, db), "migrate")
	tenant := uuid.NewString()
	for _, size := range []int{5000, 20000} {
		for _, lanes := range []int{1, 2, 4} {
			for _, transport := range inserts {
				b.Run(fmt.Sprintf("batch=%d/lanes=%d/insert=%s", size, lanes, transport), func(b *testing.B) {
					w := writerOver(b, transport, conn, addr, db)
					w.Lanes = lanes
					b.ReportAllocs()
					var cpu time.Duration
					for b.Loop() {
						b.StopTimer()
						evs := benchEvents(size, tenant, time.Now().UTC())
						b.StartTimer()
						before := processCPU(b)
						if _, err := w.Write(ctx, evs); err != nil {
							b.Fatal(err)
						}
						cpu += processCPU(b) - before
					}
					b.ReportMetric(float64(size*b.N)/b.Elapsed().Seconds(), "events/s")
					b.ReportMetric(float64(cpu.Microseconds())/float64(size*b.N), "cpu-µs/event")
				})
			}
		}
	}
}

// writerOver returns a writer for db inserting over transport: "native"
// (the native connection), "http" or "http-lz4" (an HTTPInserter).
func writerOver(tb testing.TB, transport string, conn driver.Conn, nativeAddr, db string) *Writer {
	tb.Helper()
	w := NewWriter(conn, db)
	if transport == "native" {
		return w
	}
	addrs, err := HTTPAddrs(SplitAddrs(nativeAddr), "")
	testenv.Must(tb, err, "HTTP address")
	c := HTTPUncompressed
	if transport == "http-lz4" {
		c = HTTPLZ4
	}
	h, err := NewHTTPInserter(addrs, c)
	testenv.Must(tb, err, "HTTP inserter")
	tb.Cleanup(h.Close)
	w.InsertOverHTTP(h)
	return w
}

// processCPU is the user and system CPU this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Every field of a usage and a denial event lands in its column: the
// columns are written one typed slice each, so a slip in one column would
// shift nothing else but that column.
func TestWriterStoresEveryColumn(t *testing.T) { forEachInsert(t, testWriterStoresEveryColumn) }

func testWriterStoresEveryColumn(t *testing.T, insert string) {
	ctx := context.Background()
	conn, db, w := migratedWriter(t, insert)
	at := time.Date(2026, 11, 25, 9, 30, 15, 0, time.UTC)
	use := spend.PricedEvent{Event: event.Event{SchemaVersion: 1, Type: event.TypeUsage, EventID: uuid.NewString(), Time: at,
		Source: event.SourceEnvoy, TenantID: uuid.NewString(), KeyID: "key-1", Provider: "anthropic", Operation: "messages",
		ModelRequested: "claude-x", ModelServed: "claude-x-2026", Streaming: true, ServiceTier: "priority", StatusCode: 201,
		LatencyMs: 1234, TTFBMs: -5, RequestID: "req-1", Complete: true,
		Usage: usage.Tokens{Input: 1, CachedInput: 2, CacheWrite5m: 3, CacheWrite1h: 4, Output: 5, Reasoning: 6, AudioInput: 7,
			AudioOutput: 8, ImageInput: 9, ImageOutput: 10, WebSearches: 11, Characters: 12, Seconds: 13, Images: 14},
		Dimensions: map[string]string{"team": "search", "app": "bot", "env": "prod"}, RawUsage: `{"input_tokens":1}`, ReservationID: "res-1"},
		Cost: pricing.Cost{Priced: true, Model: "claude-x", Tier: "priority", ListNanoUSD: 101, TenantNanoUSD: 91, ProviderReportedNanoUSD: 99,
			HasProviderReported: true, OverrideID: "ov-1,ov-2", Lines: []pricing.Line{{Class: "input", Quantity: 1, RateNanoUSD: 3, AmountNanoUSD: 4, TenantRateNanoUSD: 5}}}}
	deny := spend.PricedEvent{Event: event.Event{SchemaVersion: 1, Type: event.TypeDenial, EventID: uuid.NewString(), Time: at.Add(time.Second),
		Source: event.SourceGateway, TenantID: use.Event.TenantID, KeyID: "key-2", Provider: "openai", Operation: "chat.completions",
		ModelRequested: "gpt-x", DenialReason: "budget_exceeded", DenialMessage: "over the cap", Dimensions: map[string]string{"team": "ads"}}}
	if n, err := w.Write(ctx, []spend.PricedEvent{use, deny}); err != nil || n != 2 {
		t.Fatalf("write: %d %v", n, err)
	}
	var got struct {
		id, tenant, key, source, provider, operation, requested, served, catalogue, tier, requestID, override, pricingTier, lines, raw, reservation string
		at                                                                                                                                          time.Time
		streaming, complete, priced, hasReported                                                                                                    uint8
		status                                                                                                                                      uint16
		latency, ttfb                                                                                                                               uint32
		tokens                                                                                                                                      [14]int64
		list, tenantCost, reported                                                                                                                  int64
		dimNames, dimValues                                                                                                                         []string
	}
	tk := &got.tokens
	testenv.Must(t, conn.QueryRow(ctx, `SELECT event_id, time, tenant_id, key_id, source, provider, operation, model_requested, model_served,
		catalogue_model, streaming, service_tier, complete, status_code, latency_ms, ttfb_ms, request_id, input, cached_input, cache_write_5m,
		cache_write_1h, output, reasoning, audio_input, audio_output, image_input, image_output, web_searches, characters, seconds, images,
		priced, list_cost_nano_usd, tenant_cost_nano_usd, provider_reported_nano_usd, has_provider_reported, override_id, pricing_tier,
		cost_lines, dim_names, dim_values, raw_usage, reservation_id FROM `+db+`.usage_events`).Scan(
		&got.id, &got.at, &got.tenant, &got.key, &got.source, &got.provider, &got.operation, &got.requested, &got.served, &got.catalogue,
		&got.streaming, &got.tier, &got.complete, &got.status, &got.latency, &got.ttfb, &got.requestID,
		&tk[0], &tk[1], &tk[2], &tk[3], &tk[4], &tk[5], &tk[6], &tk[7], &tk[8], &tk[9], &tk[10], &tk[11], &tk[12], &tk[13],
		&got.priced, &got.list, &got.tenantCost, &got.reported, &got.hasReported, &got.override, &got.pricingTier, &got.lines,
		&got.dimNames, &got.dimValues, &got.raw, &got.reservation), "read usage")
	e, c := use.Event, use.Cost
	for _, p := range [][2]any{
		{got.id, e.EventID}, {got.at, at}, {got.tenant, e.TenantID}, {got.key, e.KeyID}, {got.source, e.Source}, {got.provider, e.Provider},
		{got.operation, e.Operation}, {got.requested, e.ModelRequested}, {got.served, e.ModelServed}, {got.catalogue, c.Model},
		{got.streaming, uint8(1)}, {got.tier, e.ServiceTier}, {got.complete, uint8(1)}, {got.status, uint16(201)}, {got.latency, uint32(1234)},
		{got.ttfb, uint32(0)}, {got.requestID, e.RequestID}, {got.priced, uint8(1)}, {got.list, c.ListNanoUSD}, {got.tenantCost, c.TenantNanoUSD},
		{got.reported, c.ProviderReportedNanoUSD}, {got.hasReported, uint8(1)}, {got.override, c.OverrideID}, {got.pricingTier, c.Tier},
		{got.lines, `[{"class":"input","quantity":1,"rate_nano_usd_per_million":3,"amount_nano_usd":4,"tenant_rate_nano_usd_per_million":5}]`},
		{fmt.Sprint(got.dimNames, got.dimValues), "[app env team] [bot prod search]"}, {got.raw, e.RawUsage}, {got.reservation, e.ReservationID},
		{got.tokens, [14]int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}},
	} {
		if fmt.Sprint(p[0]) != fmt.Sprint(p[1]) {
			t.Errorf("usage column: got %v, want %v", p[0], p[1])
		}
	}
	var d struct{ id, key, source, provider, operation, model, reason, message, dims string }
	var dAt time.Time
	var names, values []string
	testenv.Must(t, conn.QueryRow(ctx, `SELECT event_id, time, key_id, source, provider, operation, model_requested, denial_reason,
		denial_message, dim_names, dim_values FROM `+db+`.denial_events`).Scan(&d.id, &dAt, &d.key, &d.source, &d.provider, &d.operation,
		&d.model, &d.reason, &d.message, &names, &values), "read denial")
	de := deny.Event
	if d.id != de.EventID || !dAt.Equal(de.Time) || d.key != de.KeyID || d.source != de.Source || d.provider != de.Provider ||
		d.operation != de.Operation || d.model != de.ModelRequested || d.reason != de.DenialReason || d.message != de.DenialMessage ||
		fmt.Sprint(names, values) != "[team] [ads]" {
		t.Errorf("denial row: %+v %v %v %v", d, dAt, names, values)
	}
}

// An INSERT that the server fails after taking its data (here a view that
// throws on one row) returns the server's error. ClickHouse has written the
// table before the view failed, so the retry finds every id stored and
// stores none twice; the writer's reused buffers then carry the next batch
// whole.
func TestWriterReturnsTheServersErrorAtTheEnd(t *testing.T) {
	forEachInsert(t, testWriterReturnsTheServersErrorAtTheEnd)
}

func testWriterReturnsTheServersErrorAtTheEnd(t *testing.T, insert string) {
	ctx := context.Background()
	conn, db, w := migratedWriter(t, insert)
	testenv.Must(t, conn.Exec(ctx, "CREATE MATERIALIZED VIEW "+db+".boom ENGINE = Memory AS SELECT throwIf(input = 666) AS x FROM "+db+".usage_events"), "view")
	tenant := uuid.NewString()
	bad := benchEvents(50, tenant, time.Now().UTC())
	bad[49].Event.Usage.Input = 666
	if n, err := w.Write(ctx, bad); err == nil || !strings.Contains(err.Error(), "throwIf") {
		t.Fatalf("write of a batch the server refuses: %d, %v; want the server's throwIf error", n, err)
	}
	testenv.Must(t, conn.Exec(ctx, "DROP TABLE "+db+".boom"), "drop the view")
	if n, err := w.Write(ctx, bad); err != nil || n != 0 {
		t.Fatalf("retry: %d, %v; want 0 new (the table took the rows)", n, err)
	}
	good := benchEvents(20, tenant, time.Now().UTC())
	if n, err := w.Write(ctx, good); err != nil || n != 20 {
		t.Fatalf("next write: %d, %v", n, err)
	}
	var rows, ids uint64
	testenv.Must(t, conn.QueryRow(ctx, "SELECT count(), uniqExact(event_id) FROM "+db+".usage_events").Scan(&rows, &ids), "rows")
	if rows != 70 || ids != 70 {
		t.Fatalf("%d rows of %d ids stored, want 70 of 70", rows, ids)
	}
}

// migratedDB is a scratch ClickHouse database with every migration applied.
func migratedDB(t *testing.T) (driver.Conn, string) {
	t.Helper()
	addr, db := testenv.ClickHouse(t)
	conn, err := Open(context.Background(), addr, db)
	testenv.Must(t, err, "open")
	testenv.Must(t, Migrate(context.Background(), conn, db), "migrate")
	return conn, db
}

// inserts are the writer's insert paths: clickhouse-go's native connection
// (NewWriter alone) and Native blocks over HTTP (InsertOverHTTP).
var inserts = []string{"native", "http", "http-lz4"}

// forEachInsert runs test once per insert path (only those named, if
// any), in parallel.
func forEachInsert(t *testing.T, test func(t *testing.T, insert string), only ...string) {
	t.Parallel()
	if only == nil {
		only = inserts
	}
	for _, insert := range only {
		t.Run(insert, func(t *testing.T) {
			t.Parallel()
			test(t, insert)
		})
	}
}

// migratedWriter is migratedDB with a writer inserting over insert.
func migratedWriter(t *testing.T, insert string) (driver.Conn, string, *Writer) {
	t.Helper()
	addr, db := testenv.ClickHouse(t)
	conn, err := Open(context.Background(), addr, db)
	testenv.Must(t, err, "open")
	testenv.Must(t, Migrate(context.Background(), conn, db), "migrate")
	return conn, db, writerOver(t, insert, conn, addr, db)
}

// The column slices are reused column after column, lane by lane and batch
// after batch: every row of a large batch written in two lanes, then of a
// small one, keeps its own values (a slice still held by the driver, or
// filled for the wrong column, would show as another row's or column's
// values).
func TestWriterColumnBuffersReusedAcrossBatches(t *testing.T) {
	forEachInsert(t, testWriterColumnBuffersReusedAcrossBatches)
}

func testWriterColumnBuffersReusedAcrossBatches(t *testing.T, insert string) {
	ctx := context.Background()
	conn, db, w := migratedWriter(t, insert)
	w.Lanes = 2
	tenant := uuid.NewString()
	now := time.Now().UTC().Truncate(time.Second)
	distinct := func(evs []spend.PricedEvent, tag string) []spend.PricedEvent {
		for i := range evs {
			e := &evs[i]
			e.Event.ModelRequested = fmt.Sprintf("%s-model-%d", tag, i)
			e.Event.RawUsage = fmt.Sprintf(`{"n":%d,"tag":%q}`, i, tag)
			e.Event.Usage.Input = int64(i)
			e.Event.LatencyMs = int64(i % 1000)
			e.Event.Dimensions = map[string]string{"row": fmt.Sprint(i), tag: "x"}
			e.Cost.ListNanoUSD = int64(7 * i)
		}
		return evs
	}
	batches := [][]spend.PricedEvent{
		distinct(benchEvents(2*MinLaneEvents+300, tenant, now), "big"),
		distinct(benchEvents(3, tenant, now.Add(time.Second)), "small"),
	}
	want := map[string]string{}
	for _, b := range batches {
		if n, err := w.Write(ctx, b); err != nil || n != len(b) {
			t.Fatalf("write: %d of %d, %v", n, len(b), err)
		}
		for _, e := range b {
			want[e.Event.EventID] = fmt.Sprint(e.Event.ModelRequested, e.Event.RawUsage, e.Event.Usage.Input, e.Event.LatencyMs,
				e.Cost.ListNanoUSD, fmt.Sprint(dims(e.Event.Dimensions)))
		}
	}
	rows, err := conn.Query(ctx, `SELECT event_id, model_requested, raw_usage, input, latency_ms, list_cost_nano_usd, dim_names, dim_values
		FROM `+db+`.usage_events`)
	testenv.Must(t, err, "read back")
	defer rows.Close()
	got := 0
	for rows.Next() {
		var id, model, raw string
		var input, list int64
		var latency uint32
		var names, values []string
		testenv.Must(t, rows.Scan(&id, &model, &raw, &input, &latency, &list, &names, &values), "scan")
		if have := fmt.Sprint(model, raw, input, latency, list, fmt.Sprint(names, values)); have != want[id] {
			t.Fatalf("event %s stored as %q, want %q", id, have, want[id])
		}
		got++
	}
	if got != len(want) {
		t.Fatalf("%d rows stored, want %d", got, len(want))
	}
}

// rowDims stores what dims and withAttribution did: sorted dimensions, then
// the attribution pairs, for events with and without either.
func TestRowDimsIsDimsWithAttribution(t *testing.T) {
	cases := map[string]event.Event{
		"no dimensions, no attribution": {},
		"dimensions only":               {Dimensions: map[string]string{"team": "a", "app": "b", "env": "c"}},
		"attribution only":              {WorkspaceID: "w", ProjectID: "p"},
		"both":                          {Dimensions: map[string]string{"z": "1", "a": "2"}, WorkspaceID: "w", TeamID: "t", ProjectID: "p"},
	}
	var arena []string
	for name, e := range cases {
		arena = make([]string, 0, dimsRoom(&e))
		names, values := rowDims(&arena, &e)
		wantNames, wantValues := dims(e.Dimensions)
		wantNames, wantValues = withAttribution(wantNames, wantValues, e.WorkspaceID, e.TeamID, e.ProjectID)
		if fmt.Sprint(names, values) != fmt.Sprint(wantNames, wantValues) || len(names) != len(values) {
			t.Errorf("%s: %v %v, want %v %v", name, names, values, wantNames, wantValues)
		}
		if len(arena) != dimsRoom(&e) {
			t.Errorf("%s: took %d of the arena, dimsRoom said %d", name, len(arena), dimsRoom(&e))
		}
		if n := len(names); n > 0 && (&names[0] != &arena[0] || &values[0] != &arena[n]) {
			t.Errorf("%s: the arrays were copied out of the arena", name)
		}
	}
}

// dims is an event's dimensions as sorted name and value arrays, written
// plainly: the reference rowDims is checked against.
func dims(m map[string]string) (names, values []string) {
	names = make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	values = make([]string, len(names))
	for i, k := range names {
		values[i] = m[k]
	}
	return names, values
}
