package ingest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spendgate/spendgate/budget"
	budgetservice "github.com/spendgate/spendgate/budget/service"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/pgtest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/store/clickhouse"
	"github.com/spendgate/spendgate/usage"
)

const (
	tenant = "11111111-1111-4111-8111-111111111111"
	keyID  = "22222222-2222-4222-8222-222222222222"
)

// gpt-4o-mini: $0.15/M input, $0.60/M output → 100 in + 50 out = 15,000 + 30,000 nano.
const perEventNano = 45_000

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// testLog sends a consumer's log to the test's, shown when it fails.
func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// pipeline is one test's ingest: its own streams, ClickHouse database and,
// when asked, Postgres database with a budget fed by the consumer.
type pipeline struct {
	t       *testing.T
	js      jetstream.JetStream
	cfg     Config
	ccfg    ConsumerConfig
	recv    *Receiver
	chAddr  string // where consumers' writers connect (a proxy in some tests)
	natsURL string // the test's JetStream server, for each consumer's own connection
	conn    driver.Conn
	db      string
	writer  *clickhouse.Writer // direct, for reading totals

	pg       *pgxpool.Pool
	budgets  *budgetservice.Service
	budgetID string
}

type pipelineOpts struct {
	migrate  bool // create the ClickHouse tables (false: every insert fails)
	budgets  bool // Postgres with a tenant budget, fed by the consumer
	chAddr   string
	consumer func(*ConsumerConfig)
	config   func(*Config)
}

func newPipeline(t *testing.T, o pipelineOpts) *pipeline {
	t.Helper()
	ctx := context.Background()
	nc, prefix := testenv.NATS(t)
	js, err := jetstream.New(nc)
	testenv.Must(t, err, "jetstream")
	cfg := DefaultConfig()
	cfg.Prefix = prefix
	cfg.ServiceToken = "svc"
	if o.config != nil {
		o.config(&cfg)
	}
	testenv.Must(t, EnsureStreams(ctx, js, cfg), "streams")
	addr, db := testenv.ClickHouse(t)
	conn, err := clickhouse.Open(ctx, addr, db)
	testenv.Must(t, err, "clickhouse")
	t.Cleanup(func() { conn.Close() })
	if o.migrate {
		testenv.Must(t, clickhouse.Migrate(ctx, conn, db), "migrate")
	}
	ccfg := DefaultConsumerConfig()
	ccfg.Durable = "writer"
	ccfg.MaxWait = 100 * time.Millisecond
	ccfg.RetryDelay = 20 * time.Millisecond
	ccfg.MaxRetryDelay = 100 * time.Millisecond
	ccfg.AckWait = time.Second
	ccfg.DrainTimeout = 5 * time.Second
	if o.consumer != nil {
		o.consumer(&ccfg)
	}
	p := &pipeline{t: t, js: js, natsURL: nc.ConnectedUrl(), cfg: cfg, ccfg: ccfg, recv: NewReceiver(cfg, js, quietLog), chAddr: addr, conn: conn, db: db,
		writer: clickhouse.NewWriter(conn, db)}
	if o.chAddr != "" {
		p.chAddr = o.chAddr
	}
	if o.budgets {
		p.pg = newControlPlaneDB(t)
		p.budgets = budgetservice.New(p.pg, nil, strings.ToLower(prefix), budgetservice.DefaultConfig(strings.ToLower(prefix)), quietLog)
		testenv.Must(t, p.pg.QueryRow(ctx, `INSERT INTO budgets (tenant_id, name, scope, period, amount_nano_usd, thresholds, hard)
			VALUES ($1, 'all', 'tenant', 'month', 1000000000000, '{50}', false) RETURNING id::text`, tenant).Scan(&p.budgetID), "budget")
	}
	return p
}

// newControlPlaneDB is a migrated Postgres database holding the test tenant.
func newControlPlaneDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.Migrated(t)
	_, err := pool.Exec(ctx, `INSERT INTO tenants (id, name, slug) VALUES ($1, 'Acme', 'acme')`, tenant)
	testenv.Must(t, err, "tenant")
	return pool
}

// running is one consumer process: its own NATS connection and ClickHouse
// connection, so a test can kill it.
type running struct {
	c        *Consumer
	nc       *nats.Conn
	cancel   context.CancelFunc
	done     chan struct{}
	writes   atomic.Int64 // Write calls
	fails    atomic.Int64 // failed Write calls
	largest  atomic.Int64 // events in the largest Write
	smallest atomic.Int64 // events in the smallest Write (0: none yet)
}

// countingWriter is the real writer, counting calls and failures.
type countingWriter struct {
	w *clickhouse.Writer
	r *running
}

