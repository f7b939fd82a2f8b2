package wasmplugin

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/spendgate/spendgate/dataplane"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/policy"
	"github.com/spendgate/spendgate/usage"
)

// testConfig flushes on every tick (100 ms), so each Tick of the emulator is
// one flush interval.
const testConfig = `{"service_token":"svc-token","policy_cluster":"spendgate_api","ingest_cluster":"spendgate_ingest","flush_interval_ms":100,"batch_max_events":50,"max_buffered_events":100}`

func newHost(t *testing.T, vm types.VMContext, cfg string) proxytest.HostEmulator {
	t.Helper()
	opt := proxytest.NewEmulatorOption().WithVMContext(vm).WithPluginConfiguration([]byte(cfg))
	emulator, reset := proxytest.NewHostEmulator(opt)
	t.Cleanup(reset)
	host := copyCallouts(emulator) // dispatched headers as sent, not as the guest's memory reads later
	if st := host.StartPlugin(); st != types.OnPluginStartStatusOK {
		t.Fatalf("plugin did not start: %v", st)
	}
	return host
}

func allowAll() policy.Answer {
	return policy.Answer{Valid: true, TenantID: "11111111-1111-1111-1111-111111111111", KeyID: "22222222-2222-2222-2222-222222222222",
		KeyPrefix: "abcd1234", CacheTTLSeconds: 60, Policy: policy.Policy{DefaultDimensions: map[string]string{"env": "prod"}}}
}

func answerJSON(a policy.Answer) []byte {
	b, _ := json.Marshal(a)
	return b
}

type req struct {
	path    string
	key     string
	body    string
	headers [][2]string
}

func (r req) headerList() [][2]string {
	h := [][2]string{{":method", "POST"}, {":path", r.path}, {":authority", "gateway.local"}, {"authorization", "Bearer sk-provider"}, {"content-type", "application/json"}}
	if r.key != "" {
		h = append(h, [2]string{"x-spendgate-key", r.key})
	}
	return append(h, r.headers...)
}

// send runs a request through the filter up to the policy decision. It
// answers the policy call (if one is made) with answer/status and returns the
// context id and whether a policy call happened.
func send(t *testing.T, host proxytest.HostEmulator, r req, status string, answer []byte) (uint32, bool) {
	t.Helper()
	id := newContext(host)
	hasBody := r.body != ""
	act := host.CallOnRequestHeaders(id, r.headerList(), !hasBody)
	if hasBody && act == types.ActionPause && host.GetSentLocalResponse(id) == nil {
		host.CallOnRequestBody(id, []byte(r.body), true)
	}
	called := false
	for _, c := range host.GetCalloutAttributesFromContext(id) {
		if c.Upstream != "spendgate_api" || strings.HasPrefix(hv(c.Headers, ":path"), "/internal/v1/priced?") {
			continue // priced questions are answered by the tests that expect them (priced_test.go)
		}
		called = true
		if hv(c.Headers, "authorization") != "Bearer svc-token" || hv(c.Headers, "x-spendgate-key") != r.key || hv(c.Headers, ":path") != "/internal/v1/policy" {
			t.Fatalf("policy call headers %v", c.Headers)
		}
		host.CallOnHttpCallResponse(c.CalloutID, [][2]string{{":status", status}}, nil, answer)
	}
	return id, called
}

func hv(h [][2]string, name string) string {
	for _, kv := range h {
		if strings.EqualFold(kv[0], name) {
			return kv[1]
		}
	}
	return ""
}

func respond(host proxytest.HostEmulator, id uint32, ctype string, chunks ...string) {
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"content-type", ctype}, {"x-request-id", "req_abc"}}, false)
	for i, c := range chunks {
		host.CallOnResponseBody(id, []byte(c), i == len(chunks)-1)
	}
	host.CompleteHttpContext(id)
}

// contexts lists the HTTP contexts each emulator started.
var contexts = map[proxytest.HostEmulator][]uint32{}

func newContext(host proxytest.HostEmulator) uint32 {
	id := host.InitializeHttpContext()
	contexts[host] = append(contexts[host], id)
	return id
}

// answered counts, per emulator, the ingest callouts already answered: the
// emulator keeps listing every callout it has seen.
var answered = map[proxytest.HostEmulator]int{}

// ingestBatches ticks once (one flush interval with testConfig) and returns
// the events of every batch sent to ingest since the last call, answering
// each with status.
func ingestBatches(t *testing.T, host proxytest.HostEmulator, status string) [][]event.Event {
	t.Helper()
	return ingestBatchesReply(t, host, status, `{"accepted":1,"duplicates":0,"rejected":[]}`)
}

func ingestBatchesReply(t *testing.T, host proxytest.HostEmulator, status, reply string) [][]event.Event {
	t.Helper()
	host.Tick()
	// Batches must come from the plugin context: the SDK drops the answer to
	// a call made by an HTTP context that has ended since.
	for _, ctx := range contexts[host] {
		for _, c := range host.GetCalloutAttributesFromContext(ctx) {
			if c.Upstream == "spendgate_ingest" {
				t.Fatalf("batch dispatched from HTTP context %d", ctx)
			}
		}
	}
	var out [][]event.Event
	// Answering a batch can send the next ones (ingest came back): look
	// again until nothing new is there.
	for again := true; again; {
		again = false
		seen := 0
		for _, c := range host.GetCalloutAttributesFromContext(proxytest.PluginContextID) {
			if c.Upstream != "spendgate_ingest" {
				continue
			}
			seen++
			if seen <= answered[host] {
				continue
			}
			answered[host] = seen
			again = true
			if hv(c.Headers, "authorization") != "Bearer svc-token" || hv(c.Headers, ":path") != "/internal/v1/events" {
				t.Fatalf("ingest call headers %v", c.Headers)
			}
			var b struct{ Events []event.Event }
			if err := json.Unmarshal(c.Body, &b); err != nil {
				t.Fatalf("batch is not JSON: %v\n%s", err, c.Body)
			}
			out = append(out, b.Events)
			host.CallOnHttpCallResponse(c.CalloutID, [][2]string{{":status", status}}, nil, []byte(reply))
		}
	}
	return out
}

