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
	"github.com/spendgate/spendgate/budget/alerts"
	"github.com/spendgate/spendgate/budget/pgstore"
	budgetservice "github.com/spendgate/spendgate/budget/service"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/ingest"
	"github.com/spendgate/spendgate/portal"
	recordhttp "github.com/spendgate/spendgate/recordapi/httpapi"
	"github.com/spendgate/spendgate/reprice"
	"github.com/spendgate/spendgate/secrets"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
	"github.com/spendgate/spendgate/store/postgres"
)

// controlPlaneFlags are shared by every command that talks to Postgres.
type controlPlaneFlags struct {
	postgresDSN, jwtSecret, keyPepper, serviceToken string
	// secretsKey is the keyring sealing secrets at rest (SPENDGATE_SECRETS_KEY);
	// devKeyDir, when set, is where a generated development key is kept.
	secretsKey, devKeyDir string
	// publicURL is the portal's external origin (SSO redirect, SCIM base URL).
	publicURL string
	// dev allows the fixed development secrets on listeners other than
	// loopback.
	dev bool
}

// clientIPHeaderUsage describes --client-ip-header (api, serve).
const clientIPHeaderUsage = "header a trusted reverse proxy in front of the API sets to the client's address (X-Forwarded-For, X-Real-IP); " +
	"sign-in throttling counts failures by it (empty: the connection's peer address; never set it without such a proxy: clients could forge it)"

const devSecret = "dev-only-insecure-secret-change-me-0123456789"

func addControlPlaneFlags(fs *flag.FlagSet, f *controlPlaneFlags) {
	fs.StringVar(&f.postgresDSN, "postgres-dsn", "postgres://postgres@127.0.0.1:5432/spendgate?sslmode=disable", "Postgres connection string")
	fs.StringVar(&f.jwtSecret, "jwt-secret", "", "secret signing access tokens (≥ 32 bytes; dev default when empty)")
	fs.StringVar(&f.keyPepper, "key-pepper", "", "secret HMAC pepper for API keys (≥ 16 bytes; dev default when empty)")
	fs.StringVar(&f.serviceToken, "service-token", "", "token the data plane uses for the policy and ingest endpoints (dev default when empty)")
	fs.StringVar(&f.secretsKey, "secrets-key", "", "keyring sealing secrets at rest (SSO client secrets, TOTP seeds): id:base64-of-32-bytes[,older ids…], the first seals "+
		"(generate one with: openssl rand -base64 32); in development a generated key is kept in the data directory")
	fs.StringVar(&f.publicURL, "public-url", "", "the portal's external URL (https://spend.example.com): SSO redirects to <url>/sso/callback, SCIM lives at <url>/scim/v2 "+
		"(default: http://<listen address>)")
	fs.BoolVar(&f.dev, "dev", false, "allow the fixed development secrets (unset --jwt-secret, --key-pepper, --service-token) on non-loopback listeners")
}

// withDevDefaults fills missing secrets with fixed development values and
// says so loudly: fine on one machine, never in production. The values are
// public (they are in this file), so anyone who can reach a listener could
// mint access tokens or act as the data plane: unless --dev is given, the
// command refuses to start when any of its listeners is reachable from other
// machines.
func (f *controlPlaneFlags) withDevDefaults(log *slog.Logger, listens ...string) error {
	var missing []string
	if f.jwtSecret == "" {
		f.jwtSecret, missing = devSecret, append(missing, "SPENDGATE_JWT_SECRET")
	}
	if f.keyPepper == "" {
		f.keyPepper, missing = devSecret, append(missing, "SPENDGATE_KEY_PEPPER")
	}
	if f.serviceToken == "" {
		f.serviceToken, missing = "dev-service-token", append(missing, "SPENDGATE_SERVICE_TOKEN")
	}
	if len(missing) == 0 {
		return nil
	}
	if !f.dev {
		for _, addr := range listens {
			if !loopbackAddr(addr) {
				return fmt.Errorf("refusing to listen on %s with the fixed development secrets: set %s (or --jwt-secret, --key-pepper, --service-token), "+
					"listen on 127.0.0.1, or pass --dev to accept that anyone who can reach it can forge access tokens",
					addr, strings.Join(missing, ", "))
			}
		}
	}
	if f.secretsKey == "" && f.devKeyDir != "" {
		key, err := devSecretsKey(f.devKeyDir)
		if err != nil {
			return err
		}
		f.secretsKey = key
		missing = append(missing, secrets.EnvVar+" (generated in "+f.devKeyDir+")")
	}
	log.Warn("using INSECURE development defaults; set these for any shared or production use", "unset", missing)
	return nil
}

