package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/spend"
)

// SpendTick is the spend one stored batch added for a tenant: a live ticker
// for dashboards, not a record (analytics are the record).
type SpendTick struct {
	At               time.Time `json:"at"`
	Requests         int64     `json:"requests"`
	UnpricedRequests int64     `json:"unpriced_requests"`
	ListNanoUSD      int64     `json:"list_nano_usd"`
	TenantNanoUSD    int64     `json:"tenant_nano_usd"`
}

// TicksSubject is the NATS subject of a tenant's spend ticks.
func TicksSubject(prefix, tenantID string) string { return prefix + ".spend." + tenantID }

// Ticks publishes spend ticks after the consumer stored a batch (it is an
// ingest.SpendSink) and streams them to subscribers.
type Ticks struct {
	nc     *nats.Conn
	prefix string
	log    *slog.Logger
}

// NewTicks publishes and reads <prefix>.spend.<tenant>.
func NewTicks(nc *nats.Conn, prefix string, log *slog.Logger) *Ticks {
	return &Ticks{nc: nc, prefix: prefix, log: log}
}

// ApplySpend publishes one tick per tenant of the batch. Ticks are best
// effort (core NATS, no retry): a failure is logged and never holds up the
// batch, whose events are stored already.
func (t *Ticks) ApplySpend(_ context.Context, events []spend.PricedEvent) error {
	per := map[string]*SpendTick{}
	now := time.Now().UTC()
	for i := range events {
		e := &events[i]
		if e.Event.Type != event.TypeUsage {
			continue
		}
		tk := per[e.Event.TenantID]
		if tk == nil {
			tk = &SpendTick{At: now}
			per[e.Event.TenantID] = tk
		}
		tk.Requests++
		if !e.Cost.Priced {
			tk.UnpricedRequests++
		}
		tk.ListNanoUSD += e.Cost.ListNanoUSD
		tk.TenantNanoUSD += e.Cost.TenantNanoUSD
	}
	for tenant, tk := range per {
		b, _ := json.Marshal(tk)
		if err := t.nc.Publish(TicksSubject(t.prefix, tenant), b); err != nil {
			t.log.Warn("spend ticks: publish failed (live ticker only)", "tenant", tenant, "err", err)
		}
	}
	return nil
}

// Subscribe streams the tenant's ticks until ctx ends. The caller has
// authorized the tenant.
func (t *Ticks) Subscribe(ctx context.Context, tenantID string) (<-chan SpendTick, error) {
	return subscribe(ctx, t.nc, TicksSubject(t.prefix, tenantID), t.log, func(data []byte) (SpendTick, error) {
		var tk SpendTick
		err := json.Unmarshal(data, &tk)
		return tk, err
	})
}

// subscribe relays decoded messages of subject to a buffered channel until
// ctx ends, dropping (and logging) what a slow reader cannot take.
func subscribe[T any](ctx context.Context, nc *nats.Conn, subject string, log *slog.Logger, decode func([]byte) (T, error)) (<-chan T, error) {
	out := make(chan T, feedBuffer)
	msgs := make(chan *nats.Msg, feedBuffer)
	sub, err := nc.ChanSubscribe(subject, msgs)
	if err != nil {
		return nil, fmt.Errorf("alerts: subscribe: %w", err)
	}
	// Make sure the server has the interest before the caller is told the
	// subscription is live, so a message published right after is not missed.
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := nc.FlushWithContext(fctx); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("alerts: subscribe: %w", err)
	}
	go func() {
		defer close(out)
		defer sub.Unsubscribe() //nolint:errcheck // the connection may be closing
		for {
			select {
			case <-ctx.Done():
				return
			case m := <-msgs:
				v, err := decode(m.Data)
				if err != nil {
					log.Error("alerts: undecodable message on NATS", "subject", m.Subject, "err", err)
					continue
				}
				select {
				case out <- v:
				default:
					log.Warn("alerts: subscriber too slow; live message dropped", "subject", subject)
				}
			}
		}
	}()
	return out, nil
}
