package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/testenv"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
	"github.com/spendgate/spendgate/usage"
)

// subprocessEnv makes the test binary run `spendgate ingest` with the JSON
// arguments in it instead of the tests: a test starts real OS processes of
// the command, which it can kill -9.
const subprocessEnv = "SPENDGATE_TEST_INGEST_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(subprocessEnv); args != "" {
		var a []string
		if err := json.Unmarshal([]byte(args), &a); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := runIngest(ctx, a)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "ingest:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// ingestProcess is one `spendgate ingest` OS process.
type ingestProcess struct {
	cmd  *exec.Cmd
	addr string
	out  *bytes.Buffer
	done chan struct{}
}

func startIngestProcess(t *testing.T, args []string, addr string) *ingestProcess {
	t.Helper()
	a, _ := json.Marshal(append([]string{"--listen", addr}, args...))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), subprocessEnv+"="+string(a), "GOMAXPROCS=1")
	p := &ingestProcess{cmd: cmd, addr: addr, out: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	testenv.Must(t, cmd.Start(), "start ingest process")
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("ingest process on %s:\n%s", addr, p.out)
		}
	})
	testenv.WaitFor(t, 90*time.Second, "ingest process on "+addr+" to listen", func() bool {
		select {
		case <-p.done:
			t.Fatalf("ingest process exited: %s", p.out)
		default:
		}
		resp, err := http.Post("http://"+addr+"/internal/v1/events", "application/json", nil)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusUnauthorized
	})
	return p
}

// kill is kill -9: no drain, no hand-back, writes in flight cut off.
func (p *ingestProcess) kill(t *testing.T) {
	testenv.Must(t, p.cmd.Process.Kill(), "kill -9")
	<-p.done
}

// Three `spendgate ingest` processes share one stream of three partitions,
// each consuming one, while a sender posts batches to their receivers in
// turn. One is killed with SIGKILL under load and started again: every event
// is in ClickHouse once (raw rows, distinct ids, the hourly rollup).
func TestThreeIngestProcessesOneKilledWithSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts OS processes")
	}
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	chAddr, chDB := testenv.ClickHouse(t)
	nc, prefix := testenv.NATS(t)
	common := []string{"--service-token", "svc", "--nats-url", nc.ConnectedUrl(), "--stream-prefix", prefix,
		"--clickhouse-addr", chAddr, "--clickhouse-database", chDB, "--postgres-dsn", dsn, "--budgets=false",
		"--partitions", "3", "--batch-size", "300", "--batch-wait", "100ms"}
	procs := make([]*ingestProcess, 3)
	argsOf := func(i int) []string { return append(common, "--consume-partitions", strconv.Itoa(i)) }
	for i := range procs {
		procs[i] = startIngestProcess(t, argsOf(i), freeAddr(t))
	}

	tenant := uuid.NewString()
	const batches, perBatch = 80, 50
	var mu sync.Mutex
	post := func(i int, body []byte) {
		// The sender retries a batch on another receiver until one takes it,
		// as the data plane does; JetStream drops the repeats.
		for attempt := 0; ; attempt++ {
			mu.Lock()
			addr := procs[(i+attempt)%len(procs)].addr
			mu.Unlock()
			req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/internal/v1/events", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer svc")
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
			}
			if attempt > 200 {
				t.Errorf("batch %d not accepted: %v", i, err)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := range batches {
			evs := make([]event.Event, perBatch)
			for j := range evs {
				evs[j] = event.Event{SchemaVersion: 1, Type: event.TypeUsage, EventID: uuid.NewString(), Time: time.Now().UTC(),
					Source: event.SourceGateway, TenantID: tenant, KeyID: uuid.NewString(), Provider: "openai", Operation: "chat.completions",
					ModelRequested: "gpt-4o-mini", StatusCode: 200, Complete: true, Usage: usage.Tokens{Input: 100, Output: 50}}
			}
			post(i, event.AppendBatch(nil, evs))
			time.Sleep(20 * time.Millisecond)
		}
	}()

	conn, err := chstore.Open(ctx, chAddr, chDB)
	testenv.Must(t, err, "clickhouse")
	defer conn.Close()
	w := chstore.NewWriter(conn, chDB)
	count := func() uint64 {
		tot, err := w.TenantTotals(ctx, tenant, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		if err != nil {
			return 0
		}
		return tot.Events
	}
	testenv.WaitFor(t, 60*time.Second, "some events in ClickHouse", func() bool { return count() >= 500 })
	procs[1].kill(t)
	killedAt := count()
	time.Sleep(500 * time.Millisecond)
	restarted := startIngestProcess(t, argsOf(1), freeAddr(t))
	mu.Lock()
	procs[1] = restarted
	mu.Unlock()
	<-sent
	if killedAt >= batches*perBatch {
		t.Fatalf("all %d events were stored before the kill: not under load", killedAt)
	}

	js, err := jetstream.New(nc)
	testenv.Must(t, err, "jetstream")
	testenv.WaitFor(t, 120*time.Second, "every partition's consumer to ack everything", func() bool {
		for _, durable := range []string{"clickhouse-writer", "clickhouse-writer-p1", "clickhouse-writer-p2"} {
			c, err := js.Consumer(ctx, prefix+"_EVENTS", durable)
			if err != nil {
				return false
			}
			info, err := c.Info(ctx)
			if err != nil || info.NumPending != 0 || info.NumAckPending != 0 {
				return false
			}
		}
		return true
	})
	var rows, ids, rollup uint64
	testenv.Must(t, conn.QueryRow(ctx, "SELECT count(), uniqExact(event_id) FROM "+chDB+".usage_events WHERE tenant_id = ?", tenant).Scan(&rows, &ids), "rows")
	testenv.Must(t, conn.QueryRow(ctx, "SELECT sum(events) FROM "+chDB+".usage_core_hourly WHERE tenant_id = ?", tenant).Scan(&rollup), "rollup")
	if rows != batches*perBatch || ids != rows || rollup != rows {
		t.Fatalf("%d rows, %d distinct ids, rollup %d; want %d of each (killed at %d stored)", rows, ids, rollup, batches*perBatch, killedAt)
	}
	t.Logf("%d events stored once each; process 1 was killed with %d stored", rows, killedAt)
}
