package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spendgate/spendgate/analytics"
	"github.com/spendgate/spendgate/apiserver"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/billing"
	"github.com/spendgate/spendgate/budget/alerts"
	"github.com/spendgate/spendgate/budget/pgstore"
	budgetservice "github.com/spendgate/spendgate/budget/service"
	"github.com/spendgate/spendgate/config"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/ingest"
	"github.com/spendgate/spendgate/portal"
	"github.com/spendgate/spendgate/reconcile"
	recordhttp "github.com/spendgate/spendgate/recordapi/httpapi"
	"github.com/spendgate/spendgate/reprice"
	"github.com/spendgate/spendgate/secrets"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
	"github.com/spendgate/spendgate/store/postgres"
)

// openControlPlane migrates the database (creating it when missing) and
// builds the control plane service.
func openControlPlane(ctx context.Context, f *config.ControlPlane, log *slog.Logger) (*controlplane.Service, *pgxpool.Pool, error) {
	if err := ensureDatabase(ctx, f.PostgresDSN); err != nil {
		return nil, nil, err
	}
	if err := postgres.Migrate(ctx, f.PostgresDSN); err != nil {
		return nil, nil, err
	}
	pool, err := postgres.Open(ctx, f.PostgresDSN)
	if err != nil {
		return nil, nil, err
	}
	tokens, err := auth.NewTokens([]byte(f.JWTSecret))
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	cp, err := controlplane.New(pool, []byte(f.KeyPepper), tokens, log)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	if f.SecretsKey != "" {
		ring, err := secrets.Parse(f.SecretsKey)
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		cp.SetSecrets(ring)
	} else {
		log.Warn("no " + secrets.EnvVar + ": single sign-on and two-factor authentication cannot store their secrets until it is set")
	}
	cp.SetPublicURL(f.PublicURL)
	// Keys under an exhausted hard budget are answered blocked by the policy
	// endpoint (spend counters are the budget store's).
	cp.Blocks = pgstore.New(pool)
	return cp, pool, nil
}

// apiFlags is the flag set of "spendgate api" over its configuration.
func apiFlags() (*flag.FlagSet, *config.API, *observeFlags) {
	return serviceFlags("api", &config.API{})
}