func TestAllowedStreamIsPassedThroughAndMetered(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := newHost(t, vm, testConfig)
		body := `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`
		id, called := send(t, host, req{path: "/v1/openai/chat/completions", key: "sg_abcd1234_secret", body: body,
			headers: [][2]string{{"x-spendgate-dim-team", "search"}}}, "200", answerJSON(allowAll()))
		if !called {
			t.Fatal("no policy call on a cold cache")
		}
		if host.GetSentLocalResponse(id) != nil {
			t.Fatalf("denied: %s", host.GetSentLocalResponse(id).Data)
		}
		hs := host.GetCurrentRequestHeaders(id)
		if hv(hs, "x-spendgate-key") != "" {
			t.Fatal("spendgate key forwarded upstream")
		}
		if hv(hs, "authorization") != "Bearer sk-provider" {
			t.Fatal("provider Authorization changed")
		}
		got := string(host.GetCurrentRequestBody(id))
		want := `{"stream_options":{"include_usage":true},` + body[1:]
		if got != want {
			t.Fatalf("injected body\n got  %s\n want %s", got, want)
		}
		sse, _ := os.ReadFile("../../meter/testdata/openai/chat_stream.sse")
		chunks := []string{string(sse[:50]), string(sse[50:333]), string(sse[333:])}
		respond(host, id, "text/event-stream", chunks...)
		// The emulator keeps the last chunk the filter let through: unchanged.
		if string(host.GetCurrentResponseBody(id)) != chunks[2] {
			t.Fatal("response body was modified")
		}
		batches := ingestBatches(t, host, "200")
		if len(batches) != 1 || len(batches[0]) != 1 {
			t.Fatalf("want one batch with one event, got %v", batches)
		}
		e := batches[0][0]
		if e.Type != event.TypeUsage || e.Source != event.SourceEnvoy || e.Provider != "openai" || e.ModelRequested != "gpt-4o-mini" ||
			e.ModelServed != "gpt-4o-mini-2024-07-18" || !e.Streaming || !e.Complete || e.StatusCode != 200 || e.RequestID != "req_abc" ||
			e.Usage.Input != 19 || e.Usage.Output != 10 || e.TenantID != allowAll().TenantID || e.Dimensions["team"] != "search" || e.Dimensions["env"] != "prod" {
			t.Fatalf("usage event %+v", e)
		}
		if v, _ := host.GetCounterMetric(MetricEventsSent); v != 1 {
			t.Fatalf("events sent metric %d", v)
		}
	})
}

func TestPolicyCache(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := newHost(t, vm, testConfig)
		r := req{path: "/v1/openai/chat/completions", key: "sg_abcd1234_secret", body: `{"model":"gpt-4o"}`}
		if _, called := send(t, host, r, "200", answerJSON(allowAll())); !called {
			t.Fatal("cold cache made no call")
		}
		id, called := send(t, host, r, "200", answerJSON(allowAll()))
		if called {
			t.Fatal("warm cache made a policy call")
		}
		if host.GetSentLocalResponse(id) != nil || host.GetCurrentHttpStreamAction(id) != types.ActionContinue {
			t.Fatal("cached allow not applied")
		}
		// Negative answers are cached too.
		bad := req{path: "/v1/openai/chat/completions", key: "sg_zzzz_unknown", body: `{"model":"gpt-4o"}`}
		id, _ = send(t, host, bad, "200", answerJSON(policy.Answer{Valid: false, Reason: "unknown_key"}))
		if lr := host.GetSentLocalResponse(id); lr == nil || lr.StatusCode != 401 {
			t.Fatalf("unknown key not denied: %+v", lr)
		}
		id, called = send(t, host, bad, "200", nil)
		if called {
			t.Fatal("negative answer not cached")
		}
		if lr := host.GetSentLocalResponse(id); lr == nil || lr.StatusCode != 401 {
			t.Fatal("cached negative answer not applied")
		}
	})
}

