package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// soakConfig is `spendgate-bench serve --soak`: serve alone at one rate of
// JSON calls for a long time, to see whether its memory stays flat.
type soakConfig struct {
	duration, every, warmup time.Duration
	rate                    int
}

// soakFlatWithin is the goal: RSS at the end within ±10 % of RSS after
// warm-up (issue #15).
const soakFlatWithin = 0.10

func (c soakConfig) validate() error {
	if c.rate <= 0 || c.every < time.Second || c.warmup < 0 || c.warmup+c.every > c.duration {
		return fmt.Errorf("--soak needs --soak-rate > 0, --soak-every >= 1s, and --soak-warmup plus one --soak-every within --soak (got %s, %d req/s, every %s, warm-up %s)",
			c.duration, c.rate, c.every, c.warmup)
	}
	return nil
}

// soakSample is one interval of a soak: the load it carried and serve's
// state at its end.
type soakSample struct {
	at               time.Duration // since the soak began
	achieved         float64
	errors           int
	p50, p99         time.Duration
	rssKiB           int64
	cpuPerCall, gcPc float64 // serve's CPU per call answered (seconds); GC share of it (%)
	schedOver1ms     float64 // share of serve's goroutine waits for a processor over ~1 ms (-1: not known)
}

// runSoak loads serve's gateway at c.rate for c.duration in intervals of
// c.every, printing one line per interval (latency, serve's RSS, CPU per
// call and GC share), then RSS after warm-up against the end. It returns
// the calls serve answered.
func runSoak(ctx context.Context, serve *child, gen loadGen, client *http.Client, url, metricsURL string, body []byte, c soakConfig) int {
	fmt.Printf("soak: spendgate serve alone, JSON at %d req/s for %s, sampled every %s, warm-up %s (goal: RSS at the end within ±%.0f%% of after warm-up)\n",
		c.rate, c.duration, c.every, c.warmup, 100*soakFlatWithin)
	fmt.Printf("  %8s %9s %6s %9s %9s %8s %12s %6s %10s\n", "at", "req/s", "errors", "p50", "p99", "RSS MiB", "CPU µs/call", "GC", "waits >1ms")
	start := time.Now()
	var samples []soakSample
	calls := 0
	for time.Since(start)+c.every <= c.duration && ctx.Err() == nil {
		cpu0, gc0, sched0 := childCPU(serve), serve.gcCPU(), scrapeSched(metricsURL)
		r := gen.run(ctx, client, url, body, c.rate, c.every)
		r.finish()
		calls += r.ok
		s := soakSample{at: time.Since(start), achieved: r.achieved, errors: r.errors, p50: r.p50, p99: r.p99}
		s.rssKiB, _ = procTreeRSS(serve.cmd.Process.Pid)
		if dcpu := childCPU(serve) - cpu0; dcpu > 0 && r.ok > 0 {
			s.cpuPerCall, s.gcPc = dcpu/float64(r.ok), 100*(serve.gcCPU()-gc0)/dcpu
		}
		s.schedOver1ms = -1
		if sched1 := scrapeSched(metricsURL); sched0 != nil && sched1 != nil {
			s.schedOver1ms, _ = sched1.over(sched0, time.Millisecond)
		}
		samples = append(samples, s)
		fmt.Printf("  %8s %9.0f %6d %9s %9s %8d %12.0f %5.1f%% %9.2f%%\n", s.at.Round(time.Second), s.achieved, s.errors,
			s.p50.Round(time.Microsecond), s.p99.Round(time.Microsecond), s.rssKiB/1024, s.cpuPerCall*1e6, s.gcPc, 100*s.schedOver1ms)
	}
	fmt.Print(soakVerdict(samples, c.warmup))
	return calls
}

// soakVerdict compares serve's RSS at the first sample at or after warmup
// with the last, and gives the range after warm-up.
func soakVerdict(samples []soakSample, warmup time.Duration) string {
	i := 0
	for i < len(samples)-1 && samples[i].at < warmup {
		i++
	}
	if len(samples) == 0 || samples[i].rssKiB == 0 {
		return "soak: no RSS samples\n"
	}
	warm, last := samples[i], samples[len(samples)-1]
	lo, hi := warm.rssKiB, warm.rssKiB
	for _, s := range samples[i:] {
		lo, hi = min(lo, s.rssKiB), max(hi, s.rssKiB)
	}
	change := float64(last.rssKiB)/float64(warm.rssKiB) - 1
	verdict := "flat"
	if change > soakFlatWithin || change < -soakFlatWithin {
		verdict = "NOT flat"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "soak: serve's RSS after warm-up (%s) %d MiB, at the end (%s) %d MiB: %+.1f%%, %s (goal ±%.0f%%); after warm-up it ranged %d..%d MiB (%+.1f%%..%+.1f%%)\n",
		warm.at.Round(time.Second), warm.rssKiB/1024, last.at.Round(time.Second), last.rssKiB/1024, 100*change, verdict, 100*soakFlatWithin,
		lo/1024, hi/1024, 100*(float64(lo)/float64(warm.rssKiB)-1), 100*(float64(hi)/float64(warm.rssKiB)-1))
	return b.String()
}
