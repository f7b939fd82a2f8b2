package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spendgate/spendgate/budget/alerts"
	budgethttp "github.com/spendgate/spendgate/budget/httpapi"
	budgetservice "github.com/spendgate/spendgate/budget/service"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/dataplane/contract"
	"github.com/spendgate/spendgate/ingest"
	"github.com/spendgate/spendgate/natsembed"
	"github.com/spendgate/spendgate/org/orgstore"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/pricing/revision"
	"github.com/spendgate/spendgate/reprice"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
	"github.com/spendgate/spendgate/store/postgres"
)

// pipelineFlags configure the event pipeline (receiver → JetStream →
// pricing → ClickHouse → budgets), shared by `serve` and `ingest`.
type pipelineFlags struct {
	natsURL, dataDir, prefix string
	chAddr, chDB             string
	chCluster                clickhouseClusterFlags
	maxBody                  int64
	batch, lanes             int
	partitions, replicas     int
	consume, streamMaxBytes  string
	dedupWindow, streamAge   time.Duration
	memLimit                 memoryLimit
	batchWait                time.Duration
	budgets, failOpen        bool
	reservationTTL           time.Duration
	publishTimeout           time.Duration
	webhookAllow             egressFlag
	pricing                  pricingFlags
}

func addPipelineFlags(fs *flag.FlagSet, f *pipelineFlags, natsDefault, dataDirDefault string) {
	def, defC := ingest.DefaultConfig(), ingest.DefaultConsumerConfig()
	fs.StringVar(&f.natsURL, "nats-url", natsDefault, "NATS server with JetStream, or a cluster's servers separated by commas (empty: run one embedded, storing under --data-dir)")
	fs.StringVar(&f.dataDir, "data-dir", dataDirDefault, "where the embedded NATS (and serve's demo files) live")
	fs.StringVar(&f.prefix, "stream-prefix", def.Prefix, "JetStream stream and subject prefix (several installations can share one NATS)")
	fs.StringVar(&f.chAddr, "clickhouse-addr", "127.0.0.1:9000", "ClickHouse native address (start it with: make clickhouse)")
	fs.StringVar(&f.chDB, "clickhouse-database", "spendgate", "ClickHouse database (created when missing)")
	addClickHouseClusterFlags(fs, &f.chCluster)
	fs.Int64Var(&f.maxBody, "max-body-bytes", def.MaxBodyBytes, "largest event batch accepted (413 beyond)")
	fs.IntVar(&f.partitions, "partitions", def.Partitions, "partitions event ids are spread over, so that several ingest processes can consume at once; the same in every process of an installation (docs/ingest.md)")
	fs.StringVar(&f.consume, "consume-partitions", "all", `partitions this process consumes: "all", "none" (receiver only) or a list such as 0,2-3; each partition must be consumed by one process at a time`)
	fs.IntVar(&f.replicas, "stream-replicas", def.Replicas, "JetStream servers holding each stream: 3 on a NATS cluster, so a server can die without losing events")
	fs.DurationVar(&f.dedupWindow, "dedup-window", def.DedupWindow, "how long JetStream drops a re-published event id; its memory is rate × window × ~125 B (older copies are skipped by the ClickHouse writer)")
	fs.DurationVar(&f.streamAge, "stream-max-age", def.MaxAge, "how long the events stream keeps events: the longest ClickHouse or Postgres outage ridden out without loss")
	fs.StringVar(&f.streamMaxBytes, "stream-max-bytes", "", "disk cap of the events stream, e.g. 20GiB (empty: none); when full, events are refused (503) rather than dropped: size it at least event rate × 1 KB × --stream-max-age")
	fs.Var(&f.memLimit, "memory-limit", "Go heap soft limit, e.g. 512MiB (empty: GOMEMLIMIT, else 90% of the container's memory, else none)")
	fs.IntVar(&f.batch, "batch-size", defC.BatchSize, "most events per fetch and ClickHouse insert")
	fs.DurationVar(&f.batchWait, "batch-wait", defC.MaxWait, "longest a fetch waits to fill a batch")
	fs.IntVar(&f.lanes, "clickhouse-lanes", 1, "concurrent INSERTs a large batch is split into (by event id); more help when ClickHouse has idle cores")
	fs.BoolVar(&f.budgets, "budgets", true, "apply spend to budgets, deliver their alerts and serve reservations (POST /internal/v1/reservations)")
	fs.BoolVar(&f.failOpen, "budget-fail-open", false, "when the budget store is unreachable, let calls under hard budgets through unchecked (default: refuse them)")
	fs.DurationVar(&f.publishTimeout, "publish-timeout", ingest.DefaultPublishTimeout, "longest the event receiver waits for JetStream to acknowledge a batch before answering 503 (retry); unacknowledged publishes are repeated meanwhile — on a NATS cluster use 10s or more to ride out a leader election (~5 s)")
	fs.Var(&f.webhookAllow, "webhook-allow", webhookAllowUsage)
	fs.DurationVar(&f.reservationTTL, "reservation-ttl", budgetservice.DefaultConfig("").ReservationTTL, "how long an unsettled reservation holds budget before it expires")
	addPricingFlags(fs, &f.pricing)
}