func (cw countingWriter) Write(ctx context.Context, evs []PricedEvent) (int, error) {
	cw.r.writes.Add(1)
	for size := int64(len(evs)); ; {
		if l := cw.r.largest.Load(); size <= l || cw.r.largest.CompareAndSwap(l, size) {
			break
		}
	}
	for size := int64(len(evs)); ; {
		if sm := cw.r.smallest.Load(); sm != 0 && size >= sm || cw.r.smallest.CompareAndSwap(sm, size) {
			break
		}
	}
	n, err := cw.w.Write(ctx, evs)
	if err != nil {
		cw.r.fails.Add(1)
	}
	return n, err
}

// openLazy connects on first use (clickhouse.Open pings, which fails while
// the server is down).
func openLazy(addr string) (driver.Conn, error) {
	return chgo.Open(&chgo.Options{Addr: []string{addr}, DialTimeout: 2 * time.Second, MaxOpenConns: 8})
}

func (p *pipeline) start(configure func(*Consumer)) *running {
	p.t.Helper()
	ctx := context.Background()
	nc, err := nats.Connect(p.natsURL)
	testenv.Must(p.t, err, "consumer NATS")
	js, err := jetstream.New(nc)
	testenv.Must(p.t, err, "consumer jetstream")
	// The writer's connection is made lazily, so a consumer can start while
	// ClickHouse is down.
	conn, err := openLazy(p.chAddr)
	testenv.Must(p.t, err, "consumer clickhouse")
	r := &running{nc: nc, done: make(chan struct{})}
	r.c = NewConsumer(p.cfg, p.ccfg, js, countingWriter{clickhouse.NewWriter(conn, p.db), r}, pricing.Default(), nil, testLog(p.t))
	if p.budgets != nil {
		r.c.SetSpendSink(p.budgets)
	}
	if configure != nil {
		configure(r.c)
	}
	cctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	go func() {
		defer close(r.done)
		if err := r.c.Run(cctx); err != nil {
			p.t.Errorf("consumer: %v", err)
		}
	}()
	p.t.Cleanup(func() { r.stop(); conn.Close() })
	return r
}

func (r *running) stop() {
	r.cancel()
	<-r.done
	r.nc.Close()
}

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

func (p *pipeline) publish(evs []event.Event) {
	p.t.Helper()
	res, err := p.recv.Publish(context.Background(), evs)
	if err != nil || res.Accepted+res.Duplicates != len(evs) {
		p.t.Fatalf("publish: %+v %v", res, err)
	}
}

