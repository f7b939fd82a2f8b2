package spendgate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/spendgate/spendgate/client/spendgate"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/recordapi"
)

// Proxy modes.
const (
	up         = iota // forward
	down              // close every connection unanswered (server unreachable)
	loseAnswer        // forward, then close the connection instead of answering
)

// flakyProxy stands between the client and the real server.
type flakyProxy struct {
	target    string
	mode      atomic.Int32
	delay     time.Duration
	forwarded atomic.Int64
}

func (p *flakyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mode := p.mode.Load()
	if mode == down {
		hangUp(w)
		return
	}
	time.Sleep(p.delay)
	body, _ := io.ReadAll(r.Body)
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		hangUp(w)
		return
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(res.Body)
	p.forwarded.Add(1)
	if mode == loseAnswer {
		hangUp(w)
		return
	}
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(answer)
}

func hangUp(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
	}
}

type server struct {
	*testenv.Serve
	token, tenantID string
}

func (s *server) createKey(t *testing.T, name string) (secret, id string) {
	t.Helper()
	var out struct {
		CreateAPIKey struct {
			Secret string
			Key    struct{ ID string }
		}
	}
	testenv.MustGraphQL(t, s.APIURL+"/query", s.token, `mutation($t:ID!,$n:String!){createAPIKey(tenantId:$t,name:$n){secret key{id}}}`,
		map[string]any{"t": s.tenantID, "n": name}, &out)
	return out.CreateAPIKey.Secret, out.CreateAPIKey.Key.ID
}

func (s *server) keyBudget(t *testing.T, keyID, amountUSD string, hard bool) string {
	t.Helper()
	var out struct{ CreateBudget struct{ ID string } }
	testenv.MustGraphQL(t, s.APIURL+"/query", s.token, `mutation($t:ID!,$in:BudgetInput!){createBudget(tenantId:$t,input:$in){id}}`,
		map[string]any{"t": s.tenantID, "in": map[string]any{"name": "key " + keyID[:8], "scope": "KEY", "keyId": keyID, "period": "MONTH",
			"amount": amountUSD, "hard": hard}}, &out)
	return out.CreateBudget.ID
}

func (s *server) spent(t *testing.T, budgetID string) int64 {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), s.PostgresDSN)
	testenv.Must(t, err, "postgres")
	defer conn.Close(context.Background())
	var spent int64
	err = conn.QueryRow(context.Background(), `SELECT coalesce(sum(spent_nano_usd), 0) FROM budget_spend WHERE budget_id = $1`, budgetID).Scan(&spent)
	testenv.Must(t, err, "budget counter")
	return spent
}

// stored counts key keyID's usage rows, distinct event ids and cost.
func (s *server) stored(t *testing.T, keyID string) (rows, ids uint64, cost int64) {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{testenv.ClickHouseAddr()}})
	testenv.Must(t, err, "clickhouse")
	defer conn.Close()
	testenv.Must(t, conn.QueryRow(context.Background(), `SELECT count(), uniqExact(event_id), sum(list_cost_nano_usd) FROM `+
		s.ClickHouseDatabase+`.usage_events WHERE key_id = ?`, keyID).Scan(&rows, &ids, &cost), "count")
	return rows, ids, cost
}

// waitStored waits until n events of keyID are stored, then checks that each
// is stored once, none more arrive, and they cost n × each.
func (s *server) waitStored(t *testing.T, keyID string, n uint64, each int64) {
	t.Helper()
	testenv.WaitFor(t, 90*time.Second, fmt.Sprintf("%d events stored", n), func() bool { r, _, _ := s.stored(t, keyID); return r >= n })
	time.Sleep(2 * time.Second) // a doubled event would land by now
	if rows, ids, cost := s.stored(t, keyID); rows != n || ids != n || cost != int64(n)*each {
		t.Fatalf("stored %d rows, %d distinct events, %d nano-USD; want %d once each, %d nano-USD", rows, ids, cost, n, int64(n)*each)
	}
}

func tts(key string, chars int64) recordapi.UsageRecord {
	return recordapi.UsageRecord{IdempotencyKey: key, Provider: "openai", Model: "tts-1", Usage: recordapi.Usage{Characters: chars}}
}

