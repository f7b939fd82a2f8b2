package main

import (
	"bufio"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// schedHist is serve's go_sched_latencies_seconds histogram as scraped from
// its /metrics: cumulative counts by upper bound (seconds). How long
// goroutines waited for a processor is what the gateway's tail is made of
// when the pipeline beside it takes the CPU, and unlike the latency the
// load generator sees it is not blurred by the load generator's own
// scheduling.
type schedHist map[float64]float64

// scrapeSched reads the histogram from a Prometheus text page at url; nil
// when serve does not export it.
func scrapeSched(url string) schedHist {
	resp, err := http.Get(url) //nolint:noctx // a loopback scrape between measurements
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	return parseSched(bufio.NewScanner(resp.Body))
}

func parseSched(sc *bufio.Scanner) schedHist {
	const prefix = `go_sched_latencies_seconds_bucket{le="`
	h := schedHist{}
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		le, count, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		bound, err1 := strconv.ParseFloat(le, 64) // "+Inf" parses as +Inf
		n, err2 := strconv.ParseFloat(strings.Fields(count)[0], 64)
		if err1 == nil && err2 == nil {
			h[bound] = n
		}
	}
	if len(h) == 0 {
		return nil
	}
	return h
}

// over is the share of the waits between before and h that took longer
// than the bucket bound nearest below limit (the runtime's buckets are
// about a decade apart: ..., 82 µs, 918 µs, 10.5 ms, 117 ms), and that
// bound; share is -1 without waits.
func (h schedHist) over(before schedHist, limit time.Duration) (share float64, bound time.Duration) {
	bounds := make([]float64, 0, len(h))
	for b := range h {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	if len(bounds) == 0 {
		return -1, 0
	}
	total := h[bounds[len(bounds)-1]] - before[bounds[len(bounds)-1]]
	if total <= 0 {
		return -1, 0
	}
	// Largest bound at or below limit (with 10 % of slack for the bounds'
	// float error); none: every wait counts.
	le, under := 0.0, 0.0
	for _, b := range bounds {
		if b > 1.1*limit.Seconds() {
			break
		}
		le, under = b, h[b]-before[b]
	}
	return 1 - under/total, time.Duration(le * float64(time.Second))
}

// schedSummary is the share of serve's goroutine waits for a processor
// over ~1 ms and over ~10 ms between two scrapes.
func schedSummary(before, after schedHist) string {
	if before == nil || after == nil {
		return "n/a (serve does not export go_sched_latencies_seconds)"
	}
	s1, b1 := after.over(before, time.Millisecond)
	s10, b10 := after.over(before, 10*time.Millisecond)
	if s1 < 0 {
		return "no waits"
	}
	return fmt.Sprintf("over %s %.2f%%, over %s %.3f%%", b1.Round(time.Microsecond), 100*s1, b10.Round(time.Microsecond), 100*s10)
}
