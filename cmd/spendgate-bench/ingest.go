package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/ingest"
	"github.com/spendgate/spendgate/internal/envflag"
	"github.com/spendgate/spendgate/natsembed"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
	"github.com/spendgate/spendgate/usage"
)

// benchIngest measures the pipeline end to end: HTTP receiver → JetStream
// (dedup by Nats-Msg-Id) → consumer (pricing, stored-id check) → ClickHouse,
// against raw JetStream publishing and raw ClickHouse writing measured in the
// same run, and the lag at a fixed rate. Arrival in ClickHouse is observed at
// the writer (no polling queries loading ClickHouse). Streams and database
// are scratch ones, removed at the end.
func benchIngest(ctx context.Context, args []string) error {
	fs := envflag.NewFlagSet("spendgate-bench ingest")
	defC := ingest.DefaultConsumerConfig()
	natsURL := fs.String("nats-url", nats.DefaultURL, `NATS server with JetStream; "" runs an embedded one in this process, as spendgate serve does`)
	chAddr := fs.String("clickhouse-addr", "127.0.0.1:9000", "ClickHouse native address")
	n := fs.Int("events", 100_000, "events for the throughput runs")
	batchSize := fs.Int("batch", 500, "events per HTTP request")
	senders := fs.Int("senders", 4, "concurrent HTTP senders")
	consumerBatch := fs.Int("consumer-batch", defC.BatchSize, "events per consumer fetch and ClickHouse insert")
	batchWait := fs.Duration("batch-wait", defC.MaxWait, "longest a consumer fetch waits to fill a batch")
	lanes := fs.Int("clickhouse-lanes", 1, "concurrent INSERTs a large batch is split into")
	rate := fs.Int("rate", 10_000, "events/s for the lag run")
	dur := fs.Duration("duration", 5*time.Second, "length of the lag run")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	procsProfile := fs.String("procs-cpuprofile", "", "file name prefix for CPU profiles of each spendgate ingest process of the OS-process runs (from its --pprof-addr), over --procs-profile-seconds from the first POST")
	procsProfileSeconds := fs.Int("procs-profile-seconds", 10, "length of the --procs-cpuprofile profiles")
	consumers := fs.String("consumers", "1,2,3", "end-to-end runs through spendgate ingest OS processes with these numbers of consumer processes (empty: none)")
	partitions := fs.Int("partitions", 6, "partitions of the OS-process runs' streams, shared out among the consumers")
	bin := fs.String("spendgate-bin", "", "spendgate binary for the OS-process runs (default: spendgate next to this executable, else on PATH)")
	pgAdmin := fs.String("postgres-dsn", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "Postgres server for the OS-process runs (a scratch database is created and dropped)")
	if err := envflag.Parse(fs, args); err != nil {
		return err
	}
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	suffix := strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	prefix, db := "SGBENCH_"+suffix, "sgbench_"+suffix
	if *natsURL == "" {
		dir, err := os.MkdirTemp("", "spendgate-bench-nats-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		ns, url, err := natsembed.Start(dir)
		if err != nil {
			return err
		}
		defer ns.Shutdown()
		*natsURL = url
		fmt.Printf("NATS: embedded server %s in this process (its CPU counts as this process's)\n", ns.ID()[:8])
	}
	nc, err := nats.Connect(*natsURL)
	if err != nil {
		return fmt.Errorf("NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	cfg := ingest.DefaultConfig()
	cfg.Prefix, cfg.ServiceToken = prefix, "bench"
	if err := ingest.EnsureStreams(ctx, js, cfg); err != nil {
		return err
	}
	defer func() {
		_ = js.DeleteStream(context.Background(), prefix+"_EVENTS")
		_ = js.DeleteStream(context.Background(), prefix+"_DLQ")
		_ = js.DeleteStream(context.Background(), prefix+"_RAW")
	}()
	conn, err := chstore.Open(ctx, *chAddr, db)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db); conn.Close() }()
	if err := chstore.Migrate(ctx, conn, db); err != nil {
		return err
	}
	tenant := uuid.NewString()
	mk := func(k int) []event.Event {
		out := make([]event.Event, k)
		now := time.Now().UTC()
		for i := range out {
			id, _ := uuid.NewV7()
			out[i] = event.Event{SchemaVersion: 1, Type: event.TypeUsage, EventID: id.String(), Time: now, Source: event.SourceGateway,
				TenantID: tenant, KeyID: "22222222-2222-4222-8222-222222222222", Provider: "openai", Operation: "chat.completions",
				ModelRequested: "gpt-4o-mini", StatusCode: 200, Complete: true, Usage: usage.Tokens{Input: 1200, Output: 300},
				Dimensions: map[string]string{"team": "search"}}
		}
		return out
	}
	count := func() (uint64, error) {
		var c uint64
		err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".usage_events").Scan(&c)
		return c, err
	}

	// Baseline 1: raw JetStream async publish with Nats-Msg-Id, no receiver.
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: prefix + "_RAW", Subjects: []string{strings.ToLower(prefix) + ".raw.>"},
		Storage: jetstream.FileStorage, Duplicates: 2 * time.Hour}); err != nil {
		return err
	}
	raw := mk(*n)
	payloads := make([][]byte, len(raw))
	for i := range raw {
		payloads[i] = event.AppendJSON(nil, &raw[i])
	}
	// Its own client with room for every publish in flight: the baseline is
	// JetStream's speed, not the client's async window.
	jsRaw, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(*n+1))
	if err != nil {
		return err
	}
	start := time.Now()
	for i := range raw {
		if _, err := jsRaw.PublishAsync(strings.ToLower(prefix)+".raw.x", payloads[i], jetstream.WithMsgID(raw[i].EventID)); err != nil {
			return err
		}
	}
	select {
	case <-jsRaw.PublishAsyncComplete():
	case <-time.After(time.Minute):
		return fmt.Errorf("raw publish did not complete")
	}
	jsRate := float64(*n) / time.Since(start).Seconds()

	// Baseline 2: the ClickHouse writer alone (stored-id check, lanes) on
	// priced events in consumer-sized batches.
	cat := pricing.Default()
	w := chstore.NewWriter(conn, db)
	w.Lanes = *lanes
	priced := make([]spend.PricedEvent, len(raw))
	for i, e := range raw {
		priced[i] = spend.PricedEvent{Event: e, Cost: cat.Cost(pricing.Request{Provider: e.Provider, Model: e.ModelRequested, Time: e.Time}, e.Usage, nil)}
	}
	start = time.Now()
	for i := 0; i < len(priced); i += *consumerBatch {
		if _, err := w.Write(ctx, priced[i:min(i+*consumerBatch, len(priced))]); err != nil {
			return err
		}
	}
	chRate := float64(*n) / time.Since(start).Seconds()
	if err := conn.Exec(ctx, "TRUNCATE TABLE "+db+".usage_events"); err != nil {
		return err
	}

	// End to end through HTTP, observed at the writer.
	ccfg := defC
	ccfg.BatchSize, ccfg.MaxWait = *consumerBatch, *batchWait
	obs := &observedWriter{w: w, reached: make(chan struct{})}
	consumer := ingest.NewConsumer(cfg, ccfg, js, obs, cat, nil, quiet)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	consumerDone := make(chan struct{})
	go func() { defer close(consumerDone); _ = consumer.Run(cctx) }()
	defer func() { cancel(); <-consumerDone }()
	srv := httptest.NewServer(ingest.NewReceiver(cfg, js, quiet))
	defer srv.Close()
	post := func(body []byte) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer bench")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("receiver answered %d", resp.StatusCode)
		}
		return nil
	}
	all := mk(*n)
	var bodies [][]byte
	for i := 0; i < len(all); i += *batchSize {
		bodies = append(bodies, event.AppendBatch(nil, all[i:min(i+*batchSize, len(all))]))
	}
	sendAll := func() error {
		work := make(chan []byte, len(bodies))
		for _, b := range bodies {
			work <- b
		}
		close(work)
		var wg sync.WaitGroup
		var sendErr error
		var once sync.Once
		for range *senders {
			wg.Go(func() {
				for b := range work {
					if err := post(b); err != nil {
						once.Do(func() { sendErr = err })
					}
				}
			})
		}
		wg.Wait()
		return sendErr
	}
	obs.expect(int64(*n))
	cpu0 := sampleCPU()
	start = time.Now()
	if err := sendAll(); err != nil {
		return err
	}
	accepted := time.Since(start)
	select {
	case <-obs.reached:
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("only %d of %d events reached ClickHouse", obs.stored.Load(), *n)
	}
	e2e := time.Since(start)
	e2eCPU := sampleCPU().since(cpu0)
	e2eRate := float64(*n) / e2e.Seconds()
	// Every event again: all duplicates, totals unchanged.
	if err := sendAll(); err != nil {
		return err
	}
	if c, err := count(); err != nil {
		return fmt.Errorf("count after re-sending: %w", err)
	} else if c != uint64(*n) {
		return fmt.Errorf("re-sending changed the count to %d", c)
	}

	// Lag at a fixed rate: rate/100 events every 10 ms; an event's lag runs
	// from its creation, just before its batch is sent, until the insert that
	// stored it returned.
	per := max(*rate/100, 1)
	ticks := int(dur.Seconds() * 100)
	obs.expect(int64(ticks * per))
	obs.recordLag.Store(true)
	tick := time.NewTicker(10 * time.Millisecond)
	for range ticks {
		<-tick.C
		if err := post(event.AppendBatch(nil, mk(per))); err != nil {
			return err
		}
	}
	tick.Stop()
	select {
	case <-obs.reached:
	case <-time.After(time.Minute):
		return fmt.Errorf("lag run: only %d of %d events reached ClickHouse", obs.stored.Load(), ticks*per)
	}
	lags := obs.lagsSorted()
	pct := func(p float64) time.Duration { return lags[int(p*float64(len(lags)-1))].Round(time.Millisecond) }

	fmt.Printf("events: %d, HTTP batch %d × %d senders, consumer batch %d (wait %s), %d ClickHouse lanes\n",
		*n, *batchSize, *senders, *consumerBatch, *batchWait, *lanes)
	fmt.Printf("baseline raw JetStream publish (Nats-Msg-Id):      %8.0f events/s\n", jsRate)
	fmt.Printf("baseline ClickHouse writer alone (id check):       %8.0f events/s\n", chRate)
	fmt.Printf("receiver accepted (JetStream acked):               %8.0f events/s\n", float64(*n)/accepted.Seconds())
	fmt.Printf("end to end HTTP → ClickHouse (dedup on):           %8.0f events/s  = %.2f× raw JetStream, %.2f× writer alone (goal ≥ 50000: %s)\n",
		e2eRate, e2eRate/jsRate, e2eRate/chRate, map[bool]string{true: "met", false: "missed"}[e2eRate >= 50_000])
	printCPUPerEvent(e2eCPU, *n, e2e)
	fmt.Printf("re-sent all %d events: totals unchanged\n", *n)
	fmt.Printf("lag at %d events/s for %s (%d events): p50 %s, p99 %s, max %s = p99 %.2f× the batch wait\n",
		*rate, *dur, len(lags), pct(0.5), pct(0.99), lags[len(lags)-1].Round(time.Millisecond), float64(pct(0.99))/float64(*batchWait))
	cancel() // the in-process consumer stops before the processes' runs
	<-consumerDone
	if *consumers == "" {
		return nil
	}
	if *bin, err = findSpendgate(*bin); err != nil {
		return err
	}
	pgDSN, err := url.Parse(*pgAdmin)
	if err != nil {
		return fmt.Errorf("--postgres-dsn: %w", err)
	}
	pgDSN.Path = "/" + db
	defer dropPostgresDatabase(*pgAdmin, db)
	runner := &ingestProcsRun{bin: *bin, natsURL: *natsURL, chAddr: *chAddr, chDB: db, pgDSN: pgDSN.String(), partitions: *partitions,
		batch: *consumerBatch, batchWait: *batchWait, conn: conn, bodies: bodies, events: *n, senders: *senders, lanes: *lanes,
		profile: *procsProfile, profileSeconds: *procsProfileSeconds}
	var results []ingestProcsResult
	for _, k := range strings.Split(*consumers, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(k))
		if err != nil || c < 1 || c > *partitions {
			return fmt.Errorf("--consumers: %q is not a number of consumers between 1 and --partitions", k)
		}
		p := fmt.Sprintf("%s_C%d", prefix, c)
		res, err := runner.run(ctx, c, p)
		_ = js.DeleteStream(context.Background(), p+"_EVENTS")
		_ = js.DeleteStream(context.Background(), p+"_DLQ")
		if err != nil {
			return err
		}
		results = append(results, res)
	}
	printIngestProcs(results, *n)
	return nil
}

