package ingest

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/pricing"
)

// BenchmarkPricingPace prices a batch of 5,000 events on one processor
// while another goroutine wakes every 100 µs, as a gateway request does when
// its upstream answers, and reports how late that goroutine ran (p99, max)
// with the consumer's yields ("paced", what price does) and without them
// ("unpaced", the loop before). Package-level: it shows the mechanism; the
// product's figure is `spendgate-bench serve`. A timed measurement, so read
// it on a quiet machine; it asserts nothing.
func BenchmarkPricingPace(b *testing.B) {
	const batchSize, tick = 5_000, 100 * time.Microsecond
	cfg := DefaultConfig()
	c := NewConsumer(cfg, DefaultConsumerConfig(), nil, nil, pricing.Default(), nil, quietLog)
	evs := usageEvents(batchSize, 1)
	data, subjects := make([][]byte, len(evs)), make([]string, len(evs))
	for i := range evs {
		data[i], subjects[i] = event.AppendJSON(nil, &evs[i]), cfg.subject(evs[i].EventID, evs[i].TenantID)
	}
	ctx := context.Background()
	for name, paced := range map[string]bool{"paced": true, "unpaced": false} {
		b.Run(name, func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			var late []time.Duration
			for b.Loop() {
				stop, done := make(chan struct{}), make(chan []time.Duration)
				go func() { // the "request"
					var l []time.Duration
					for {
						select {
						case <-stop:
							done <- l
							return
						default:
						}
						t := time.Now()
						time.Sleep(tick)
						l = append(l, time.Since(t)-tick)
					}
				}()
				runtime.Gosched() // let it start
				pes := make([]PricedEvent, batchSize)
				for i := range data {
					if paced {
						yieldEvery(i)
					}
					if reason := c.priceOne(ctx, subjects[i], data[i], false, &pes[i]); reason != "" {
						b.Fatal(reason)
					}
				}
				close(stop)
				late = append(late, <-done...)
			}
			slices.Sort(late)
			if len(late) > 0 {
				b.ReportMetric(float64(late[len(late)*99/100].Microseconds()), "late-p99-µs")
				b.ReportMetric(float64(late[len(late)-1].Microseconds()), "late-max-µs")
			}
		})
	}
}
