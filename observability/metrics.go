// Package observability is where spendgate's domain packages meet
// Prometheus, OpenTelemetry and log/slog. The domain packages (gateway,
// ingest, budget, alerts) expose small observer hooks and counters of their
// own; this package adapts them to metrics, traces and the access log, so
// none of them imports a metrics library. cmd/spendgate builds one Metrics
// per process over a registry of its own (never the global default one) and
// serves it at /metrics on every listener. docs/observability.md lists every
// metric.
package observability

import (
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/meter"
)

// Namespace prefixes every spendgate metric.
const Namespace = "spendgate"

// MetricsPath is where every listener serves the metrics.
const MetricsPath = "/metrics"

// Metrics are one process's metrics, registered once on its registry. A
// process that runs several parts (serve) shares one Metrics among them.
type Metrics struct {
	reg *prometheus.Registry

	gatewayRequests       *prometheus.CounterVec
	gatewayDuration       *prometheus.HistogramVec
	gatewayTTFB           *prometheus.HistogramVec
	gatewayDenials        *prometheus.CounterVec
	gatewayUpstreamErrors *prometheus.CounterVec
	gatewayUnavailable    *prometheus.CounterVec

	ingestReceived        *prometheus.CounterVec
	ingestPublishFailures prometheus.Counter
	ingestBatchSize       prometheus.Histogram
	ingestInsertDuration  prometheus.Histogram
	ingestInsertFailures  prometheus.Counter
	ingestStored          prometheus.Counter
	ingestDeadLettered    prometheus.Counter

	reservations        *prometheus.CounterVec
	reservationsExpired prometheus.Counter
	alertDeliveries     *prometheus.CounterVec

	graphqlDuration *prometheus.HistogramVec
}

