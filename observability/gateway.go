package observability

import (
	"context"
	"log/slog"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spendgate/spendgate/gateway"
	"github.com/spendgate/spendgate/requestid"
)

// GatewayObserver is the gateway's Observer: metrics (when Metrics is set)
// and the access log (when AccessLog is set), one line per call.
type GatewayObserver struct {
	Metrics   *Metrics
	AccessLog *slog.Logger
}

// CallDone implements gateway.Observer.
func (o GatewayObserver) CallDone(ctx context.Context, r *gateway.CallRecord) {
	if m := o.Metrics; m != nil {
		provider, op := providerLabel(r.Provider), operationLabel(r.Operation)
		m.gatewayRequests.WithLabelValues(provider, op, statusLabel(r.Status)).Inc()
		m.gatewayDuration.WithLabelValues(provider, op, statusClass(r.Status)).Observe(r.Duration.Seconds())
		switch r.Outcome {
		case gateway.OutcomeForwarded:
			m.gatewayTTFB.WithLabelValues(provider, op).Observe(r.TTFB.Seconds())
		case gateway.OutcomeDenied:
			m.gatewayDenials.WithLabelValues(knownReason(r.DenialReason)).Inc()
		case gateway.OutcomeUpstreamError:
			m.gatewayUpstreamErrors.WithLabelValues(provider).Inc()
		}
		if r.Unavailable != "" {
			m.gatewayUnavailable.WithLabelValues(serviceLabel(r.Unavailable), strconv.FormatBool(r.FailedOpen)).Inc()
		}
	}
	if o.AccessLog != nil {
		attrs := make([]slog.Attr, 0, 16)
		attrs = append(attrs, slog.String("request_id", requestid.From(ctx)), slog.String("method", r.Method),
			slog.String("path", r.Path), slog.String("provider", r.Provider), slog.String("operation", r.Operation),
			slog.Int("status", r.Status), slog.String("outcome", r.Outcome), slog.Duration("duration", r.Duration),
			slog.Int64("request_bytes", r.RequestBytes), slog.Int64("response_bytes", r.ResponseBytes))
		if r.TTFB > 0 {
			attrs = append(attrs, slog.Duration("ttfb", r.TTFB))
		}
		if r.TenantID != "" {
			attrs = append(attrs, slog.String("tenant_id", r.TenantID))
		}
		if r.DenialReason != "" {
			attrs = append(attrs, slog.String("denial_reason", r.DenialReason))
		}
		if r.Unavailable != "" {
			attrs = append(attrs, slog.String("unavailable", r.Unavailable), slog.Bool("failed_open", r.FailedOpen))
		}
		if r.TraceID != "" {
			attrs = append(attrs, slog.String("trace_id", r.TraceID))
		}
		o.AccessLog.LogAttrs(ctx, slog.LevelInfo, "gateway access", attrs...)
	}
}

func serviceLabel(s string) string {
	switch s {
	case "policy", "priced", "reservation":
		return s
	}
	return "other"
}

// batcherCollector exports a gateway event batcher's counters, read at
// scrape time (nothing is added to the batcher's path).
type batcherCollector struct {
	b                                                         *gateway.Batcher
	published, rejected, dropped, spooled, replayed, failures *prometheus.Desc
	buffered, spoolBatches, spoolBytes                        *prometheus.Desc
}

// RegisterBatcher exports the gateway event batcher's counters: events
// published, buffered, spooled, replayed and dropped, failed publishes and
// what the spool holds. One batcher per registry.
func (m *Metrics) RegisterBatcher(b *gateway.Batcher) error {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "gateway", name), help, nil, nil)
	}
	return m.reg.Register(&batcherCollector{b: b,
		published: d("events_published_total", "Usage and denial events ingest accepted from this gateway (replayed ones included)."),
		rejected:  d("events_rejected_total", "Events ingest took in a batch but rejected as invalid (a bug: never retried)."),
		dropped: d("events_dropped_total", "Events this gateway LOST: its buffer was full with no room in the spool (or no spool), "+
			"ingest refused their batch as malformed, or they were still buffered at exit without a spool."),
		spooled:      d("events_spooled_total", "Events written to the disk spool because ingest was down or slow."),
		replayed:     d("events_replayed_total", "Spooled events later delivered to ingest."),
		failures:     d("event_publish_failures_total", "Failed attempts to publish a batch to ingest (each is retried)."),
		buffered:     d("events_buffered", "Events in memory for ingest now: waiting, or in the batch being sent."),
		spoolBatches: d("spool_batches", "Event batches waiting in the disk spool now."),
		spoolBytes:   d("spool_bytes", "Disk the event spool uses now."),
	})
}

func (c *batcherCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.published, c.rejected, c.dropped, c.spooled, c.replayed, c.failures, c.buffered, c.spoolBatches, c.spoolBytes} {
		ch <- d
	}
}

func (c *batcherCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.b.Counters()
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	counter(c.published, st.Sent)
	counter(c.rejected, st.Rejected)
	counter(c.dropped, st.Dropped)
	counter(c.spooled, st.Spooled)
	counter(c.replayed, st.Replayed)
	counter(c.failures, st.Failures)
	gauge(c.buffered, st.Buffered)
	gauge(c.spoolBatches, int64(st.Spool.Records))
	gauge(c.spoolBytes, st.Spool.Bytes)
}
