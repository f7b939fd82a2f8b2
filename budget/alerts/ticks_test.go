package alerts

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
)

// A stored batch becomes one tick per tenant with the batch's sums; a
// subscriber of one tenant sees only its own ticks. Denials add nothing.
func TestTicksPerTenant(t *testing.T) {
	nc, prefix := testenv.NATS(t)
	ticks := NewTicks(nc, strings.ToLower(prefix), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mine, err := ticks.Subscribe(ctx, "tenant-a")
	testenv.Must(t, err, "subscribe")
	ev := func(tenant, typ string, priced bool, cost int64) spend.PricedEvent {
		return spend.PricedEvent{Event: event.Event{TenantID: tenant, Type: typ}, Cost: pricing.Cost{Priced: priced, ListNanoUSD: cost, TenantNanoUSD: cost / 2}}
	}
	testenv.Must(t, ticks.ApplySpend(ctx, []spend.PricedEvent{
		ev("tenant-b", event.TypeUsage, true, 1000),
		ev("tenant-a", event.TypeUsage, true, 300),
		ev("tenant-a", event.TypeUsage, false, 0),
		ev("tenant-a", event.TypeDenial, false, 0),
		ev("tenant-a", event.TypeUsage, true, 100),
	}), "apply")
	select {
	case tk := <-mine:
		if tk.Requests != 3 || tk.UnpricedRequests != 1 || tk.ListNanoUSD != 400 || tk.TenantNanoUSD != 200 || tk.At.IsZero() {
			t.Fatalf("tick %+v", tk)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no tick")
	}
	select {
	case tk := <-mine:
		t.Fatalf("a second tick (another tenant's?): %+v", tk)
	case <-time.After(300 * time.Millisecond):
	}
}
