package main

import (
	"bufio"
	"fmt"
	"math"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestGCTraceCPU(t *testing.T) {
	for line, want := range map[string]int64{
		"gc 7 @1.200s 3%: 0.011+1.1+0.020 ms clock, 0.045+0.30/1.2/2.1+0.080 ms cpu, 4->4->1 MB, 5 MB goal, 0 MB stacks, 0 MB globals, 2 P": 1625,
		"gc 1 @0.012s 1%: 0.010+0.50+0.003 ms clock, 0.021+0/0.41/0.20+0.007 ms cpu, 3->3->0 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P": 438,
	} {
		if got, ok := gcTraceCPU(line); !ok || got != want {
			t.Errorf("%q: %d %v, want %d", line, got, ok, want)
		}
	}
	for _, line := range []string{"level=INFO msg=hello", "gc 1 @0.1s 1%: garbage ms cpu", "gc 3 @0.1s: 1+2 ms cpu"} {
		if _, ok := gcTraceCPU(line); ok {
			t.Errorf("%q read as a gctrace line", line)
		}
	}
}

func TestSoakVerdict(t *testing.T) {
	mib := func(at time.Duration, m int64) soakSample { return soakSample{at: at, rssKiB: m * 1024} }
	for name, c := range map[string]struct {
		samples []soakSample
		warmup  time.Duration
		want    string
	}{
		"growth during warm-up is not counted, the end within 10 %": {
			[]soakSample{mib(10*time.Second, 40), mib(20*time.Second, 100), mib(30*time.Second, 120), mib(40*time.Second, 108)},
			20 * time.Second, "after warm-up (20s) 100 MiB, at the end (40s) 108 MiB: +8.0%, flat (goal ±10%); after warm-up it ranged 100..120 MiB (+0.0%..+20.0%)",
		},
		"growth past 10 % after warm-up": {
			[]soakSample{mib(10*time.Second, 100), mib(20*time.Second, 130), mib(30*time.Second, 150)},
			10 * time.Second, "after warm-up (10s) 100 MiB, at the end (30s) 150 MiB: +50.0%, NOT flat",
		},
		"shrinking past 10 % is not flat either": {
			[]soakSample{mib(10*time.Second, 100), mib(20*time.Second, 85)},
			5 * time.Second, ": -15.0%, NOT flat",
		},
		"a warm-up longer than the run compares the last sample with itself": {
			[]soakSample{mib(10*time.Second, 100), mib(20*time.Second, 150)},
			time.Hour, "after warm-up (20s) 150 MiB, at the end (20s) 150 MiB: +0.0%, flat",
		},
	} {
		if got := soakVerdict(c.samples, c.warmup); !strings.Contains(got, c.want) {
			t.Errorf("%s: got %q, want it to contain %q", name, got, c.want)
		}
	}
	if got := soakVerdict(nil, time.Minute); got != "soak: no RSS samples\n" {
		t.Errorf("no samples: %q", got)
	}
}

func TestSoakConfigValidate(t *testing.T) {
	ok := soakConfig{duration: 30 * time.Minute, rate: 2000, every: 10 * time.Second, warmup: 2 * time.Minute}
	if err := ok.validate(); err != nil {
		t.Fatalf("%+v: %v", ok, err)
	}
	for name, c := range map[string]soakConfig{
		"no rate":                  {duration: time.Minute, every: 10 * time.Second},
		"samples below a second":   {duration: time.Minute, rate: 1, every: time.Millisecond},
		"warm-up leaves no sample": {duration: time.Minute, rate: 1, every: 10 * time.Second, warmup: 55 * time.Second},
		"negative warm-up":         {duration: time.Minute, rate: 1, every: 10 * time.Second, warmup: -time.Second},
	} {
		if c.validate() == nil {
			t.Errorf("%s: %+v accepted", name, c)
		}
	}
}

func TestSchedQuantile(t *testing.T) {
	page := func(counts ...int) schedHist {
		var b strings.Builder
		b.WriteString("# TYPE go_sched_latencies_seconds histogram\n")
		for i, le := range []string{"1e-06", "0.0001", "0.001", "0.01", "+Inf"} {
			fmt.Fprintf(&b, "go_sched_latencies_seconds_bucket{le=%q} %d\n", le, counts[i])
		}
		b.WriteString("go_sched_latencies_seconds_sum 1.5\ngo_sched_latencies_seconds_count 1\ngo_goroutines 12\n")
		return parseSched(bufio.NewScanner(strings.NewReader(b.String())))
	}
	before := page(10, 20, 20, 20, 20)
	// Between the scrapes: 1000 waits, 980 under 1 µs, 15 under 100 µs, 4 under 1 ms, 1 under 10 ms.
	after := page(990, 1015, 1019, 1020, 1020)
	for limit, want := range map[time.Duration]struct {
		share float64
		bound time.Duration
	}{
		time.Millisecond: {0.001, time.Millisecond}, 100 * time.Microsecond: {0.005, 100 * time.Microsecond},
		50 * time.Microsecond: {0.02, time.Microsecond}, 10 * time.Millisecond: {0, 10 * time.Millisecond}, 100 * time.Nanosecond: {1, 0},
	} {
		share, bound := after.over(before, limit)
		if math.Abs(share-want.share) > 1e-9 || bound != want.bound {
			t.Errorf("over %s: %v of the waits over %s, want %v over %s", limit, share, bound, want.share, want.bound)
		}
	}
	if share, _ := after.over(after, time.Millisecond); share != -1 {
		t.Errorf("no waits between the scrapes: %v, want -1", share)
	}
	if got := schedSummary(before, after); got != "over 1ms 0.10%, over 10ms 0.000%" {
		t.Errorf("summary %q", got)
	}
	if parseSched(bufio.NewScanner(strings.NewReader("go_goroutines 12\n"))) != nil {
		t.Error("a page without the histogram parsed as one")
	}
	if got := schedSummary(nil, after); !strings.HasPrefix(got, "n/a") {
		t.Errorf("without a scrape: %q", got)
	}
}

// A serve's CPU is its process tree's: a child's CPU counts while it runs
// (procTree) and after its parent reaped it (cutime).
func TestProcTreeCPUCountsChildrenLiveAndReaped(t *testing.T) {
	cmd := exec.Command("sh", "-c", `(i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done); echo reaped; sleep 30 & echo live; wait`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(out)
	for _, want := range []string{"reaped", "live"} {
		if !sc.Scan() || sc.Text() != want {
			t.Fatalf("want %q from the shell", want)
		}
	}
	pid := cmd.Process.Pid
	if tree := procTree(pid); len(tree) != 2 {
		t.Fatalf("tree of %d: %v, want the shell and its sleep", pid, tree)
	}
	own, _ := procCPU(fmt.Sprintf("/proc/%d/stat", pid))
	tree, ok := procTreeCPU(pid)
	if !ok || tree < own+0.05 {
		t.Fatalf("tree CPU %.2f s, the shell's own %.2f s: the reaped busy child's CPU is missing", tree, own)
	}
	rssOwn, _ := vmRSS(pid)
	rssTree, _ := procTreeRSS(pid)
	if rssTree <= rssOwn {
		t.Fatalf("tree RSS %d KiB, the shell's own %d KiB", rssTree, rssOwn)
	}
}
