package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/spendgate/spendgate/internal/envflag"
	"github.com/spendgate/spendgate/internal/fakeprovider"
)

// benchServe measures the product as deployed: the real `spendgate serve`
// binary (gateway, embedded NATS, consumer, ClickHouse, Postgres policy) in
// its own process, against a bare httputil.ReverseProxy in its own process
// and direct calls, all to one fake provider, at fixed request rates. It
// reports the latency each adds over the direct calls (p50, p99), the
// streams' first byte, serve's RSS over time and the share of serve's CPU
// spent in garbage collection.
func benchServe(ctx context.Context, args []string) error {
	fs := envflag.NewFlagSet("spendgate-bench serve")
	duration := fs.Duration("duration", 60*time.Second, "load per rate and body kind, shared by the three targets in rounds")
	rates := fs.String("rates", "1000,2000,4000", "fixed request rates (per second)")
	rounds := fs.Int("rounds", 6, "rounds per measurement: the targets take turns in slices, so load from other processes falls on all alike")
	bin := fs.String("spendgate-bin", "", "the spendgate binary to run (empty: spendgate next to this command, else on PATH)")
	pgAdmin := fs.String("postgres-admin-dsn", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "Postgres server where a scratch database is created and dropped")
	chAddr := fs.String("clickhouse-addr", "127.0.0.1:9000", "ClickHouse native address (a scratch database is created and dropped)")
	sample := fs.Duration("rss-every", 5*time.Second, "how often serve's RSS is sampled")
	extra := fs.String("serve-args", "", "extra flags for spendgate serve, space separated (e.g. \"--event-batch 1000\")")
	abArgs := fs.String("ab-args", "", "also run a second spendgate serve (\"serve B\", its own scratch databases) with these flags on top of --serve-args, "+
		"taking turns with the other targets, and print B against serve per round, e.g. \"--pipeline-process\"")
	var soak soakConfig
	fs.DurationVar(&soak.duration, "soak", 0, "instead of the comparison: serve alone under JSON load this long, its RSS sampled (0: no soak)")
	fs.IntVar(&soak.rate, "soak-rate", 2000, "the soak's request rate (per second)")
	fs.DurationVar(&soak.every, "soak-every", 10*time.Second, "how often the soak samples serve's RSS, CPU and latency")
	fs.DurationVar(&soak.warmup, "soak-warmup", 2*time.Minute, "the soak's RSS is compared from the first sample after this")
	if err := envflag.Parse(fs, args); err != nil {
		return err
	}
	if soak.duration > 0 {
		if err := soak.validate(); err != nil {
			return err
		}
	}
	if *abArgs != "" && soak.duration > 0 {
		return errors.New("--ab-args compares two serves in the comparison bench, not in --soak")
	}
	rateList, err := parseRates(*rates)
	if err != nil {
		return err
	}
	if *rounds <= 0 || *duration < time.Duration(*rounds)*300*time.Millisecond {
		return errors.New("--rounds must be positive with at least 300ms of --duration each")
	}
	spendgate, err := findSpendgate(*bin)
	if err != nil {
		return err
	}

	fake := fakeprovider.New(fakeprovider.Config{KeepRequests: 1, Chunks: 5})
	fakeURL, stopFake, err := listen(fake)
	if err != nil {
		return err
	}
	defer stopFake()

	work, err := os.MkdirTemp("", "spendgate-bench-serve-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	serveA, stopA, err := startServeTarget(ctx, "serve", spendgate, work, *pgAdmin, *chAddr, fakeURL, strings.Fields(*extra))
	if err != nil {
		return err
	}
	defer stopA()
	serves := []*serveTarget{serveA}
	if *abArgs != "" {
		serveB, stopB, err := startServeTarget(ctx, "serve B", spendgate, work, *pgAdmin, *chAddr, fakeURL, append(strings.Fields(*extra), strings.Fields(*abArgs)...))
		if err != nil {
			return err
		}
		defer stopB()
		serves = append(serves, serveB)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: maxInFlight, MaxIdleConns: 4 * maxInFlight, IdleConnTimeout: time.Minute}}
	jsonBody := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
	if soak.duration > 0 {
		calls := runSoak(ctx, serveA.c, serveA.gen, client, serveA.url, serveA.metrics, jsonBody, soak)
		stored, err := waitStored(ctx, *chAddr, serveA.db, uint64(calls), 60*time.Second)
		fmt.Printf("events stored by serve's pipeline: %d of %d calls answered 200 (%v)\n", stored, calls, errOrOK(err))
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bare, err := startChild(ctx, self, []string{bareProxyCommand, "--target", fakeURL, "--addr-file", filepath.Join(work, "bare.json")},
		filepath.Join(work, "bare.log"), filepath.Join(work, "bare.json"))
	if err != nil {
		return err
	}
	defer bare.stop()

	direct := serveA.gen // the same headers to every target
	targets := []struct {
		name, url string
		gen       loadGen
	}{
		{"direct", fakeURL + "/v1/chat/completions", direct},
		{"bare proxy", "http://" + bare.addrs["proxy"] + "/v1/openai/chat/completions", direct},
	}
	rssPIDs := map[string]int{"bare proxy": bare.cmd.Process.Pid}
	for _, sv := range serves {
		targets = append(targets, struct {
			name, url string
			gen       loadGen
		}{sv.name, sv.url, sv.gen})
		rssPIDs[sv.name] = sv.c.cmd.Process.Pid
	}
	sseBody := []byte(`{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)

	rss := newRSSSampler(rssPIDs, *sample)
	defer rss.stop()
	fmt.Printf("serve benchmark: the spendgate serve binary (embedded NATS, consumer, ClickHouse %s, Postgres policy) and a bare\n"+
		"httputil.ReverseProxy, each its own process, and direct calls, to one fake provider in this process; %d CPUs,\n"+
		"at most %d requests in flight; latency from each request's scheduled send; targets take turns in %d rounds;\n"+
		"'added' = p(x) - p(direct). On a shared machine compare the ratios, not absolute figures.\n"+
		"A serve's CPU and RSS are its process tree's: with --pipeline-process, serve and its pipeline child summed.\n", *chAddr, runtime.NumCPU(), maxInFlight, *rounds)
	for _, sv := range serves {
		fmt.Printf("  %s: spendgate serve %s\n", sv.name, strings.Join(sv.args, " "))
	}
	fmt.Printf("  load average at the start: %s\n", loadAverage())
	// Serve works while idle too (consumer fetches, timers, NATS's state
	// writes), and while the other targets take their turns that CPU still
	// counts against serve's calls: measured here, it is taken out of the
	// "net" CPU per call.
	for _, sv := range serves {
		sv.idle = idleCPU(sv.c, 5*time.Second)
		fmt.Printf("%s's CPU while idle (5 s before the load): %.1f ms per second\n", sv.name, 1e3*sv.idle)
	}
	for _, kind := range []struct {
		name string
		body []byte
	}{{"JSON", jsonBody}, {"SSE", sseBody}} {
		for _, tg := range targets { // warm pools and serve's policy cache
			warm := tg.gen.run(ctx, client, tg.url, kind.body, 200, 500*time.Millisecond)
			for _, sv := range serves {
				if sv.name == tg.name {
					sv.calls += warm.ok
				}
			}
		}
		for _, rate := range rateList {
			res := map[string]loadResult{}
			type perServe struct {
				ratios50, ratios99, ratiosFB []float64 // per round, serve/bare
				vsA99, vsAFB                 []float64 // per round, this serve/serve A (B only)
				gc0, cpu0, own0              float64
				sched0                       schedHist
			}
			ps := map[string]*perServe{}
			for _, sv := range serves {
				ps[sv.name] = &perServe{gc0: sv.c.gcCPU(), cpu0: childCPU(sv.c), own0: ownCPU(sv.c), sched0: scrapeSched(sv.metrics)}
			}
			bare0, wall0 := childCPU(bare), time.Now()
			load0 := loadAverage()
			for i := 0; i < *rounds; i++ {
				round := map[string]loadResult{}
				for j := range targets {
					tg := targets[(i+j)%len(targets)]
					got := tg.gen.run(ctx, client, tg.url, kind.body, rate, *duration/time.Duration(*rounds))
					r := res[tg.name]
					r.add(got)
					res[tg.name] = r
					got.finish()
					round[tg.name] = got
				}
				d, b, a := round["direct"], round["bare proxy"], round["serve"]
				for _, sv := range serves {
					s, p := round[sv.name], ps[sv.name]
					if b.p50 > d.p50 {
						p.ratios50 = append(p.ratios50, float64(s.p50-d.p50)/float64(b.p50-d.p50))
					}
					if b.p99 > d.p99 {
						p.ratios99 = append(p.ratios99, float64(s.p99-d.p99)/float64(b.p99-d.p99))
					}
					if b.ttfb50 > 0 {
						p.ratiosFB = append(p.ratiosFB, float64(s.ttfb50)/float64(b.ttfb50))
					}
					if sv != serveA && a.p99 > d.p99 {
						p.vsA99 = append(p.vsA99, float64(s.p99-d.p99)/float64(a.p99-d.p99))
					}
					if sv != serveA && a.ttfb50 > 0 {
						p.vsAFB = append(p.vsAFB, float64(s.ttfb50)/float64(a.ttfb50))
					}
				}
			}
			for name, r := range res {
				r.finish()
				res[name] = r
			}
			d, b := res["direct"], res["bare proxy"]
			fmt.Printf("\n%s at %d req/s for %s (load average %s at the start, %s at the end)\n", kind.name, rate, *duration, load0, loadAverage())
			for _, tg := range targets {
				r := res[tg.name]
				fmt.Printf("  %-10s sent %6d ok %6d errors %4d  achieved %7.0f req/s  p50 %8s  p99 %8s  first byte p50 %8s p99 %8s\n",
					tg.name, r.sent, r.ok, r.errors, r.achieved, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond),
					r.ttfb50.Round(time.Microsecond), r.ttfb99.Round(time.Microsecond))
			}
			bareCPUPerCall := "n/a"
			if dcpu, n := childCPU(bare)-bare0, b.ok; dcpu > 0 && n > 0 {
				bareCPUPerCall = fmt.Sprintf("%.0f µs", 1e6*dcpu/float64(n))
			}
			fmt.Printf("  bare proxy: added latency p50 %s p99 %s; CPU per call %s\n", (b.p50 - d.p50).Round(time.Microsecond),
				(b.p99 - d.p99).Round(time.Microsecond), bareCPUPerCall)
			for _, sv := range serves {
				s, p := res[sv.name], ps[sv.name]
				sv.calls += s.ok
				gcShare, cpuPerCall := "n/a", "n/a"
				if dcpu := childCPU(sv.c) - p.cpu0; dcpu > 0 {
					gcShare = fmt.Sprintf("%.1f%%", 100*(sv.c.gcCPU()-p.gc0)/dcpu)
					if s.ok > 0 {
						net := dcpu - sv.idle*time.Since(wall0).Seconds()
						cpuPerCall = fmt.Sprintf("%.0f µs (net of idle %.0f µs)", 1e6*dcpu/float64(s.ok), 1e6*net/float64(s.ok))
						if own := ownCPU(sv.c) - p.own0; dcpu-own > 0.001*dcpu {
							cpuPerCall += fmt.Sprintf(", of which serve's process %.0f µs and the processes below it (the pipeline child) %.0f µs",
								1e6*own/float64(s.ok), 1e6*(dcpu-own)/float64(s.ok))
						}
					}
				}
				fmt.Printf("  %s: added latency p50 %s p99 %s\n", sv.name, (s.p50 - d.p50).Round(time.Microsecond), (s.p99 - d.p99).Round(time.Microsecond))
				fmt.Printf("    ratio %s/bare added latency: p50 %s  p99 %s (goal <= 1.5x at 1k and 2k req/s)\n", sv.name, ratio(s.p50-d.p50, b.p50-d.p50), ratio(s.p99-d.p99, b.p99-d.p99))
				// Per round, then the median: a burst of load from other
				// processes spoils one round, not the median.
				fmt.Printf("    median over rounds of %s/bare added latency: p50 %s (%d rounds)  p99 %s (%d rounds)\n",
					sv.name, median(p.ratios50), len(p.ratios50), median(p.ratios99), len(p.ratios99))
				if kind.name == "SSE" {
					fmt.Printf("    ratio %s/bare first byte: p50 %s  p99 %s; median over rounds of p50 %s (goal <= 1.05x)\n",
						sv.name, ratio(s.ttfb50, b.ttfb50), ratio(s.ttfb99, b.ttfb99), median(p.ratiosFB))
				}
				if sv != serveA {
					a := res["serve"]
					fmt.Printf("    %s/serve: added p99 %s, median over rounds %s (%d rounds)", sv.name, ratio(s.p99-d.p99, a.p99-d.p99), median(p.vsA99), len(p.vsA99))
					if kind.name == "SSE" {
						fmt.Printf("; first byte p50 median over rounds %s", median(p.vsAFB))
					}
					fmt.Println()
				}
				fmt.Printf("    %s's GC time (gctrace, without idle marking) per CPU second it used: %s; its CPU per call it answered (gateway and pipeline, process tree): %s\n",
					sv.name, gcShare, cpuPerCall)
				fmt.Printf("    %s's goroutines' wait for a processor (go_sched_latencies_seconds of serve's process, bucket bounds): %s\n", sv.name, schedSummary(p.sched0, scrapeSched(sv.metrics)))
			}
		}
	}
	fmt.Printf("\nRSS over the run (every %s; a serve's is its process tree's):\n%s", *sample, rss.report())
	for _, sv := range serves {
		stored, err := waitStored(ctx, *chAddr, sv.db, uint64(sv.calls), 60*time.Second)
		fmt.Printf("events stored by %s's pipeline: %d of %d calls answered 200 (%v)\n", sv.name, stored, sv.calls, errOrOK(err))
	}
	return nil
}

// serveTarget is one spendgate serve under test, with scratch Postgres and
// ClickHouse databases of its own.
type serveTarget struct {
	name, url, metrics, db string
	args                   []string
	c                      *child
	gen                    loadGen
	idle                   float64 // CPU seconds per second while idle
	calls                  int     // answered 200, to be stored
}

// startServeTarget starts spendgate serve with extra flags on scratch
// databases under work/<name>; stop stops it and drops them.
func startServeTarget(ctx context.Context, name, spendgate, work, pgAdmin, chAddr, fakeURL string, extra []string) (_ *serveTarget, stop func(), err error) {
	var undo []func()
	stop = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	dir := filepath.Join(work, strings.ReplaceAll(name, " ", "-"))
	db := fmt.Sprintf("sgbench_serve_%d", time.Now().UnixNano())
	dsn, dropPG, err := scratchPostgres(ctx, pgAdmin, db)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	undo = append(undo, dropPG, func() { dropClickHouse(chAddr, db) })
	args := []string{"serve", "--data-dir", filepath.Join(dir, "data"), "--postgres-dsn", dsn, "--nats-url", "",
		"--clickhouse-addr", chAddr, "--clickhouse-database", db, "--listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0",
		"--fake-provider-listen", "", "--upstream", "openai=" + fakeURL + "/v1", "--addr-file", filepath.Join(dir, "addrs.json")}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	c, err := startChild(ctx, spendgate, append(args, extra...), filepath.Join(dir, "serve.log"), filepath.Join(dir, "addrs.json"))
	if err != nil {
		return nil, nil, err
	}
	undo = append(undo, c.stop)
	key, err := os.ReadFile(filepath.Join(dir, "data", "demo-key"))
	if err != nil {
		return nil, nil, fmt.Errorf("%s's demo key: %w", name, err)
	}
	return &serveTarget{name: name, c: c, db: db, args: extra, gen: loadGen{key: strings.TrimSpace(string(key))},
		url: "http://" + c.addrs["gateway"] + "/v1/openai/chat/completions", metrics: "http://" + c.addrs["gateway"] + "/metrics"}, stop, nil
}

// loadAverage is /proc/loadavg's 1, 5 and 15-minute figures.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}

func errOrOK(err error) string {
	if err != nil {
		return err.Error()
	}
	return "all"
}

func parseRates(s string) ([]int, error) {
	var out []int
	for _, r := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad --rates entry %q", r)
		}
		out = append(out, n)
	}
	return out, nil
}

// findSpendgate is --spendgate-bin, else spendgate beside this binary (as
// `make bench` builds them), else on PATH.
func findSpendgate(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "spendgate")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("spendgate")
	if err != nil {
		return "", errors.New("no spendgate binary beside spendgate-bench or on PATH: go build -o bin/ ./cmd/... or pass --spendgate-bin")
	}
	return p, nil
}

func scratchPostgres(ctx context.Context, admin, name string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), func() {
		_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		conn.Close(context.Background())
	}, nil
}

func dropClickHouse(addr, db string) {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}})
	if err != nil {
		return
	}
	defer conn.Close()
	_ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
}

// waitStored waits until want usage events are in ClickHouse (or timeout)
// and returns how many are.
func waitStored(ctx context.Context, addr, db string, want uint64, timeout time.Duration) (uint64, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}})
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	deadline := time.Now().Add(timeout)
	for {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".usage_events").Scan(&n); err != nil {
			return 0, err
		}
		if n >= want {
			return n, nil
		}
		if time.Now().After(deadline) {
			return n, fmt.Errorf("only %d after %s", n, timeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// child is a process the bench runs: serve or the bare proxy.
type child struct {
	cmd    *exec.Cmd
	addrs  map[string]string
	exited chan error
	gcMs   atomic.Int64 // GC CPU from gctrace, microseconds
}

// startChild runs bin with GODEBUG=gctrace=1, sending its output to
// logPath while summing the GC CPU of each gctrace line, and waits for it to
// write its listen addresses to addrFile.
func startChild(ctx context.Context, bin string, args []string, logPath, addrFile string) (*child, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	c := &child{cmd: exec.Command(bin, args...), exited: make(chan error, 1)}
	c.cmd.Env = append(os.Environ(), "GODEBUG=gctrace=1")
	c.cmd.Stdout = logFile
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	var copied sync.WaitGroup
	copied.Go(func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if us, ok := gcTraceCPU(line); ok {
				c.gcMs.Add(us)
				continue
			}
			fmt.Fprintln(logFile, line)
		}
	})
	go func() {
		err := c.cmd.Wait()
		copied.Wait()
		_ = logFile.Close()
		c.exited <- err
	}()
	deadline := time.Now().Add(90 * time.Second)
	for {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			if err := json.Unmarshal(b, &c.addrs); err == nil {
				return c, nil
			}
		}
		select {
		case err := <-c.exited:
			return nil, fmt.Errorf("%s %s exited before listening: %w (log: %s)", bin, args[0], err, logPath)
		case <-ctx.Done():
			c.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, fmt.Errorf("%s %s did not listen within 90s (log: %s)", bin, args[0], logPath)
		}
	}
}

// gcCPU is the GC CPU time, in seconds, of the gctrace lines seen so far.
func (c *child) gcCPU() float64 { return float64(c.gcMs.Load()) / 1e6 }

func (c *child) stop() {
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.exited: //nolint:errcheck // stopped on purpose: its exit status says nothing
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited //nolint:errcheck // killed on purpose
	}
}

// idleCPU is the CPU, in seconds per second, c uses over d without load.
func idleCPU(c *child, d time.Duration) float64 {
	cpu0, t0 := childCPU(c), time.Now()
	time.Sleep(d)
	return (childCPU(c) - cpu0) / time.Since(t0).Seconds()
}

// childCPU is the CPU time, in seconds, a child (serve or the bare proxy)
// and the processes below it (serve --pipeline-process's child) have used
// so far.
func childCPU(c *child) float64 {
	t, _ := procTreeCPU(c.cmd.Process.Pid)
	return t
}

// ownCPU is the CPU time, in seconds, of a child's own process, without
// the processes below it.
func ownCPU(c *child) float64 {
	t, _ := procCPU(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	return t
}

// gcTraceCPU reads the GC CPU time of one GODEBUG=gctrace=1 line, in
// microseconds: "gc 7 @1.2s 3%: 0.01+1.1+0.02 ms clock, 0.05+0.3/1.2/2.1+0.08 ms cpu, ..."
// is sweep termination + mark assist/background/idle + mark termination.
// Idle marking is left out: it runs on processors nothing else wanted. The
// runtime times these as wall time per processor, so on an overloaded
// machine (the OS descheduling the process) the figure overstates CPU.
func gcTraceCPU(line string) (int64, bool) {
	if !strings.HasPrefix(line, "gc ") {
		return 0, false
	}
	end := strings.Index(line, " ms cpu")
	if end < 0 {
		return 0, false
	}
	start := strings.LastIndex(line[:end], ", ")
	if start < 0 {
		return 0, false
	}
	fields := strings.FieldsFunc(line[start+2:end], func(r rune) bool { return r == '+' || r == '/' })
	if len(fields) != 5 {
		return 0, false
	}
	var total float64
	for i, f := range fields {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return 0, false
		}
		if i != 3 { // idle mark
			total += v
		}
	}
	return int64(total * 1000), true
}

// rssSampler reads VmRSS of processes at an interval.
type rssSampler struct {
	mu      sync.Mutex
	start   time.Time
	names   []string
	samples map[string][]rssPoint
	done    chan struct{}
	wg      sync.WaitGroup
}

type rssPoint struct {
	at  time.Duration
	kib int64
}

func newRSSSampler(pids map[string]int, every time.Duration) *rssSampler {
	s := &rssSampler{start: time.Now(), samples: map[string][]rssPoint{}, done: make(chan struct{})}
	for name := range pids {
		s.names = append(s.names, name)
	}
	s.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			for name, pid := range pids {
				if kib, ok := procTreeRSS(pid); ok {
					s.mu.Lock()
					s.samples[name] = append(s.samples[name], rssPoint{time.Since(s.start), kib})
					s.mu.Unlock()
				}
			}
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	})
	return s
}

func (s *rssSampler) stop() {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	s.wg.Wait()
}

// report prints each process's RSS at up to 12 points, its first, last and
// peak, and the change from the first sample after warm-up (the second
// tenth of the run) to the last.
func (s *rssSampler) report() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, name := range s.names {
		pts := s.samples[name]
		if len(pts) == 0 {
			continue
		}
		peak := pts[0].kib
		for _, p := range pts {
			peak = max(peak, p.kib)
		}
		step := max(1, len(pts)/12)
		fmt.Fprintf(&b, "  %-10s", name)
		for i := 0; i < len(pts); i += step {
			fmt.Fprintf(&b, " %s:%dM", pts[i].at.Round(time.Second), pts[i].kib/1024)
		}
		warm := pts[len(pts)/10]
		last := pts[len(pts)-1]
		fmt.Fprintf(&b, "\n  %-10s first %d MiB, after warm-up %d MiB, last %d MiB, peak %d MiB; last/after-warm-up %.2fx\n", "",
			pts[0].kib/1024, warm.kib/1024, last.kib/1024, peak/1024, float64(last.kib)/float64(max(warm.kib, 1)))
	}
	return b.String()
}

func vmRSS(pid int) (int64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, err := strconv.ParseInt(f[0], 10, 64)
				return n, err == nil
			}
		}
	}
	return 0, false
}

// bareProxyCommand is the hidden entry that runs the bare reverse proxy as
// its own process for the serve benchmark, so neither target shares a
// garbage collector with the load generator.
const bareProxyCommand = "bare-proxy"

// runBareProxy serves httputil.ReverseProxy to --target, as a user of Go's
// standard proxy would, until interrupted.
func runBareProxy(ctx context.Context, args []string) error {
	fs := envflag.NewFlagSet("spendgate-bench " + bareProxyCommand)
	target := fs.String("target", "", "upstream base URL")
	addrFile := fs.String("addr-file", "", "write {\"proxy\":addr} here once listening")
	if err := envflag.Parse(fs, args); err != nil {
		return err
	}
	u, err := url.Parse(*target)
	if err != nil || u.Host == "" {
		return fmt.Errorf("--target: want a URL, got %q", *target)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u) // also sets the Host header to the target's
			r.Out.URL.Path = "/v1" + strings.TrimPrefix(r.In.URL.Path, "/v1/openai")
			r.SetXForwarded() // the Director it replaces added X-Forwarded-For too
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxIdleConns: 2048},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: rp, ErrorLog: slog.NewLogLogger(slog.NewTextHandler(io.Discard, nil), slog.LevelError)}
	go func() { _ = srv.Serve(ln) }()
	if err := os.WriteFile(*addrFile, []byte(`{"proxy":"`+ln.Addr().String()+`"}`), 0o600); err != nil {
		return err
	}
	<-ctx.Done()
	return srv.Close()
}
