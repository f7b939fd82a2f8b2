package ingest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/store/clickhouse"
	"github.com/spendgate/spendgate/store/postgres"
	"github.com/spendgate/spendgate/usage"
)

type pipeline struct {
	js       jetstream.JetStream
	cfg      Config
	recv     *Receiver
	writer   *clickhouse.Writer
	consumer *Consumer
	cancel   context.CancelFunc
	done     chan struct{}
}

const tenant = "11111111-1111-4111-8111-111111111111"

func newPipeline(t *testing.T, migrate bool, mutate func(*ConsumerConfig)) (*pipeline, func()) {
	t.Helper()
	ctx := context.Background()
	nc, prefix := testenv.NATS(t)
	js, err := jetstream.New(nc)
	testenv.Must(t, err, "jetstream")
	cfg := DefaultConfig()
	cfg.Prefix = prefix
	cfg.ServiceToken = "svc"
	testenv.Must(t, EnsureStreams(ctx, js, cfg), "streams")
	addr, db := testenv.ClickHouse(t)
	conn, err := clickhouse.Open(ctx, addr, db)
	testenv.Must(t, err, "clickhouse")
	if migrate {
		testenv.Must(t, clickhouse.Migrate(ctx, conn, db), "migrate")
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ccfg := DefaultConsumerConfig()
	ccfg.Durable = "writer"
	ccfg.MaxWait = 100 * time.Millisecond
	ccfg.RetryDelay = 100 * time.Millisecond
	if mutate != nil {
		mutate(&ccfg)
	}
	w := clickhouse.NewWriter(conn, db)
	p := &pipeline{js: js, cfg: cfg, recv: NewReceiver(cfg, js, log), writer: w,
		consumer: NewConsumer(cfg, ccfg, js, w, pricing.Default(), nil, log)}
	start := func() {
		cctx, cancel := context.WithCancel(ctx)
		p.cancel, p.done = cancel, make(chan struct{})
		go func() {
			defer close(p.done)
			if err := p.consumer.Run(cctx); err != nil {
				t.Errorf("consumer: %v", err)
			}
		}()
		t.Cleanup(p.stop)
	}
	return p, start
}

func (p *pipeline) stop() {
	if p.cancel != nil {
		p.cancel()
		<-p.done
		p.cancel = nil
	}
}

// gpt-4o-mini: $0.15/M input, $0.60/M output → 100 in + 50 out = 15,000 + 30,000 nano.
const perEventNano = 45_000

func usageEvents(n int, offset int) []event.Event {
	out := make([]event.Event, n)
	for i := range out {
		e := ev(idN(offset + i))
		e.ModelRequested = "gpt-4o-mini"
		e.Usage = usage.Tokens{Input: 100, Output: 50}
		e.Dimensions = map[string]string{"team": "search"}
		out[i] = e
	}
	return out
}

func idN(i int) string {
	const hex = "0123456789abcdef"
	b := []byte("0190f3c4-7a2b-7c3d-8e4f-000000000000")
	for j := len(b) - 1; i > 0; j-- {
		b[j] = hex[i%16]
		i /= 16
	}
	return string(b)
}

func (p *pipeline) totals(t *testing.T) clickhouse.Totals {
	t.Helper()
	tot, err := p.writer.TenantTotals(context.Background(), tenant, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	testenv.Must(t, err, "totals")
	return tot
}

func (p *pipeline) waitDrained(t *testing.T) {
	t.Helper()
	testenv.WaitFor(t, 20*time.Second, "consumer to ack everything", func() bool {
		c, err := p.js.Consumer(context.Background(), p.cfg.eventsStream(), "writer")
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
}

func TestDuplicatesAndRedeliveriesDoNotChangeTotals(t *testing.T) {
	p, start := newPipeline(t, true, nil)
	start()
	ctx := context.Background()
	evs := usageEvents(20, 1)
	res, err := p.recv.Publish(ctx, evs)
	if err != nil || res.Accepted != 20 {
		t.Fatalf("publish %+v %v", res, err)
	}
	testenv.WaitFor(t, 20*time.Second, "20 events in ClickHouse", func() bool { return p.totals(t).Events == 20 })
	// Published again through the receiver (deduplicated by JetStream) and
	// raw, without a message id (as after the dedup window): the writer skips
	// ids it has stored.
	if res, _ := p.recv.Publish(ctx, evs); res.Duplicates != 20 {
		t.Fatalf("receiver dedup: %+v", res)
	}
	for _, e := range evs[:10] {
		if _, err := p.js.Publish(ctx, p.cfg.subject(e.TenantID), event.AppendJSON(nil, &e)); err != nil {
			t.Fatal(err)
		}
	}
	p.waitDrained(t)
	tot := p.totals(t)
	if tot.Events != 20 || tot.ListNanoUSD != 20*perEventNano || tot.TenantNanoUSD != 20*perEventNano || tot.InputTokens != 2000 {
		t.Fatalf("totals changed by duplicates: %+v", tot)
	}
}

func TestCrashBetweenInsertAndAck(t *testing.T) {
	p, start := newPipeline(t, true, func(c *ConsumerConfig) { c.AckWait = time.Second })
	var crashes atomic.Int32
	p.consumer.afterWrite = func() error {
		if crashes.Add(1) == 1 {
			return errors.New("crashed after insert, before ack")
		}
		return nil
	}
	start()
	if _, err := p.recv.Publish(context.Background(), usageEvents(5, 100)); err != nil {
		t.Fatal(err)
	}
	// The first delivery was stored but never acked; after AckWait it comes
	// again, is skipped as stored, and acked.
	p.waitDrained(t)
	if crashes.Load() < 2 {
		t.Fatalf("no redelivery happened (%d writes)", crashes.Load())
	}
	if tot := p.totals(t); tot.Events != 5 || tot.ListNanoUSD != 5*perEventNano {
		t.Fatalf("totals after crash: %+v", tot)
	}
}

func TestStoreDownEventsWaitThenDrain(t *testing.T) {
	p, start := newPipeline(t, false, nil) // tables do not exist yet: every insert fails
	start()
	if _, err := p.recv.Publish(context.Background(), usageEvents(7, 200)); err != nil {
		t.Fatal(err)
	}
	s, err := p.js.Stream(context.Background(), p.cfg.eventsStream())
	testenv.Must(t, err, "stream")
	info, err := s.Info(context.Background())
	testenv.Must(t, err, "info")
	if info.State.Msgs != 7 {
		t.Fatalf("stream holds %d", info.State.Msgs)
	}
	c, err := p.js.Consumer(context.Background(), p.cfg.eventsStream(), "writer")
	testenv.Must(t, err, "consumer")
	testenv.WaitFor(t, 10*time.Second, "a failed delivery", func() bool {
		ci, err := c.Info(context.Background())
		return err == nil && ci.NumRedelivered > 0
	})
	// The store comes back.
	conn, err := clickhouse.Open(context.Background(), testenv.ClickHouseAddr(), writerDB(p))
	testenv.Must(t, err, "reopen")
	testenv.Must(t, clickhouse.Migrate(context.Background(), conn, writerDB(p)), "migrate")
	p.waitDrained(t)
	if tot := p.totals(t); tot.Events != 7 {
		t.Fatalf("after recovery: %+v", tot)
	}
}

func TestPoisonEventsGoToTheDLQ(t *testing.T) {
	p, start := newPipeline(t, true, nil)
	start()
	ctx := context.Background()
	bad := ev(idN(300))
	bad.Provider = "acme"
	for _, payload := range [][]byte{[]byte(`{not json`), event.AppendJSON(nil, &bad)} {
		if _, err := p.js.Publish(ctx, p.cfg.subject(tenant), payload); err != nil {
			t.Fatal(err)
		}
	}
	unknown := usageEvents(1, 301)
	unknown[0].ModelRequested = "gpt-99-secret"
	if _, err := p.recv.Publish(ctx, append(usageEvents(2, 302), unknown...)); err != nil {
		t.Fatal(err)
	}
	p.waitDrained(t)
	dlq, err := p.js.Stream(ctx, p.cfg.dlqStream())
	testenv.Must(t, err, "dlq")
	var reasons []string
	testenv.WaitFor(t, 5*time.Second, "2 dead letters", func() bool {
		info, err := dlq.Info(ctx)
		return err == nil && info.State.Msgs == 2
	})
	for seq := uint64(1); seq <= 2; seq++ {
		m, err := dlq.GetMsg(ctx, seq)
		testenv.Must(t, err, "dlq msg")
		reasons = append(reasons, m.Header.Get("Spendgate-Dlq-Reason"))
	}
	if len(reasons) != 2 || reasons[0] == "" || reasons[1] == "" {
		t.Fatalf("dlq reasons %q", reasons)
	}
	tot := p.totals(t)
	if tot.Events != 3 || tot.UnpricedEvents != 1 || tot.ListNanoUSD != 2*perEventNano {
		t.Fatalf("totals with an unpriced event: %+v", tot)
	}
}

func writerDB(p *pipeline) string { return p.writer.Database() }

type recordingSink struct {
	mu    sync.Mutex
	fails int
	seen  map[string]int64 // event_id → tenant cost, idempotent like the real sink
	calls int
}

func (s *recordingSink) ApplySpend(_ context.Context, events []PricedEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fails > 0 {
		s.fails--
		return errors.New("budget store down")
	}
	for _, e := range events {
		s.seen[e.Event.EventID] = e.Cost.TenantNanoUSD
	}
	return nil
}

func (s *recordingSink) total() (n int, sum int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.seen {
		sum += v
	}
	return len(s.seen), sum
}

func TestTenantOverridesFromPostgresAndSpendSink(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	testenv.Must(t, postgres.Migrate(ctx, dsn), "pg migrate")
	pool, err := postgres.Open(ctx, dsn)
	testenv.Must(t, err, "pg open")
	t.Cleanup(pool.Close)
	_, err = pool.Exec(ctx, `INSERT INTO tenants (id, name, slug) VALUES ($1, 'Acme', 'acme')`, tenant)
	testenv.Must(t, err, "tenant")
	// 20% discount on gpt-4o-mini from an hour ago.
	_, err = pool.Exec(ctx, `INSERT INTO pricing_overrides (tenant_id, provider, model, effective_from, percent_adjustment_bp)
		VALUES ($1, 'openai', 'gpt-4o-mini', now() - interval '1 hour', -2000)`, tenant)
	testenv.Must(t, err, "override")

	p, start := newPipeline(t, true, func(c *ConsumerConfig) { c.AckWait = time.Second })
	p.consumer.overrides = PGOverrides{Pool: pool}
	sink := &recordingSink{fails: 1, seen: map[string]int64{}}
	p.consumer.SetSpendSink(sink)
	start()
	if _, err := p.recv.Publish(ctx, usageEvents(4, 400)); err != nil {
		t.Fatal(err)
	}
	p.waitDrained(t)
	tot := p.totals(t)
	if tot.Events != 4 || tot.ListNanoUSD != 4*perEventNano || tot.TenantNanoUSD != 4*perEventNano*8/10 {
		t.Fatalf("override not applied or counted twice after the sink failed: %+v", tot)
	}
	n, sum := sink.total()
	if n != 4 || sum != tot.TenantNanoUSD || sink.calls < 2 {
		t.Fatalf("sink saw %d events, %d nano, %d calls", n, sum, sink.calls)
	}
}