func TestClientAgainstServe(t *testing.T) {
	s0 := testenv.StartServe(t, "--batch-wait", "100ms")
	token, tenant := s0.SignInDemo(t)
	s := &server{s0, token, tenant}

	t.Run("preflight, refusal and a synchronous record", func(t *testing.T) {
		key, keyID := s.createKey(t, "sync")
		budget := s.keyBudget(t, keyID, "0.20", true)
		c, err := spendgate.New(spendgate.Config{BaseURL: s.APIURL, Key: key})
		testenv.Must(t, err, "client")
		ctx := context.Background()
		pf, err := c.Preflight(ctx, recordapi.PreflightRequest{Provider: "openai", Model: "tts-1", Usage: &recordapi.Usage{Characters: 10000}})
		if err != nil || pf.AmountNanoUSD != 150_000_000 || pf.ReservationID == "" {
			t.Fatalf("preflight: %+v %v", pf, err)
		}
		_, err = c.Preflight(ctx, recordapi.PreflightRequest{Provider: "openai", Model: "tts-1", Usage: &recordapi.Usage{Characters: 10000}})
		var apiErr *spendgate.APIError
		if !errors.As(err, &apiErr) || apiErr.Detail.Code != recordapi.CodeBudgetExceeded || apiErr.Detail.Budget.ID != budget ||
			apiErr.Detail.Budget.LeftNanoUSD != 50_000_000 {
			t.Fatalf("second preflight: %v", err)
		}
		// A reservation given back frees its room.
		spare, err := c.Preflight(ctx, recordapi.PreflightRequest{Provider: "openai", Model: "tts-1", Usage: &recordapi.Usage{Characters: 1000}})
		testenv.Must(t, err, "a small preflight")
		testenv.Must(t, c.Release(ctx, spare.ReservationID), "release")
		if err := c.Release(ctx, "not-a-reservation"); !errors.As(err, &apiErr) || apiErr.Status != 404 {
			t.Errorf("releasing nonsense: %v", err)
		}
		rec := tts("", 2000)
		rec.ReservationID = pf.ReservationID
		res, err := c.Record(ctx, rec)
		if err != nil || res.Status != http.StatusAccepted || res.Cost == nil || *res.Cost.TenantNanoUSD != 30_000_000 {
			t.Fatalf("record: %+v %v", res, err)
		}
		_, err = c.Record(ctx, recordapi.UsageRecord{Provider: "openai", Usage: recordapi.Usage{Seconds: -1}})
		if !errors.As(err, &apiErr) || apiErr.Status != 400 || len(apiErr.Detail.Fields) != 2 {
			t.Fatalf("bad record: %v", err)
		}
		testenv.WaitFor(t, 60*time.Second, "the reservation settled", func() bool { return s.spent(t, budget) == 30_000_000 })
	})

	t.Run("server down, client restarted, answers lost: every record stored once", func(t *testing.T) {
		key, keyID := s.createKey(t, "outage")
		budget := s.keyBudget(t, keyID, "100", false)
		proxy := &flakyProxy{target: s.APIURL}
		proxy.mode.Store(down)
		ps := httptest.NewServer(proxy)
		defer ps.Close()
		dir := t.TempDir()
		cfg := spendgate.Config{BaseURL: ps.URL, Key: key, OutboxDir: dir, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
		c, err := spendgate.New(cfg)
		testenv.Must(t, err, "client")
		start := time.Now()
		for i := range 40 {
			testenv.Must(t, c.Enqueue(tts(fmt.Sprintf("outage-%d", i), 1000)), "enqueue")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("40 enqueues took %s with the server down", d)
		}
		testenv.WaitFor(t, 10*time.Second, "retries while down", func() bool { return c.Stats().Retries >= 3 })
		if st := c.Stats(); st.Queued != 40 || st.Sent != 0 {
			t.Fatalf("while down: %+v", st)
		}
		testenv.Must(t, c.Close(), "close") // the process stops

		// A new process on the same outbox, while answers are lost: the
		// server stores records whose answers never arrive.
		proxy.mode.Store(loseAnswer)
		c, err = spendgate.New(cfg)
		testenv.Must(t, err, "client after restart")
		defer c.Close()
		testenv.WaitFor(t, 20*time.Second, "records forwarded without answers", func() bool { return proxy.forwarded.Load() >= 5 })
		proxy.mode.Store(up)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		testenv.Must(t, c.Flush(ctx), "flush")
		// Each record once more, as a caller retrying its own call would.
		for i := range 40 {
			testenv.Must(t, c.Enqueue(tts(fmt.Sprintf("outage-%d", i), 1000)), "enqueue again")
		}
		testenv.Must(t, c.Flush(ctx), "flush again")
		st := c.Stats()
		if st.Queued != 0 || st.Sent != 80 || st.Duplicates < 41 || st.Rejected != 0 {
			t.Errorf("after the outage: %+v", st)
		}
		s.waitStored(t, keyID, 40, 15_000_000)
		if spent := s.spent(t, budget); spent != 40*15_000_000 {
			t.Errorf("budget spent %d, want %d", spent, 40*15_000_000)
		}
	})

	t.Run("spendgate record killed mid-flight, then --flush", func(t *testing.T) {
		key, keyID := s.createKey(t, "kill")
		// Records go 100 a request: 5 requests, half a second each.
		proxy := &flakyProxy{target: s.APIURL, delay: 500 * time.Millisecond}
		ps := httptest.NewServer(proxy)
		defer ps.Close()
		outbox := t.TempDir()
		var lines strings.Builder
		const n = 450
		for i := range n {
			fmt.Fprintf(&lines, `{"idempotency_key":"kill-%d","provider":"openai","model":"whisper-1","usage":{"seconds":%d}}`+"\n", i, 60)
		}
		cmd := exec.Command(testenv.Binary(t), "record", "--url", ps.URL, "--key", key, "--outbox", outbox, "--json")
		cmd.Stdin = strings.NewReader(lines.String())
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		testenv.Must(t, cmd.Start(), "start spendgate record")
		testenv.WaitFor(t, 30*time.Second, "two batches stored", func() bool { return proxy.forwarded.Load() >= 2 })
		_ = cmd.Process.Kill() // during the third batch's request
		_ = cmd.Wait()
		if f := proxy.forwarded.Load(); f >= n/100+1 {
			t.Fatalf("the process sent all %d batches before it was killed; not mid-flight", f)
		}
		flush := exec.Command(testenv.Binary(t), "record", "--url", s.APIURL, "--key", key, "--outbox", outbox, "--flush")
		if b, err := flush.CombinedOutput(); err != nil || !strings.Contains(string(b), `"queued":0`) {
			t.Fatalf("spendgate record --flush: %v\n%s\nfirst run:\n%s", err, b, out.String())
		}
		s.waitStored(t, keyID, n, 6_000_000) // 60 s of whisper-1 at $0.006 a minute
	})

	t.Run("spendgate record from flags", func(t *testing.T) {
		key, keyID := s.createKey(t, "flags")
		cmd := exec.Command(testenv.Binary(t), "record", "--url", s.APIURL, "--key", key, "--outbox", filepath.Join(t.TempDir(), "ob"),
			"--provider", "openai", "--model", "dall-e-3", "--images", "2", "--dim", "team=design", "--idempotency-key", "poster-1")
		if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), `"sent":1`) {
			t.Fatalf("spendgate record: %v\n%s", err, b)
		}
		bad := exec.Command(testenv.Binary(t), "record", "--url", s.APIURL, "--key", key, "--outbox", filepath.Join(t.TempDir(), "ob"),
			"--provider", "openai", "--seconds", "-3")
		if b, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(b), "/0/model") || !strings.Contains(string(b), "/0/usage/seconds") {
			t.Errorf("bad flags: %v\n%s", err, b)
		}
		s.waitStored(t, keyID, 1, 80_000_000)
	})
}