func (p *pipeline) totals() spend.Totals {
	p.t.Helper()
	tot, err := p.writer.TenantTotals(context.Background(), tenant, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	testenv.Must(p.t, err, "totals")
	return tot
}

// rollup sums the hourly rollup, which sees every insert: a duplicate
// insert would show here even where the ReplacingMergeTree hides it.
func (p *pipeline) rollup() (events uint64, tenantNano int64) {
	p.t.Helper()
	testenv.Must(p.t, p.conn.QueryRow(context.Background(), "SELECT sum(events), sum(tenant_cost_nano_usd) FROM "+p.db+".usage_core_hourly"+
		" WHERE tenant_id = ?", tenant).Scan(&events, &tenantNano), "rollup")
	return events, tenantNano
}

// rawRows counts stored rows without any merge-time deduplication.
func (p *pipeline) rawRows() uint64 {
	p.t.Helper()
	var n uint64
	testenv.Must(p.t, p.conn.QueryRow(context.Background(), "SELECT count() FROM "+p.db+".usage_events").Scan(&n), "count")
	return n
}

func (p *pipeline) budgetSpent() int64 {
	p.t.Helper()
	spent, _, err := p.budgets.Store.Counter(context.Background(), p.budgetID, budget.Month, time.Now())
	testenv.Must(p.t, err, "budget counter")
	return spent
}

// assertExactly checks every store holds n events of perEventNano once.
func (p *pipeline) assertExactly(n int) {
	p.t.Helper()
	tot := p.totals()
	if tot.Events != uint64(n) || tot.ListNanoUSD != int64(n)*perEventNano || tot.TenantNanoUSD != int64(n)*perEventNano || tot.InputTokens != int64(n)*100 {
		p.t.Fatalf("ClickHouse totals %+v, want %d events", tot, n)
	}
	if rows := p.rawRows(); rows != uint64(n) {
		p.t.Fatalf("%d rows stored for %d events", rows, n)
	}
	if ev, nano := p.rollup(); ev != uint64(n) || nano != int64(n)*perEventNano {
		p.t.Fatalf("hourly rollup: %d events, %d nano; want %d", ev, nano, n)
	}
	if p.budgets != nil {
		if spent := p.budgetSpent(); spent != int64(n)*perEventNano {
			p.t.Fatalf("budget spent %d, want %d", spent, int64(n)*perEventNano)
		}
	}
}

func (p *pipeline) consumerInfo() *jetstream.ConsumerInfo {
	p.t.Helper()
	c, err := p.js.Consumer(context.Background(), p.cfg.eventsStream(), p.ccfg.Durable)
	testenv.Must(p.t, err, "consumer")
	info, err := c.Info(context.Background())
	testenv.Must(p.t, err, "consumer info")
	return info
}

// waitDrained waits until every partition's durable acked everything.
func (p *pipeline) waitDrained() {
	p.t.Helper()
	testenv.WaitFor(p.t, 30*time.Second, "consumers to ack everything", func() bool {
		for part := range p.cfg.partitions() {
			c, err := p.js.Consumer(context.Background(), p.cfg.eventsStream(), p.ccfg.durableName(part))
			if err != nil {
				return false
			}
			info, err := c.Info(context.Background())
			if err != nil || info.NumPending != 0 || info.NumAckPending != 0 {
				return false
			}
		}
		return true
	})
}

func (p *pipeline) deadLetters(tenantID string) []DeadLetter {
	p.t.Helper()
	list, err := NewDLQ(p.js, p.cfg).List(context.Background(), tenantID, 100)
	testenv.Must(p.t, err, "dlq list")
	return list
}

func TestDuplicatesAndRedeliveriesDoNotChangeTotals(t *testing.T) {
	t.Parallel()
	p := newPipeline(t, pipelineOpts{migrate: true, budgets: true})
	p.start(nil)
	ctx := context.Background()
	evs := usageEvents(20, 1)
	p.publish(evs)
	testenv.WaitFor(t, 20*time.Second, "20 events in ClickHouse", func() bool { return p.totals().Events == 20 })
	// Published again through the receiver (deduplicated by JetStream) and
	// raw, without a message id (as after the dedup window): the writer and
	// the budgets skip ids they have.
	if res, _ := p.recv.Publish(ctx, evs); res.Duplicates != 20 {
		t.Fatalf("receiver dedup: %+v", res)
	}
	for _, e := range evs[:10] {
		if _, err := p.js.Publish(ctx, p.cfg.subject(e.EventID, e.TenantID), event.AppendJSON(nil, &e)); err != nil {
			t.Fatal(err)
		}
	}
	// Both copies of one id inside one batch, too.
	dup := usageEvents(1, 500)[0]
	for range 2 {
		if _, err := p.js.Publish(ctx, p.cfg.subject(dup.EventID, tenant), event.AppendJSON(nil, &dup)); err != nil {
			t.Fatal(err)
		}
	}
	p.waitDrained()
	p.assertExactly(21)
}

// A backlog is taken in full batches: the first event of each is waited
// for, the rest taken without waiting until the batch holds BatchSize.
func TestBatchesFillUpToBatchSizeFromABacklog(t *testing.T) {
	t.Parallel()
	p := newPipeline(t, pipelineOpts{migrate: true, consumer: func(c *ConsumerConfig) {
		c.BatchSize = 7
		c.MaxWait = 2 * time.Second // far longer than taking 7 waiting events
	}})
	p.publish(usageEvents(49, 1))
	r := p.start(nil)
	testenv.WaitFor(t, 20*time.Second, "49 events in ClickHouse", func() bool { return p.totals().Events == 49 })
	if r.largest.Load() != 7 || r.smallest.Load() != 7 || r.writes.Load() != 7 {
		t.Fatalf("%d writes of %d to %d events; want 7 of 7", r.writes.Load(), r.smallest.Load(), r.largest.Load())
	}
	p.waitDrained()
	p.assertExactly(49)
}

// A backlog of batch messages is taken in whole messages that fit: a batch
// stops short of BatchSize rather than pass it, since the rest would be
// written as a second, small INSERT (a part in every rollup table).
func TestBatchesOfBatchMessagesStayWithinBatchSize(t *testing.T) {
	t.Parallel()
	p := newPipeline(t, pipelineOpts{migrate: true, consumer: func(c *ConsumerConfig) {
		c.BatchSize = 25
		c.MaxWait = 2 * time.Second
	}})
	evs := usageEvents(120, 1)
	for call := range 12 { // 12 messages of 10 events
		p.publish(evs[call*10 : call*10+10])
	}
	r := p.start(nil)
	testenv.WaitFor(t, 20*time.Second, "120 events in ClickHouse", func() bool { return p.totals().Events == 120 })
	if r.largest.Load() > 25 || r.smallest.Load() < 20 {
		t.Fatalf("%d writes of %d to %d events; want writes of 20 to 25 (whole 10-event messages, no remainder)",
			r.writes.Load(), r.smallest.Load(), r.largest.Load())
	}
	p.waitDrained()
	p.assertExactly(120)
}

// The consumer process dies after the insert and the budget update and
// before its ack reaches JetStream; another one takes over.
func TestConsumerKilledBetweenInsertAndAckThenRestarted(t *testing.T) {
	t.Parallel()
	p := newPipeline(t, pipelineOpts{migrate: true, budgets: true})
	killed := make(chan struct{})
	var first *running
	first = p.start(func(c *Consumer) {
		var once sync.Once
		c.beforeAck = func(*batch) error {
			once.Do(func() {
				first.nc.Close() // the ack can no longer be sent
				close(killed)
			})
			return errors.New("killed")
		}
	})
	p.publish(usageEvents(50, 100))
	select {
	case <-killed:
	case <-time.After(30 * time.Second):
		t.Fatal("the first consumer never stored a batch")
	}
	first.stop()
	if tot := p.totals(); tot.Events == 0 {
		t.Fatalf("the killed consumer stored nothing before dying: %+v", tot)
	}
	var redelivered atomic.Int64
	p.start(func(c *Consumer) {
		c.beforeAck = func(b *batch) error {
			for _, m := range b.good {
				if meta, err := m.Metadata(); err == nil && meta.NumDelivered > 1 {
					redelivered.Add(1)
				}
			}
			return nil
		}
	})
	p.waitDrained()
	p.assertExactly(50)
	if redelivered.Load() == 0 {
		t.Fatal("the restarted consumer got no redelivery")
	}
}

// ClickHouse goes away for longer than MaxDeliver × AckWait: events wait in
// JetStream without being redelivered or dead-lettered and drain when it is
// back; a consumer stopped during the outage hands its batch back.
func TestClickHouseDownEventsWaitInJetStreamAndDrain(t *testing.T) {
	t.Parallel()
	proxy := newTCPProxy(t, testenv.ClickHouseAddr())
	p := newPipeline(t, pipelineOpts{migrate: true, budgets: true, chAddr: proxy.addr, consumer: func(c *ConsumerConfig) {
		c.MaxDeliver = 2
		c.AckWait = time.Second
		c.BackOff = []time.Duration{time.Second}
		c.DrainTimeout = 500 * time.Millisecond
	}})
	first := p.start(nil)
	p.publish(usageEvents(5, 1000))
	p.waitDrained()

	proxy.down()
	before := streamMsgs(t, p.js, p.cfg)
	p.publish(usageEvents(40, 2000))
	msgs := int(streamMsgs(t, p.js, p.cfg) - before) // the 40 events' messages
	outage := time.Now()
	testenv.WaitFor(t, 30*time.Second, "writes to fail for 3× AckWait", func() bool {
		return first.fails.Load() >= 5 && time.Since(outage) > 3*p.ccfg.AckWait
	})
	info := p.consumerInfo()
	if info.NumRedelivered != 0 || info.NumAckPending+int(info.NumPending) != msgs || info.NumAckPending == 0 {
		t.Fatalf("during the outage: %d redelivered, %d held, %d not delivered; want 0 redelivered and all %d messages waiting",
			info.NumRedelivered, info.NumAckPending, info.NumPending, msgs)
	}
	if rows := p.rawRows(); rows != 5 {
		t.Fatalf("%d rows stored through a closed port", rows)
	}
	if dl := p.deadLetters(""); len(dl) != 0 {
		t.Fatalf("dead letters during an outage: %+v", dl)
	}
	proxy.up()
	p.waitDrained()
	p.assertExactly(45)

	// Down again; the consumer is stopped while it retries and hands its
	// batch back; a new one drains it once ClickHouse is back.
	proxy.down()
	p.publish(usageEvents(30, 3000))
	failed := first.fails.Load()
	testenv.WaitFor(t, 30*time.Second, "failed writes", func() bool { return first.fails.Load() >= failed+2 })
	stopped := time.Now()
	first.stop()
	if took := time.Since(stopped); took > 10*time.Second {
		t.Fatalf("stopping took %s with a 500ms drain timeout", took)
	}
	proxy.up()
	p.start(nil)
	p.waitDrained()
	p.assertExactly(75)
	if dl := p.deadLetters(""); len(dl) != 0 {
		t.Fatalf("dead letters: %+v", dl)
	}
}

// Without the tables every insert fails with a server error (not a network
// one): the events wait just the same until the schema exists. The consumer
// is stopped for the migration, as a deploy does: an insert between the
// table's creation and its rollups' would be missing from the rollups.
func TestSchemaMissingEventsWaitThenDrain(t *testing.T) {
	t.Parallel()
	p := newPipeline(t, pipelineOpts{migrate: false})
	r := p.start(nil)
	p.publish(usageEvents(7, 200))
	testenv.WaitFor(t, 20*time.Second, "failed writes", func() bool { return r.fails.Load() >= 3 })
	r.stop()
	if info, msgs := p.consumerInfo(), streamMsgs(t, p.js, p.cfg); msgs == 0 || info.NumPending+uint64(info.NumAckPending) != msgs {
		t.Fatalf("after stopping: %d pending, %d held; want all %d messages of the 7 events waiting", info.NumPending, info.NumAckPending, msgs)
	}
	testenv.Must(t, clickhouse.Migrate(context.Background(), p.conn, p.db), "migrate")
	p.start(nil)
	p.waitDrained()
	p.assertExactly(7)
}

func TestPoisonEventsGoToTheDLQWithReasons(t *testing.T) {
	t.Parallel()
	p := newPipeline(t, pipelineOpts{migrate: true})
	p.start(nil)
	ctx := context.Background()
	bad := ev(idN(300))
	bad.Provider = "acme"
	for _, payload := range [][]byte{[]byte(`{not json`), event.AppendJSON(nil, &bad)} {
		if _, err := p.js.Publish(ctx, p.cfg.subject(bad.EventID, tenant), payload); err != nil {
			t.Fatal(err)
		}
	}
	unknown := usageEvents(1, 301)
	unknown[0].ModelRequested = "gpt-99-secret"
	p.publish(append(usageEvents(2, 302), unknown...))
	p.waitDrained()

	list := p.deadLetters(tenant)
	if len(list) != 2 {
		t.Fatalf("dead letters %+v", list)
	}
	// Newest first.
	if l := list[0]; l.EventID != bad.EventID || l.TenantID != tenant || !strings.Contains(l.Reason, `unknown provider "acme"`) ||
		l.Deliveries != 1 || l.StreamSequence == 0 || !strings.Contains(string(l.Payload), "acme") {
		t.Errorf("invalid event: %+v", l)
	}
	if l := list[1]; l.EventID != "" || !strings.HasPrefix(l.Reason, "undecodable event") || string(l.Payload) != "{not json" ||
		l.Sequence >= list[0].Sequence || l.Time.IsZero() {
		t.Errorf("undecodable event: %+v", l)
	}
	if other := p.deadLetters("33333333-3333-4333-8333-333333333333"); len(other) != 0 {
		t.Errorf("another tenant sees %d dead letters", len(other))
	}
	if all := p.deadLetters(""); len(all) != 2 {
		t.Errorf("all tenants: %d dead letters", len(all))
	}
	if _, err := NewDLQ(p.js, p.cfg).List(ctx, "x.>", 10); err == nil {
		t.Error("a wildcard tenant was accepted")
	}

	// The unknown model is stored, flagged and unpriced.
	tot := p.totals()
	if tot.Events != 3 || tot.UnpricedEvents != 1 || tot.ListNanoUSD != 2*perEventNano {
		t.Fatalf("totals with an unpriced event: %+v", tot)
	}
	var flagged uint64
	var model string
	testenv.Must(t, p.conn.QueryRow(ctx, "SELECT count(), any(model_requested) FROM "+p.db+".usage_events WHERE unknown_model = 1").Scan(&flagged, &model), "flagged")
	if flagged != 1 || model != "gpt-99-secret" {
		t.Fatalf("unknown_model flags %d (%s)", flagged, model)
	}

	// Replaying a still-invalid event puts it back with a new sequence; a
	// wrong tenant cannot replay; an unknown sequence is not found.
	dlq := NewDLQ(p.js, p.cfg)
	if err := dlq.Replay(ctx, "33333333-3333-4333-8333-333333333333", list[0].Sequence); !errors.Is(err, ErrDeadLetterNotFound) {
		t.Fatalf("replay by another tenant: %v", err)
	}
	if err := dlq.Replay(ctx, tenant, 999_999); !errors.Is(err, ErrDeadLetterNotFound) {
		t.Fatalf("replay of an unknown sequence: %v", err)
	}
	testenv.Must(t, dlq.Replay(ctx, tenant, list[0].Sequence), "replay")
	testenv.WaitFor(t, 20*time.Second, "the replayed event back in the DLQ", func() bool {
		l := p.deadLetters(tenant)
		return len(l) == 2 && l[0].EventID == bad.EventID && l[0].Sequence > list[0].Sequence
	})
}

// A consumer killed while holding an event MaxDeliver times makes JetStream
// give up on it; the DLQ records that through the advisory, and a replay
// stores it — once, even though the killed attempts had stored it already.
func TestMaxDeliveriesRecordedInTheDLQAndReplayed(t *testing.T) {
	t.Parallel()
	// One event (a one-event message) and three (a batch message: the
	// dead letter is the message, replayed whole).
	for _, n := range []int{1, 3} {
		t.Run(strconv.Itoa(n)+" events", func(t *testing.T) {
			t.Parallel()
			testMaxDeliveries(t, n)
		})
	}
}

func testMaxDeliveries(t *testing.T, n int) {
	p := newPipeline(t, pipelineOpts{migrate: true, budgets: true, consumer: func(c *ConsumerConfig) {
		c.MaxDeliver = 2
		c.AckWait = 200 * time.Millisecond
		c.BackOff = []time.Duration{200 * time.Millisecond}
	}})
	var crash, replayed atomic.Bool
	crash.Store(true)
	e := usageEvents(n, 700)
	p.start(func(c *Consumer) {
		c.beforeAck = func(b *batch) error {
			if crash.Load() {
				return errors.New("killed before the ack")
			}
			for _, pe := range b.events {
				replayed.Store(replayed.Load() || pe.Event.EventID == e[0].EventID)
			}
			return nil
		}
	})
	p.publish(e)
	var list []DeadLetter
	testenv.WaitFor(t, 30*time.Second, "the max-deliveries advisory in the DLQ", func() bool {
		list = p.deadLetters(tenant)
		return len(list) == 1
	})
	l := list[0]
	if l.EventID != e[0].EventID || l.Deliveries != 2 || !strings.Contains(l.Reason, "not acknowledged after 2 deliveries") ||
		l.StreamSequence == 0 || !strings.Contains(string(l.Payload), e[0].EventID) {
		t.Fatalf("dead letter %+v", l)
	}
	if batch := strings.Contains(l.Reason, "a batch message of 3 events"); batch != (n == 3) {
		t.Fatalf("dead letter of %d events: reason %q", n, l.Reason)
	}
	crash.Store(false)
	testenv.Must(t, NewDLQ(p.js, p.cfg).Replay(context.Background(), tenant, l.Sequence), "replay")
	testenv.WaitFor(t, 20*time.Second, "the replayed event processed up to its ack", replayed.Load)
	if dl := p.deadLetters(tenant); len(dl) != 0 {
		t.Fatalf("the replayed dead letter is still listed: %+v", dl)
	}
	p.assertExactly(n)
}

func TestTenantOverridesCachedRefreshedAndAwaited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newPipeline(t, pipelineOpts{migrate: true})
	pg := newControlPlaneDB(t)
	other := "33333333-3333-4333-8333-333333333333"
	_, err := pg.Exec(ctx, `INSERT INTO tenants (id, name, slug) VALUES ($1, 'Other', 'other')`, other)
	testenv.Must(t, err, "tenant")
	var overrideID string
	testenv.Must(t, pg.QueryRow(ctx, `INSERT INTO pricing_overrides (tenant_id, provider, model, effective_from, percent_adjustment_bp)
		VALUES ($1, 'openai', 'gpt-4o-mini', now() - interval '1 hour', -2000) RETURNING id::text`, tenant).Scan(&overrideID), "override")
	_, err = pg.Exec(ctx, `INSERT INTO pricing_overrides (tenant_id, provider, model, effective_from, percent_adjustment_bp)
		VALUES ($1, 'openai', 'gpt-4o-mini', now() - interval '1 hour', 1000)`, other)
	testenv.Must(t, err, "override")
	// The consumer reads overrides through a proxy that can cut Postgres off.
	pcfg := pg.Config().Copy()
	proxy := newTCPProxy(t, net.JoinHostPort(pcfg.ConnConfig.Host, strconv.Itoa(int(pcfg.ConnConfig.Port))))
	host, port, _ := net.SplitHostPort(proxy.addr)
	pcfg.ConnConfig.Host = host
	pp, _ := strconv.Atoi(port)
	pcfg.ConnConfig.Port = uint16(pp)
	viaProxy, err := pgxpool.NewWithConfig(ctx, pcfg)
	testenv.Must(t, err, "pool")
	t.Cleanup(viaProxy.Close)
	// The cache's clock is the test's, so the TTL passes without sleeping.
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	advance := func() { clock.Add(int64(time.Hour)) }
	cache := NewCachedOverrides(controlplane.OverrideReader{DB: viaProxy}, time.Minute)
	cache.now = func() time.Time { return time.Unix(0, clock.Load()) }
	p.start(func(c *Consumer) { c.overrides = cache })

	tenantNano := func(tenantID string) int64 {
		tot, err := p.writer.TenantTotals(ctx, tenantID, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		testenv.Must(t, err, "totals")
		return tot.TenantNanoUSD
	}
	p.publish(usageEvents(1, 800))
	testenv.WaitFor(t, 20*time.Second, "the first event at -20 %", func() bool { return tenantNano(tenant) == perEventNano*8/10 })
	// A changed override is used once the cached copy is older than the TTL.
	_, err = pg.Exec(ctx, `UPDATE pricing_overrides SET percent_adjustment_bp = -5000 WHERE id = $1`, overrideID)
	testenv.Must(t, err, "update override")
	p.publish(usageEvents(1, 810))
	testenv.WaitFor(t, 20*time.Second, "an event inside the TTL at the cached -20 %", func() bool {
		return tenantNano(tenant) == 2*perEventNano*8/10
	})
	advance()
	p.publish(usageEvents(1, 801))
	testenv.WaitFor(t, 20*time.Second, "the third event at -50 %", func() bool {
		return tenantNano(tenant) == 2*perEventNano*8/10+perEventNano/2
	})

	// Postgres unreachable: a tenant with a cached copy is priced with it
	// (stale beats none); a tenant never read waits, neither stored without
	// its override nor dead-lettered, until Postgres is back.
	proxy.down()
	advance()
	p.publish(usageEvents(1, 802))
	testenv.WaitFor(t, 20*time.Second, "an event at the stale -50 %", func() bool {
		return tenantNano(tenant) == 2*perEventNano*8/10+perEventNano
	})
	waiting := usageEvents(1, 803)
	waiting[0].TenantID = other
	p.publish(waiting)
	testenv.WaitFor(t, 20*time.Second, "the other tenant's event held", func() bool { return p.consumerInfo().NumAckPending == 1 })
	if got := tenantNano(other); got != 0 {
		t.Fatalf("stored without its override: %d", got)
	}
	proxy.up()
	testenv.WaitFor(t, 20*time.Second, "the other tenant's event at +10 %", func() bool { return tenantNano(other) == perEventNano*11/10 })
	p.waitDrained()
	if dl := p.deadLetters(""); len(dl) != 0 {
		t.Fatalf("dead letters: %+v", dl)
	}
}

// An older durable (created with a fixed AckWait and no back-off) is updated
// in place at start-up, and so are the streams.
func TestEnsureUpdatesExistingStreamsAndConsumer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	nc, prefix := testenv.NATS(t)
	js, err := jetstream.New(nc)
	testenv.Must(t, err, "jetstream")
	cfg := DefaultConfig()
	cfg.Prefix = prefix
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: cfg.eventsStream(), Subjects: []string{strings.ToLower(prefix) + ".events.>"},
		Storage: jetstream.FileStorage, Duplicates: 2 * time.Hour})
	testenv.Must(t, err, "old events stream")
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: cfg.dlqStream(), Subjects: []string{strings.ToLower(prefix) + ".dlq.>"},
		Storage: jetstream.FileStorage})
	testenv.Must(t, err, "old dlq stream")
	_, err = js.CreateOrUpdateConsumer(ctx, cfg.eventsStream(), jetstream.ConsumerConfig{Durable: "clickhouse-writer",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: 2 * time.Minute, MaxDeliver: 50, MaxAckPending: 4000})
	testenv.Must(t, err, "old consumer")

	for range 2 {
		testenv.Must(t, EnsureStreams(ctx, js, cfg), "streams")
		_, err := EnsureConsumers(ctx, js, cfg, DefaultConsumerConfig())
		testenv.Must(t, err, "consumer")
	}
	s, err := js.Stream(ctx, cfg.dlqStream())
	testenv.Must(t, err, "dlq")
	si, err := s.Info(ctx)
	testenv.Must(t, err, "dlq info")
	if len(si.Config.Subjects) != 2 || si.Config.Storage != jetstream.FileStorage || si.Config.Duplicates != cfg.DedupWindow {
		t.Fatalf("DLQ stream config %+v", si.Config)
	}
	s, err = js.Stream(ctx, cfg.eventsStream())
	testenv.Must(t, err, "events")
	si, err = s.Info(ctx)
	testenv.Must(t, err, "events info")
	if si.Config.MaxAge != cfg.MaxAge || si.Config.Duplicates != cfg.DedupWindow || si.Config.Storage != jetstream.FileStorage {
		t.Fatalf("events stream config %+v", si.Config)
	}
	c, err := js.Consumer(ctx, cfg.eventsStream(), "clickhouse-writer")
	testenv.Must(t, err, "consumer")
	ci, err := c.Info(ctx)
	testenv.Must(t, err, "consumer info")
	def := DefaultConsumerConfig()
	if ci.Config.AckWait != def.AckWait || len(ci.Config.BackOff) < 2 || ci.Config.BackOff[0] != def.AckWait ||
		ci.Config.MaxDeliver != def.MaxDeliver || ci.Config.MaxAckPending != def.BatchSize*(inFlight+1) {
		t.Fatalf("consumer config %+v", ci.Config)
	}
	bad := def
	bad.MaxDeliver = 2
	if _, err := EnsureConsumers(ctx, js, cfg, bad); err == nil {
		t.Fatal("MaxDeliver below the back-off steps accepted")
	}
}

