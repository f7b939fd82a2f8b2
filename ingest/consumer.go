package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/store/clickhouse"
)

// EventWriter stores priced events, skipping ids it already has.
type EventWriter interface {
	Write(ctx context.Context, events []clickhouse.PricedEvent) (int, error)
}

// PricedEvent is an event with its cost (zero Cost for denials).
type PricedEvent = clickhouse.PricedEvent

// SpendSink receives priced events after they are stored and before they are
// acked (budgets). It must be idempotent by event_id: an error, or a crash
// before the ack, makes JetStream deliver the events again.
type SpendSink interface {
	ApplySpend(ctx context.Context, events []PricedEvent) error
}

// OverrideSource gives a tenant's pricing overrides (the control plane).
type OverrideSource interface {
	TenantOverrides(ctx context.Context, tenantID string) ([]pricing.Override, error)
}

// ConsumerConfig tunes the consumer.
type ConsumerConfig struct {
	Durable      string        // durable consumer name
	BatchSize    int           // events per fetch and insert
	MaxWait      time.Duration // longest wait to fill a batch
	AckWait      time.Duration // redelivery after this without ack
	MaxDeliver   int           // deliveries before an event goes to the DLQ
	OverridesTTL time.Duration // how long tenant overrides are cached
	RetryDelay   time.Duration // Nak delay when the store is down
}

// DefaultConsumerConfig returns defaults for one machine.
func DefaultConsumerConfig() ConsumerConfig {
	return ConsumerConfig{Durable: "clickhouse-writer", BatchSize: 1000, MaxWait: time.Second, AckWait: 2 * time.Minute,
		MaxDeliver: 50, OverridesTTL: 30 * time.Second, RetryDelay: 2 * time.Second}
}

// Consumer moves events from JetStream into ClickHouse, priced.
type Consumer struct {
	cfg       Config
	ccfg      ConsumerConfig
	js        jetstream.JetStream
	writer    EventWriter
	catalogue *pricing.Catalogue
	overrides OverrideSource
	log       *slog.Logger
	// afterWrite, when set, runs after the insert and before the ack (tests
	// use it to simulate a crash in between).
	afterWrite func() error
	sink       SpendSink

	mu    sync.Mutex
	cache map[string]cachedOverrides
}

type cachedOverrides struct {
	list    []pricing.Override
	fetched time.Time
}

// NewConsumer builds a consumer. overrides may be nil (list prices only).
func NewConsumer(cfg Config, ccfg ConsumerConfig, js jetstream.JetStream, writer EventWriter, cat *pricing.Catalogue, overrides OverrideSource, log *slog.Logger) *Consumer {
	return &Consumer{cfg: cfg, ccfg: ccfg, js: js, writer: writer, catalogue: cat, overrides: overrides, log: log, cache: map[string]cachedOverrides{}}
}

// SetSpendSink installs the budget hook (nil ⇒ none); call before Run.
func (c *Consumer) SetSpendSink(s SpendSink) { c.sink = s }

