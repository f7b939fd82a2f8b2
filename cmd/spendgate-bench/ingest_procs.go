package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ingestProcsRun is one end-to-end run through `spendgate ingest` OS
// processes: one receiver-only process and k consumer processes that share
// the stream's partitions, as an installation scaled out runs them. Each
// process's CPU is read from /proc by its pid, so spendgate's own cost is
// apart from the load generator (this process), NATS and ClickHouse.
type ingestProcsRun struct {
	bin                    string // spendgate binary
	natsURL, chAddr, chDB  string
	pgDSN                  string
	partitions, batch      int
	batchWait              time.Duration
	conn                   driver.Conn
	bodies                 [][]byte // the events, as HTTP batches
	events, senders, lanes int
	// profile, when set, is the file name prefix of CPU profiles of each
	// process over the sending (see profileSeconds), fetched from its
	// --pprof-addr: <profile>-c<consumers>-receiver.pprof, …-consumer<i>.pprof.
	profile        string
	profileSeconds int
}

type ingestProcsResult struct {
	consumers          int
	rate               float64       // events/s, first POST to the last event in ClickHouse
	took               time.Duration // same span
	receiver, consumer float64       // CPU seconds of the receiver process and all consumer processes
	cpu                cpuSample     // this process, services, machine
}

// ownedRanges splits partitions 0..n-1 into k contiguous ranges.
func ownedRanges(n, k int) []string {
	out := make([]string, k)
	for i := range k {
		lo, hi := i*n/k, (i+1)*n/k-1
		out[i] = fmt.Sprintf("%d-%d", lo, hi)
	}
	return out
}

func (r *ingestProcsRun) run(ctx context.Context, consumers int, prefix string) (res ingestProcsResult, err error) {
	res.consumers = consumers
	if err := r.conn.Exec(ctx, "TRUNCATE TABLE "+r.chDB+".usage_events"); err != nil {
		return res, err
	}
	common := []string{"--service-token", "bench", "--nats-url", r.natsURL, "--stream-prefix", prefix,
		"--clickhouse-addr", r.chAddr, "--clickhouse-database", r.chDB, "--postgres-dsn", r.pgDSN, "--budgets=false",
		"--partitions", strconv.Itoa(r.partitions), "--batch-size", strconv.Itoa(r.batch), "--batch-wait", r.batchWait.String(),
		"--clickhouse-lanes", strconv.Itoa(r.lanes)}
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			_ = p.Process.Signal(syscall.SIGTERM)
		}
		for _, p := range procs {
			_ = p.Wait()
		}
	}()
	freeAddr := func() (string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		defer ln.Close()
		return ln.Addr().String(), nil
	}
	var pprofAddrs []string
	start := func(consume string) (*exec.Cmd, string, error) {
		addr, err := freeAddr()
		if err != nil {
			return nil, "", err
		}
		args := []string{"ingest", "--listen", addr, "--consume-partitions", consume}
		if r.profile != "" {
			pprofAddr, err := freeAddr()
			if err != nil {
				return nil, "", err
			}
			pprofAddrs = append(pprofAddrs, pprofAddr)
			args = append(args, "--pprof-addr", pprofAddr)
		}
		cmd := exec.CommandContext(ctx, r.bin, append(args, common...)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.Env = append(os.Environ(), "SPENDGATE_LOG_LEVEL=WARN")
		if err := cmd.Start(); err != nil {
			return nil, "", err
		}
		procs = append(procs, cmd)
		for deadline := time.Now().Add(2 * time.Minute); ; {
			resp, err := http.Post("http://"+addr+"/internal/v1/events", "application/json", nil)
			if err == nil {
				resp.Body.Close()
				return cmd, addr, nil
			}
			if time.Now().After(deadline) || cmd.ProcessState != nil {
				return nil, "", fmt.Errorf("ingest process did not listen: %s", out.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	recv, addr, err := start("none")
	if err != nil {
		return res, err
	}
	var cons []*exec.Cmd
	for _, owned := range ownedRanges(r.partitions, consumers) {
		c, _, err := start(owned)
		if err != nil {
			return res, err
		}
		cons = append(cons, c)
	}
	procCPUOf := func(c *exec.Cmd) float64 {
		t, _ := procCPU("/proc/" + strconv.Itoa(c.Process.Pid) + "/stat")
		return t
	}
	sum := func(cs []*exec.Cmd) (t float64) {
		for _, c := range cs {
			t += procCPUOf(c)
		}
		return t
	}
	count := func() uint64 {
		var c uint64
		_ = r.conn.QueryRow(ctx, "SELECT count() FROM "+r.chDB+".usage_events").Scan(&c)
		return c
	}

	var profiles sync.WaitGroup
	for i, a := range pprofAddrs {
		name := fmt.Sprintf("%s-c%d-receiver.pprof", r.profile, consumers)
		if i > 0 {
			name = fmt.Sprintf("%s-c%d-consumer%d.pprof", r.profile, consumers, i)
		}
		profiles.Go(func() { fetchProfile(ctx, a, r.profileSeconds, name) })
	}
	defer profiles.Wait()
	recv0, cons0, cpu0 := procCPUOf(recv), sum(cons), sampleCPU()
	t0 := time.Now()
	if err := r.send(ctx, "http://"+addr+"/internal/v1/events"); err != nil {
		return res, err
	}
	for count() < uint64(r.events) {
		if time.Since(t0) > 3*time.Minute {
			return res, fmt.Errorf("%d consumers: only %d of %d events reached ClickHouse", consumers, count(), r.events)
		}
		time.Sleep(50 * time.Millisecond)
	}
	res.took = time.Since(t0)
	res.receiver, res.consumer, res.cpu = procCPUOf(recv)-recv0, sum(cons)-cons0, sampleCPU().since(cpu0)
	res.rate = float64(r.events) / res.took.Seconds()
	return res, nil
}

// fetchProfile writes a CPU profile of the process serving pprof at addr,
// seconds long, to file; a failure is printed, not fatal.
func fetchProfile(ctx context.Context, addr string, seconds int, file string) {
	err := func() error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, seconds), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		f, err := os.Create(file)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, resp.Body); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}()
	if err != nil {
		fmt.Printf("profile %s: %v\n", file, err)
	}
}

// send posts every batch with the configured number of senders.
func (r *ingestProcsRun) send(ctx context.Context, url string) error {
	work := make(chan []byte, len(r.bodies))
	for _, b := range r.bodies {
		work <- b
	}
	close(work)
	var wg sync.WaitGroup
	var sendErr error
	var once sync.Once
	for range r.senders {
		wg.Go(func() {
			for b := range work {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
				req.Header.Set("Authorization", "Bearer bench")
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("receiver answered %d", resp.StatusCode)
					}
				}
				if err != nil {
					once.Do(func() { sendErr = err })
				}
			}
		})
	}
	wg.Wait()
	return sendErr
}

