package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/spendgate/spendgate/meter"
	"github.com/spendgate/spendgate/observability"
	"github.com/spendgate/spendgate/requestid"
)

// Logging flags, on every command (newFlagSet): parseWithEnv installs the
// logger they describe as slog's default.
const (
	logFormatFlag = "log-format"
	logLevelFlag  = "log-level"
)

func addLogFlags(fs *flag.FlagSet) {
	fs.String(logFormatFlag, observability.LogText, "log format: text (logfmt-like key=value) or json (one object per line)")
	fs.String(logLevelFlag, "info", "least severe log level written: debug, info, warn or error")
}

// applyLogFlags installs the logger --log-format and --log-level describe.
func applyLogFlags(fs *flag.FlagSet) error {
	format, level := fs.Lookup(logFormatFlag), fs.Lookup(logLevelFlag)
	if format == nil || level == nil {
		return nil
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(level.Value.String())); err != nil {
		return fmt.Errorf("--%s: %w", logLevelFlag, err)
	}
	buf := newLogBuffer(os.Stderr, logFlushAfter)
	log, err := observability.NewLogger(buf, format.Value.String(), l)
	if err != nil {
		return err
	}
	slog.SetDefault(slog.New(flushHandler{log.Handler(), buf}))
	return nil
}

// observeFlags are the metrics and tracing flags of the commands that
// serve traffic (api, gateway, ingest, serve).
type observeFlags struct {
	metricsAddr string
	tracing     observability.TracingConfig
}

func addObserveFlags(fs *flag.FlagSet, f *observeFlags) {
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "also serve the Prometheus metrics (/metrics) on a listener of their own here, e.g. :9090 "+
		"(every traffic listener serves them at /metrics too; empty: no separate listener)")
	fs.StringVar(&f.tracing.Endpoint, "otlp-endpoint", "", "send OpenTelemetry traces over OTLP/HTTP to this collector, e.g. http://otel-collector:4318 "+
		"(OTEL_EXPORTER_OTLP_* variables set headers and TLS; empty: no tracing)")
	fs.Float64Var(&f.tracing.SampleRatio, "trace-sample-ratio", 1, "share of new traces recorded with --otlp-endpoint (0..1); calls arriving with a sampled traceparent are always recorded")
}

// observer is a command's metrics, tracer and separate metrics listener.
type observer struct {
	metrics *observability.Metrics
	tracer  trace.Tracer // nil: tracing off
	tp      *sdktrace.TracerProvider
	// metricsAddr is where --metrics-addr bound ("" without one).
	metricsAddr string
}

// startObserving builds the process's one registry and metrics, the
// tracer (with --otlp-endpoint) and the --metrics-addr listener, which
// serves until ctx ends. Call close at exit: it flushes traces.
func (f *observeFlags) start(ctx context.Context, service string, log *slog.Logger) (*observer, error) {
	if err := f.tracing.Validate(); err != nil {
		return nil, err
	}
	m, err := observability.New(prometheus.NewRegistry())
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	o := &observer{metrics: m}
	f.tracing.ServiceName = "spendgate-" + service
	if o.tp, err = observability.NewTracerProvider(ctx, f.tracing); err != nil {
		return nil, err
	}
	if o.tp != nil {
		o.tracer = observability.Tracer(o.tp)
		log.Info("tracing: spans go to the OTLP collector", "endpoint", f.tracing.Endpoint, "sample_ratio", f.tracing.SampleRatio)
	}
	if f.metricsAddr != "" {
		ln, err := net.Listen("tcp", f.metricsAddr)
		if err != nil {
			o.close()
			return nil, fmt.Errorf("--metrics-addr: %w", err)
		}
		o.metricsAddr = ln.Addr().String()
		mux := http.NewServeMux()
		mux.Handle("GET "+observability.MetricsPath, m.Handler())
		go func() { _ = serveListener(ctx, log, "metrics", ln, mux, nil) }()
	}
	return o, nil
}

// close flushes and stops tracing.
func (o *observer) close() {
	if o.tp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.tp.Shutdown(ctx); err != nil {
		slog.Default().Warn("tracing: flushing spans at exit failed", "err", err)
	}
}

// traffic wraps a traffic listener's handler: request ids on every request,
// and GET /metrics answered with the metrics before h sees it (the gateway
// and the API's portal would otherwise take the path) — unless the request
// is addressed to a provider's own host (the gateway as egress proxy),
// which is the provider's path to answer.
func (o *observer) traffic(h http.Handler) http.Handler {
	metrics := o.metrics.Handler()
	return requestid.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == observability.MetricsPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) && !providerHost(r.Host) {
			metrics.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	}))
}

func providerHost(host string) bool {
	_, ok := meter.ProviderByHost(host)
	return ok
}

// observe wires the pipeline's parts to the metrics: the receiver's
// batches, the consumer's inserts and dead letters, the budget engine's
// reservations and alert deliveries, and (when this process consumes) the
// JetStream backlog and DLQ depth, read at scrape time.
func (p *pipeline) observe(m *observability.Metrics) error {
	p.receiver.Observer = m
	if p.budgets != nil {
		p.budgets.SetObserver(m)
	}
	if p.consumer == nil {
		return nil
	}
	p.consumer.SetObserver(m)
	return m.RegisterIngestBacklog(p.js, p.cfg, p.ccfg)
}

// graphQLExtensions time and trace GraphQL operations.
func (o *observer) graphQLExtensions() []graphql.HandlerExtension {
	return []graphql.HandlerExtension{observability.GraphQL{Metrics: o.metrics, Tracer: o.tracer}}
}
