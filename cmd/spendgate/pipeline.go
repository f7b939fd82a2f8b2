package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spendgate/spendgate/anomaly"
	anomalypg "github.com/spendgate/spendgate/anomaly/pgstore"
	"github.com/spendgate/spendgate/budget/alerts"
	budgethttp "github.com/spendgate/spendgate/budget/httpapi"
	budgetservice "github.com/spendgate/spendgate/budget/service"
	"github.com/spendgate/spendgate/config"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/dataplane/contract"
	"github.com/spendgate/spendgate/ingest"
	"github.com/spendgate/spendgate/natsembed"
	"github.com/spendgate/spendgate/org/orgstore"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/pricing/revision"
	"github.com/spendgate/spendgate/reprice"
	"github.com/spendgate/spendgate/secrets"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
	"github.com/spendgate/spendgate/store/postgres"
)

// pipeline is the event pipeline's parts, opened and wired.
type pipeline struct {
	natsURL     string // the one connected to: --nats-url, or the embedded server's
	nc          *nats.Conn
	js          jetstream.JetStream
	cfg         ingest.Config
	ccfg        ingest.ConsumerConfig
	ch          driver.Conn
	chDB        string
	chFlags     *config.Pipeline
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

	// intel runs the hourly anomaly detection and recommendation refresh;
	// anomaly alerts go out through the budget alert dispatcher.
	intel     *intelligence
	intelJobs func(context.Context) error
}

// openPipeline connects NATS (or starts it embedded), creates the streams,
// opens and migrates ClickHouse, and wires the receiver, the consumer (with
// one tenant-override cache shared with budgets) and the budget engine.
func openPipeline(ctx context.Context, f *config.Pipeline, m *config.Mail, serviceToken, secretsKey string, pool *pgxpool.Pool, log *slog.Logger, name string) (_ *pipeline, err error) {
	p := &pipeline{chDB: f.CHDB, chFlags: f}
	applyMemoryLimit(&f.MemLimit, log)
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	url := f.NATSURL
	if url == "" {
		store := filepath.Join(f.DataDir, "nats")
		ns, u, err := natsembed.Start(store)
		if err != nil {
			return nil, err
		}
		p.closers = append(p.closers, ns.Shutdown)
		url = u
		log.Info("embedded NATS with JetStream started", "url", url, "store", store)
	}
	p.natsURL = url
	if p.nc, err = nats.Connect(url, nats.Name("spendgate "+name), nats.MaxReconnects(-1)); err != nil {
		return nil, fmt.Errorf("NATS at %s: %w", url, err)
	}
	p.closers = append(p.closers, func() { _ = p.nc.Drain() })
	if p.js, err = jetstream.New(p.nc); err != nil {
		return nil, err
	}
	p.cfg = ingest.DefaultConfig()
	p.cfg.Prefix, p.cfg.ServiceToken, p.cfg.MaxBodyBytes, p.cfg.Partitions = f.Prefix, serviceToken, f.MaxBody, f.Partitions
	p.cfg.DedupWindow, p.cfg.MaxAge, p.cfg.Replicas = f.DedupWindow, f.StreamAge, f.Replicas
	p.cfg.MaxBytes = f.StreamMaxBytesValue()
	if err := ingest.EnsureStreams(ctx, p.js, p.cfg); err != nil {
		return nil, err
	}
	if p.ch, err = openClickHouse(ctx, f.CHCluster, pool, f.CHAddr, f.CHDB); err != nil {
		return nil, fmt.Errorf("%w (start ClickHouse with: make clickhouse)", err)
	}
	p.closers = append(p.closers, func() { _ = p.ch.Close() })
	live, revs, stop, err := followPricing(ctx, pool, &f.Pricing, log)
	if err != nil {
		return nil, err
	}
	p.catalogue, p.revisions = live, revs
	p.closers = append(p.closers, stop)
	ccfg := ingest.DefaultConsumerConfig()
	ccfg.BatchSize, ccfg.MaxWait, ccfg.Partitions = f.Batch, f.BatchWait, f.Owned()
	p.ccfg = ccfg
	p.overrides = ingest.NewCachedOverrides(controlplane.OverrideReader{DB: pool}, ccfg.OverridesTTL)
	writer, err := eventWriter(ctx, f.CHCluster, p.ch, f.CHAddr, f.CHDB)
	if err != nil {
		return nil, err
	}
	writer.Lanes = f.Lanes
	p.receiver = ingest.NewReceiver(p.cfg, p.js, log)
	p.receiver.PublishTimeout = f.PublishTimeout
	if ccfg.Partitions != nil {
		p.consumer = ingest.NewConsumer(p.cfg, ccfg, p.js, writer, p.catalogue, p.overrides, log)
		p.consumer.SetTrees(orgstore.Reader{DB: pool})
	}
	p.dlq = ingest.NewDLQ(p.js, p.cfg)
	p.alertPrefix = strings.ToLower(p.cfg.Prefix)
	if f.Budgets {
		// Spend counters and alerts fed by the consumer (after the ClickHouse
		// insert, before the ack), reservations for hard caps.
		bcfg := budgetservice.DefaultConfig(p.alertPrefix)
		bcfg.FailOpen, bcfg.ReservationTTL = f.FailOpen, f.ReservationTTL
		bcfg.Alerts.Egress = f.WebhookAllow.Policy
		bcfg.EmailDebounce = m.AlertDebounce
		if secretsKey != "" { // breach webhooks are signed with secrets the api sealed
			if bcfg.Alerts.Secrets, err = secrets.Parse(secretsKey); err != nil {
				return nil, err
			}
		}
		sender, err := m.Sender()
		if err != nil {
			return nil, err
		}
		if sender != nil { // a nil *mail.Sender would be a non-nil Mailer
			bcfg.Alerts.Mailer = sender
		}
		p.budgets = budgetservice.New(pool, p.nc, p.alertPrefix, bcfg, log)
		p.budgets.SetPricingOverrides(p.overrides)
		p.budgets.UseCatalogue(p.catalogue)
	}
	p.ticks = alerts.NewTicks(p.nc, p.alertPrefix, log)
	if p.intel, err = openIntelligence(pool, &chstore.Analytics{Conn: p.ch, Database: p.chDB}, p.catalogue, nil, log); err != nil {
		return nil, err
	}
	p.intelJobs = p.intel.jobs(pool, log)
	if p.budgets != nil {
		p.budgets.Dispatcher.SetAnomalies(anomalypg.New(pool))
		p.intel.anomalies.Opened = func(anomaly.Episode) { p.budgets.Dispatcher.Kick() }
	}
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
	return reprice.New(cp, pool, &chstore.Analytics{Conn: p.ch, Database: p.chDB}, clickhouseWriter(p.chFlags.CHCluster, p.ch, p.chFlags.CHAddr, p.chDB), p.catalogue, spend)
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
	if p.intelJobs != nil {
		w = append(w, p.intelJobs)
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
