package clickhouse

import (
	"context"
	"testing"
	"time"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/usage"
)

func TestMigrateTwiceAndWriteSkipsStoredIDs(t *testing.T) {
	ctx := context.Background()
	addr, db := testenv.ClickHouse(t)
	conn, err := Open(ctx, addr, db)
	testenv.Must(t, err, "open")
	testenv.Must(t, Migrate(ctx, conn, db), "migrate")
	testenv.Must(t, Migrate(ctx, conn, db), "migrate again")
	var versions uint64
	testenv.Must(t, conn.QueryRow(ctx, "SELECT count() FROM "+db+".schema_versions").Scan(&versions), "versions")
	if versions != uint64(len(migrations)) {
		t.Fatalf("%d versions recorded, want %d", versions, len(migrations))
	}
	w := NewWriter(conn, db)
	now := time.Now().UTC()
	e := spend.PricedEvent{Event: event.Event{SchemaVersion: 1, Type: event.TypeUsage, EventID: "0190f3c4-7a2b-7c3d-8e4f-0000000000aa", Time: now,
		TenantID: "t1", KeyID: "k1", Provider: "openai", ModelRequested: "gpt-4o", Dimensions: map[string]string{"team": "a", "env": "prod"},
		Usage: usage.Tokens{Input: 10}}, Cost: pricing.Cost{Priced: true, ListNanoUSD: 25_000, TenantNanoUSD: 20_000}}
	d := spend.PricedEvent{Event: event.Event{SchemaVersion: 1, Type: event.TypeDenial, EventID: "0190f3c4-7a2b-7c3d-8e4f-0000000000ab", Time: now,
		TenantID: "t1", KeyID: "k1", Provider: "openai", DenialReason: event.DenialModelNotAllowed}}
	n, err := w.Write(ctx, []spend.PricedEvent{e, e, d})
	if err != nil || n != 2 {
		t.Fatalf("first write: %d %v", n, err)
	}
	n, err = w.Write(ctx, []spend.PricedEvent{e, d})
	if err != nil || n != 0 {
		t.Fatalf("second write stored %d (%v)", n, err)
	}
	tot, err := w.TenantTotals(ctx, "t1", now.Add(-time.Minute), now.Add(time.Minute))
	testenv.Must(t, err, "totals")
	if tot.Events != 1 || tot.ListNanoUSD != 25_000 || tot.TenantNanoUSD != 20_000 {
		t.Fatalf("totals %+v", tot)
	}
	var names, values []string
	testenv.Must(t, conn.QueryRow(ctx, "SELECT dim_names, dim_values FROM "+db+".usage_events").Scan(&names, &values), "dims")
	if len(names) != 2 || names[0] != "env" || values[0] != "prod" {
		t.Fatalf("dimensions %v %v", names, values)
	}
}

func TestOpenRejectsBadDatabaseName(t *testing.T) {
	if _, err := Open(context.Background(), testenv.ClickHouseAddr(), "x; DROP TABLE y"); err == nil {
		t.Fatal("bad name accepted")
	}
}

func TestUTCZones(t *testing.T) {
	for tz, want := range map[string]bool{"UTC": true, "Etc/UTC": true, "GMT": true, "Europe/Berlin": false, "Asia/Kolkata": false, "": false} {
		if utcZone(tz) != want {
			t.Errorf("utcZone(%q) = %v", tz, !want)
		}
	}
}