// owning makes a consumer own the given partitions only.
func owning(parts ...int) func(*Consumer) {
	return func(c *Consumer) { c.ccfg.Partitions = parts }
}

// Three consumers, each with its own NATS and ClickHouse connections, own
// one partition each while events keep coming; one is killed (its NATS
// connection cut while it holds batches, writes in flight finish) and
// started again. Every event is stored once: ClickHouse raw rows, totals,
// the rollup and the budget all count each event exactly once.
func TestPartitionedConsumersOneKilledUnderLoad(t *testing.T) {
	t.Parallel()
	p := newPipeline(t, pipelineOpts{migrate: true, budgets: true, config: func(c *Config) { c.Partitions = 3 },
		consumer: func(c *ConsumerConfig) { c.BatchSize = 200 }})
	consumers := []*running{p.start(owning(0)), p.start(owning(1)), p.start(owning(2))}

	const batches, perBatch = 60, 50
	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := range batches {
			p.publish(usageEvents(perBatch, 1000+i*perBatch))
			time.Sleep(15 * time.Millisecond)
		}
	}()
	testenv.WaitFor(t, 30*time.Second, "partition 1's consumer to store events", func() bool {
		return consumers[1].writes.Load() >= 3
	})
	consumers[1].nc.Close() // kill: nothing more reaches JetStream, not even the hand-back
	consumers[1].stop()
	stored := p.totals().Events
	time.Sleep(300 * time.Millisecond) // events of partition 1 pile up meanwhile
	consumers[1] = p.start(owning(1))
	<-published
	if stored == 0 || stored >= batches*perBatch {
		t.Fatalf("%d events stored when the consumer was killed: not under load", stored)
	}
	p.waitDrained()
	p.assertExactly(batches * perBatch)
	for i, r := range consumers {
		if r.writes.Load() == 0 {
			t.Fatalf("consumer of partition %d wrote nothing", i)
		}
	}
}