func TestDenials(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		restricted := allowAll()
		restricted.Policy.AllowedProviders = []string{"openai", "anthropic"}
		restricted.Policy.AllowedModels = []string{"gpt-4o*", "claude-*"}
		restricted.Policy.RequiredDimensions = []string{"team"}
		blocked := allowAll()
		blocked.Blocked = true
		unchecked := blocked // the control plane could not check the key's hard budget
		unchecked.BlockReason = event.DenialBudgetUnavailable
		tests := []struct {
			name   string
			r      req
			status string
			answer policy.Answer
			code   int
			reason string
			event  bool
			anthro bool
		}{
			{"missing key", req{path: "/v1/openai/chat/completions", body: `{"model":"gpt-4o"}`}, "200", allowAll(), 401, event.DenialMissingKey, false, false},
			{"unknown route", req{path: "/v2/nowhere", key: "k1", body: `{}`}, "200", allowAll(), 404, event.DenialUnknownRoute, false, false},
			{"revoked", req{path: "/v1/openai/chat/completions", key: "k2", body: `{"model":"gpt-4o"}`}, "200", policy.Answer{Valid: false, Reason: "key_revoked"}, 401, event.DenialKeyRevoked, false, false},
			{"unknown key", req{path: "/v1/anthropic/v1/messages", key: "k2b", body: `{"model":"claude-haiku-4-5"}`}, "200", policy.Answer{Valid: false, Reason: "unknown_key"}, 401, event.DenialUnknownKey, false, true},
			{"provider", req{path: "/v1/gemini/v1beta/models/gemini-2.5-pro:generateContent", key: "k3", body: `{"contents":[]}`, headers: [][2]string{{"x-spendgate-dim-team", "a"}}}, "200", restricted, 403, event.DenialProviderNotAllowed, true, false},
			{"model", req{path: "/v1/openai/chat/completions", key: "k4", body: `{"model":"o3"}`, headers: [][2]string{{"x-spendgate-dim-team", "a"}}}, "200", restricted, 403, event.DenialModelNotAllowed, true, false},
			{"dimension", req{path: "/v1/anthropic/v1/messages", key: "k5", body: `{"model":"claude-haiku-4-5"}`}, "200", restricted, 403, event.DenialMissingDimension, true, true},
			{"invalid dimension", req{path: "/v1/openai/chat/completions", key: "k6", body: `{"model":"gpt-4o"}`, headers: [][2]string{{"x-spendgate-dim-Bad Name", "a"}}}, "200", allowAll(), 400, event.DenialInvalidDimension, true, false},
			{"blocked", req{path: "/v1/openai/chat/completions", key: "k7", body: `{"model":"gpt-4o"}`}, "200", blocked, 429, event.DenialBudgetExceeded, true, false},
			{"budget unavailable", req{path: "/v1/openai/chat/completions", key: "k7b", body: `{"model":"gpt-4o"}`}, "200", unchecked, 503, event.DenialBudgetUnavailable, true, false},
			{"policy down", req{path: "/v1/openai/chat/completions", key: "k8", body: `{"model":"gpt-4o"}`}, "503", policy.Answer{}, 503, event.DenialAuthUnavailable, false, false},
			{"oversize body", req{path: "/v1/openai/chat/completions", key: "k9", body: `{"model":"` + strings.Repeat("x", 2000) + `"}`}, "200", allowAll(), 413, event.DenialBodyTooLarge, false, false},
			{"too many dimensions", req{path: "/v1/openai/chat/completions", key: "k10", body: `{"model":"gpt-4o"}`, headers: manyDims(17)}, "200", allowAll(), 400, event.DenialInvalidDimension, true, false},
			{"repeated model key", req{path: "/v1/openai/chat/completions", key: "k11", body: `{"model":"gpt-4o-mini","model":"o3"}`, headers: [][2]string{{"x-spendgate-dim-team", "a"}}}, "200", restricted, 403, event.DenialModelNotAllowed, true, false},
		}
		cfg := strings.Replace(testConfig, `"batch_max_events"`, `"max_request_body_bytes":1000,"batch_max_events"`, 1)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				host := newHost(t, vm, cfg)
				var ans []byte
				if tt.status == "200" {
					ans = answerJSON(tt.answer)
				}
				id, _ := send(t, host, tt.r, tt.status, ans)
				lr := host.GetSentLocalResponse(id)
				if lr == nil {
					t.Fatal("not denied")
				}
				if int(lr.StatusCode) != tt.code || hv(lr.Headers, "x-spendgate-denial") != tt.reason {
					t.Fatalf("status %d reason %q, want %d %q: %s", lr.StatusCode, hv(lr.Headers, "x-spendgate-denial"), tt.code, tt.reason, lr.Data)
				}
				var body map[string]any
				if err := json.Unmarshal(lr.Data, &body); err != nil {
					t.Fatalf("denial body not JSON: %s", lr.Data)
				}
				if tt.anthro && body["type"] != "error" {
					t.Fatalf("anthropic route got non-anthropic error body %s", lr.Data)
				}
				if !tt.anthro && body["error"] == nil {
					t.Fatalf("no error object: %s", lr.Data)
				}
				errObj, _ := body["error"].(map[string]any)
				if msg, _ := errObj["message"].(string); !strings.HasPrefix(msg, "spendgate: ") {
					t.Fatalf("no spendgate message: %s", lr.Data)
				}
				switch {
				case tt.anthro:
					if errObj["type"] == "" || errObj["type"] == nil {
						t.Fatalf("anthropic error without type: %s", lr.Data)
					}
				case strings.HasPrefix(tt.r.path, "/v1/gemini/"):
					if errObj["status"] == nil || errObj["code"] != float64(tt.code) {
						t.Fatalf("gemini error shape: %s", lr.Data)
					}
				default:
					if errObj["code"] != tt.reason {
						t.Fatalf("openai error code %v, want %s", errObj["code"], tt.reason)
					}
				}
				// SDKs retry 429s and 5xx unless told: only an unreachable
				// policy or budget service is worth another attempt.
				if want := strconv.FormatBool(tt.code == 503); hv(lr.Headers, "x-should-retry") != want {
					t.Fatalf("x-should-retry %q, want %s", hv(lr.Headers, "x-should-retry"), want)
				}
				if lr.StatusCode >= 400 && host.GetCurrentHttpStreamAction(id) == types.ActionContinue {
					t.Fatal("denied request continues upstream")
				}
				batches := ingestBatches(t, host, "200")
				if tt.event {
					if len(batches) != 1 || batches[0][0].Type != event.TypeDenial || batches[0][0].DenialReason != tt.reason || batches[0][0].TenantID == "" {
						t.Fatalf("denial event: %+v", batches)
					}
				} else if len(batches) != 0 {
					t.Fatalf("unattributable denial produced events: %+v", batches)
				}
			})
		}
	})
}