// printIngestProcs prints the runs side by side: throughput and the CPU
// each event cost in each process.
func printIngestProcs(results []ingestProcsResult, events int) {
	us := func(sec float64) string { return fmt.Sprintf("%6.1f", sec*1e6/float64(events)) }
	fmt.Printf("\nspendgate ingest as OS processes (1 receiver-only process + N consumer processes), %d events; µs of CPU per event:\n", events)
	fmt.Printf("  %-9s %10s %9s %9s %9s  %-10s %9s %11s %8s\n", "consumers", "events/s", "receiver", "consumer", "spendgate", "(goal ≤10)", "senders", "nats-server", "clickh.")
	base := results[0].rate
	for _, r := range results {
		own := r.receiver + r.consumer
		goal := "missed"
		if own*1e6/float64(events) <= 10 {
			goal = "met"
		}
		fmt.Printf("  %-9d %10.0f %9s %9s %9s  %-10s %9s %11s %8s   %.2f× one consumer\n", r.consumers, r.rate, us(r.receiver), us(r.consumer), us(own), goal,
			us(r.cpu["spendgate (this process)"]), us(r.cpu["nats-server"]), us(r.cpu["clickhouse-server"]), r.rate/base)
	}
	fmt.Println("  (spendgate = receiver + consumers: HTTP, validation, JetStream publish and fetch, pricing, ClickHouse client;")
	fmt.Println("   senders = this process's HTTP load generator, and NATS when it is embedded here; clickh. = ClickHouse, apart)")
	if all, ok := results[len(results)-1].cpu["machine (all processes)"]; ok {
		fmt.Printf("  machine, last run: %s µs per event (the machine is shared: other work counts here)\n", strings.TrimSpace(us(all)))
	}
}