// dropPostgresDatabase removes a scratch database the runs created.
func dropPostgresDatabase(adminDSN, name string) {
	conn, err := pgx.Connect(context.Background(), adminDSN)
	if err != nil {
		return
	}
	defer conn.Close(context.Background())
	_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
}

// observedWriter is the ClickHouse writer, noting when events are stored.
type observedWriter struct {
	w         *chstore.Writer
	stored    atomic.Int64
	want      atomic.Int64
	reached   chan struct{}
	recordLag atomic.Bool
	mu        sync.Mutex
	lags      []time.Duration
}

// expect resets the count and signals reached once want events are stored.
func (o *observedWriter) expect(want int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stored.Store(0)
	o.want.Store(want)
	o.reached = make(chan struct{})
}

func (o *observedWriter) Write(ctx context.Context, evs []spend.PricedEvent) (int, error) {
	n, err := o.w.Write(ctx, evs)
	if err != nil {
		return n, err
	}
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.recordLag.Load() {
		for i := range evs {
			o.lags = append(o.lags, now.Sub(evs[i].Event.Time))
		}
	}
	if o.stored.Add(int64(n)) >= o.want.Load() {
		select {
		case <-o.reached:
		default:
			close(o.reached)
		}
	}
	return n, nil
}

func (o *observedWriter) lagsSorted() []time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	slices.Sort(o.lags)
	return o.lags
}