func manyDims(n int) [][2]string {
	var h [][2]string
	for i := 0; i < n; i++ {
		h = append(h, [2]string{"x-spendgate-dim-d" + strconv.Itoa(i), "v"})
	}
	return h
}

// TestPolicyServiceFailures: the policy endpoint answering an error, or an
// answer that is not the documented JSON, fails closed with a 503 in the
// provider's shape (no event: no tenant is known) and is not cached.
func TestPolicyServiceFailures(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		for _, tt := range []struct {
			name, status, answer string
		}{
			{"server error", "500", `oops`},
			{"unauthorized service token", "401", `{"error":"bad token"}`},
			{"malformed answer", "200", `{"valid":true}`},
			{"not json", "200", `<html>`},
		} {
			t.Run(tt.name, func(t *testing.T) {
				host := newHost(t, vm, testConfig)
				r := req{path: "/v1/anthropic/v1/messages", key: "k", body: `{"model":"claude-haiku-4-5"}`}
				id, _ := send(t, host, r, tt.status, []byte(tt.answer))
				lr := host.GetSentLocalResponse(id)
				if lr == nil || lr.StatusCode != 503 || hv(lr.Headers, "x-spendgate-denial") != event.DenialAuthUnavailable || !strings.Contains(string(lr.Data), `"overloaded_error"`) {
					t.Fatalf("want a 503 anthropic-shaped denial, got %+v", lr)
				}
				if v, _ := host.GetCounterMetric(MetricAuthFailures); v != 1 {
					t.Fatalf("auth failures metric %d", v)
				}
				if _, called := send(t, host, r, "200", answerJSON(allowAll())); !called {
					t.Fatal("a failed policy answer was cached")
				}
				if b := ingestBatches(t, host, "200"); len(b) != 0 && b[0][0].Type == event.TypeDenial {
					t.Fatalf("denial event without a tenant: %+v", b)
				}
			})
		}
	})
}

func TestFailOpen(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := newHost(t, vm, strings.Replace(testConfig, `{`, `{"fail_open":true,`, 1))
		id, _ := send(t, host, req{path: "/v1/openai/chat/completions", key: "k", body: `{"model":"gpt-4o"}`}, "500", nil)
		if host.GetSentLocalResponse(id) != nil {
			t.Fatal("fail-open denied the request")
		}
		respond(host, id, "application/json", `{"model":"gpt-4o","usage":{"prompt_tokens":1,"completion_tokens":1}}`)
		if v, _ := host.GetCounterMetric(MetricFailOpen); v != 1 {
			t.Fatalf("fail-open counter %d", v)
		}
		if b := ingestBatches(t, host, "200"); len(b) != 0 {
			t.Fatal("unattributed request produced an event")
		}
	})
}

func TestIngestFailureRetriesWithoutAffectingTraffic(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := newHost(t, vm, testConfig)
		r := req{path: "/v1/anthropic/v1/messages", key: "k", body: `{"model":"claude-haiku-4-5","max_tokens":10}`}
		id, _ := send(t, host, r, "200", answerJSON(allowAll()))
		msg, _ := os.ReadFile("../../meter/testdata/anthropic/message.json")
		respond(host, id, "application/json", string(msg))
		first := ingestBatches(t, host, "503") // ingest down
		if len(first) != 1 {
			t.Fatalf("batches %v", first)
		}
		// Traffic keeps flowing while ingest is down.
		id2, _ := send(t, host, r, "200", nil)
		if host.GetSentLocalResponse(id2) != nil || host.GetCurrentHttpStreamAction(id2) != types.ActionContinue {
			t.Fatal("request blocked while ingest is down")
		}
		respond(host, id2, "application/json", string(msg))
		// The failure backs off one flush tick, then the retry carries both.
		if b := ingestBatches(t, host, "200"); len(b) != 0 {
			t.Fatalf("retried without backing off: %v", b)
		}
		second := ingestBatches(t, host, "200")
		if len(second) != 1 || len(second[0]) != 2 || second[0][0].EventID != first[0][0].EventID {
			t.Fatalf("retry batch %+v", second)
		}
		if second[0][0].Usage.CachedInput != 100000 || second[0][0].Usage.Output != 503 {
			t.Fatalf("anthropic usage %+v", second[0][0].Usage)
		}
		if v, _ := host.GetCounterMetric(MetricIngestFailures); v != 1 {
			t.Fatalf("ingest failures metric %d", v)
		}
	})
}

