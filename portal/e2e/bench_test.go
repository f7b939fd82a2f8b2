package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// BenchmarkDashboardFirstLoad measures, in a real headless Chromium on
// loopback, the time from navigating to the portal (signed in, empty HTTP
// cache) until the dashboard has rendered its data or its empty state.
func BenchmarkDashboardFirstLoad(b *testing.B) {
	srv := startServer(b)
	ctx := newBrowser(b, 1280, 900)
	signIn(b, ctx, srv.URL, ownerEmail, ownerPassword)
	// Every load fetches index.html and the bundle again, as a first visit does.
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true})
		return err
	})); err != nil {
		b.Fatalf("disable cache: %v", err)
	}
	ready := chromedp.CSS(`section[aria-labelledby="dash-h"] .empty, [data-testid=total], section[aria-labelledby="dash-h"] .error`)
	b.ReportAllocs()
	var total time.Duration
	var inPage float64
	n := 0
	for b.Loop() {
		sctx, cancel := context.WithTimeout(ctx, stepTimeout)
		start := time.Now()
		err := chromedp.Do(sctx,
			chromedp.Navigate("about:blank"),
			chromedp.Navigate(srv.URL+"/#/dashboard"),
			chromedp.WaitVisible(ready),
			chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				ms, err := chromedp.Evaluate[float64](`performance.now()`)(ctx, tg)
				inPage += ms
				return err
			}),
		)
		total += time.Since(start)
		n++
		cancel()
		if err != nil {
			b.Fatalf("load dashboard: %v", err)
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(n), "ms/load")
	// From navigation start to the rendered dashboard, as the page measures it.
	b.ReportMetric(inPage/float64(n), "page-ms/load")
}
