package observability

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spendgate/spendgate/ingest"
)

// BatchReceived implements ingest.ReceiverObserver.
func (m *Metrics) BatchReceived(accepted, duplicates, rejected int, err error) {
	m.ingestReceived.WithLabelValues("accepted").Add(float64(accepted))
	m.ingestReceived.WithLabelValues("duplicate").Add(float64(duplicates))
	m.ingestReceived.WithLabelValues("rejected").Add(float64(rejected))
	if err != nil {
		m.ingestPublishFailures.Inc()
	}
}

// BatchWritten implements ingest.ConsumerObserver.
func (m *Metrics) BatchWritten(events int, took time.Duration, err error) {
	m.ingestInsertDuration.Observe(took.Seconds())
	if err != nil {
		m.ingestInsertFailures.Inc()
		return
	}
	m.ingestBatchSize.Observe(float64(events))
	m.ingestStored.Add(float64(events))
}

// DeadLettered implements ingest.ConsumerObserver.
func (m *Metrics) DeadLettered() { m.ingestDeadLettered.Inc() }

// RegisterIngestBacklog exports how far the consumer of ccfg's partitions
// lags (JetStream pending events, the age of the oldest unacknowledged
// one) and the DLQ's depth, read from JetStream at scrape time (at most
// once per second, within 5 s). A read that fails sets
// spendgate_ingest_backlog_up to 0 and leaves the other series out.
func (m *Metrics) RegisterIngestBacklog(js jetstream.JetStream, cfg ingest.Config, ccfg ingest.ConsumerConfig) error {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "ingest", name), help, nil, nil)
	}
	return m.reg.Register(&backlogCollector{
		read: func(ctx context.Context) (ingest.Backlog, uint64, error) {
			b, err := ingest.ReadBacklog(ctx, js, cfg, ccfg)
			if err != nil {
				return b, 0, err
			}
			n, err := ingest.DeadLetterCount(ctx, js, cfg)
			return b, n, err
		},
		up:         d("backlog_up", "1 when the last read of the JetStream backlog succeeded, 0 when JetStream could not be asked."),
		pending:    d("pending_messages", "Messages (of one or many events each) in JetStream not yet delivered to this process's consumers."),
		ackPending: d("unacked_messages", "Messages (of one or many events each) delivered to this process's consumers and not yet acknowledged (being stored, or held while a store is down)."),
		oldestAge:  d("oldest_unacked_event_age_seconds", "Age of the oldest event this process's consumers have not acknowledged (0 when none waits): the ingest lag."),
		dlq:        d("dlq_events", "Messages in the dead-letter stream (events that could not be stored, and max-deliveries advisories)."),
	})
}

type backlogCollector struct {
	read                                    func(context.Context) (ingest.Backlog, uint64, error)
	up, pending, ackPending, oldestAge, dlq *prometheus.Desc

	mu      sync.Mutex
	readAt  time.Time
	backlog ingest.Backlog
	dlqN    uint64
	err     error
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.pending, c.ackPending, c.oldestAge, c.dlq} {
		ch <- d
	}
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if now.Sub(c.readAt) >= time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c.backlog, c.dlqN, c.err = c.read(ctx)
		cancel()
		c.readAt = now
	}
	if c.err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(c.backlog.Pending))
	ch <- prometheus.MustNewConstMetric(c.ackPending, prometheus.GaugeValue, float64(c.backlog.AckPending))
	age := 0.0
	if !c.backlog.Oldest.IsZero() {
		age = max(now.Sub(c.backlog.Oldest).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(c.oldestAge, prometheus.GaugeValue, age)
	ch <- prometheus.MustNewConstMetric(c.dlq, prometheus.GaugeValue, float64(c.dlqN))
}
