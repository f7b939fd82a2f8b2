package e2e

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/spendgate/spendgate/internal/testenv"
)

const spoolServiceToken = "svc-spool-test"

// switchedIngest stands between a gateway and serve's event receiver: up,
// it forwards batches; down, it drops the connection without an answer, as
// an unreachable ingest does.
type switchedIngest struct {
	*httptest.Server
	down atomic.Bool
}

func newSwitchedIngest(t *testing.T, apiURL string) *switchedIngest {
	t.Helper()
	target, err := url.Parse(apiURL)
	testenv.Must(t, err, "api url")
	rp := httputil.NewSingleHostReverseProxy(target)
	si := &switchedIngest{}
	si.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if si.down.Load() {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(si.Close)
	return si
}

// gatewayProc is a standalone `spendgate gateway` process.
type gatewayProc struct {
	url, log string
	cmd      *exec.Cmd
	exited   chan error
}

// startGateway runs the real binary against serve's policy endpoint, the
// given ingest and the fake provider, with its spool in spoolDir.
func startGateway(t *testing.T, s *testenv.Serve, ingestURL, spoolDir, logName string, extra ...string) *gatewayProc {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testenv.Must(t, err, "free port")
	addr := ln.Addr().String()
	_ = ln.Close()
	g := &gatewayProc{url: "http://" + addr, log: filepath.Join(t.TempDir(), logName), exited: make(chan error, 1)}
	logFile, err := os.Create(g.log)
	testenv.Must(t, err, "gateway log")
	args := append([]string{"gateway", "--listen", addr, "--service-token", spoolServiceToken,
		"--policy-url", s.APIURL + "/internal/v1/policy", "--ingest-url", ingestURL + "/internal/v1/events",
		"--upstream", "openai=" + s.FakeProviderURL + "/v1", "--event-spool-dir", spoolDir}, extra...)
	g.cmd = exec.Command(testenv.Binary(t), args...)
	g.cmd.Stdout, g.cmd.Stderr = logFile, logFile
	testenv.Must(t, g.cmd.Start(), "start gateway")
	go func() { g.exited <- g.cmd.Wait(); _ = logFile.Close() }()
	t.Cleanup(func() {
		_ = g.cmd.Process.Kill()
		<-g.exited //nolint:errcheck // killed on purpose: its exit status says nothing
		g.exited <- nil
	})
	testenv.WaitFor(t, 30*time.Second, "the gateway listening", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
	return g
}

func (g *gatewayProc) logText() string {
	b, _ := os.ReadFile(g.log)
	return string(b)
}

// calls makes n chat completions through the gateway with the OpenAI SDK;
// each must be answered.
func (g *gatewayProc) calls(t *testing.T, key string, n int) {
	t.Helper()
	client := openai.NewClient(option.WithBaseURL(g.url+"/v1/openai"), option.WithAPIKey("sk-provider"),
		option.WithHeader("x-spendgate-key", key), option.WithMaxRetries(0))
	for i := range n {
		_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
		if err != nil {
			t.Fatalf("call %d through the gateway: %v", i, err)
		}
	}
}

// storedEvents counts the usage rows in serve's ClickHouse database and
// the distinct event ids among them.
func storedEvents(t *testing.T, database string) (rows, ids uint64) {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{testenv.ClickHouseAddr()}})
	testenv.Must(t, err, "clickhouse")
	defer conn.Close()
	testenv.Must(t, conn.QueryRow(context.Background(), "SELECT count(), uniqExact(event_id) FROM "+database+".usage_events").Scan(&rows, &ids),
		"count usage events")
	return rows, ids
}

// waitStored waits until exactly want events are stored, each once, and
// checks that no late copy arrives.
func waitStored(t *testing.T, s *testenv.Serve, want uint64, why string) {
	t.Helper()
	testenv.WaitFor(t, 90*time.Second, why, func() bool {
		rows, _ := storedEvents(t, s.ClickHouseDatabase)
		return rows >= want
	})
	time.Sleep(2 * time.Second) // a doubled batch would land by now
	if rows, ids := storedEvents(t, s.ClickHouseDatabase); rows != want || ids != want {
		t.Fatalf("%s: %d rows, %d distinct events stored; want %d once each", why, rows, ids, want)
	}
}

