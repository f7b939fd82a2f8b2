package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/spendgate/spendgate/budget"
)

// Feed hands out live alerts of a tenant from NATS, as the dispatcher
// publishes them, for GraphQL subscriptions.
type Feed struct {
	nc     *nats.Conn
	prefix string
	log    *slog.Logger
}

// NewFeed returns a feed reading <prefix>.alerts.<tenant>.
func NewFeed(nc *nats.Conn, prefix string, log *slog.Logger) *Feed {
	return &Feed{nc: nc, prefix: prefix, log: log}
}

// feedBuffer alerts wait for a slow subscriber; beyond it alerts are
// dropped for that subscriber (and logged): the alert itself stays stored
// and listed by the alert history, so nothing is lost, only not live.
const feedBuffer = 256

// Subscribe streams the tenant's alerts until ctx ends; the channel is then
// closed. The caller has authorized the tenant.
func (f *Feed) Subscribe(ctx context.Context, tenantID string) (<-chan budget.Alert, error) {
	out := make(chan budget.Alert, feedBuffer)
	msgs := make(chan *nats.Msg, feedBuffer)
	sub, err := f.nc.ChanSubscribe(Subject(f.prefix, tenantID), msgs)
	if err != nil {
		return nil, fmt.Errorf("alerts: subscribe: %w", err)
	}
	// Make sure the server has the interest before the caller is told the
	// subscription is live, so an alert published right after is not missed.
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := f.nc.FlushWithContext(fctx); err != nil {
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
				var a budget.Alert
				if err := json.Unmarshal(m.Data, &a); err != nil {
					f.log.Error("alerts: undecodable alert on NATS", "subject", m.Subject, "err", err)
					continue
				}
				select {
				case out <- a:
				default:
					f.log.Warn("alerts: subscriber too slow; live alert dropped (it stays in the history)", "tenant", tenantID, "alert", a.ID)
				}
			}
		}
	}()
	return out, nil
}
