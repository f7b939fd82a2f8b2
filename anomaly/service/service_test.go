package service_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/anomaly"
	"github.com/spendgate/spendgate/anomaly/pgstore"
	"github.com/spendgate/spendgate/anomaly/service"
	"github.com/spendgate/spendgate/budget/alerts"
	budgetpg "github.com/spendgate/spendgate/budget/pgstore"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/pgtest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/schedule"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/store/clickhouse"
	"github.com/spendgate/spendgate/usage"
)

func newTenant(t *testing.T, db *pgxpool.Pool) string {
	t.Helper()
	var id string
	slug := "t-" + uuid.NewString()[:8]
	testenv.Must(t, db.QueryRow(context.Background(), "INSERT INTO tenants (name, slug) VALUES ($1, $1) RETURNING id::text", slug).Scan(&id), "tenant")
	return id
}

// traffic writes five weeks of steady hourly usage of one key (6 calls of
// $0.50 an hour) and, in the hour before now, a runaway: 60 calls.
func traffic(t *testing.T, w *clickhouse.Writer, tenant, key string, now time.Time, spike bool) {
	t.Helper()
	last := now.Truncate(time.Hour).Add(-time.Hour)
	var batch []spend.PricedEvent
	for h := last.Add(-5 * 7 * 24 * time.Hour); !h.After(last); h = h.Add(time.Hour) {
		n := 6
		if spike && h.Equal(last) {
			n = 60
		}
		for i := range n {
			batch = append(batch, spend.PricedEvent{Event: event.Event{SchemaVersion: 1, Type: event.TypeUsage, EventID: uuid.NewString(),
				Time: h.Add(time.Duration(i) * time.Minute), TenantID: tenant, KeyID: key, Provider: "openai", ModelRequested: "gpt-4o",
				WorkspaceID: "ws-1", TeamID: "team-1", ProjectID: "project-1",
				StatusCode: 200, Complete: true, Usage: usage.Tokens{Input: 100}},
				Cost: pricing.Cost{Priced: true, ListNanoUSD: 500_000_000, TenantNanoUSD: 500_000_000}})
		}
		if len(batch) > 5000 {
			_, err := w.Write(context.Background(), batch)
			testenv.Must(t, err, "write events")
			batch = batch[:0]
		}
	}
	_, err := w.Write(context.Background(), batch)
	testenv.Must(t, err, "write events")
}