// TestGatewaySpoolsWhileIngestDown is issue 12 item 7 as reported: with
// ingest down and a small --event-buffer, 50 answered calls must give 50
// stored events once ingest comes back, and the gateway must say it kept
// them. (Before the spool: 0 stored, no log line.)
func TestGatewaySpoolsWhileIngestDown(t *testing.T) {
	t.Parallel()
	s := testenv.StartServe(t, "--service-token", spoolServiceToken)
	ingest := newSwitchedIngest(t, s.APIURL)
	ingest.down.Store(true)
	g := startGateway(t, s, ingest.URL, t.TempDir(), "gateway.log", "--event-buffer", "5", "--event-batch", "5", "--event-interval", "50ms")

	g.calls(t, s.DemoKey, 50)
	testenv.WaitFor(t, 30*time.Second, "the gateway logging the spooled events", func() bool {
		return strings.Contains(g.logText(), "events kept in the spool until ingest answers")
	})
	if rows, _ := storedEvents(t, s.ClickHouseDatabase); rows != 0 {
		t.Fatalf("%d events stored with ingest down", rows)
	}
	ingest.down.Store(false)
	waitStored(t, s, 50, "50 events after ingest came back")

	testenv.Must(t, g.cmd.Process.Signal(os.Interrupt), "stop gateway")
	testenv.WaitFor(t, 60*time.Second, "the gateway's final counts", func() bool {
		return strings.Contains(g.logText(), "events delivered or kept")
	})
	if l := g.logText(); !strings.Contains(l, "events_sent=50") || !strings.Contains(l, "events_dropped=0") || strings.Contains(l, "DROPPED") {
		t.Fatalf("gateway log does not report 50 sent and none dropped:\n%s", l)
	}
}

// TestGatewayKilledWhileIngestDownReplaysSpool kills a real gateway process
// (SIGKILL) while ingest is down and events sit in its spool: a new gateway
// on the same spool directory delivers them, and nothing is stored twice —
// neither the events delivered before the outage nor the spooled ones.
func TestGatewayKilledWhileIngestDownReplaysSpool(t *testing.T) {
	t.Parallel()
	s := testenv.StartServe(t, "--service-token", spoolServiceToken)
	ingest := newSwitchedIngest(t, s.APIURL)
	spoolDir := t.TempDir()
	flags := []string{"--event-buffer", "5", "--event-batch", "5", "--event-interval", "50ms"}
	g := startGateway(t, s, ingest.URL, spoolDir, "first.log", flags...)

	g.calls(t, s.DemoKey, 10)
	waitStored(t, s, 10, "10 events with ingest up")

	ingest.down.Store(true)
	g.calls(t, s.DemoKey, 50)
	// The rate-limited report says when all 50 are on disk: spooled and
	// not replayed (with a buffer of one batch, an event that arrived while
	// a batch was in flight may have gone through the spool before the
	// outage).
	testenv.WaitFor(t, 45*time.Second, "all 50 events spooled", func() bool {
		return onDisk(g.logText()) == 50
	})
	testenv.Must(t, g.cmd.Process.Kill(), "kill -9 the gateway")
	<-g.exited //nolint:errcheck // killed on purpose: its exit status says nothing
	g.exited <- nil

	g2 := startGateway(t, s, ingest.URL, spoolDir, "second.log", flags...)
	if !strings.Contains(g2.logText(), "replaying event batches spooled by an earlier run") {
		t.Fatalf("the restarted gateway does not report the spool it found:\n%s", g2.logText())
	}
	ingest.down.Store(false)
	waitStored(t, s, 60, "60 events after the restart")
	testenv.WaitFor(t, 30*time.Second, "the replay reported", func() bool {
		return strings.Contains(g2.logText(), "replayed_total=50")
	})
}

var spoolTotals = regexp.MustCompile(`spooled_total=(\d+) replayed_total=(\d+)`)

// onDisk is how many events the gateway's last spool report says wait on
// disk: spooled and not yet replayed.
func onDisk(log string) int {
	m := spoolTotals.FindAllStringSubmatch(log, -1)
	if len(m) == 0 {
		return 0
	}
	spooled, _ := strconv.Atoi(m[len(m)-1][1])
	replayed, _ := strconv.Atoi(m[len(m)-1][2])
	return spooled - replayed
}
