package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/budget/httpapi"
	"github.com/spendgate/spendgate/dataplane/contract"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/gateway"
	"github.com/spendgate/spendgate/meter"
	"github.com/spendgate/spendgate/observability"
	"github.com/spendgate/spendgate/spool"
)

// upstreamFlag collects repeated --upstream provider=url flags.
type upstreamFlag map[string]string

func (u upstreamFlag) String() string {
	parts := make([]string, 0, len(u))
	for k, v := range u {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

func (u upstreamFlag) Set(s string) error {
	for _, item := range strings.Split(s, ",") {
		id, url, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || url == "" {
			return fmt.Errorf("want provider=url, got %q", item)
		}
		if _, known := meter.ProviderByID(id); !known {
			return fmt.Errorf("unknown provider %q", id)
		}
		if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
			return fmt.Errorf("upstream for %s must be an http(s) URL, got %q", id, url)
		}
		u[id] = url
	}
	return nil
}

// policyPath is the control plane's policy endpoint (apiserver).
const policyPath = "/internal/v1/policy"

type gatewayFlags struct {
	listen, policyURL, pricedURL, ingestURL, budgetURL string
	serviceToken                                       string
	upstreams                                          upstreamFlag
	maxBody                                            int64
	failOpen, inject                                   bool
	cacheTTL, negativeTTL                              time.Duration
	dialTimeout, headerTimeout, reserveTimeout         time.Duration
	bodyTimeout                                        time.Duration
	idlePerHost                                        int
	eventBatch, eventBuffer                            int
	eventInterval                                      time.Duration
	spoolDir                                           string
	spoolMaxBytes                                      int64
	accessLog                                          bool
}

// addGatewayFlags registers the gateway's flags. standalone is true for
// "spendgate gateway" (its own --listen and the URLs of the services it
// calls); serve runs it in-process beside the API under --gateway-listen.
func addGatewayFlags(fs *flag.FlagSet, f *gatewayFlags, standalone bool) {
	if standalone {
		fs.StringVar(&f.listen, "listen", "127.0.0.1:8081", "gateway listen address")
		fs.StringVar(&f.policyURL, "policy-url", "http://127.0.0.1:8080"+policyPath, "control plane policy endpoint")
		fs.StringVar(&f.pricedURL, "priced-url", "", "control plane priced endpoint, asked for keys that require priced models (empty: --policy-url with its path "+policyPath+" replaced by "+contract.PricedPath+")")
		fs.StringVar(&f.ingestURL, "ingest-url", "http://127.0.0.1:8080/internal/v1/events", "ingest event endpoint")
		fs.StringVar(&f.budgetURL, "budget-url", "", "base URL of the budget reservation service (POST /internal/v1/reservations), e.g. http://127.0.0.1:8080; empty: hard budgets are enforced only through the policy answer's blocked flag")
		fs.StringVar(&f.serviceToken, "service-token", "", "service token for the policy, priced, ingest and budget endpoints (required)")
	} else {
		fs.StringVar(&f.listen, "gateway-listen", "127.0.0.1:8081", "gateway listen address")
	}
	fs.DurationVar(&f.dialTimeout, "upstream-dial-timeout", 10*time.Second, "timeout for connecting to a provider")
	fs.DurationVar(&f.headerTimeout, "upstream-response-header-timeout", 5*time.Minute, "how long a provider may take to start answering")
	fs.IntVar(&f.idlePerHost, "upstream-max-idle-conns-per-host", 512, "keep-alive connections kept per provider")
	fs.DurationVar(&f.reserveTimeout, "reserve-timeout", 5*time.Second, "timeout of one budget reservation")
	batch := 200
	if standalone {
		home, _ := os.UserHomeDir()
		fs.StringVar(&f.spoolDir, "event-spool-dir", filepath.Join(home, ".local", "share", "spendgate", "gateway-spool"), "where events that ingest cannot take are kept on disk until it can (one gateway process per directory)")
	} else {
		batch = 500 // in-process: a batch costs no HTTP round trip, fewer JetStream waits
		fs.StringVar(&f.spoolDir, "event-spool-dir", "", "where events the pipeline cannot take are kept on disk until it can (empty: <data-dir>/gateway-spool)")
	}
	fs.Int64Var(&f.spoolMaxBytes, "event-spool-max-bytes", 1<<30, "disk the event spool may use; beyond it undeliverable events are dropped, counted and logged (0: no spool, events wait in memory only)")
	fs.IntVar(&f.eventBatch, "event-batch", batch, "events per batch sent to ingest")
	fs.IntVar(&f.eventBuffer, "event-buffer", 100_000, "events buffered in memory while ingest is slow or down (beyond: moved to the spool, or dropped and counted without one)")
	fs.DurationVar(&f.eventInterval, "event-interval", 500*time.Millisecond, "longest an event waits before its batch is sent")
	f.upstreams = upstreamFlag{}
	fs.Var(f.upstreams, "upstream", "provider base URL override, provider=url (repeatable), e.g. openai=http://127.0.0.1:9999/v1")
	fs.Int64Var(&f.maxBody, "max-request-body-bytes", 32<<20, "largest request body accepted (413 beyond)")
	fs.DurationVar(&f.bodyTimeout, "request-body-timeout", 5*time.Minute, "longest a caller may take to send its request body (408 beyond; 0: no limit)")
	fs.BoolVar(&f.failOpen, "fail-open", false, "forward unattributed requests when the policy service is unreachable, and calls unchecked when whether their model is priced cannot be learnt (default: 503)")
	fs.BoolVar(&f.inject, "inject-stream-usage", true, "add stream_options.include_usage to OpenAI-style streaming requests")
	fs.DurationVar(&f.cacheTTL, "policy-cache-ttl", 30*time.Second, "how long a key's policy answer is reused")
	fs.DurationVar(&f.negativeTTL, "policy-negative-cache-ttl", 10*time.Second, "how long an unknown/revoked key answer is reused")
	fs.BoolVar(&f.accessLog, "access-log", true, "log one line per gateway call (method, path, provider, operation, status, duration, bytes, request id, tenant; never bodies or keys)")
}

// observe wires the gateway's metrics, access log and tracing into cfg and
// exports the batcher's counters (events published, buffered, spooled,
// dropped).
func (f *gatewayFlags) observe(cfg *gateway.Config, o *observer, batcher *gateway.Batcher, log *slog.Logger) error {
	obs := observability.GatewayObserver{Metrics: o.metrics}
	if f.accessLog {
		obs.AccessLog = log
	}
	cfg.Observer, cfg.Tracer = obs, o.tracer
	return o.metrics.RegisterBatcher(batcher)
}

func (f *gatewayFlags) config() gateway.Config {
	cfg := gateway.DefaultConfig()
	cfg.Upstreams = f.upstreams
	cfg.MaxRequestBodyBytes = f.maxBody
	cfg.RequestBodyTimeout = f.bodyTimeout
	cfg.FailOpen = f.failOpen
	cfg.InjectStreamUsage = f.inject
	cfg.DialTimeout = f.dialTimeout
	cfg.ResponseHeaderTimeout = f.headerTimeout
	cfg.MaxIdleConnsPerHost = f.idlePerHost
	cfg.ReserveTimeout = f.reserveTimeout
	return cfg
}

// pricedEndpoint is --priced-url, or the priced endpoint beside the policy
// endpoint (where the filter asks too): --policy-url with its path's
// /internal/v1/policy replaced by /internal/v1/priced, or the priced path on
// --policy-url's host when its path is another.
func (f *gatewayFlags) pricedEndpoint() (string, error) {
	if f.pricedURL != "" {
		return f.pricedURL, nil
	}
	u, err := url.Parse(f.policyURL)
	if err != nil {
		return "", fmt.Errorf("gateway: --policy-url: %w", err)
	}
	prefix, _ := strings.CutSuffix(u.Path, policyPath)
	if prefix == u.Path { // another path: only its host tells where the control plane is
		prefix = ""
	}
	u.Path, u.RawPath, u.RawQuery, u.Fragment = strings.TrimSuffix(prefix, "/")+contract.PricedPath, "", "", ""
	return u.String(), nil
}

func runGateway(ctx context.Context, args []string) error {
	fs := newFlagSet("gateway")
	var f gatewayFlags
	addGatewayFlags(fs, &f, true)
	var of observeFlags
	addObserveFlags(fs, &of)
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if f.serviceToken == "" {
		return errors.New("gateway: --service-token (or SPENDGATE_SERVICE_TOKEN) is required")
	}
	if err := f.validate(); err != nil {
		return err
	}
	log := slog.Default()
	o, err := of.start(ctx, "gateway", log)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	defer o.close()
	sink := &gateway.HTTPSink{URL: f.ingestURL, ServiceToken: f.serviceToken}
	batcher, closeBatcher, err := f.openBatcher(sink, log)
	if err != nil {
		return err
	}
	defer closeBatcher()
	src := gateway.NewCachedPolicySource(&gateway.HTTPPolicySource{URL: f.policyURL, ServiceToken: f.serviceToken}, f.cacheTTL, f.negativeTTL)
	cfg := f.config()
	pricedURL, err := f.pricedEndpoint()
	if err != nil {
		return err
	}
	cfg.Priced = gateway.NewHTTPPricedSource(pricedURL, f.serviceToken, f.cacheTTL, f.negativeTTL)
	if f.budgetURL != "" {
		client := &httpapi.Client{BaseURL: f.budgetURL, ServiceToken: f.serviceToken}
		cfg.Reserver = budgetReserver(client.Reserve, client.Release)
	}
	if err := f.observe(&cfg, o, batcher, log); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	gw := gateway.New(cfg, src, batcher, log)
	return serveUntilDone(ctx, log, "gateway", f.listen, o.traffic(gw), func(ctx context.Context) { gw.Shutdown(ctx) })
}

// validate rejects settings the gateway cannot run with.
func (f *gatewayFlags) validate() error {
	for name, u := range map[string]string{"--policy-url": f.policyURL, "--priced-url": f.pricedURL, "--ingest-url": f.ingestURL, "--budget-url": f.budgetURL} {
		if u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return fmt.Errorf("gateway: %s must be an http(s) URL, got %q", name, u)
		}
	}
	switch {
	case f.maxBody <= 0:
		return errors.New("gateway: --max-request-body-bytes must be positive")
	case f.idlePerHost <= 0:
		return errors.New("gateway: --upstream-max-idle-conns-per-host must be positive")
	case f.eventBatch <= 0 || f.eventBuffer < f.eventBatch:
		return errors.New("gateway: --event-batch must be positive and at most --event-buffer")
	case f.eventInterval <= 0 || f.dialTimeout <= 0 || f.headerTimeout <= 0 || f.reserveTimeout <= 0:
		return errors.New("gateway: --event-interval and the timeouts must be positive")
	case f.bodyTimeout < 0:
		return errors.New("gateway: --request-body-timeout must not be negative (0: no limit)")
	case f.spoolMaxBytes < 0:
		return errors.New("gateway: --event-spool-max-bytes must not be negative (0: no spool)")
	case f.spoolMaxBytes > 0 && f.spoolMaxBytes < spoolSegmentBytes:
		return fmt.Errorf("gateway: --event-spool-max-bytes must be 0 (no spool) or at least %d", spoolSegmentBytes)
	}
	return nil
}