func TestRunDetectsOnceAlertsAndIsolates(t *testing.T) {
	ctx := context.Background()
	db := pgtest.Migrated(t)
	addr, chdb := testenv.ClickHouse(t)
	conn, err := clickhouse.Open(ctx, addr, chdb)
	testenv.Must(t, err, "clickhouse")
	testenv.Must(t, clickhouse.Migrate(ctx, conn, chdb), "clickhouse migrate")
	w := clickhouse.NewWriter(conn, chdb)

	now := time.Date(2026, 12, 3, 15, 20, 0, 0, time.UTC) // a Thursday afternoon
	spiky, quiet := newTenant(t, db), newTenant(t, db)
	traffic(t, w, spiky, "key-a", now, true)
	traffic(t, w, quiet, "key-b", now, false)

	// A tenant budget with a webhook gets the alert; NATS carries it live.
	var mu sync.Mutex
	var posted []map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		mu.Lock()
		posted = append(posted, m)
		mu.Unlock()
	}))
	defer hook.Close()
	_, err = db.Exec(ctx, `INSERT INTO budgets (tenant_id, name, scope, period, amount_nano_usd, thresholds, webhook_url)
		VALUES ($1, 'all', 'tenant', 'month', 1000000000000, '{50}', $2)`, spiky, hook.URL)
	testenv.Must(t, err, "budget")

	st := pgstore.New(db)
	svc, err := service.New(anomaly.DefaultConfig(), clickhouse.Analytics{Conn: conn, Database: chdb}, st, nil)
	testenv.Must(t, err, "service")
	svc.Now = func() time.Time { return now }

	// The first run comes from the scheduler, as in serve and ingest.
	job := svc.Job()
	ran, err := schedule.New(db, nil).RunDue(ctx, &job)
	if err != nil || !ran {
		t.Fatalf("the scheduled job did not run: %v %v", ran, err)
	}
	opened, err := st.List(ctx, pgstore.ListQuery{TenantID: spiky, From: now.Add(-24 * time.Hour), To: now, Limit: 10})
	testenv.Must(t, err, "list after the scheduled run")
	if none, err := st.List(ctx, pgstore.ListQuery{TenantID: quiet, From: now.Add(-24 * time.Hour), To: now, Limit: 10}); err != nil || len(none) != 0 {
		t.Fatalf("the quiet tenant has %d episodes (%v)", len(none), err)
	}
	got := map[anomaly.SeriesKey]anomaly.Episode{}
	for _, e := range opened {
		if e.TenantID != spiky {
			t.Fatalf("an episode for the quiet tenant: %+v", e)
		}
		got[e.Series] = e
	}
	// The tenant, its key, its team and project and its model each ran
	// away: five episodes.
	for _, k := range []anomaly.SeriesKey{{Dimension: anomaly.DimTenant}, {Dimension: anomaly.DimKey, Value: "key-a"}, {Dimension: anomaly.DimModel, Value: "gpt-4o"},
		{Dimension: anomaly.DimTeam, Value: "team-1"}, {Dimension: anomaly.DimProject, Value: "project-1"}} {
		e, ok := got[k]
		if !ok {
			t.Fatalf("no episode for %+v in %+v", k, opened)
		}
		if e.PeakNanoUSD != 30_000_000_000 || e.PeakExpectedNanoUSD != 3_000_000_000 || e.Severity != anomaly.SeverityCritical {
			t.Errorf("%+v: %+v", k, e)
		}
	}
	if len(opened) != 5 {
		t.Fatalf("%d episodes, want 5: %+v", len(opened), opened)
	}

	// The same hour again, and the next hour still high: no new episode.
	again, err := svc.RunOnce(ctx)
	testenv.Must(t, err, "run again")
	if len(again) != 0 {
		t.Fatalf("the same hour opened %d more episodes", len(again))
	}

	// Listing is per tenant.
	list, err := svc.List(ctx, spiky, now.Add(-24*time.Hour), now, "", 0)
	testenv.Must(t, err, "list")
	if len(list) != 5 {
		t.Fatalf("listed %d episodes of the spiky tenant", len(list))
	}
	other, err := svc.List(ctx, quiet, now.Add(-24*time.Hour), now, "", 0)
	testenv.Must(t, err, "list quiet")
	if len(other) != 0 {
		t.Fatalf("the quiet tenant sees %d episodes", len(other))
	}
	if _, err := svc.List(ctx, spiky, now, now, "", 0); err == nil {
		t.Fatal("an empty window was accepted")
	}
	if _, err := svc.List(ctx, spiky, now.Add(-time.Hour), now, "region", 0); err == nil {
		t.Fatal("an unknown dimension was accepted")
	}

	// One alert per episode goes out: NATS and the tenant budget's webhook.
	nc, prefix := testenv.NATS(t)
	feed := alerts.NewFeed(nc, prefix, nil)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	live, err := feed.SubscribeAnomalies(sctx, spiky)
	testenv.Must(t, err, "subscribe")
	d := alerts.NewDispatcher(alerts.DefaultConfig(prefix), budgetpg.New(db), nc, hook.Client(), nil)
	d.SetAnomalies(st)
	n, err := d.Once(ctx)
	testenv.Must(t, err, "deliver")
	if n != 10 {
		t.Fatalf("%d deliveries, want 5 on NATS and 5 to the webhook", n)
	}
	seen := map[anomaly.Dimension]bool{}
	for range 5 {
		select {
		case a := <-live:
			if a.TenantID != spiky || a.Type != anomaly.AlertType {
				t.Fatalf("live alert %+v", a)
			}
			seen[a.Dimension] = true
		case <-time.After(5 * time.Second):
			t.Fatal("no live anomaly alert")
		}
	}
	if len(seen) != 5 {
		t.Fatalf("live alerts for %v", seen)
	}
	mu.Lock()
	if len(posted) != 5 || posted[0]["anomaly"] == nil || posted[0]["text"] == "" {
		t.Fatalf("webhook got %v", posted)
	}
	mu.Unlock()
	if n, err := d.Once(ctx); err != nil || n != 0 {
		t.Fatalf("a second pass delivered %d (%v)", n, err)
	}

	// Quiet hours end the episodes (after CloseAfter of them).
	later := now.Add(4 * time.Hour)
	svc.Now = func() time.Time { return later }
	for h := now.Truncate(time.Hour); h.Before(later.Truncate(time.Hour)); h = h.Add(time.Hour) {
		var batch []spend.PricedEvent
		for i := range 6 {
			batch = append(batch, spend.PricedEvent{Event: event.Event{SchemaVersion: 1, Type: event.TypeUsage, EventID: uuid.NewString(),
				Time: h.Add(time.Duration(i) * time.Minute), TenantID: spiky, KeyID: "key-a", Provider: "openai", ModelRequested: "gpt-4o", StatusCode: 200, Complete: true,
				WorkspaceID: "ws-1", TeamID: "team-1", ProjectID: "project-1"},
				Cost: pricing.Cost{Priced: true, ListNanoUSD: 500_000_000, TenantNanoUSD: 500_000_000}})
		}
		_, err := w.Write(ctx, batch)
		testenv.Must(t, err, "write")
	}
	_, err = svc.RunOnce(ctx)
	testenv.Must(t, err, "run later")
	list, err = svc.List(ctx, spiky, now.Add(-24*time.Hour), later, "", 0)
	testenv.Must(t, err, "list later")
	for _, e := range list {
		if e.Open() {
			t.Errorf("episode %+v still open after quiet hours", e.Series)
		}
		if want := now.Truncate(time.Hour); !e.EndedAt.Equal(want) {
			t.Errorf("episode %+v ended %s, want %s", e.Series, e.EndedAt, want)
		}
	}
}