// loopbackAddr reports whether a listen address (host:port) only accepts
// connections from this machine: a loopback IP or "localhost". An empty
// host (":8080") listens on every interface.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// addAPILimitFlags adds the API server's request limits.
func addAPILimitFlags(fs *flag.FlagSet) *apiserver.Limits {
	l := apiserver.DefaultLimits()
	fs.Int64Var(&l.MaxBodyBytes, "max-query-bytes", l.MaxBodyBytes, "largest POST /query body (413 above it)")
	fs.DurationVar(&l.RequestTimeout, "query-timeout", l.RequestTimeout, "longest a GraphQL query or mutation may work")
	fs.IntVar(&l.MaxSubscriptionsPerConnection, "max-subscriptions-per-connection", l.MaxSubscriptionsPerConnection, "live subscriptions per websocket")
	fs.IntVar(&l.MaxSubscriptionsPerUser, "max-subscriptions-per-user", l.MaxSubscriptionsPerUser, "live subscriptions per signed-in user over all websockets")
	return &l
}

// openControlPlane migrates the database (creating it when missing) and
// builds the control plane service.
func openControlPlane(ctx context.Context, f *controlPlaneFlags, log *slog.Logger) (*controlplane.Service, *pgxpool.Pool, error) {
	if err := ensureDatabase(ctx, f.postgresDSN); err != nil {
		return nil, nil, err
	}
	if err := postgres.Migrate(ctx, f.postgresDSN); err != nil {
		return nil, nil, err
	}
	pool, err := postgres.Open(ctx, f.postgresDSN)
	if err != nil {
		return nil, nil, err
	}
	tokens, err := auth.NewTokens([]byte(f.jwtSecret))
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	cp, err := controlplane.New(pool, []byte(f.keyPepper), tokens, log)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	if f.secretsKey != "" {
		ring, err := secrets.Parse(f.secretsKey)
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		cp.SetSecrets(ring)
	} else {
		log.Warn("no " + secrets.EnvVar + ": single sign-on and two-factor authentication cannot store their secrets until it is set")
	}
	cp.SetPublicURL(f.publicURL)
	// Keys under an exhausted hard budget are answered blocked by the policy
	// endpoint (spend counters are the budget store's).
	cp.Blocks = pgstore.New(pool)
	return cp, pool, nil
}