func runAPI(ctx context.Context, args []string) error {
	fs, opts, of := apiFlags()
	if err := parseOptions("api", fs, args, opts); err != nil {
		return err
	}
	f, prf, webhookAllow := &opts.ControlPlane, &opts.Pricing, &opts.WebhookAllow
	listen, chAddr, chDB, natsURL, prefix := &opts.Listen, &opts.CHAddr, &opts.CHDB, &opts.NATSURL, &opts.Prefix
	log := slog.Default()
	o, err := of.start(ctx, "api", log)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	defer o.close()
	home, _ := os.UserHomeDir()
	f.DevKeyDir = filepath.Join(home, ".local", "share", "spendgate")
	if err := withDevDefaults(f, log, *listen); err != nil {
		return fmt.Errorf("api: %w", err)
	}
	if f.PublicURL == "" {
		f.PublicURL = "http://" + *listen
		if host, port, err := net.SplitHostPort(*listen); err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
			f.PublicURL = "http://localhost:" + port
		}
	}
	cp, pool, err := openControlPlane(ctx, f, log)
	if err != nil {
		return err
	}
	defer pool.Close()
	cp.SetWebhookEgress(webhookAllow.Policy)
	cp.SetAlertEmail(opts.Mail.Enabled())
	cp.SSOService.SetEgress(webhookAllow.Policy)
	live, revs, stopPricing, err := followPricing(ctx, pool, prf, log)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	defer stopPricing()
	cfg := apiserver.Config{ServiceToken: f.ServiceToken, ClientIPHeader: opts.ClientIPHeader, Catalogue: live, Revisions: revs, Limits: opts.Limits,
		Extensions: o.graphQLExtensions()}
	var store *chstore.Analytics
	if *chAddr != "" {
		ch, err := openClickHouse(ctx, opts.CHCluster, pool, *chAddr, *chDB)
		if err != nil {
			return fmt.Errorf("api: %w (or pass --clickhouse-addr '' to run without analytics)", err)
		}
		defer ch.Close()
		store = &chstore.Analytics{Conn: ch, Database: *chDB}
		// Anomalies and recommendations are listed here; the pipeline's
		// jobs (ingest, serve) find and refresh them.
		intel, err := openIntelligence(pool, store, live, cp, log)
		if err != nil {
			return fmt.Errorf("api: %w", err)
		}
		cfg.Anomalies, cfg.Recommendations = intel.anomalies, intel.recommendations
		// Re-pricing counts new costs against budgets: the budget engine's
		// spend path is Postgres only; ingest delivers the alerts it raises.
		bcfg := budgetservice.DefaultConfig(strings.ToLower(*prefix))
		bcfg.Alerts.Egress = webhookAllow.Policy
		budgets := budgetservice.New(pool, nil, strings.ToLower(*prefix), bcfg, log)
		budgets.UseCatalogue(live)
		cfg.Reprice = reprice.New(cp, pool, store, clickhouseWriter(opts.CHCluster, ch, *chAddr, *chDB), live, budgets)
	} else {
		log.Warn("api: no ClickHouse: spend analytics and CSV export answer 'not available'")
	}
	var spendStore analytics.Store // a nil *chstore.Analytics would be a non-nil interface
	if store != nil {
		spendStore = store
	}
	cfg.Analytics = analytics.New(cp, spendStore, pgstore.New(pool), analytics.DefaultLimits())
	if store != nil {
		reports, stopReports, err := startReports(ctx, pool, cp, store, &opts.Mail, webhookAllow.Policy, f.PublicURL, log)
		if err != nil {
			return fmt.Errorf("api: %w", err)
		}
		defer stopReports()
		cfg.Reports = reports
	}
	var recordCfg *recordhttp.Config
	var alertsNC *nats.Conn // drift alerts are published beside budget alerts
	if *natsURL != "" {
		nc, err := nats.Connect(*natsURL, nats.Name("spendgate api"), nats.MaxReconnects(-1))
		if err != nil {
			return fmt.Errorf("api: NATS at %s: %w (or pass --nats-url '' to run without live alerts)", *natsURL, err)
		}
		alertsNC = nc
		defer nc.Drain() //nolint:errcheck // best effort at exit
		js, err := jetstream.New(nc)
		if err != nil {
			return err
		}
		icfg := ingest.DefaultConfig()
		icfg.Prefix = *prefix
		if err := ingest.EnsureStreams(ctx, js, icfg); err != nil { // idempotent; the DLQ is read from them
			return err
		}
		feed := alerts.NewFeed(nc, strings.ToLower(*prefix), log)
		cfg.Alerts, cfg.AnomalyFeed = feed, feed
		cfg.Ticks = alerts.NewTicks(nc, strings.ToLower(*prefix), log)
		cfg.DeadLetters = ingest.NewDLQ(js, icfg)
		// The public record API (/v1/): records go to the ingest streams
		// like the data plane's events, preflights through the budget
		// engine's reservation path (Postgres; ingest sweeps expiries).
		icfg.Partitions = opts.Partitions
		overrides := ingest.NewCachedOverrides(controlplane.OverrideReader{DB: pool}, ingest.DefaultConsumerConfig().OverridesTTL)
		reserver := budgetservice.New(pool, nil, strings.ToLower(*prefix), budgetservice.DefaultConfig(strings.ToLower(*prefix)), log)
		reserver.UseCatalogue(live)
		reserver.SetPricingOverrides(overrides)
		recordCfg = &recordhttp.Config{Keys: cp, Reserver: reserver, Publisher: ingest.NewReceiver(icfg, js, log), Catalogue: live, Overrides: overrides}
	} else {
		log.Warn("api: no NATS: the budgetAlerts subscription and dead letters answer 'not available', and the /v1 record API is not served")
	}
	var metered reconcile.MeteredSpend // a nil *chstore.Analytics would be a non-nil interface
	if store != nil {
		metered = store
	}
	// Provider reports count toward the budgets that opted in; the alerts
	// and breaches they raise are delivered by ingest's dispatcher.
	rcfg := budgetservice.DefaultConfig(strings.ToLower(*prefix))
	rcfg.EmailDebounce = opts.Mail.AlertDebounce
	reportBudgets := budgetservice.New(pool, nil, strings.ToLower(*prefix), rcfg, log)
	cp.CountReportedWith(reportBudgets) // a budget switched to the reported basis counts stored reports at once
	recon, stopRecon, err := startReconcile(ctx, reconcileDeps{cfg: &opts.Reconcile, secretsKey: f.SecretsKey, cp: cp, pool: pool,
		metered: metered, nc: alertsNC, prefix: strings.ToLower(*prefix), egress: webhookAllow.Policy, budgets: reportBudgets}, log)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	defer stopRecon()
	var billingUsage billing.Usage // nil without ClickHouse: issued invoices still list and export
	if store != nil {
		billingUsage = store
	}
	cfg.Billing = newBilling(cp, pool, billingUsage, recon)
	cp.Credentials = recon // keys that use stored provider credentials get the connections' data-plane keys
	cfg.Reconcile = recon
	srv := apiserver.New(cfg, cp, log)
	if recordCfg != nil {
		mountRecordAPI(ctx, srv.Mount, pool, *recordCfg, log)
	}
	if opts.Portal {
		srv.Mount("GET /", portal.Handler())
	}
	// Live subscriptions end when another API process changes their
	// subscriber's access; returns when ctx ends.
	go func() { _ = cp.ListenAccess(ctx) }()
	return serveUntilDone(ctx, log, "api", *listen, o.traffic(srv.Handler()), nil)
}