// TestBatchingAndBound: batches go out when full (checked every 100 ms) or
// once per flush interval; events past the buffer bound (pending plus in
// flight) are dropped and counted, and traffic never waits.
func TestBatchingAndBound(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := newHost(t, vm, strings.Replace(testConfig, `"flush_interval_ms":100,"batch_max_events":50,"max_buffered_events":100`,
			`"flush_interval_ms":60000,"batch_max_events":2,"max_buffered_events":5`, 1))
		if p := host.GetTickPeriod(); p != 100 {
			t.Fatalf("tick period %d ms, want 100", p)
		}
		r := req{path: "/v1/openai/embeddings", key: "k", body: `{"model":"text-embedding-3-small","input":"x"}`}
		call := func() {
			t.Helper()
			id, _ := send(t, host, r, "200", answerJSON(allowAll()))
			if host.GetSentLocalResponse(id) != nil || host.GetCurrentHttpStreamAction(id) != types.ActionContinue {
				t.Fatal("request held up")
			}
			respond(host, id, "application/json", `{"object":"list","data":[],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}`)
		}
		call()
		host.Tick()
		if n := ingestCalls(host); n != 0 {
			t.Fatalf("a lone event was sent %d times before the flush interval", n)
		}
		call()
		host.Tick() // the batch is full: sent on this tick, long before the interval
		if n := ingestCalls(host); n != 1 {
			t.Fatalf("want 1 size-triggered batch, got %d", n)
		}
		// Nothing answers: the 2 in flight count against the bound of 5, so of
		// 6 more events 3 are kept and 3 dropped.
		for i := 0; i < 6; i++ {
			call()
		}
		if v, _ := host.GetCounterMetric(MetricEventsDropped); v != 3 {
			t.Fatalf("dropped %d events, want 3", v)
		}
	})
}

// ingestCalls counts the batches dispatched to ingest so far.
func ingestCalls(host proxytest.HostEmulator) int {
	n := 0
	for _, c := range host.GetCalloutAttributesFromContext(proxytest.PluginContextID) {
		if c.Upstream == "spendgate_ingest" {
			n++
		}
	}
	return n
}

func TestClientDisconnectMarksIncomplete(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := newHost(t, vm, testConfig)
		id, _ := send(t, host, req{path: "/v1/openai/chat/completions", key: "k", body: `{"model":"gpt-4o","stream":true}`}, "200", answerJSON(allowAll()))
		host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"content-type", "text/event-stream"}}, false)
		host.CallOnResponseBody(id, []byte("data: {\"model\":\"gpt-4o\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n"), false)
		host.CompleteHttpContext(id) // stream reset before the end
		b := ingestBatches(t, host, "200")
		if len(b) != 1 || b[0][0].Complete {
			t.Fatalf("want an incomplete usage event, got %+v", b)
		}
	})
}

// TestStreamCompleteOnceItsFinalEventPassed: an SDK hangs up as soon as it
// reads [DONE], so the stream can end before the upstream's end of body
// reaches the filter. A stream whose final event went through is complete
// (as in the gateway); a JSON body whose end never came is not, even when
// what arrived parses.
func TestStreamCompleteOnceItsFinalEventPassed(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := newHost(t, vm, testConfig)
		id, _ := send(t, host, req{path: "/v1/openai/chat/completions", key: "k", body: `{"model":"gpt-4o","stream":true}`}, "200", answerJSON(allowAll()))
		host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"content-type", "text/event-stream"}, {"request-id", "req_b"}, {"x-request-id", "req_a"}}, false)
		host.CallOnResponseBody(id, []byte("data: {\"model\":\"gpt-4o\",\"choices\":[{\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\n"+
			"data: {\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n"), false)
		host.CompleteHttpContext(id) // the client left before the end of body arrived

		id2, _ := send(t, host, req{path: "/v1/openai/chat/completions", key: "k", body: `{"model":"gpt-4o"}`}, "200", nil)
		host.CallOnResponseHeaders(id2, [][2]string{{":status", "200"}, {"content-type", "application/json"}}, false)
		host.CallOnResponseBody(id2, []byte(chatAnswer(5, 5)), false)
		host.CompleteHttpContext(id2)

		b := ingestBatches(t, host, "200")
		if len(b) != 1 || len(b[0]) != 2 {
			t.Fatalf("batches %+v", b)
		}
		stream, cut := b[0][0], b[0][1]
		if !stream.Complete || stream.Usage != (usage.Tokens{Input: 7, Output: 3}) || stream.RequestID != "req_a" {
			t.Fatalf("stream past [DONE]: complete=%v usage=%+v request id %q, want complete with 7+3 and x-request-id req_a",
				stream.Complete, stream.Usage, stream.RequestID)
		}
		if cut.Complete || cut.Usage != (usage.Tokens{Input: 5, Output: 5}) {
			t.Fatalf("JSON body without its end: complete=%v usage=%+v, want incomplete with the usage seen", cut.Complete, cut.Usage)
		}
	})
}

func TestBadConfigFailsStart(t *testing.T) {
	opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{}).WithPluginConfiguration([]byte(`{"fail_opne":true}`))
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()
	if st := host.StartPlugin(); st != types.OnPluginStartStatusFailed {
		t.Fatalf("bad config started: %v", st)
	}
}

// TestIngestRefusalsAreNotRetried: a 200 answer listing rejected events and a
// 4xx refusing the batch are counted and logged, and the events are not sent
// again (they could never succeed); traffic is unaffected throughout.
func TestIngestRefusalsAreNotRetried(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := newHost(t, vm, testConfig)
		r := req{path: "/v1/anthropic/v1/messages", key: "k", body: `{"model":"claude-haiku-4-5","max_tokens":10}`}
		msg, _ := os.ReadFile("../../meter/testdata/anthropic/message.json")
		id, _ := send(t, host, r, "200", answerJSON(allowAll()))
		respond(host, id, "application/json", string(msg))
		b := ingestBatchesReply(t, host, "200", `{"accepted":0,"duplicates":0,"rejected":[{"index":0,"error":"not a valid event: bad"}]}`)
		if len(b) != 1 || len(b[0]) != 1 {
			t.Fatalf("batches %v", b)
		}
		if v, _ := host.GetCounterMetric(MetricEventsRejected); v != 1 {
			t.Fatalf("rejected metric %d", v)
		}
		if v, _ := host.GetCounterMetric(MetricEventsSent); v != 0 {
			t.Fatalf("sent metric %d", v)
		}

		id2, _ := send(t, host, r, "200", nil)
		respond(host, id2, "application/json", string(msg))
		if b := ingestBatches(t, host, "413"); len(b) != 1 || len(b[0]) != 1 {
			t.Fatalf("second batch %v (the rejected event must not come back)", b)
		}
		if v, _ := host.GetCounterMetric(MetricEventsDropped); v != 1 {
			t.Fatalf("dropped metric %d", v)
		}
		if v, _ := host.GetCounterMetric(MetricIngestFailures); v != 1 {
			t.Fatalf("ingest failures metric %d", v)
		}
		// Nothing is pending any more: the next tick sends nothing.
		if b := ingestBatches(t, host, "200"); len(b) != 0 {
			t.Fatalf("refused batch was retried: %v", b)
		}
	})
}

