package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	budgethttp "github.com/spendgate/spendgate/budget/httpapi"
	budgetservice "github.com/spendgate/spendgate/budget/service"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/ingest"
	"github.com/spendgate/spendgate/natsembed"
	"github.com/spendgate/spendgate/pricing"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
	"github.com/spendgate/spendgate/store/postgres"
)

// runIngest runs the event receiver (POST /internal/v1/events into
// JetStream), the consumer that prices events into ClickHouse and budgets,
// and, unless --budgets=false, the budget engine: alert delivery, the
// reservation sweeper and the reservation endpoints for gateways.
func runIngest(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "dlq" {
		return runDLQ(ctx, args[1:])
	}
	fs := newFlagSet("ingest")
	def, defC := ingest.DefaultConfig(), ingest.DefaultConsumerConfig()
	listen := fs.String("listen", "127.0.0.1:8082", "receiver (and reservation endpoints) listen address")
	natsURL := fs.String("nats-url", nats.DefaultURL, "NATS server with JetStream (empty: run one embedded, data under --data-dir)")
	dataDir := fs.String("data-dir", "./spendgate-data", "embedded NATS storage when --nats-url is empty")
	token := fs.String("service-token", "", "token the data plane sends (required)")
	prefix := fs.String("stream-prefix", def.Prefix, "prefix of stream and subject names")
	maxBody := fs.Int64("max-body-bytes", def.MaxBodyBytes, "largest batch accepted (413 beyond)")
	chAddr := fs.String("clickhouse-addr", "127.0.0.1:9000", "ClickHouse native address")
	chDB := fs.String("clickhouse-database", "spendgate", "ClickHouse database (created when missing)")
	pgDSN := fs.String("postgres-dsn", "postgres://postgres@127.0.0.1:5432/spendgate?sslmode=disable", "control plane database: pricing overrides and budgets")
	batch := fs.Int("batch-size", defC.BatchSize, "most events per fetch and ClickHouse insert")
	batchWait := fs.Duration("batch-wait", defC.MaxWait, "longest a fetch waits to fill a batch")
	lanes := fs.Int("clickhouse-lanes", 2, "concurrent INSERTs a large batch is split into (by event id)")
	withBudgets := fs.Bool("budgets", true, "apply spend to budgets, deliver their alerts and serve reservations (POST /internal/v1/reservations)")
	failOpen := fs.Bool("budget-fail-open", false, "when the budget store is unreachable, let calls under hard budgets through unchecked (default: refuse them)")
	reservationTTL := fs.Duration("reservation-ttl", budgetservice.DefaultConfig("").ReservationTTL, "how long an unsettled reservation holds budget before it expires")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	switch {
	case *token == "":
		return errors.New("ingest: --service-token (or SPENDGATE_SERVICE_TOKEN) is required")
	case *batch <= 0 || *batchWait <= 0 || *lanes <= 0 || *maxBody <= 0:
		return errors.New("ingest: --batch-size, --batch-wait, --clickhouse-lanes and --max-body-bytes must be positive")
	case *reservationTTL < time.Minute:
		return errors.New("ingest: --reservation-ttl must be at least a minute (longer than a call plus the ingest lag)")
	}
	log := slog.Default()
	if *natsURL == "" {
		ns, url, err := natsembed.Start(filepath.Join(*dataDir, "nats"))
		if err != nil {
			return err
		}
		defer ns.Shutdown()
		*natsURL = url
		log.Info("embedded NATS with JetStream started", "url", url, "store", filepath.Join(*dataDir, "nats"))
	}
	nc, err := nats.Connect(*natsURL, nats.Name("spendgate ingest"), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("ingest: NATS at %s: %w", *natsURL, err)
	}
	defer nc.Drain() //nolint:errcheck // best effort at exit
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	cfg := def
	cfg.Prefix, cfg.ServiceToken, cfg.MaxBodyBytes = *prefix, *token, *maxBody
	if err := ingest.EnsureStreams(ctx, js, cfg); err != nil {
		return err
	}
	chConn, err := chstore.Open(ctx, *chAddr, *chDB)
	if err != nil {
		return err
	}
	defer chConn.Close()
	if err := chstore.Migrate(ctx, chConn, *chDB); err != nil {
		return err
	}
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

	ccfg := defC
	ccfg.BatchSize, ccfg.MaxWait = *batch, *batchWait
	overrides := ingest.NewCachedOverrides(controlplane.OverrideReader{DB: pool}, ccfg.OverridesTTL)
	writer := chstore.NewWriter(chConn, *chDB)
	writer.Lanes = *lanes
	consumer := ingest.NewConsumer(cfg, ccfg, js, writer, pricing.Default(), overrides, log)
	mux := http.NewServeMux()
	mux.Handle("POST /internal/v1/events", ingest.NewReceiver(cfg, js, log))

	runs := []func(context.Context) error{consumer.Run}
	if *withBudgets {
		alertPrefix := strings.ToLower(cfg.Prefix)
		bcfg := budgetservice.DefaultConfig(alertPrefix)
		bcfg.FailOpen, bcfg.ReservationTTL = *failOpen, *reservationTTL
		budgets := budgetservice.New(pool, nc, alertPrefix, bcfg, log)
		budgets.SetPricingOverrides(overrides)
		consumer.SetSpendSink(budgets)
		reservations := budgethttp.Handler(budgets, *token, log)
		mux.Handle("POST /internal/v1/reservations", reservations)
		mux.Handle("POST /internal/v1/reservations/{id}/release", reservations)
		runs = append(runs, budgets.Run)
	}

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
	err = serveUntilDone(sctx, log, "ingest", *listen, mux, nil)
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