// The outbox's bound: drop-oldest keeps taking records and counts what it
// discards; refuse-new keeps the queue and says so. Neither waits for the
// (unreachable) server.
func TestOutboxFull(t *testing.T) {
	for name, policy := range map[string]spendgate.Overflow{"drop oldest": spendgate.DropOldest, "refuse new": spendgate.RefuseNew} {
		t.Run(name, func(t *testing.T) {
			c, err := spendgate.New(spendgate.Config{BaseURL: "http://127.0.0.1:1", Key: "sg_abcdefghij_" + strings.Repeat("A", 40),
				OutboxDir: t.TempDir(), OutboxMaxBytes: 256 << 10, Overflow: policy, MinBackoff: time.Hour})
			testenv.Must(t, err, "client")
			defer c.Close()
			refused := 0
			start := time.Now()
			for i := range 3000 {
				err := c.Enqueue(tts(fmt.Sprintf("full-%d", i), 1))
				switch {
				case errors.Is(err, spendgate.ErrOutboxFull):
					refused++
				case err != nil:
					t.Fatal(err)
				}
			}
			st := c.Stats()
			t.Logf("%s: %+v in %s", name, st, time.Since(start))
			if st.Queued == 0 || st.Queued >= 3000 || int64(st.Queued) > st.Enqueued {
				t.Errorf("queued %d", st.Queued)
			}
			switch policy {
			case spendgate.DropOldest:
				if refused != 0 || st.Refused != 0 || st.Dropped == 0 || st.Enqueued != 3000 || int64(st.Queued)+st.Dropped != 3000 {
					t.Errorf("drop oldest: refused %d, %+v", refused, st)
				}
			case spendgate.RefuseNew:
				if refused == 0 || st.Refused != int64(refused) || st.Dropped != 0 || st.Enqueued+st.Refused != 3000 || int64(st.Queued) != st.Enqueued {
					t.Errorf("refuse new: refused %d, %+v", refused, st)
				}
			}
		})
	}
}