func (f *pipelineFlags) validate() error {
	switch {
	case f.batch <= 0 || f.batchWait <= 0 || f.lanes <= 0 || f.maxBody <= 0:
		return errors.New("--batch-size, --batch-wait, --clickhouse-lanes and --max-body-bytes must be positive")
	case f.publishTimeout <= 0:
		return errors.New("--publish-timeout must be positive")
	case f.dedupWindow < time.Second || f.streamAge < time.Hour || f.dedupWindow > f.streamAge:
		return errors.New("--dedup-window must be at least 1s, --stream-max-age at least 1h, and the window shorter than the age")
	case f.replicas != 1 && f.replicas != 3 && f.replicas != 5:
		return errors.New("--stream-replicas must be 1, 3 or 5")
	case f.partitions < 1 || f.partitions > maxPartitions:
		return fmt.Errorf("--partitions must be between 1 and %d", maxPartitions)
	case f.reservationTTL < time.Minute:
		return errors.New("--reservation-ttl must be at least a minute (longer than a call plus the ingest lag)")
	}
	if _, err := parseBytes(f.streamMaxBytes); err != nil {
		return fmt.Errorf("--stream-max-bytes: %w", err)
	}
	if err := f.chCluster.validate(f.chAddr); err != nil {
		return err
	}
	if f.consume != "none" {
		if _, err := ingest.ParsePartitions(f.consume, f.partitions); err != nil {
			return fmt.Errorf("--consume-partitions: %w", err)
		}
	}
	return nil
}

// maxPartitions bounds --partitions: each partition is a durable consumer
// that its owner polls while idle.
const maxPartitions = 256

// owned is the partitions this process consumes (nil: none).
func (f *pipelineFlags) owned() []int {
	if f.consume == "none" {
		return nil
	}
	parts, _ := ingest.ParsePartitions(f.consume, f.partitions) // validated
	return parts
}

// pipeline is the event pipeline's parts, opened and wired.
type pipeline struct {
	nc          *nats.Conn
	js          jetstream.JetStream
	cfg         ingest.Config
	ccfg        ingest.ConsumerConfig
	ch          driver.Conn
	chDB        string
	chFlags     *pipelineFlags
	receiver    *ingest.Receiver
	consumer    *ingest.Consumer       // nil with --consume-partitions=none
	budgets     *budgetservice.Service // nil with --budgets=false
	ticks       *alerts.Ticks          // live spend ticks after each stored batch
	dlq         *ingest.DLQ
	alertPrefix string
	closers     []func()

	// catalogue follows the applied pricing revisions; revisions manages them.
	catalogue *pricing.Live
	revisions *revision.Service

	// overrides caches tenants' pricing overrides for the consumer, budgets
	// and serve's gateway (whether a model is priced), so all three agree.
	overrides *ingest.CachedOverrides
}

