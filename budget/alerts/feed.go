package alerts

import (
	"context"
	"encoding/json"
	"log/slog"

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
// closed. The caller has authorized the tenant. A slow subscriber misses live
// alerts beyond the buffer; they stay in the alert history.
func (f *Feed) Subscribe(ctx context.Context, tenantID string) (<-chan budget.Alert, error) {
	return subscribe(ctx, f.nc, Subject(f.prefix, tenantID), f.log, func(data []byte) (budget.Alert, error) {
		var a budget.Alert
		err := json.Unmarshal(data, &a)
		return a, err
	})
}