func runAPI(ctx context.Context, args []string) error {
	fs := newFlagSet("api")
	var f controlPlaneFlags
	addControlPlaneFlags(fs, &f)
	listen := fs.String("listen", "127.0.0.1:8080", "API listen address")
	chAddr := fs.String("clickhouse-addr", "127.0.0.1:9000", "ClickHouse with the events, for spend analytics and CSV export (empty: none)")
	chDB := fs.String("clickhouse-database", "spendgate", "ClickHouse database the ingest service writes")
	var chCluster clickhouseClusterFlags
	addClickHouseClusterFlags(fs, &chCluster)
	natsURL := fs.String("nats-url", nats.DefaultURL, "NATS of the ingest service, for live budget alerts and dead letters (empty: none)")
	prefix := fs.String("stream-prefix", ingest.DefaultConfig().Prefix, "the ingest service's stream prefix")
	partitions := fs.Int("partitions", ingest.DefaultConfig().Partitions, "the ingest service's --partitions (records of the /v1 record API are published by event id)")
	withPortal := fs.Bool("portal", true, "serve the web portal at /")
	clientIPHeader := fs.String("client-ip-header", "", clientIPHeaderUsage)
	var webhookAllow egressFlag
	fs.Var(&webhookAllow, "webhook-allow", webhookAllowUsage)
	var prf pricingFlags
	addPricingFlags(fs, &prf)
	limits := addAPILimitFlags(fs)
	var of observeFlags
	addObserveFlags(fs, &of)
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if err := limits.Validate(); err != nil {
		return fmt.Errorf("api: %w", err)
	}
	if err := chCluster.validate(*chAddr); err != nil {
		return fmt.Errorf("api: %w", err)
	}
	log := slog.Default()
	o, err := of.start(ctx, "api", log)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	defer o.close()
	home, _ := os.UserHomeDir()
	f.devKeyDir = filepath.Join(home, ".local", "share", "spendgate")
	if err := f.withDevDefaults(log, *listen); err != nil {
		return fmt.Errorf("api: %w", err)
	}
	if f.publicURL == "" {
		f.publicURL = "http://" + *listen
		if host, port, err := net.SplitHostPort(*listen); err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
			f.publicURL = "http://localhost:" + port
		}
	}
	cp, pool, err := openControlPlane(ctx, &f, log)
	if err != nil {
		return err
	}
	defer pool.Close()
	cp.SetWebhookEgress(webhookAllow.policy)
	cp.SSOService.SetEgress(webhookAllow.policy)
	live, revs, stopPricing, err := followPricing(ctx, pool, &prf, log)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	defer stopPricing()
	cfg := apiserver.Config{ServiceToken: f.serviceToken, ClientIPHeader: *clientIPHeader, Catalogue: live, Revisions: revs, Limits: *limits,
		Extensions: o.graphQLExtensions()}
	var store *chstore.Analytics
	if *chAddr != "" {
		ch, err := chCluster.open(ctx, pool, *chAddr, *chDB)
		if err != nil {
			return fmt.Errorf("api: %w (or pass --clickhouse-addr '' to run without analytics)", err)
		}
		defer ch.Close()
		store = &chstore.Analytics{Conn: ch, Database: *chDB}
		// Re-pricing counts new costs against budgets: the budget engine's
		// spend path is Postgres only; ingest delivers the alerts it raises.
		bcfg := budgetservice.DefaultConfig(strings.ToLower(*prefix))
		bcfg.Alerts.Egress = webhookAllow.policy
		budgets := budgetservice.New(pool, nil, strings.ToLower(*prefix), bcfg, log)
		budgets.UseCatalogue(live)
		cfg.Reprice = reprice.New(cp, pool, store, chCluster.writer(ch, *chAddr, *chDB), live, budgets)
	} else {
		log.Warn("api: no ClickHouse: spend analytics and CSV export answer 'not available'")
	}
	var spendStore analytics.Store // a nil *chstore.Analytics would be a non-nil interface
	if store != nil {
		spendStore = store
	}
	cfg.Analytics = analytics.New(cp, spendStore, pgstore.New(pool), analytics.DefaultLimits())
	var recordCfg *recordhttp.Config
	if *natsURL != "" {
		nc, err := nats.Connect(*natsURL, nats.Name("spendgate api"), nats.MaxReconnects(-1))
		if err != nil {
			return fmt.Errorf("api: NATS at %s: %w (or pass --nats-url '' to run without live alerts)", *natsURL, err)
		}
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
		cfg.Alerts = alerts.NewFeed(nc, strings.ToLower(*prefix), log)
		cfg.Ticks = alerts.NewTicks(nc, strings.ToLower(*prefix), log)
		cfg.DeadLetters = ingest.NewDLQ(js, icfg)
		// The public record API (/v1/): records go to the ingest streams
		// like the data plane's events, preflights through the budget
		// engine's reservation path (Postgres; ingest sweeps expiries).
		icfg.Partitions = *partitions
		overrides := ingest.NewCachedOverrides(controlplane.OverrideReader{DB: pool}, ingest.DefaultConsumerConfig().OverridesTTL)
		reserver := budgetservice.New(pool, nil, strings.ToLower(*prefix), budgetservice.DefaultConfig(strings.ToLower(*prefix)), log)
		reserver.UseCatalogue(live)
		reserver.SetPricingOverrides(overrides)
		recordCfg = &recordhttp.Config{Keys: cp, Reserver: reserver, Publisher: ingest.NewReceiver(icfg, js, log), Catalogue: live, Overrides: overrides}
	} else {
		log.Warn("api: no NATS: the budgetAlerts subscription and dead letters answer 'not available', and the /v1 record API is not served")
	}
	srv := apiserver.New(cfg, cp, log)
	if recordCfg != nil {
		mountRecordAPI(ctx, srv.Mount, pool, *recordCfg, log)
	}
	if *withPortal {
		srv.Mount("GET /", portal.Handler())
	}
	// Live subscriptions end when another API process changes their
	// subscriber's access; returns when ctx ends.
	go func() { _ = cp.ListenAccess(ctx) }()
	return serveUntilDone(ctx, log, "api", *listen, o.traffic(srv.Handler()), nil)
}

func runMigrate(ctx context.Context, args []string) error {
	fs := newFlagSet("migrate")
	dsn := fs.String("postgres-dsn", "postgres://postgres@127.0.0.1:5432/spendgate?sslmode=disable", "Postgres connection string")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if err := ensureDatabase(ctx, *dsn); err != nil {
		return err
	}
	if err := postgres.Migrate(ctx, *dsn); err != nil {
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
	var f controlPlaneFlags
	addControlPlaneFlags(fs, &f)
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
	if err := f.withDevDefaults(log); err != nil { // no listener
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
