package observability_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/ingest"
	"github.com/spendgate/spendgate/internal/metricstest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/observability"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
	"github.com/spendgate/spendgate/usage"
)

// failOnce is a ClickHouse writer whose first insert fails (ClickHouse
// briefly down).
type failOnce struct {
	w      ingest.EventWriter
	failed atomic.Bool
}

func (f *failOnce) Write(ctx context.Context, evs []spend.PricedEvent) (int, error) {
	if f.failed.CompareAndSwap(false, true) {
		return 0, errors.New("clickhouse: connection refused")
	}
	return f.w.Write(ctx, evs)
}

// Events through the receiver and JetStream into ClickHouse, observed: the
// backlog (pending events, the oldest one's age) while no consumer runs,
// then the receiver's, the consumer's and the DLQ's series once it has
// stored the good events and dead-lettered the poison one, after a failed
// insert.
func TestIngestMetricsThroughJetStreamIntoClickHouse(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	nc, prefix := testenv.NATS(t)
	js, err := jetstream.New(nc)
	testenv.Must(t, err, "jetstream")
	chAddr, chDB := testenv.ClickHouse(t)
	conn, err := chstore.Open(ctx, chAddr, chDB)
	testenv.Must(t, err, "clickhouse")
	defer conn.Close()
	testenv.Must(t, chstore.Migrate(ctx, conn, chDB), "migrate clickhouse")

	cfg := ingest.DefaultConfig()
	cfg.Prefix, cfg.ServiceToken = prefix, "svc"
	ccfg := ingest.DefaultConsumerConfig()
	ccfg.MaxWait, ccfg.RetryDelay = 50*time.Millisecond, 20*time.Millisecond
	testenv.Must(t, ingest.EnsureStreams(ctx, js, cfg), "streams")
	_, err = ingest.EnsureConsumers(ctx, js, cfg, ccfg)
	testenv.Must(t, err, "consumers")

	m, err := observability.New(prometheus.NewRegistry())
	testenv.Must(t, err, "metrics")
	testenv.Must(t, m.RegisterIngestBacklog(js, cfg, ccfg), "backlog")
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	url := srv.URL + "/metrics"

	r := ingest.NewReceiver(cfg, js, quiet)
	r.Observer = m
	const tenant, key = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	evs := make([]event.Event, 3)
	for i := range evs {
		evs[i] = event.Event{SchemaVersion: 1, Type: event.TypeUsage, EventID: uuid.NewString(), Time: time.Now().UTC(), Source: event.SourceGateway,
			TenantID: tenant, KeyID: key, Provider: "openai", Operation: "chat.completions", ModelRequested: "gpt-4o-mini", StatusCode: 200,
			Complete: true, Usage: usage.Tokens{Input: 10, Output: 5}}
	}
	bad := evs[0]
	bad.TenantID = "not-a-tenant"
	res, err := r.Publish(ctx, append(evs, bad))
	testenv.Must(t, err, "publish")
	if res.Accepted != 3 || len(res.Rejected) != 1 {
		t.Fatalf("publish result %+v", res)
	}
	_, err = r.Publish(ctx, evs) // a retried batch: its message is a duplicate
	testenv.Must(t, err, "publish again")
	// Poison published past the receiver (a bug elsewhere): the consumer
	// dead-letters it.
	_, err = js.Publish(ctx, strings.ToLower(prefix)+".events."+tenant, []byte(`{"not":"an event"}`))
	testenv.Must(t, err, "poison")

	time.Sleep(1100 * time.Millisecond) // the oldest event ages past a second
	f := metricstest.Scrape(t, url)
	// Messages: the three events in one (docs/ingest.md, Message format), the poison.
	if v := metricstest.Value(f, "spendgate_ingest_pending_messages", nil); v != 2 {
		t.Fatalf("pending messages before the consumer runs: %v", v)
	}
	if v := metricstest.Value(f, "spendgate_ingest_oldest_unacked_event_age_seconds", nil); !(v >= 1) {
		t.Fatalf("oldest unacknowledged event age: %v", v)
	}
	for result, want := range map[string]float64{"accepted": 3, "duplicate": 3, "rejected": 1} {
		if v := metricstest.Value(f, "spendgate_ingest_events_received_total", map[string]string{"result": result}); v != want {
			t.Errorf("received %s = %v, want %v", result, v, want)
		}
	}

	c := ingest.NewConsumer(cfg, ccfg, js, &failOnce{w: chstore.NewWriter(conn, chDB)}, pricing.Default(), nil, quiet)
	c.SetObserver(m)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	testenv.WaitFor(t, 30*time.Second, "the events stored and the poison dead-lettered", func() bool {
		f = metricstest.Scrape(t, url)
		return metricstest.Value(f, "spendgate_ingest_events_stored_total", nil) == 3 && metricstest.Value(f, "spendgate_ingest_dlq_events", nil) == 1 &&
			metricstest.Value(f, "spendgate_ingest_pending_messages", nil) == 0 && metricstest.Value(f, "spendgate_ingest_unacked_messages", nil) == 0
	})
	for name, want := range map[string]float64{
		"spendgate_ingest_events_dead_lettered_total":         1,
		"spendgate_ingest_clickhouse_insert_failures_total":   1,
		"spendgate_ingest_clickhouse_insert_duration_seconds": 2, // the failed insert and the good one
		"spendgate_ingest_batch_size_events":                  1,
		"spendgate_ingest_oldest_unacked_event_age_seconds":   0,
		"spendgate_ingest_backlog_up":                         1,
	} {
		if v := metricstest.Value(f, name, nil); v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	var stored uint64
	testenv.Must(t, conn.QueryRow(ctx, "SELECT count() FROM "+chDB+".usage_events").Scan(&stored), "count")
	if stored != 3 {
		t.Fatalf("ClickHouse holds %d events", stored)
	}
	cancel()
	testenv.Must(t, <-done, "consumer run")
}