// TestRequestBodiesUntouchedWithoutInjection: with injection off, or when the
// request already asks for usage, or for non-streaming and non-OpenAI-style
// calls, the request body reaches the provider byte for byte.
func TestRequestBodiesUntouchedWithoutInjection(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		on := testConfig
		off := strings.Replace(testConfig, `{`, `{"inject_stream_usage":false,`, 1)
		tests := []struct {
			name, cfg, path, body string
		}{
			{"injection off", off, "/v1/openai/chat/completions", `{"model":"gpt-4o","stream":true,"messages":[]}`},
			{"already asks", on, "/v1/openai/chat/completions", `{ "model":"gpt-4o", "stream":true, "stream_options":{"include_usage":true} }`},
			{"not streaming", on, "/v1/groq/chat/completions", `{"model":"llama-3.3-70b-versatile","stream":false}`},
			{"anthropic stream", on, "/v1/anthropic/v1/messages", `{"model":"claude-haiku-4-5","stream":true,"max_tokens":5}`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				host := newHost(t, vm, tt.cfg)
				id, _ := send(t, host, req{path: tt.path, key: "k", body: tt.body}, "200", answerJSON(allowAll()))
				if lr := host.GetSentLocalResponse(id); lr != nil {
					t.Fatalf("denied: %s", lr.Data)
				}
				if got := string(host.GetCurrentRequestBody(id)); got != tt.body {
					t.Fatalf("body changed\n got  %s\n want %s", got, tt.body)
				}
			})
		}
	})
}

// TestIngestDownBacksOffAndLosesNothing: while ingest fails, deliveries back
// off exponentially (one probe batch at a time), traffic is unaffected, and
// once ingest answers again every buffered event arrives exactly once.
func TestIngestDownBacksOffAndLosesNothing(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := newHost(t, vm, strings.Replace(testConfig, `"batch_max_events":50`, `"max_retry_interval_ms":800,"batch_max_events":2`, 1))
		r := req{path: "/v1/openai/embeddings", key: "k", body: `{"model":"text-embedding-3-small","input":"x"}`}
		sendOne := func() {
			id, _ := send(t, host, r, "200", answerJSON(allowAll()))
			if host.GetSentLocalResponse(id) != nil || host.GetCurrentHttpStreamAction(id) != types.ActionContinue {
				t.Fatal("request blocked while ingest is down")
			}
			respond(host, id, "application/json", `{"object":"list","data":[],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}`)
		}
		sent := map[string]int{}
		calls := 0
		for tick := 0; tick < 40; tick++ {
			sendOne()
			for _, b := range ingestBatches(t, host, "503") {
				calls++
				if len(b) > 2 {
					t.Fatalf("batch of %d events, limit 2", len(b))
				}
			}
		}
		// 40 flush ticks with back-off 1, 2, 4, 8 ticks (capped at 800 ms): about
		// seven probes,
		// where retrying every pending batch on every tick would take hundreds.
		if calls > 12 {
			t.Fatalf("%d ingest calls in 40 ticks while ingest was down", calls)
		}
		if v, _ := host.GetCounterMetric(MetricEventsDropped); v != 0 {
			t.Fatalf("%d events dropped within the buffer bound", v)
		}
		// Ingest is back: within the back-off cap everything arrives.
		for tick := 0; tick < 10; tick++ {
			for _, b := range ingestBatches(t, host, "200") {
				for _, e := range b {
					sent[e.EventID]++
				}
			}
		}
		if len(sent) != 40 {
			t.Fatalf("%d of 40 events delivered after recovery", len(sent))
		}
		for id, n := range sent {
			if n != 1 {
				t.Fatalf("event %s delivered %d times after a success", id, n)
			}
		}
	})
}