// An installation of one partition (its durable reads the whole stream)
// is raised to three while events wait: the durable of partition 0 gets its
// filter, the events published with one partition are moved to their
// owners, and every event is stored once by the owner of its id.
func TestRaisingThePartitionCountMovesEventsToTheirOwner(t *testing.T) {
	t.Parallel()
	p := newPipeline(t, pipelineOpts{migrate: true})
	first := p.start(nil) // one partition: creates the unfiltered durable
	p.publish(usageEvents(20, 1900))
	testenv.WaitFor(t, 20*time.Second, "20 events in ClickHouse", func() bool { return p.totals().Events == 20 })
	first.stop()
	p.publish(usageEvents(60, 2000)) // waits in partition 0 for the new consumers

	p.cfg.Partitions = 3
	if v := p.js.Conn().ConnectedServerVersion(); versionBelow(v, 2, 10) {
		// nats-server 2.9 would skip the waiting events: refused.
		_, err := EnsureConsumers(context.Background(), p.js, p.cfg, p.ccfg)
		if err == nil || !strings.Contains(err.Error(), "needs nats-server 2.10") {
			t.Fatalf("raising the partition count on nats-server %s: %v", v, err)
		}
		t.Skipf("nats-server %s refuses the change, as it should; the rest needs 2.10 or later", v)
	}
	var misplaced atomic.Int64
	for part := range 3 {
		p.start(func(c *Consumer) {
			owning(part)(c)
			c.beforeAck = func(b *batch) error {
				for _, e := range b.events {
					if p.cfg.PartitionOf(e.Event.EventID) != part {
						misplaced.Add(1)
					}
				}
				return nil
			}
		})
	}
	p.waitDrained()
	p.assertExactly(80)
	if misplaced.Load() != 0 {
		t.Fatalf("%d events stored by a consumer that does not own them", misplaced.Load())
	}
	if f := p.consumerInfo().Config.FilterSubject; f != p.cfg.partitionFilter(0) {
		t.Fatalf("partition 0's durable filters %q", f)
	}
}

// An acked batch is reused by the next fetch empty, and its slices keep no
// event or message of the batch before alive.
func TestRecycledBatchIsEmptyAndHoldsNothing(t *testing.T) {
	t.Parallel()
	c := NewConsumer(DefaultConfig(), DefaultConsumerConfig(), nil, nil, pricing.Default(), nil, quietLog)
	b := c.newBatch()
	b.events = append(b.events, PricedEvent{Event: usageEvents(1, 1)[0]}, PricedEvent{Event: usageEvents(1, 2)[0]})
	b.fetched = append(b.fetched, nil, nil)
	b.good = append(b.good, nil)
	events := b.events[:cap(b.events)]
	c.recycle(b)
	if len(b.events)+len(b.fetched)+len(b.good) != 0 {
		t.Fatalf("recycled batch not empty: %d events, %d fetched, %d good", len(b.events), len(b.fetched), len(b.good))
	}
	for i, e := range events {
		if e.Event.EventID != "" || e.Event.Dimensions != nil {
			t.Fatalf("recycled batch still holds event %d: %+v", i, e.Event)
		}
	}
}
