package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/budget/httpapi"
	"github.com/spendgate/spendgate/config"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/gateway"
	"github.com/spendgate/spendgate/observability"
	"github.com/spendgate/spendgate/spool"
)

// observeGateway wires the gateway's metrics, access log and tracing into
// cfg and exports the batcher's counters (events published, buffered,
// spooled, dropped).
func observeGateway(f *config.Gateway, cfg *gateway.Config, o *observer, batcher *gateway.Batcher, log *slog.Logger) error {
	obs := observability.GatewayObserver{Metrics: o.metrics}
	if f.AccessLog {
		obs.AccessLog = log
	}
	cfg.Observer, cfg.Tracer = obs, o.tracer
	return o.metrics.RegisterBatcher(batcher)
}

// gatewayConfig is the gateway.Config of the flags.
func gatewayConfig(f *config.Gateway) gateway.Config {
	cfg := gateway.DefaultConfig()
	cfg.Upstreams = f.Upstreams
	cfg.MaxRequestBodyBytes = f.MaxBody
	cfg.RequestBodyTimeout = f.BodyTimeout
	cfg.FailOpen = f.FailOpen
	cfg.InjectStreamUsage = f.InjectStreamUsage
	cfg.DialTimeout = f.DialTimeout
	cfg.ResponseHeaderTimeout = f.HeaderTimeout
	cfg.MaxIdleConnsPerHost = f.IdlePerHost
	cfg.ReserveTimeout = f.ReserveTimeout
	return cfg
}

// gatewayFlags is the flag set of "spendgate gateway".
func gatewayFlags() (*flag.FlagSet, *config.StandaloneGateway, *observeFlags) {
	return serviceFlags("gateway", &config.StandaloneGateway{})
}

func runGateway(ctx context.Context, args []string) error {
	fs, opts, of := gatewayFlags()
	if err := parseOptions("gateway", fs, args, opts); err != nil {
		return err
	}
	f := &opts.Gateway
	log := slog.Default()
	o, err := of.start(ctx, "gateway", log)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	defer o.close()
	sink := &gateway.HTTPSink{URL: f.IngestURL, ServiceToken: f.ServiceToken}
	batcher, closeBatcher, err := openBatcher(f, sink, log)
	if err != nil {
		return err
	}
	defer closeBatcher()
	src := gateway.NewCachedPolicySource(&gateway.HTTPPolicySource{URL: f.PolicyURL, ServiceToken: f.ServiceToken}, f.CacheTTL, f.NegativeTTL)
	cfg := gatewayConfig(f)
	pricedURL, err := f.PricedEndpoint()
	if err != nil {
		return err
	}
	cfg.Priced = gateway.NewHTTPPricedSource(pricedURL, f.ServiceToken, f.CacheTTL, f.NegativeTTL)
	if f.BudgetURL != "" {
		client := &httpapi.Client{BaseURL: f.BudgetURL, ServiceToken: f.ServiceToken}
		cfg.Reserver = budgetReserver(client.Reserve, client.Release)
	}
	if err := observeGateway(f, &cfg, o, batcher, log); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	gw := gateway.New(cfg, src, batcher, log)
	return serveUntilDone(ctx, log, "gateway", f.Listen, withHealth(o.traffic(gw)), func(ctx context.Context) { gw.Shutdown(ctx) })
}

// openBatcher starts the gateway's event batcher over sink, with the disk
// spool unless --event-spool-max-bytes is 0. The returned func, called once
// the gateway has drained (its Shutdown closes the batcher), closes the spool
// and logs what became of the events.
func openBatcher(f *config.Gateway, sink gateway.EventSink, log *slog.Logger) (*gateway.Batcher, func(), error) {
	var sp *spool.Spool
	if f.SpoolMaxBytes > 0 {
		var err error
		if sp, err = spool.Open(f.SpoolDir, spool.Options{MaxBytes: f.SpoolMaxBytes, SegmentBytes: config.SpoolSegmentBytes}); err != nil {
			return nil, nil, fmt.Errorf("gateway: event spool: %w", err)
		}
		log.Info("gateway: undeliverable events are spooled to disk", "dir", f.SpoolDir, "max_bytes", f.SpoolMaxBytes)
	} else {
		log.Warn("gateway: no event spool (--event-spool-max-bytes 0): events wait in memory only, and a crash while ingest is down loses them")
	}
	b := gateway.NewSpoolingBatcher(sink, sp, f.EventBatch, f.EventBuffer, f.EventInterval, log)
	return b, func() {
		b.Close() // idempotent; the gateway's Shutdown normally did it
		c := b.Counters()
		attrs := []any{"events_sent", c.Sent, "events_rejected", c.Rejected, "events_dropped", c.Dropped, "events_spooled", c.Spooled,
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