// openPipeline connects NATS (or starts it embedded), creates the streams,
// opens and migrates ClickHouse, and wires the receiver, the consumer (with
// one tenant-override cache shared with budgets) and the budget engine.
func openPipeline(ctx context.Context, f *pipelineFlags, serviceToken string, pool *pgxpool.Pool, log *slog.Logger, name string) (_ *pipeline, err error) {
	p := &pipeline{chDB: f.chDB, chFlags: f}
	f.memLimit.apply(log)
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	url := f.natsURL
	if url == "" {
		store := filepath.Join(f.dataDir, "nats")
		ns, u, err := natsembed.Start(store)
		if err != nil {
			return nil, err
		}
		p.closers = append(p.closers, ns.Shutdown)
		url = u
		log.Info("embedded NATS with JetStream started", "url", url, "store", store)
	}
	if p.nc, err = nats.Connect(url, nats.Name("spendgate "+name), nats.MaxReconnects(-1)); err != nil {
		return nil, fmt.Errorf("NATS at %s: %w", url, err)
	}
	p.closers = append(p.closers, func() { _ = p.nc.Drain() })
	if p.js, err = jetstream.New(p.nc); err != nil {
		return nil, err
	}
	p.cfg = ingest.DefaultConfig()
	p.cfg.Prefix, p.cfg.ServiceToken, p.cfg.MaxBodyBytes, p.cfg.Partitions = f.prefix, serviceToken, f.maxBody, f.partitions
	p.cfg.DedupWindow, p.cfg.MaxAge, p.cfg.Replicas = f.dedupWindow, f.streamAge, f.replicas
	p.cfg.MaxBytes, _ = parseBytes(f.streamMaxBytes) // validated
	if err := ingest.EnsureStreams(ctx, p.js, p.cfg); err != nil {
		return nil, err
	}
	if p.ch, err = f.chCluster.open(ctx, pool, f.chAddr, f.chDB); err != nil {
		return nil, fmt.Errorf("%w (start ClickHouse with: make clickhouse)", err)
	}
	p.closers = append(p.closers, func() { _ = p.ch.Close() })
	live, revs, stop, err := followPricing(ctx, pool, &f.pricing, log)
	if err != nil {
		return nil, err
	}
	p.catalogue, p.revisions = live, revs
	p.closers = append(p.closers, stop)
	ccfg := ingest.DefaultConsumerConfig()
	ccfg.BatchSize, ccfg.MaxWait, ccfg.Partitions = f.batch, f.batchWait, f.owned()
	p.ccfg = ccfg
	p.overrides = ingest.NewCachedOverrides(controlplane.OverrideReader{DB: pool}, ccfg.OverridesTTL)
	writer := f.chCluster.writer(p.ch, f.chAddr, f.chDB)
	writer.Lanes = f.lanes
	p.receiver = ingest.NewReceiver(p.cfg, p.js, log)
	p.receiver.PublishTimeout = f.publishTimeout
	if ccfg.Partitions != nil {
		p.consumer = ingest.NewConsumer(p.cfg, ccfg, p.js, writer, p.catalogue, p.overrides, log)
		p.consumer.SetTrees(orgstore.Reader{DB: pool})
	}
	p.dlq = ingest.NewDLQ(p.js, p.cfg)
	p.alertPrefix = strings.ToLower(p.cfg.Prefix)
	if f.budgets {
		// Spend counters and alerts fed by the consumer (after the ClickHouse
		// insert, before the ack), reservations for hard caps.
		bcfg := budgetservice.DefaultConfig(p.alertPrefix)
		bcfg.FailOpen, bcfg.ReservationTTL = f.failOpen, f.reservationTTL
		bcfg.Alerts.Egress = f.webhookAllow.policy
		p.budgets = budgetservice.New(pool, p.nc, p.alertPrefix, bcfg, log)
		p.budgets.SetPricingOverrides(p.overrides)
		p.budgets.UseCatalogue(p.catalogue)
	}
	p.ticks = alerts.NewTicks(p.nc, p.alertPrefix, log)
	switch {
	case p.consumer == nil:
	case p.budgets != nil:
		p.consumer.SetSpendSink(ingest.SpendSinks{p.budgets, p.ticks})
	default:
		p.consumer.SetSpendSink(p.ticks)
	}
	return p, nil
}

// repricer re-prices stored events into the pipeline's ClickHouse database,
// counting the new costs against budgets when they are on.
func (p *pipeline) repricer(cp *controlplane.Service, pool *pgxpool.Pool) *reprice.Service {
	var spend ingest.SpendSink
	if p.budgets != nil {
		spend = p.budgets
	}
	return reprice.New(cp, pool, &chstore.Analytics{Conn: p.ch, Database: p.chDB}, p.chFlags.chCluster.writer(p.ch, p.chFlags.chAddr, p.chDB), p.catalogue, spend)
}

// workers are the pipeline's long-running loops.
func (p *pipeline) workers() []func(context.Context) error {
	var w []func(context.Context) error
	if p.consumer != nil {
		w = append(w, p.consumer.Run)
	}
	if p.budgets != nil {
		w = append(w, p.budgets.Run)
	}
	return w
}

// mount adds the event receiver and, with budgets, the reservation
// endpoints, authenticated with the service token.
func (p *pipeline) mount(mount func(pattern string, h http.Handler), serviceToken string, log *slog.Logger) {
	mount("POST "+contract.EventsPath, p.receiver)
	if p.budgets != nil {
		reservations := budgethttp.Handler(p.budgets, serviceToken, log)
		mount("POST "+contract.ReservationsPath, reservations)
		mount("POST "+contract.ReleasePattern, reservations)
	}
}

// close releases what open took, newest first.
func (p *pipeline) close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
	p.closers = nil
}

// migrateClickHouse applies the ClickHouse migrations under the control
// plane's advisory lock, so an api and an ingest process starting together
// do not both run them (ClickHouse itself has nothing to lock with).
func migrateClickHouse(ctx context.Context, pool *pgxpool.Pool, ch driver.Conn, s chstore.Schema) error {
	return postgres.WithAdvisoryLock(ctx, pool, postgres.LockClickHouseMigrations, func(ctx context.Context) error {
		return chstore.MigrateSchema(ctx, ch, s)
	})
}