// printCPUPerEvent splits the end-to-end run's CPU by process, per event,
// and what it implies: at that cost the machine's cores cannot carry more
// than cores/cost events per second, whatever the pipeline's concurrency.
func printCPUPerEvent(cpu cpuSample, events int, took time.Duration) {
	if len(cpu) == 0 {
		return
	}
	per := func(k string) float64 { return cpu[k] * 1e6 / float64(events) }
	fmt.Printf("CPU per event in the end-to-end run (%d cores, %.1f s):\n", runtime.NumCPU(), took.Seconds())
	for _, k := range []string{"spendgate (this process)", "nats-server", "clickhouse-server", "postgres"} {
		if v, ok := cpu[k]; ok && v > 0 {
			fmt.Printf("  %-46s %6.1f µs\n", k, per(k))
		}
	}
	fmt.Printf("  (this process: receiver, consumer, pricing, ClickHouse client, and the bench's HTTP senders)\n")
	if all, ok := cpu["machine (all processes)"]; ok && all > 0 {
		perAll := all * 1e6 / float64(events)
		fmt.Printf("  %-46s %6.1f µs → at most %.0f events/s on %d cores at this cost; ≥ 50000 events/s needs ≤ %.0f µs\n",
			"machine (all processes)", perAll, float64(runtime.NumCPU())*1e6/perAll, runtime.NumCPU(), float64(runtime.NumCPU())*1e6/50_000)
	}
}