// Run consumes until ctx ends.
func (c *Consumer) Run(ctx context.Context) error {
	cons, err := c.js.CreateOrUpdateConsumer(ctx, c.cfg.eventsStream(), jetstream.ConsumerConfig{
		Durable: c.ccfg.Durable, AckPolicy: jetstream.AckExplicitPolicy, AckWait: c.ccfg.AckWait,
		MaxDeliver: c.ccfg.MaxDeliver, MaxAckPending: c.ccfg.BatchSize * 4, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("ingest: consumer: %w", err)
	}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(c.ccfg.BatchSize, jetstream.FetchMaxWait(c.ccfg.MaxWait))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			c.log.Warn("ingest: fetch failed", "err", err)
			sleep(ctx, c.ccfg.RetryDelay)
			continue
		}
		var msgs []jetstream.Msg
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
		if len(msgs) == 0 {
			continue
		}
		c.handle(ctx, msgs)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// handle prices and stores one fetched batch, then acks it. Poison messages go
// to the DLQ; a store failure naks the batch for redelivery.
func (c *Consumer) handle(ctx context.Context, msgs []jetstream.Msg) {
	good := make([]jetstream.Msg, 0, len(msgs))
	priced := make([]clickhouse.PricedEvent, 0, len(msgs))
	for _, m := range msgs {
		var e event.Event
		if err := json.Unmarshal(m.Data(), &e); err != nil {
			c.deadLetter(ctx, m, "undecodable event: "+err.Error())
			continue
		}
		if err := Validate(&e, time.Now()); err != nil {
			c.deadLetter(ctx, m, "invalid event: "+err.Error())
			continue
		}
		pe := clickhouse.PricedEvent{Event: e}
		if e.Type == event.TypeUsage {
			ovs, err := c.tenantOverrides(ctx, e.TenantID)
			if err != nil {
				// Pricing without the tenant's overrides would store a wrong
				// tenant cost: wait for the control plane instead.
				c.log.Warn("ingest: overrides unavailable; retrying batch", "tenant", e.TenantID, "err", err)
				c.nakAll(msgs)
				return
			}
			pe.Cost = c.catalogue.Cost(pricing.Request{Provider: e.Provider, Model: pricingModel(&e), Time: e.Time,
				ServiceTier: e.ServiceTier}, e.Usage, ovs)
		}
		good = append(good, m)
		priced = append(priced, pe)
	}
	if len(priced) == 0 {
		return
	}
	n, err := c.writer.Write(ctx, priced)
	if err != nil {
		c.log.Warn("ingest: store unavailable; events stay in JetStream", "events", len(priced), "err", err)
		c.nakAll(good)
		return
	}
	if c.sink != nil {
		if err := c.sink.ApplySpend(ctx, priced); err != nil {
			// Stored but not applied to budgets: redeliver; the writer skips
			// the stored ids and the sink is idempotent.
			c.log.Warn("ingest: spend sink failed; events will be redelivered", "events", len(priced), "err", err)
			c.nakAll(good)
			return
		}
	}
	if c.afterWrite != nil {
		if err := c.afterWrite(); err != nil {
			return // simulated crash: no ack, JetStream redelivers after AckWait
		}
	}
	for _, m := range good {
		if err := m.Ack(); err != nil {
			c.log.Warn("ingest: ack failed; the event will be redelivered and skipped as stored", "err", err)
		}
	}
	c.log.Debug("ingest: stored events", "new", n, "batch", len(priced))
}

// pricingModel prefers the model the provider says it served (a dated
// snapshot prices exactly) and falls back to the requested one.
func pricingModel(e *event.Event) string {
	if e.ModelServed != "" {
		return e.ModelServed
	}
	return e.ModelRequested
}

func (c *Consumer) nakAll(msgs []jetstream.Msg) {
	for _, m := range msgs {
		_ = m.NakWithDelay(c.ccfg.RetryDelay)
	}
}

func (c *Consumer) deadLetter(ctx context.Context, m jetstream.Msg, reason string) {
	msg := &nats.Msg{Subject: c.cfg.dlqSubject(), Data: m.Data(), Header: nats.Header{}}
	msg.Header.Set("Spendgate-Dlq-Reason", reason)
	msg.Header.Set("Spendgate-Original-Subject", m.Subject())
	if _, err := c.js.PublishMsg(ctx, msg); err != nil {
		c.log.Error("ingest: dead-lettering failed; will retry", "err", err)
		_ = m.NakWithDelay(c.ccfg.RetryDelay)
		return
	}
	c.log.Warn("ingest: event dead-lettered", "reason", reason)
	_ = m.Term()
}

func (c *Consumer) tenantOverrides(ctx context.Context, tenantID string) ([]pricing.Override, error) {
	if c.overrides == nil {
		return nil, nil
	}
	c.mu.Lock()
	e, ok := c.cache[tenantID]
	c.mu.Unlock()
	if ok && time.Since(e.fetched) < c.ccfg.OverridesTTL {
		return e.list, nil
	}
	list, err := c.overrides.TenantOverrides(ctx, tenantID)
	if err != nil {
		if ok {
			return e.list, nil // stale beats none while the control plane blips
		}
		return nil, err
	}
	c.mu.Lock()
	c.cache[tenantID] = cachedOverrides{list: list, fetched: time.Now()}
	c.mu.Unlock()
	return list, nil
}