// TestPolicyCacheTTL: positive answers live for cache_ttl_seconds (or the
// answer's shorter hint), negative ones for negative_cache_ttl_seconds; an
// expired entry makes the filter ask the policy endpoint again.
func TestPolicyCacheTTL(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := newHost(t, vm, strings.Replace(testConfig, `{`, `{"cache_ttl_seconds":120,"negative_cache_ttl_seconds":7,`, 1))
		expiry := func(key string, negative bool) time.Time {
			t.Helper()
			k := dataplane.PolicyCacheKey(key)
			name := k.Name
			if negative {
				name = k.Negative
			}
			data, _, err := proxywasm.GetSharedData(name)
			if err != nil || len(data) < 8+16 {
				t.Fatalf("no cache entry for %s: %v", key, err)
			}
			return dataplane.EntryExpiry(data)
		}
		// The entries are written moments apart by the plugin's clock (the
		// host's: real time natively, wazero's under wasm), so their expiries
		// differ by the differences of their TTLs.
		near := func(got, want time.Duration) bool { return got > want-5*time.Second && got < want+5*time.Second }
		r := req{path: "/v1/openai/chat/completions", key: "sg_ttl_positive", body: `{"model":"gpt-4o"}`}
		long := allowAll()
		long.CacheTTLSeconds = 600 // longer than the configured 120: the config caps it
		send(t, host, r, "200", answerJSON(long))
		hinted := req{path: r.path, key: "sg_ttl_hint", body: r.body}
		short := allowAll()
		short.CacheTTLSeconds = 45 // the answer's own hint shortens it
		send(t, host, hinted, "200", answerJSON(short))
		unknown := req{path: r.path, key: "sg_ttl_unknown", body: r.body}
		send(t, host, unknown, "200", answerJSON(policy.Answer{Valid: false, Reason: "unknown_key", CacheTTLSeconds: 300}))
		if got := expiry(r.key, false).Sub(expiry(hinted.key, false)); !near(got, 120*time.Second-45*time.Second) {
			t.Fatalf("positive entry outlives the hinted one by %v, want 120s-45s", got)
		}
		if got := expiry(hinted.key, false).Sub(expiry(unknown.key, true)); !near(got, 45*time.Second-7*time.Second) {
			t.Fatalf("hinted entry outlives the negative one by %v, want 45s-7s", got)
		}

		// Age the positive entry past its expiry: the next call asks again.
		k := dataplane.PolicyCacheKey(r.key)
		data, cas, _ := proxywasm.GetSharedData(k.Name)
		aged := append([]byte(nil), data...)
		binary.BigEndian.PutUint64(aged, 0) // expired in 1970, whatever the clock
		if err := proxywasm.SetSharedData(k.Name, aged, cas); err != nil {
			t.Fatal(err)
		}
		if _, called := send(t, host, r, "200", answerJSON(allowAll())); !called {
			t.Fatal("expired positive entry was used")
		}
		if _, called := send(t, host, r, "200", nil); called {
			t.Fatal("refreshed entry not used")
		}
	})
}

// TestNegativeCacheIsBounded: unknown keys share a fixed set of slots, so a
// flood of random keys cannot grow the proxy's shared data; a key whose slot
// another key took over is asked again, never given the other key's answer.
func TestNegativeCacheIsBounded(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		a := dataplane.PolicyCacheKey("sg_unknown_a")
		var b dataplane.CacheKey
		var bKey string
		for i := 0; ; i++ {
			bKey = "sg_unknown_" + strconv.Itoa(i)
			if b = dataplane.PolicyCacheKey(bKey); b.Negative == a.Negative && bKey != "sg_unknown_a" {
				break
			}
		}
		if !strings.HasPrefix(a.Negative, "spendgate.policy.negative.") {
			t.Fatalf("negative slot name %s", a.Negative)
		}
		slots := map[string]bool{}
		for i := 0; i < 100000; i++ {
			slots[dataplane.PolicyCacheKey("sg_"+strconv.Itoa(i)).Negative] = true
		}
		if len(slots) > dataplane.NegativeCacheSlots {
			t.Fatalf("%d negative slots, bound %d", len(slots), dataplane.NegativeCacheSlots)
		}

		host := newHost(t, vm, testConfig)
		body := `{"model":"gpt-4o"}`
		revoked := policy.Answer{Valid: false, Reason: "key_revoked"}
		id, _ := send(t, host, req{path: "/v1/openai/chat/completions", key: "sg_unknown_a", body: body}, "200", answerJSON(revoked))
		if lr := host.GetSentLocalResponse(id); lr == nil || hv(lr.Headers, "x-spendgate-denial") != event.DenialKeyRevoked {
			t.Fatal("revoked key not denied")
		}
		// b takes over a's slot with a different answer.
		id, _ = send(t, host, req{path: "/v1/openai/chat/completions", key: bKey, body: body}, "200", answerJSON(policy.Answer{Valid: false, Reason: "unknown_key"}))
		if lr := host.GetSentLocalResponse(id); lr == nil || hv(lr.Headers, "x-spendgate-denial") != event.DenialUnknownKey {
			t.Fatal("unknown key not denied")
		}
		// a is a miss now (its entry is gone), not b's answer.
		id, called := send(t, host, req{path: "/v1/openai/chat/completions", key: "sg_unknown_a", body: body}, "200", answerJSON(revoked))
		if !called {
			t.Fatal("a key answered from another key's cache entry")
		}
		if lr := host.GetSentLocalResponse(id); lr == nil || hv(lr.Headers, "x-spendgate-denial") != event.DenialKeyRevoked {
			t.Fatal("revoked key not denied after re-asking")
		}
	})
}

// TestResponsesAreMeteredUncompressed: the provider must answer in identity
// encoding for its usage to be read, so the filter drops Accept-Encoding on
// metered routes (and only there); everything else in the request passes.
func TestResponsesAreMeteredUncompressed(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := newHost(t, vm, testConfig)
		gz := [][2]string{{"accept-encoding", "gzip, deflate, br"}, {"x-stainless-lang", "python"}}
		id, _ := send(t, host, req{path: "/v1/openai/chat/completions", key: "k", body: `{"model":"gpt-4o"}`, headers: gz}, "200", answerJSON(allowAll()))
		hs := host.GetCurrentRequestHeaders(id)
		if hv(hs, "accept-encoding") != "" || hv(hs, "x-stainless-lang") != "python" || hv(hs, "authorization") != "Bearer sk-provider" {
			t.Fatalf("forwarded headers %v", hs)
		}
		id, _ = send(t, host, req{path: "/v1/openai/models", key: "k", headers: gz}, "200", nil)
		if hv(host.GetCurrentRequestHeaders(id), "accept-encoding") != "gzip, deflate, br" {
			t.Fatal("accept-encoding dropped on an unmetered route")
		}
	})
}

