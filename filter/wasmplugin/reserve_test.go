package wasmplugin

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/budget/httpapi"
	"github.com/spendgate/spendgate/budget/service"
	"github.com/spendgate/spendgate/dataplane"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/pgtest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/money"
)

// reserveConfig sends reservations to their own cluster, so the test can
// tell them from event batches.
var reserveConfig = `{"service_token":"svc-token","reservation_cluster":"spendgate_budget","flush_interval_ms":100,"batch_max_events":2000,"max_buffered_events":5000}`

// TestHardBudgetHoldsUnderConcurrency: 1,000 calls of a key under a hard
// budget arrive at once; each is paused while the filter reserves its
// worst case at the real reservation endpoint (budget/httpapi over
// Postgres), and only as many as the budget holds go upstream; the others
// are refused in the provider's shape. The calls that went on carry their
// reservation on their usage events (ingest settles them); one whose
// provider never answered gives its reservation back.
func TestHardBudgetHoldsUnderConcurrency(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		ctx := context.Background()
		db := pgtest.Migrated(t)
		var tenant, key string
		testenv.Must(t, db.QueryRow(ctx, `INSERT INTO tenants (name, slug) VALUES ('t', $1) RETURNING id::text`, "t-"+uuid.NewString()[:8]).Scan(&tenant), "tenant")
		testenv.Must(t, db.QueryRow(ctx, `INSERT INTO api_keys (tenant_id, name, prefix, secret_hash) VALUES ($1, 'k', $2, '\x00') RETURNING id::text`,
			tenant, "sk_"+uuid.NewString()[:12]).Scan(&key), "key")
		svc := service.New(db, nil, "SGF", service.DefaultConfig("SGF"), nil)
		srv := httptest.NewServer(httpapi.Handler(svc, "svc-token", nil))
		t.Cleanup(srv.Close)

		body := `{"model":"gpt-4o-mini","max_tokens":100,"messages":[{"role":"user","content":"hello there"}]}`
		each, err := svc.Estimate(ctx, &budget.ReserveRequest{TenantID: tenant, KeyID: key, Provider: "openai", Model: "gpt-4o-mini",
			MaxTokens: 100, InputTokensEstimate: int64(len(body) / 4)})
		testenv.Must(t, err, "estimate")
		const room = 10
		limit := each*room + each/2 // room for 10 calls and a half
		testenv.Must(t, db.QueryRow(ctx, `INSERT INTO budgets (tenant_id, name, scope, period, amount_nano_usd, thresholds, hard)
			VALUES ($1, 'hard cap', 'tenant', 'month', $2, '{100}', true) RETURNING id::text`, tenant, limit).Scan(new(string)), "budget")

		host := newHost(t, vm, reserveConfig)
		answer := allowAll()
		answer.TenantID, answer.KeyID = tenant, key
		answer.Policy.HardBudget = true

		// The key's policy is in the shared cache already (written here as
		// the filter writes it): the emulator numbers callouts by how many
		// are pending, so a callout dispatched while others are being
		// answered would take a pending one's id.
		k := dataplane.PolicyCacheKey("sg_hard")
		name, entry := dataplane.PolicyEntry(&k, &answer, time.Hour, time.Hour, time.Now())
		testenv.Must(t, proxywasm.SetSharedData(name, entry, 0), "cache the policy")

		const calls = 1000
		type callout struct {
			id   uint32
			attr proxytest.HttpCalloutAttribute
		}
		var reservations []callout
		ids := make([]uint32, calls)
		for i := range ids {
			ids[i] = newContext(host)
			host.CallOnRequestHeaders(ids[i], req{path: "/v1/openai/chat/completions", key: "sg_hard"}.headerList(), false)
			if act := host.CallOnRequestBody(ids[i], []byte(body), true); act != types.ActionPause {
				t.Fatalf("call %d not paused for its reservation", i)
			}
			// Copied at once: under wasm the emulator's record points into
			// the guest's memory, which later calls reuse.
			for _, c := range host.GetCalloutAttributesFromContext(ids[i]) {
				if c.Upstream != "spendgate_budget" {
					continue
				}
				c = copyCallout(c)
				if hv(c.Headers, ":path") != "/internal/v1/reservations" || hv(c.Headers, "authorization") != "Bearer svc-token" {
					t.Fatalf("reservation call %v", c.Headers)
				}
				reservations = append(reservations, callout{ids[i], c})
			}
			if host.GetSentLocalResponse(ids[i]) != nil {
				t.Fatalf("call refused before its reservation: %s", host.GetSentLocalResponse(ids[i]).Data)
			}
		}
		if len(reservations) != calls {
			t.Fatalf("%d reservation calls for %d calls", len(reservations), calls)
		}
		// The reservation endpoint takes them all at once.
		answers := make([]forwarded, calls)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		for i, r := range reservations {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				answers[i] = forward(t, srv.URL, r.attr)
			}()
		}
		wg.Wait()
		var passed []uint32
		for i, r := range reservations {
			host.CallOnHttpCallResponse(r.attr.CalloutID, [][2]string{{":status", answers[i].status}}, nil, answers[i].body)
			// Checked at once: under wasm the emulator's record of the local
			// answer points into guest memory that later calls reuse.
			lr := host.GetSentLocalResponse(r.id)
			switch {
			case lr == nil && host.GetCurrentHttpStreamAction(r.id) == types.ActionContinue:
				passed = append(passed, r.id)
			case lr == nil:
				t.Fatalf("call %d neither forwarded nor refused", r.id)
			case lr.StatusCode != 429 || hv(lr.Headers, "x-spendgate-denial") != event.DenialBudgetExceeded || !strings.Contains(string(lr.Data), `"code":"budget_exceeded"`):
				t.Fatalf("refusal %d %v %s", lr.StatusCode, lr.Headers, lr.Data)
			case !strings.Contains(string(lr.Data), "this call may cost up to $"+money.FormatNano(each)+", $"+money.FormatNano(limit-room*each)+" is left in this period; set max_tokens"):
				// Half a call's worst case is left: a smaller max_tokens fits.
				t.Fatalf("refusal does not say what would fit: %s", lr.Data)
			}
		}
		if len(passed) != room {
			t.Fatalf("%d calls went upstream, the budget holds %d", len(passed), room)
		}
		var held int64
		testenv.Must(t, db.QueryRow(ctx, `SELECT coalesce(sum(amount_nano_usd), 0) FROM budget_reservations WHERE tenant_id = $1 AND status = 'open'`, tenant).Scan(&held), "held")
		if held > limit || held != each*room {
			t.Fatalf("%d nano-USD held for a budget of %d (%d per call)", held, limit, each)
		}

		// All but one are answered; the last one's provider never answers.
		for _, id := range passed[1:] {
			respond(host, id, "application/json", `{"model":"gpt-4o-mini","usage":{"prompt_tokens":20,"completion_tokens":30}}`)
		}
		host.CompleteHttpContext(passed[0])
		var releases []proxytest.HttpCalloutAttribute
		reserved := map[string]bool{}
		unanswered := 0
		for _, b := range ingestBatches(t, host, "200") { // the tick also sends the release
			for _, e := range b {
				switch {
				case e.Type != event.TypeUsage:
				case e.StatusCode == 0 && e.ReservationID == "":
					unanswered++ // its reservation is released instead
				case e.ReservationID == "" || reserved[e.ReservationID]:
					t.Fatalf("usage event with reservation %q", e.ReservationID)
				default:
					reserved[e.ReservationID] = true
				}
			}
		}
		if unanswered != 1 {
			t.Fatalf("%d usage events of unanswered calls", unanswered)
		}
		for _, c := range host.GetCalloutAttributesFromContext(proxytest.PluginContextID) {
			if c.Upstream == "spendgate_budget" {
				releases = append(releases, copyCallout(c))
			}
		}
		if len(reserved) != room-1 || len(releases) != 1 {
			t.Fatalf("%d usage events with reservations, %d releases", len(reserved), len(releases))
		}
		rel := forward(t, srv.URL, releases[0])
		if rel.status != "204" {
			t.Fatalf("release answered %s: %s", rel.status, rel.body)
		}
		host.CallOnHttpCallResponse(releases[0].CalloutID, [][2]string{{":status", rel.status}}, nil, rel.body)
		var open, released int
		testenv.Must(t, db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'open'), count(*) FILTER (WHERE status = 'released') FROM budget_reservations WHERE tenant_id = $1`, tenant).Scan(&open, &released), "statuses")
		if open != room-1 || released != 1 {
			t.Fatalf("%d open and %d released reservations", open, released)
		}
		if v, _ := host.GetCounterMetric(MetricReleaseFailures); v != 0 {
			t.Fatalf("release failures %d", v)
		}
	})
}

// TestReservationUnavailableFailsClosed: a reservation endpoint that cannot
// be reached or answers nonsense refuses hard-budget calls with a retryable
// 503 budget_unavailable, unless reservation_fail_open is set.
func TestReservationUnavailableFailsClosed(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		answer := allowAll()
		answer.Policy.HardBudget = true
		for name, tt := range map[string]struct {
			cfg, status, body string
			passes            bool
		}{
			"endpoint error":        {reserveConfig, "500", `oops`, false},
			"a proxy's 503":         {reserveConfig, "503", `upstream connect error`, false},
			"failing open":          {strings.Replace(reserveConfig, `{`, `{"reservation_fail_open":true,`, 1), "500", `oops`, true},
			"budget service denies": {reserveConfig, "503", `{"denied":true,"reason":"budget_unavailable","message":"store down"}`, false},
		} {
			t.Run(name, func(t *testing.T) {
				host := newHost(t, vm, tt.cfg)
				id, _ := send(t, host, req{path: "/v1/openai/chat/completions", key: "sg_hard", body: `{"model":"gpt-4o"}`}, "200", answerJSON(answer))
				n := 0
				for _, c := range host.GetCalloutAttributesFromContext(id) {
					if c.Upstream == "spendgate_budget" {
						n++
						host.CallOnHttpCallResponse(c.CalloutID, [][2]string{{":status", tt.status}}, nil, []byte(tt.body))
					}
				}
				if n != 1 {
					t.Fatalf("%d reservation calls", n)
				}
				lr := host.GetSentLocalResponse(id)
				if tt.passes {
					if lr != nil || host.GetCurrentHttpStreamAction(id) != types.ActionContinue {
						t.Fatal("fail-open call was held")
					}
				} else if lr == nil || lr.StatusCode != 503 || hv(lr.Headers, "x-spendgate-denial") != event.DenialBudgetUnavailable || hv(lr.Headers, "x-should-retry") != "true" {
					t.Fatalf("want a retryable 503 budget_unavailable, got %+v", lr)
				}
				if v, _ := host.GetCounterMetric(MetricReservationFailures); v != 1 {
					t.Fatalf("reservation failures metric %d", v)
				}
			})
		}
	})
}

func copyCallout(c proxytest.HttpCalloutAttribute) proxytest.HttpCalloutAttribute {
	hs := make([][2]string, len(c.Headers))
	for i, h := range c.Headers {
		hs[i] = [2]string{strings.Clone(h[0]), strings.Clone(h[1])}
	}
	c.Headers, c.Body = hs, bytes.Clone(c.Body)
	return c
}

type forwarded struct {
	status string
	body   []byte
}

// forward sends a callout the filter made to the real server at base.
func forward(t *testing.T, base string, c proxytest.HttpCalloutAttribute) forwarded {
	req, err := http.NewRequest(hv(c.Headers, ":method"), base+hv(c.Headers, ":path"), bytes.NewReader(c.Body))
	if err != nil {
		t.Error(err)
		return forwarded{status: "500"}
	}
	for _, h := range c.Headers {
		if !strings.HasPrefix(h[0], ":") {
			req.Header.Set(h[0], h[1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return forwarded{status: "500"}
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return forwarded{status: itoa(resp.StatusCode), body: b.Bytes()}
}

func itoa(n int) string { return strconv.Itoa(n) }
