package main

import (
	"bufio"
	"fmt"
	"math"
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

// quantile is the upper bound of the bucket holding quantile q of the
// waits between before and h (0 when there were none).
func (h schedHist) quantile(before schedHist, q float64) time.Duration {
	bounds := make([]float64, 0, len(h))
	for b := range h {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	if len(bounds) == 0 {
		return 0
	}
	total := h[bounds[len(bounds)-1]] - before[bounds[len(bounds)-1]]
	if total <= 0 {
		return 0
	}
	for _, b := range bounds {
		if h[b]-before[b] >= q*total {
			if math.IsInf(b, 1) {
				return time.Duration(math.MaxInt64)
			}
			return time.Duration(b * float64(time.Second))
		}
	}
	return 0
}

// schedSummary is "p99 X, p99.9 Y" of the waits between two scrapes.
func schedSummary(before, after schedHist) string {
	if before == nil || after == nil {
		return "n/a (serve does not export go_sched_latencies_seconds)"
	}
	return fmt.Sprintf("p99 %s, p99.9 %s", after.quantile(before, 0.99).Round(time.Microsecond), after.quantile(before, 0.999).Round(time.Microsecond))
}