// migrateFlags is the flag set of "spendgate migrate".
func migrateFlags() (*flag.FlagSet, *config.Migrate) {
	fs, o := newFlagSet("migrate"), &config.Migrate{}
	o.Register(fs)
	return fs, o
}

func runMigrate(ctx context.Context, args []string) error {
	fs, o := migrateFlags()
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := ensureDatabase(ctx, o.PostgresDSN); err != nil {
		return err
	}
	if err := postgres.Migrate(ctx, o.PostgresDSN); err != nil {
		return err
	}
	fmt.Println("postgres: migrations applied")
	return nil
}

func runUsers(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "create-owner" {
		return errors.New("usage: spendgate users create-owner --email E --password P --tenant-name N [--tenant-slug S]")
	}
	fs := newFlagSet("users create-owner")
	var f config.ControlPlane
	f.Register(fs)
	email := fs.String("email", "", "owner's email (required)")
	password := fs.String("password", "", "owner's password, 8-72 bytes (required; or SPENDGATE_PASSWORD)")
	name := fs.String("tenant-name", "", "tenant name (required)")
	slug := fs.String("tenant-slug", "", "tenant slug (default: derived from the name)")
	if err := parseWithEnv(fs, args[1:]); err != nil {
		return err
	}
	if *email == "" || *password == "" || *name == "" {
		return errors.New("users create-owner: --email, --password and --tenant-name are required")
	}
	if *slug == "" {
		*slug = controlplane.SlugFor(*name)
	}
	log := slog.Default()
	if err := f.Validate(); err != nil {
		return fmt.Errorf("users create-owner: %w", err)
	}
	if err := withDevDefaults(&f, log); err != nil { // no listener
		return err
	}
	cp, pool, err := openControlPlane(ctx, &f, log)
	if err != nil {
		return err
	}
	defer pool.Close()
	u, t, err := cp.CreateOwner(ctx, *email, *password, *name, *slug)
	if err != nil {
		return err
	}
	fmt.Printf("created tenant %s (%s, id %s) owned by %s\n", t.Name, t.Slug, t.ID, u.Email)
	return nil
}

// devSecretsKey returns the development keyring kept in dir (dev-secrets.key,
// mode 0600), generating it on first use: unlike the other development
// secrets it is random, since what it seals (SSO client secrets, TOTP
// seeds) is real.
func devSecretsKey(dir string) (string, error) {
	path := filepath.Join(dir, "dev-secrets.key")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	key, err := secrets.NewKey("dev")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("development secrets key: %w", err)
	}
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("development secrets key: %w", err)
	}
	return key, nil
}
