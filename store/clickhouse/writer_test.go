package clickhouse

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/usage"
)

func benchEvents(n int, tenant string, at time.Time) []PricedEvent {
	out := make([]PricedEvent, n)
	for i := range out {
		id, _ := uuid.NewV7()
		out[i] = PricedEvent{Event: event.Event{SchemaVersion: 1, Type: event.TypeUsage, EventID: id.String(), Time: at,
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
	t.Parallel()
	ctx := context.Background()
	addr, db := testenv.ClickHouse(t)
	conn, err := Open(ctx, addr, db)
	testenv.Must(t, err, "open")
	testenv.Must(t, Migrate(ctx, conn, db), "migrate")
	w := NewWriter(conn, db)
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
	testenv.Must(t, conn.QueryRow(ctx, "SELECT sum(events) FROM "+db+"."+HourlyRollup).Scan(&rolled), "rollup")
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
	testenv.Must(t, migrateTo(ctx, conn, db, 6), "migrate to 6")
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
	testenv.Must(t, conn.Exec(ctx, replaceDB(migrations[6], db)), "apply 7 by hand")
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
// run (the machine's load moves absolute figures).
func BenchmarkWriterWrite(b *testing.B) {
	ctx := context.Background()
	addr, db := testenv.ClickHouse(b)
	conn, err := Open(ctx, addr, db)
	testenv.Must(b, err, "open")
	testenv.Must(b, Migrate(ctx, conn, db), "migrate")
	tenant := uuid.NewString()
	for _, size := range []int{5000, 20000} {
		for _, lanes := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("batch=%d/lanes=%d", size, lanes), func(b *testing.B) {
				w := NewWriter(conn, db)
				w.Lanes = lanes
				b.ReportAllocs()
				for b.Loop() {
					if _, err := w.Write(ctx, benchEvents(size, tenant, time.Now().UTC())); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(size*b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}
