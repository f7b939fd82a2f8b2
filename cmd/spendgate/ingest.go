package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/ingest"
	"github.com/spendgate/spendgate/natsembed"
	"github.com/spendgate/spendgate/pricing"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
	"github.com/spendgate/spendgate/store/postgres"
)

// runIngest runs the event receiver (POST /internal/v1/events into
// JetStream) and the consumer that prices events into ClickHouse.
func runIngest(ctx context.Context, args []string) error {
	fs := newFlagSet("ingest")
	listen := fs.String("listen", "127.0.0.1:8082", "receiver listen address")
	natsURL := fs.String("nats-url", nats.DefaultURL, "NATS server with JetStream (empty: run one embedded, data under --data-dir)")
	dataDir := fs.String("data-dir", "./spendgate-data", "embedded NATS storage when --nats-url is empty")
	token := fs.String("service-token", "", "token the data plane sends (required)")
	prefix := fs.String("stream-prefix", "SPENDGATE", "prefix of stream and subject names")
	maxBody := fs.Int64("max-body-bytes", 8<<20, "largest batch accepted (413 beyond)")
	chAddr := fs.String("clickhouse-addr", "127.0.0.1:9000", "ClickHouse native address")
	chDB := fs.String("clickhouse-database", "spendgate", "ClickHouse database (created when missing)")
	pgDSN := fs.String("postgres-dsn", "postgres://postgres@127.0.0.1:5432/spendgate?sslmode=disable", "control plane database, for tenant pricing overrides")
	batch := fs.Int("batch-size", 1000, "events per ClickHouse insert")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if *token == "" {
		return errors.New("ingest: --service-token (or SPENDGATE_SERVICE_TOKEN) is required")
	}
	log := slog.Default()
	if *natsURL == "" {
		ns, url, err := natsembed.Start(filepath.Join(*dataDir, "nats"))
		if err != nil {
			return err
		}
		defer ns.Shutdown()
		*natsURL = url
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
	cfg := ingest.DefaultConfig()
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
	pool, err := postgres.Open(ctx, *pgDSN)
	if err != nil {
		return err
	}
	defer pool.Close()
	ccfg := ingest.DefaultConsumerConfig()
	ccfg.BatchSize = *batch
	consumer := ingest.NewConsumer(cfg, ccfg, js, chstore.NewWriter(chConn, *chDB), pricing.Default(), controlplane.OverrideReader{DB: pool}, log)
	done := make(chan error, 1)
	go func() { done <- consumer.Run(ctx) }()
	mux := http.NewServeMux()
	mux.Handle("POST /internal/v1/events", ingest.NewReceiver(cfg, js, log))
	err = serveUntilDone(ctx, log, "ingest", *listen, mux, nil)
	if cerr := <-done; err == nil {
		err = cerr
	}
	return err
}