// spoolSegmentBytes is the size of one event spool segment: delivered
// events free disk a segment at a time.
const spoolSegmentBytes = 4 << 20

// openBatcher starts the gateway's event batcher over sink, with the disk
// spool unless --event-spool-max-bytes is 0. The returned func, called once
// the gateway has drained (its Shutdown closes the batcher), closes the spool
// and logs what became of the events.
func (f *gatewayFlags) openBatcher(sink gateway.EventSink, log *slog.Logger) (*gateway.Batcher, func(), error) {
	var sp *spool.Spool
	if f.spoolMaxBytes > 0 {
		var err error
		if sp, err = spool.Open(f.spoolDir, spool.Options{MaxBytes: f.spoolMaxBytes, SegmentBytes: spoolSegmentBytes}); err != nil {
			return nil, nil, fmt.Errorf("gateway: event spool: %w", err)
		}
		log.Info("gateway: undeliverable events are spooled to disk", "dir", f.spoolDir, "max_bytes", f.spoolMaxBytes)
	} else {
		log.Warn("gateway: no event spool (--event-spool-max-bytes 0): events wait in memory only, and a crash while ingest is down loses them")
	}
	b := gateway.NewSpoolingBatcher(sink, sp, f.eventBatch, f.eventBuffer, f.eventInterval, log)
	return b, func() {
		b.Close() // idempotent; the gateway's Shutdown normally did it
		c := b.Counters()
		attrs := []any{"events_sent", c.Sent, "events_dropped", c.Dropped, "events_spooled", c.Spooled,
			"events_replayed", c.Replayed, "publish_failures", c.Failures, "spool_batches_left", c.Spool.Records}
		if sp != nil {
			if err := sp.Close(); err != nil {
				log.Error("gateway: closing the event spool", "err", err)
			}
		}
		if c.Dropped > 0 {
			log.Error("gateway: events were dropped", attrs...)
		} else {
			log.Info("gateway: events delivered or kept", attrs...)
		}
	}, nil
}

