package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/gateway"
	"github.com/spendgate/spendgate/internal/envflag"
	"github.com/spendgate/spendgate/internal/fakeprovider"
	"github.com/spendgate/spendgate/policy"
)

// benchGateway is a package-level benchmark: it measures what the gateway
// package adds to a call (static policy, events counted, no pipeline; see
// benchServe for the product as deployed), against a bare
// httputil.ReverseProxy and direct calls to the same fake provider, all on
// loopback in this process. Figures are printed as ratios to the baselines
// measured in the same run, since absolute numbers depend on the machine.
func benchGateway(ctx context.Context, args []string) error {
	fs := envflag.NewFlagSet("spendgate-bench gateway")
	duration := fs.Duration("duration", 3*time.Second, "load duration per measurement")
	rates := fs.String("rates", "1000,5000", "fixed request rates (per second) to measure")
	streams := fs.Int("streams", 200, "in-flight streams for the memory measurement")
	rounds := fs.Int("rounds", 10, "rounds per measurement: the targets take turns in short slices of the duration, so background load on a shared machine falls on all of them alike")
	if err := envflag.Parse(fs, args); err != nil {
		return err
	}
	if *rounds <= 0 || *duration < time.Duration(*rounds)*100*time.Millisecond {
		return fmt.Errorf("--rounds must be positive with at least 100ms of --duration each")
	}
	var rateList []int
	for _, r := range strings.Split(*rates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || n <= 0 {
			return fmt.Errorf("bad --rates entry %q", r)
		}
		rateList = append(rateList, n)
	}

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	fake := fakeprovider.New(fakeprovider.Config{KeepRequests: 1, Chunks: 5})
	fakeURL, stopFake, err := listen(fake)
	if err != nil {
		return err
	}
	defer stopFake()
	target, _ := url.Parse(fakeURL)
	bare := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target) // also sets the Host header to the target's
			r.Out.URL.Path = "/v1" + strings.TrimPrefix(r.In.URL.Path, "/v1/openai")
			r.SetXForwarded() // the Director it replaces added X-Forwarded-For too
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxIdleConns: 2048},
	}
	bareURL, stopBare, err := listen(bare)
	if err != nil {
		return err
	}
	defer stopBare()

	sink := &countingSink{}
	batcher := gateway.NewBatcher(sink, 500, 1_000_000, 50*time.Millisecond, quiet)
	cfg := gateway.DefaultConfig()
	cfg.Upstreams = map[string]string{"openai": fakeURL + "/v1"}
	gw := gateway.New(cfg, staticPolicy{}, batcher, quiet)
	gwURL, stopGW, err := listen(gw)
	if err != nil {
		return err
	}
	defer stopGW()
	defer gw.Shutdown(context.Background())

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: maxInFlight, MaxIdleConns: 4 * maxInFlight, IdleConnTimeout: time.Minute}}
	jsonBody := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
	sseBody := []byte(`{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	targets := []struct{ name, url string }{
		{"direct", fakeURL + "/v1/chat/completions"},
		{"bare proxy", bareURL + "/v1/openai/chat/completions"},
		{"gateway", gwURL + "/v1/openai/chat/completions"},
	}

	fmt.Printf("PACKAGE-LEVEL gateway benchmark (the gateway package in this process with a static policy and a counting event sink,\n"+
		"no ingest pipeline; for the product as deployed run 'spendgate-bench serve') on %d CPUs, loopback, fake provider, at most %d requests in flight; latency from each request's scheduled send;\n"+
		"targets take turns in %d rounds per measurement; 'added' = p(x) - p(direct)\n", runtime.NumCPU(), maxInFlight, *rounds)
	for _, kind := range []struct {
		name string
		body []byte
	}{{"JSON", jsonBody}, {"SSE", sseBody}} {
		for _, tg := range targets {
			// Warm the connection pools first.
			_ = runLoad(ctx, client, tg.url, kind.body, 200, 300*time.Millisecond)
		}
		for _, rate := range rateList {
			res := map[string]loadResult{}
			var ratios50, ratios99 []float64 // per round, gateway/bare added latency
			for i := 0; i < *rounds; i++ {
				round := map[string]loadResult{}
				for j := range targets {
					tg := targets[(i+j)%len(targets)]
					got := runLoad(ctx, client, tg.url, kind.body, rate, *duration/time.Duration(*rounds))
					r := res[tg.name]
					r.add(got)
					res[tg.name] = r
					got.finish()
					round[tg.name] = got
				}
				d, b, g := round["direct"], round["bare proxy"], round["gateway"]
				if b.p50 > d.p50 {
					ratios50 = append(ratios50, float64(g.p50-d.p50)/float64(b.p50-d.p50))
				}
				if b.p99 > d.p99 {
					ratios99 = append(ratios99, float64(g.p99-d.p99)/float64(b.p99-d.p99))
				}
			}
			for name, r := range res {
				r.finish()
				res[name] = r
			}
			d, b, g := res["direct"], res["bare proxy"], res["gateway"]
			fmt.Printf("\n%s at %d req/s for %s\n", kind.name, rate, *duration)
			for _, tg := range targets {
				r := res[tg.name]
				fmt.Printf("  %-10s sent %6d ok %6d errors %4d  achieved %7.0f req/s  p50 %8s  p99 %8s\n",
					tg.name, r.sent, r.ok, r.errors, r.achieved, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond))
			}
			addB50, addB99 := b.p50-d.p50, b.p99-d.p99
			addG50, addG99 := g.p50-d.p50, g.p99-d.p99
			fmt.Printf("  added latency: bare p50 %s p99 %s; gateway p50 %s p99 %s\n", addB50.Round(time.Microsecond), addB99.Round(time.Microsecond), addG50.Round(time.Microsecond), addG99.Round(time.Microsecond))
			fmt.Printf("  ratio gateway/bare added latency: p50 %s (goal <= 1.3x)  p99 %s (goal <= 1.5x)\n", ratio(addG50, addB50), ratio(addG99, addB99))
			fmt.Printf("  ratio gateway/bare total latency: p50 %s  p99 %s\n", ratio(g.p50, b.p50), ratio(g.p99, b.p99))
			// The same ratio per round, then the median: a burst of load from
			// other processes spoils one round's figures, not the median.
			fmt.Printf("  median over rounds of the gateway/bare added-latency ratio: p50 %s (%d rounds)  p99 %s (%d rounds)\n",
				median(ratios50), len(ratios50), median(ratios99), len(ratios99))
		}
	}

	// Throughput: closed loop, as fast as the machine allows.
	fmt.Printf("\nmax throughput, JSON, closed loop with 64 workers for %s\n", *duration)
	var maxRPS = map[string]float64{}
	for i := 0; i < *rounds; i++ {
		for j := range targets {
			tg := targets[(i+j)%len(targets)]
			maxRPS[tg.name] += closedLoop(ctx, client, tg.url, jsonBody, 64, *duration/time.Duration(*rounds)) / float64(*rounds)
		}
	}
	for _, tg := range targets {
		fmt.Printf("  %-10s %8.0f req/s\n", tg.name, maxRPS[tg.name])
	}
	fmt.Printf("  ratio gateway/bare %.2fx, gateway/direct %.2fx (goal >= 5000 req/s on this machine: %v)\n",
		maxRPS["gateway"]/maxRPS["bare proxy"], maxRPS["gateway"]/maxRPS["direct"], maxRPS["gateway"] >= 5000)

	// Memory per in-flight stream: hold streams open with slow chunks.
	per, err := memoryPerStream(ctx, client, gwURL+"/v1/openai/chat/completions", *streams)
	if err != nil {
		return err
	}
	basePer, err := memoryPerStream(ctx, client, bareURL+"/v1/openai/chat/completions", *streams)
	if err != nil {
		return err
	}
	fmt.Printf("\nmemory per in-flight stream (%d streams, whole process incl. client and fake): gateway %.1f KiB, bare proxy %.1f KiB, ratio %.2fx\n",
		*streams, per/1024, basePer/1024, per/basePer)
	sent, dropped, _ := batcher.Stats()
	fmt.Printf("events metered: %d published, %d dropped (sink received %d)\n", sent, dropped, sink.n.Load())
	return nil
}

type staticPolicy struct{}

func (staticPolicy) Lookup(context.Context, string) (policy.Answer, error) {
	return policy.Answer{Valid: true, TenantID: "00000000-0000-4000-8000-000000000001", KeyID: "00000000-0000-4000-8000-000000000002", CacheTTLSeconds: 60}, nil
}

type countingSink struct{ n atomic.Int64 }

func (c *countingSink) Publish(_ context.Context, evs []event.Event) (int, error) {
	c.n.Add(int64(len(evs)))
	return 0, nil
}

func listen(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// loadResult adds up the slices of fixed-rate load one target got.
type loadResult struct {
	sent, ok, errors int
	elapsed          time.Duration
	latencies        []time.Duration // of the requests that succeeded
	ttfbs            []time.Duration // their first body byte
	achieved         float64
	p50, p99         time.Duration
	ttfb50, ttfb99   time.Duration
}

func (r *loadResult) add(s loadResult) {
	r.sent += s.sent
	r.ok += s.ok
	r.errors += s.errors
	r.elapsed += s.elapsed
	r.latencies = append(r.latencies, s.latencies...)
	r.ttfbs = append(r.ttfbs, s.ttfbs...)
}

// finish computes the rate achieved and the percentiles.
func (r *loadResult) finish() {
	if r.elapsed > 0 {
		r.achieved = float64(r.ok) / r.elapsed.Seconds()
	}
	sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })
	if n := len(r.latencies); n > 0 {
		r.p50 = r.latencies[n*50/100]
		r.p99 = r.latencies[min(n-1, n*99/100)]
	}
	sort.Slice(r.ttfbs, func(i, j int) bool { return r.ttfbs[i] < r.ttfbs[j] })
	if n := len(r.ttfbs); n > 0 {
		r.ttfb50 = r.ttfbs[n*50/100]
		r.ttfb99 = r.ttfbs[min(n-1, n*99/100)]
	}
}

// maxInFlight bounds concurrent requests of the fixed-rate load, like the
// connection count of wrk2: unbounded, a saturated target makes the load
// generator open thousands of sockets and measure itself.
const maxInFlight = 256

// runLoad sends requests at a fixed rate with the bench's static key.
func runLoad(ctx context.Context, client *http.Client, url string, body []byte, rate int, d time.Duration) loadResult {
	return loadGen{key: "sg_bench_key"}.run(ctx, client, url, body, rate, d)
}

// loadGen is the fixed-rate load of the gateway and serve benchmarks.
type loadGen struct {
	key string // x-spendgate-key of every request
}

// run sends requests at a fixed rate and records the latency of completed
// requests and of their first body byte, measured from each request's
// scheduled send time, so a target that falls behind is charged for the
// queueing it causes (no coordinated omission).
func (g loadGen) run(ctx context.Context, client *http.Client, url string, body []byte, rate int, d time.Duration) loadResult {
	n := int(float64(rate) * d.Seconds())
	lat := make([]time.Duration, n)
	ttfb := make([]time.Duration, n)
	okFlags := make([]bool, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxInFlight)
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	sent := 0
	for i := 0; i < n && ctx.Err() == nil; i++ {
		scheduled := start.Add(time.Duration(i) * interval)
		if wait := time.Until(scheduled); wait > 0 {
			time.Sleep(wait)
		}
		sem <- struct{}{}
		wg.Add(1)
		sent++
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			t0 := scheduled
			req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
			req.Header.Set("x-spendgate-key", g.key)
			req.Header.Set("Authorization", "Bearer sk-bench")
			resp, err := client.Do(req)
			if err != nil {
				return
			}
			var first [1]byte
			if n, _ := io.ReadFull(resp.Body, first[:]); n == 1 {
				ttfb[i] = time.Since(t0)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			lat[i] = time.Since(t0)
			okFlags[i] = resp.StatusCode == 200
		}(i)
	}
	wg.Wait()
	res := loadResult{sent: sent, elapsed: time.Since(start)}
	for i := 0; i < sent; i++ {
		if okFlags[i] {
			res.ok++
			res.latencies = append(res.latencies, lat[i])
			res.ttfbs = append(res.ttfbs, ttfb[i])
		} else {
			res.errors++
		}
	}
	return res
}

func closedLoop(ctx context.Context, client *http.Client, url string, body []byte, workers int, d time.Duration) float64 {
	var count atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
				req.Header.Set("x-spendgate-key", "sg_bench_key")
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					count.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(count.Load()) / d.Seconds()
}

// memoryPerStream opens n slow streams, measures the heap while they are all
// in flight, and returns bytes per stream above the idle heap.
func memoryPerStream(ctx context.Context, client *http.Client, url string, n int) (float64, error) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	body := []byte(`{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[]}`)
	var started sync.WaitGroup
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		started.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
			req.Header.Set("x-spendgate-key", "sg_bench_key")
			req.Header.Set("x-fake-chunks", "20")
			req.Header.Set("x-fake-chunk-delay-ms", "100")
			resp, err := client.Do(req)
			if err != nil {
				started.Done()
				return
			}
			buf := make([]byte, 512)
			_, _ = resp.Body.Read(buf)
			started.Done()
			<-release
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	started.Wait()
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	close(release)
	wg.Wait()
	return float64(during.HeapInuse-min(before.HeapInuse, during.HeapInuse)) / float64(n), nil
}

// median prints the median of xs (rounds whose baseline added latency was
// at or below zero are left out by the caller).
func median(xs []float64) string {
	if len(xs) == 0 {
		return "n/a"
	}
	sort.Float64s(xs)
	m := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		m = (xs[len(xs)/2-1] + m) / 2
	}
	return fmt.Sprintf("%.2fx", m)
}

// ratio prints a/b, or says why there is none: a baseline at or below zero
// (an added latency lost in the machine's noise) makes any ratio meaningless.
func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "n/a (baseline <= 0)"
	}
	return fmt.Sprintf("%.2fx", float64(a)/float64(b))
}
