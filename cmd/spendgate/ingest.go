package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spendgate/spendgate/config"
	"github.com/spendgate/spendgate/ingest"
	"github.com/spendgate/spendgate/store/postgres"
)

// runIngest runs the event receiver (POST /internal/v1/events into
// JetStream), the consumer that prices events into ClickHouse and budgets,
// and, unless --budgets=false, the budget engine: alert delivery, the
// reservation sweeper and the reservation endpoints for gateways.
// ingestFlags is the flag set of "spendgate ingest".
func ingestFlags() (*flag.FlagSet, *config.Ingest, *observeFlags) {
	return serviceFlags("ingest", &config.Ingest{})
}

func runIngest(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "dlq" {
		return runDLQ(ctx, args[1:])
	}
	fs, opts, of := ingestFlags()
	if err := parseOptions("ingest", fs, args, opts); err != nil {
		return err
	}
	token, pgDSN, listen := &opts.ServiceToken, &opts.PostgresDSN, &opts.Listen
	log := slog.Default()
	o, err := of.start(ctx, "ingest", log)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	defer o.close()
	if err := ensureDatabase(ctx, *pgDSN); err != nil {
		return err
	}
	if err := postgres.Migrate(ctx, *pgDSN); err != nil {
		return err
	}
	pool, err := postgres.Open(ctx, *pgDSN)
	if err != nil {
		return err
	}
	defer pool.Close()
	p, err := openPipeline(ctx, &opts.Pipeline, &opts.Mail, *token, opts.SecretsKey, pool, log, "ingest")
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	defer p.close()
	if err := p.observe(o.metrics); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	mux := http.NewServeMux()
	p.mount(mux.Handle, *token, log)
	mux.HandleFunc("GET "+healthPath, healthz)
	runs := p.workers()

	// The HTTP server stops first (no new events), then the consumer drains.
	// A worker that fails stops the whole command.
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	workers, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorkers()
	var wg sync.WaitGroup
	errc := make(chan error, len(runs))
	for _, run := range runs {
		wg.Go(func() {
			if err := run(workers); err != nil {
				errc <- err
				stop()
			}
		})
	}
	err = serveUntilDone(sctx, log, "ingest", *listen, o.traffic(mux), nil)
	stopWorkers()
	wg.Wait()
	close(errc)
	for werr := range errc {
		err = errors.Join(err, werr)
	}
	return err
}

// runDLQ lists or replays dead letters: `spendgate ingest dlq list` and
// `spendgate ingest dlq replay --sequence N`.
func runDLQ(ctx context.Context, args []string) error {
	usage := errors.New("usage: spendgate ingest dlq list [--tenant ID] [--limit N] | replay --sequence N [--tenant ID]  (with --nats-url, --stream-prefix)")
	if len(args) == 0 || (args[0] != "list" && args[0] != "replay") {
		return usage
	}
	fs := newFlagSet("ingest dlq " + args[0])
	natsURL := fs.String("nats-url", nats.DefaultURL, "NATS server with JetStream")
	prefix := fs.String("stream-prefix", ingest.DefaultConfig().Prefix, "prefix of stream and subject names")
	tenant := fs.String("tenant", "", "only this tenant's dead letters (empty: all)")
	limit := fs.Int("limit", 50, "newest dead letters listed")
	seq := fs.Uint64("sequence", 0, "dead letter to replay (the first column of list)")
	if err := parseWithEnv(fs, args[1:]); err != nil {
		return err
	}
	nc, err := nats.Connect(*natsURL, nats.Name("spendgate ingest dlq"))
	if err != nil {
		return fmt.Errorf("dlq: NATS at %s: %w", *natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	cfg := ingest.DefaultConfig()
	cfg.Prefix = *prefix
	dlq := ingest.NewDLQ(js, cfg)
	if args[0] == "replay" {
		if *seq == 0 {
			return usage
		}
		if err := dlq.Replay(ctx, *tenant, *seq); err != nil {
			return err
		}
		fmt.Printf("dead letter %d published again\n", *seq)
		return nil
	}
	list, err := dlq.List(ctx, *tenant, *limit)
	if err != nil {
		return err
	}
	fmt.Printf("%-8s %-20s %-36s %-36s %-4s %s\n", "SEQ", "TIME", "TENANT", "EVENT", "DLV", "REASON")
	for _, l := range list {
		fmt.Printf("%-8d %-20s %-36s %-36s %-4d %s\n", l.Sequence, l.Time.Format(time.DateTime), l.TenantID, l.EventID, l.Deliveries, l.Reason)
	}
	return nil
}