// Latency buckets: an AI call takes from tens of milliseconds (a denial, an
// embedding) to minutes (a long stream).
var callBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// New registers spendgate's metrics, Go's runtime metrics and the process's
// on reg. Calling it twice on one registry fails (duplicate registration):
// build one Metrics per process and share it.
func New(reg *prometheus.Registry) (*Metrics, error) {
	m := &Metrics{reg: reg}
	f := factory{reg: reg}
	m.gatewayRequests = f.counterVec("gateway", "requests_total",
		"Calls the gateway answered, by provider, operation and HTTP status (499: the caller left before an answer).",
		"provider", "operation", "status")
	m.gatewayDuration = f.histogramVec("gateway", "request_duration_seconds",
		"Time from a call's arrival to the end of its answer (whole streams included), by provider, operation and status class.",
		callBuckets, "provider", "operation", "status_class")
	m.gatewayTTFB = f.histogramVec("gateway", "upstream_time_to_first_byte_seconds",
		"Time from a call's arrival until the provider's answer began, for forwarded calls the provider answered.",
		callBuckets, "provider", "operation")
	m.gatewayDenials = f.counterVec("gateway", "denials_total",
		"Calls the gateway refused itself, by denial reason.", "reason")
	m.gatewayUpstreamErrors = f.counterVec("gateway", "upstream_errors_total",
		"Forwarded calls whose provider could not be reached (answered 502), by provider.", "provider")
	m.gatewayUnavailable = f.counterVec("gateway", "service_unavailable_total",
		"Calls during which a spendgate service could not be asked (policy, priced, reservation), by whether the call went on (fail open) or was refused.",
		"service", "failed_open")

	m.ingestReceived = f.counterVec("ingest", "events_received_total",
		"Events the receiver handled, by result: accepted (new), duplicate (already in JetStream), rejected (invalid).", "result")
	m.ingestPublishFailures = f.counter("ingest", "publish_failures_total",
		"Event batches the receiver answered 503 because JetStream did not take them (the data plane retries).")
	m.ingestBatchSize = f.histogram("ingest", "batch_size_events",
		"Events per batch the consumer wrote to ClickHouse.", prometheus.ExponentialBuckets(1, 4, 9))
	m.ingestInsertDuration = f.histogram("ingest", "clickhouse_insert_duration_seconds",
		"Time one ClickHouse insert of a batch took (successful or not).", []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30})
	m.ingestInsertFailures = f.counter("ingest", "clickhouse_insert_failures_total",
		"ClickHouse inserts that failed (the batch is held and retried).")
	m.ingestStored = f.counter("ingest", "events_stored_total",
		"Events the consumer handed to ClickHouse in successful inserts (copies already stored are skipped there).")
	m.ingestDeadLettered = f.counter("ingest", "events_dead_lettered_total",
		"Events the consumer moved to the dead-letter stream (undecodable, invalid, or pricing panicked).")

	m.reservations = f.counterVec("budget", "reservations_total",
		"Budget reservation requests, by result: granted, refused (no room), unchecked (store down, fail open), error (store down or bad request).",
		"result")
	m.reservationsExpired = f.counter("budget", "reservations_expired_total",
		"Reservations that expired unsettled and gave their amount back (the call's usage event never came).")
	m.alertDeliveries = f.counterVec("budget", "alert_deliveries_total",
		"Budget alert delivery attempts, by channel (nats, webhook) and result (delivered, failed).", "channel", "result")

	m.graphqlDuration = f.histogramVec("graphql", "operation_duration_seconds",
		"Time a GraphQL query or mutation took from parsing to its answer, by operation type (query, mutation; invalid: the document did not parse or validate) and result (ok, error).",
		[]float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}, "type", "result")

	// With the scheduling latency (go_sched_latencies_seconds: how long
	// goroutines waited for a processor), which says when a process's
	// requests queue behind other work for CPU.
	f.add(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
		collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/sched/latencies:seconds$`)})))
	f.add(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f.add(buildInfo())
	if f.err != nil {
		return nil, f.err
	}
	m.initialize()
	return m, nil
}

// initialize creates the series of every closed label set at zero, so they
// exist before the first event (rate() and absent() then work, and a scrape
// lists every metric).
func (m *Metrics) initialize() {
	for _, r := range denialReasons {
		m.gatewayDenials.WithLabelValues(r)
	}
	for _, p := range meter.Providers() {
		m.gatewayUpstreamErrors.WithLabelValues(p.ID)
	}
	for _, s := range []string{"policy", "priced", "reservation"} {
		m.gatewayUnavailable.WithLabelValues(s, "true")
		m.gatewayUnavailable.WithLabelValues(s, "false")
	}
	for _, r := range []string{"accepted", "duplicate", "rejected"} {
		m.ingestReceived.WithLabelValues(r)
	}
	for _, r := range []string{ReservationGranted, ReservationRefused, ReservationUnchecked, ReservationError} {
		m.reservations.WithLabelValues(r)
	}
	for _, c := range []string{"nats", "webhook"} {
		m.alertDeliveries.WithLabelValues(c, "delivered")
		m.alertDeliveries.WithLabelValues(c, "failed")
	}
	for _, t := range []string{"query", "mutation", "invalid"} {
		m.graphqlDuration.WithLabelValues(t, "ok")
		m.graphqlDuration.WithLabelValues(t, "error")
	}
}

// Registry is the registry the metrics are on (to add collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, EnableOpenMetrics: true})
}

// denialReasons is the closed set of denial reasons: a reason outside it
// (a remote budget service's newer one) is counted as "other".
var denialReasons = []string{
	event.DenialMissingKey, event.DenialUnknownKey, event.DenialKeyRevoked, event.DenialProviderNotAllowed,
	event.DenialModelNotAllowed, event.DenialMissingDimension, event.DenialInvalidDimension, event.DenialBodyTooLarge,
	event.DenialBudgetExceeded, event.DenialUnpricedModel, event.DenialAuthUnavailable, event.DenialUnknownRoute,
	event.DenialBudgetUnavailable, event.DenialRateLimited, "other",
}

func knownReason(r string) string {
	for _, k := range denialReasons {
		if r == k {
			return r
		}
	}
	return "other"
}

// providerLabel and operationLabel keep labels in their closed sets.
func providerLabel(id string) string {
	if _, ok := meter.ProviderByID(id); ok {
		return id
	}
	return "unknown"
}

func operationLabel(op string) string {
	switch op {
	case meter.OpChatCompletions, meter.OpCompletions, meter.OpResponses, meter.OpEmbeddings, meter.OpAudioSpeech,
		meter.OpAudioTranscriptions, meter.OpAudioTranslations, meter.OpImagesGenerations, meter.OpImagesEdits,
		meter.OpImagesVariations, meter.OpMessages, meter.OpCountTokens, meter.OpGenerateContent,
		meter.OpStreamGenerateContent, meter.OpEmbedContent, meter.OpModels:
		return op
	}
	return meter.OpUnknown
}

// statusLabel is an HTTP status as a label: 100..599, else "other".
func statusLabel(s int) string {
	if s < 100 || s > 599 {
		return "other"
	}
	return strconv.Itoa(s)
}

func statusClass(s int) string {
	if s < 100 || s > 599 {
		return "other"
	}
	return strconv.Itoa(s/100) + "xx"
}

// buildInfo is spendgate_build_info{version, go_version} 1.
func buildInfo() prometheus.Collector {
	version, goVersion := "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && version == "(devel)" {
				version = s.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "build_info",
		Help:        "Always 1; its labels say which spendgate build runs.",
		ConstLabels: prometheus.Labels{"version": version, "go_version": goVersion}})
	g.Set(1)
	return g
}

// factory builds metrics and registers them, keeping the first error.
type factory struct {
	reg *prometheus.Registry
	err error
}

func (f *factory) add(c prometheus.Collector) {
	if f.err == nil {
		f.err = f.reg.Register(c)
	}
}

func (f *factory) counterVec(sub, name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: sub, Name: name, Help: help}, labels)
	f.add(c)
	return c
}

func (f *factory) counter(sub, name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: sub, Name: name, Help: help})
	f.add(c)
	return c
}

func (f *factory) histogramVec(sub, name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: sub, Name: name, Help: help, Buckets: buckets}, labels)
	f.add(h)
	return h
}

func (f *factory) histogram(sub, name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: sub, Name: name, Help: help, Buckets: buckets})
	f.add(h)
	return h
}