// budgetReserver adapts the budget engine's Reserve and Release (the HTTP
// client of budget/httpapi, or budget/service in-process) to the gateway's
// Reserver and Releaser, turning its refusals into gateway denials. Other
// errors mean the budget service could not be asked; the gateway then
// refuses (fail closed). release (may be nil) gives back the reservation of
// a call that failed before any usage.
func budgetReserver(reserve func(context.Context, budget.ReserveRequest) (budget.Reservation, error), release func(context.Context, string) error) gateway.Reserver {
	return budgetReservations{reserve: reserve, release: release}
}

type budgetReservations struct {
	reserve func(context.Context, budget.ReserveRequest) (budget.Reservation, error)
	release func(context.Context, string) error
}

func (b budgetReservations) Reserve(ctx context.Context, r gateway.ReserveRequest) (string, error) {
	res, err := b.reserve(ctx, budget.ReserveRequest{TenantID: r.TenantID, KeyID: r.KeyID, Dimensions: r.Dimensions,
		Provider: r.Provider, Model: r.Model, MaxTokens: r.MaxTokens, InputTokensEstimate: r.InputTokensEstimate})
	if err == nil {
		return res.ID, nil
	}
	var remote *httpapi.DeniedError
	if errors.As(err, &remote) {
		return "", &gateway.ReservationDeniedError{Reason: remote.Reason, Message: remote.Message}
	}
	var local *budget.DeniedError
	if errors.As(err, &local) {
		return "", &gateway.ReservationDeniedError{Reason: event.DenialBudgetExceeded, Message: local.Error()}
	}
	return "", err
}

// Release implements gateway.Releaser.
func (b budgetReservations) Release(ctx context.Context, id string) error {
	if b.release == nil {
		return nil
	}
	return b.release(ctx, id)
}

// serveUntilDone runs an HTTP server until ctx is cancelled, then shuts it
// down gracefully (in-flight requests finish, up to 30 s) and runs drain.
func serveUntilDone(ctx context.Context, log *slog.Logger, name, addr string, h http.Handler, drain func(context.Context)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return serveListener(ctx, log, name, ln, h, drain)
}

// serveListener serves h on ln until ctx ends, then shuts down gracefully:
// in-flight requests finish (up to 30 s), then drain runs (flushes buffers).
func serveListener(ctx context.Context, log *slog.Logger, name string, ln net.Listener, h http.Handler, drain func(context.Context)) error {
	// No read or write timeout: uploads and streams may be long (the gateway
	// bounds request bodies itself); idle keep-alive connections are closed.
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() {
		log.Info(name+" listening", "addr", ln.Addr().String())
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("%s: %w", name, err)
	case <-ctx.Done():
	}
	log.Info(name + " shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if drain != nil {
		drain(sctx)
	}
	return err
}