// TestInjectionUpdatesContentLength: the injected body's size replaces a
// Content-Length the client sent; a chunked request gets none.
func TestInjectionUpdatesContentLength(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := newHost(t, vm, testConfig)
		body := `{"model":"gpt-4o-mini","stream":true,"messages":[]}`
		id, _ := send(t, host, req{path: "/v1/openai/chat/completions", key: "k", body: body,
			headers: [][2]string{{"content-length", strconv.Itoa(len(body))}}}, "200", answerJSON(allowAll()))
		got := host.GetCurrentRequestBody(id)
		if !strings.Contains(string(got), `"include_usage":true`) || hv(host.GetCurrentRequestHeaders(id), "content-length") != strconv.Itoa(len(got)) {
			t.Fatalf("body %s with content-length %s", got, hv(host.GetCurrentRequestHeaders(id), "content-length"))
		}
		id, _ = send(t, host, req{path: "/v1/openai/chat/completions", key: "k", body: body,
			headers: [][2]string{{"transfer-encoding", "chunked"}}}, "200", nil)
		if cl := hv(host.GetCurrentRequestHeaders(id), "content-length"); cl != "" || !strings.Contains(string(host.GetCurrentRequestBody(id)), `"include_usage":true`) {
			t.Fatalf("chunked request got content-length %q", cl)
		}
	})
}

// TestProviderStreamsPassThroughAndAreMetered runs real stream captures of
// each API style through the filter in small chunks: every chunk leaves the
// filter unchanged, and the usage event carries the capture's usage. The
// requests arrive by prefix and by the provider's own Host.
func TestProviderStreamsPassThroughAndAreMetered(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		tests := []struct {
			name, authority, path, body, capture string
			want                                 usage.Tokens
			model                                string
		}{
			{"anthropic", "gateway.local", "/v1/anthropic/v1/messages", `{"model":"claude-haiku-4-5","max_tokens":100,"stream":true}`,
				"anthropic/stream_cache.sse", usage.Tokens{Input: 25, CachedInput: 10000, CacheWrite5m: 500, CacheWrite1h: 1500, Output: 15}, "claude-haiku-4-5-20251001"},
			{"gemini by host", "generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", `{"contents":[]}`,
				"gemini/stream.sse", usage.Tokens{Input: 9, Output: 13, Reasoning: 511}, "gemini-2.5-pro"},
			{"responses", "gateway.local", "/v1/openai/responses", `{"model":"gpt-5","stream":true,"input":"hi"}`,
				"openai/responses_stream.sse", usage.Tokens{Input: 200, CachedInput: 128, Output: 32, Reasoning: 20}, "gpt-5-2025-08-07"},
			{"groq by host", "api.groq.com", "/openai/v1/chat/completions", `{"model":"llama-3.3-70b-versatile","stream":true,"stream_options":{"include_usage":true}}`,
				"groq/stream_xgroq.sse", usage.Tokens{Input: 48, Output: 73}, "llama-3.3-70b-versatile"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				host := newHost(t, vm, testConfig)
				id := newContext(host)
				hs := [][2]string{{":method", "POST"}, {":path", tt.path}, {":authority", tt.authority}, {"x-spendgate-key", "k"}, {"content-type", "application/json"}}
				host.CallOnRequestHeaders(id, hs, false)
				host.CallOnRequestBody(id, []byte(tt.body), true)
				for _, c := range host.GetCalloutAttributesFromContext(id) {
					host.CallOnHttpCallResponse(c.CalloutID, [][2]string{{":status", "200"}}, nil, answerJSON(allowAll()))
				}
				if lr := host.GetSentLocalResponse(id); lr != nil {
					t.Fatalf("denied: %s", lr.Data)
				}
				if got := string(host.GetCurrentRequestBody(id)); got != tt.body {
					t.Fatalf("request body changed: %s", got)
				}
				sse, err := os.ReadFile("../../meter/testdata/" + tt.capture)
				if err != nil {
					t.Fatal(err)
				}
				host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"content-type", "text/event-stream; charset=utf-8"}, {"request-id", "req_x"}}, false)
				for i := 0; i < len(sse); i += 37 {
					chunk := sse[i:min(len(sse), i+37)]
					if act := host.CallOnResponseBody(id, chunk, i+37 >= len(sse)); act != types.ActionContinue {
						t.Fatalf("chunk at %d held back: %v", i, act)
					}
					if got := host.GetCurrentResponseBody(id); string(got) != string(chunk) {
						t.Fatalf("chunk at %d changed:\n got  %q\n want %q", i, got, chunk)
					}
				}
				host.CompleteHttpContext(id)
				b := ingestBatches(t, host, "200")
				if len(b) != 1 || len(b[0]) != 1 {
					t.Fatalf("batches %v", b)
				}
				e := b[0][0]
				if e.Usage != tt.want || e.ModelServed != tt.model || !e.Complete || !e.Streaming || e.RequestID != "req_x" || e.StatusCode != 200 || !event.IsUUID(e.EventID) {
					t.Fatalf("usage event %+v", e)
				}
			})
		}
	})
}
