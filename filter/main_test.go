package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/policy"
)

const testConfig = `{"service_token":"svc-token","policy_cluster":"spendgate_api","ingest_cluster":"spendgate_ingest","batch_max_events":50,"max_buffered_events":100}`

func newHost(t *testing.T, cfg string) proxytest.HostEmulator {
	t.Helper()
	opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{}).WithPluginConfiguration([]byte(cfg))
	host, reset := proxytest.NewHostEmulator(opt)
	t.Cleanup(reset)
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
	id := host.InitializeHttpContext()
	hasBody := r.body != ""
	act := host.CallOnRequestHeaders(id, r.headerList(), !hasBody)
	if hasBody && act == types.ActionPause && host.GetSentLocalResponse(id) == nil {
		host.CallOnRequestBody(id, []byte(r.body), true)
	}
	called := false
	for _, c := range host.GetCalloutAttributesFromContext(id) {
		if c.Upstream != "spendgate_api" {
			continue
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

// answered counts the plugin context's ingest callouts already answered, per
// emulator: the emulator lists every callout it has seen and reuses ids.
var answered = map[proxytest.HostEmulator]int{}

// ingestBatches flushes and returns the events of every new batch sent to
// ingest (answering each with status).
func ingestBatches(t *testing.T, host proxytest.HostEmulator, status string) [][]event.Event {
	t.Helper()
	return ingestBatchesReply(t, host, status, `{"accepted":1,"duplicates":0,"rejected":[]}`)
}

func ingestBatchesReply(t *testing.T, host proxytest.HostEmulator, status, reply string) [][]event.Event {
	t.Helper()
	host.Tick()
	var out [][]event.Event
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
	return out
}

func TestAllowedStreamIsPassedThroughAndMetered(t *testing.T) {
	host := newHost(t, testConfig)
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
	sse, _ := os.ReadFile("../meter/testdata/openai/chat_stream.sse")
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
	if v, _ := host.GetCounterMetric(metricEventsSent); v != 1 {
		t.Fatalf("events sent metric %d", v)
	}
}

func TestPolicyCache(t *testing.T) {
	host := newHost(t, testConfig)
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
}

func TestDenials(t *testing.T) {
	restricted := allowAll()
	restricted.Policy.AllowedProviders = []string{"openai", "anthropic"}
	restricted.Policy.AllowedModels = []string{"gpt-4o*", "claude-*"}
	restricted.Policy.RequiredDimensions = []string{"team"}
	blocked := allowAll()
	blocked.Blocked = true
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
		{"policy down", req{path: "/v1/openai/chat/completions", key: "k8", body: `{"model":"gpt-4o"}`}, "503", policy.Answer{}, 503, event.DenialAuthUnavailable, false, false},
		{"oversize body", req{path: "/v1/openai/chat/completions", key: "k9", body: `{"model":"` + strings.Repeat("x", 2000) + `"}`}, "200", allowAll(), 413, event.DenialBodyTooLarge, false, false},
	}
	cfg := strings.Replace(testConfig, `"batch_max_events"`, `"max_request_body_bytes":1000,"batch_max_events"`, 1)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := newHost(t, cfg)
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
}

func TestFailOpen(t *testing.T) {
	host := newHost(t, strings.Replace(testConfig, `{`, `{"fail_open":true,`, 1))
	id, _ := send(t, host, req{path: "/v1/openai/chat/completions", key: "k", body: `{"model":"gpt-4o"}`}, "500", nil)
	if host.GetSentLocalResponse(id) != nil {
		t.Fatal("fail-open denied the request")
	}
	respond(host, id, "application/json", `{"model":"gpt-4o","usage":{"prompt_tokens":1,"completion_tokens":1}}`)
	if v, _ := host.GetCounterMetric(metricFailOpen); v != 1 {
		t.Fatalf("fail-open counter %d", v)
	}
	if b := ingestBatches(t, host, "200"); len(b) != 0 {
		t.Fatal("unattributed request produced an event")
	}
}

func TestIngestFailureRetriesWithoutAffectingTraffic(t *testing.T) {
	host := newHost(t, testConfig)
	r := req{path: "/v1/anthropic/v1/messages", key: "k", body: `{"model":"claude-haiku-4-5","max_tokens":10}`}
	id, _ := send(t, host, r, "200", answerJSON(allowAll()))
	msg, _ := os.ReadFile("../meter/testdata/anthropic/message.json")
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
	second := ingestBatches(t, host, "200")
	if len(second) != 1 || len(second[0]) != 2 || second[0][0].EventID != first[0][0].EventID {
		t.Fatalf("retry batch %+v", second)
	}
	if second[0][0].Usage.CachedInput != 100000 || second[0][0].Usage.Output != 503 {
		t.Fatalf("anthropic usage %+v", second[0][0].Usage)
	}
	if v, _ := host.GetCounterMetric(metricIngestFailures); v != 1 {
		t.Fatalf("ingest failures metric %d", v)
	}
}

func TestBatchingAndBound(t *testing.T) {
	host := newHost(t, strings.Replace(testConfig, `"batch_max_events":50,"max_buffered_events":100`, `"batch_max_events":2,"max_buffered_events":3`, 1))
	r := req{path: "/v1/openai/embeddings", key: "k", body: `{"model":"text-embedding-3-small","input":"x"}`}
	var ids []uint32
	for i := 0; i < 6; i++ {
		id, _ := send(t, host, r, "200", answerJSON(allowAll()))
		respond(host, id, "application/json", `{"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}`)
		ids = append(ids, id)
	}
	// A batch of 2 went out on size, without a tick, from the request that
	// filled it; nothing answered it yet, so in-flight events count against
	// the bound of 3 and later events were dropped.
	var calls int
	for _, id := range ids {
		for _, c := range host.GetCalloutAttributesFromContext(id) {
			if c.Upstream == "spendgate_ingest" {
				calls++
			}
		}
	}
	if calls != 1 {
		t.Fatalf("want 1 size-triggered batch, got %d", calls)
	}
	if v, _ := host.GetCounterMetric(metricEventsDropped); v == 0 {
		t.Fatal("no drops counted past the buffer bound")
	}
}

func TestClientDisconnectMarksIncomplete(t *testing.T) {
	host := newHost(t, testConfig)
	id, _ := send(t, host, req{path: "/v1/openai/chat/completions", key: "k", body: `{"model":"gpt-4o","stream":true}`}, "200", answerJSON(allowAll()))
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"content-type", "text/event-stream"}}, false)
	host.CallOnResponseBody(id, []byte("data: {\"model\":\"gpt-4o\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n"), false)
	host.CompleteHttpContext(id) // stream reset before the end
	b := ingestBatches(t, host, "200")
	if len(b) != 1 || b[0][0].Complete {
		t.Fatalf("want an incomplete usage event, got %+v", b)
	}
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
	host := newHost(t, testConfig)
	r := req{path: "/v1/anthropic/v1/messages", key: "k", body: `{"model":"claude-haiku-4-5","max_tokens":10}`}
	msg, _ := os.ReadFile("../meter/testdata/anthropic/message.json")
	id, _ := send(t, host, r, "200", answerJSON(allowAll()))
	respond(host, id, "application/json", string(msg))
	b := ingestBatchesReply(t, host, "200", `{"accepted":0,"duplicates":0,"rejected":[{"index":0,"error":"not a valid event: bad"}]}`)
	if len(b) != 1 || len(b[0]) != 1 {
		t.Fatalf("batches %v", b)
	}
	if v, _ := host.GetCounterMetric(metricEventsRejected); v != 1 {
		t.Fatalf("rejected metric %d", v)
	}
	if v, _ := host.GetCounterMetric(metricEventsSent); v != 0 {
		t.Fatalf("sent metric %d", v)
	}

	id2, _ := send(t, host, r, "200", nil)
	respond(host, id2, "application/json", string(msg))
	if b := ingestBatches(t, host, "413"); len(b) != 1 || len(b[0]) != 1 {
		t.Fatalf("second batch %v (the rejected event must not come back)", b)
	}
	if v, _ := host.GetCounterMetric(metricEventsDropped); v != 1 {
		t.Fatalf("dropped metric %d", v)
	}
	if v, _ := host.GetCounterMetric(metricIngestFailures); v != 1 {
		t.Fatalf("ingest failures metric %d", v)
	}
	// Nothing is pending any more: the next tick sends nothing.
	if b := ingestBatches(t, host, "200"); len(b) != 0 {
		t.Fatalf("refused batch was retried: %v", b)
	}
}

// TestRequestBodiesUntouchedWithoutInjection: with injection off, or when the
// request already asks for usage, or for non-streaming and non-OpenAI-style
// calls, the request body reaches the provider byte for byte.
func TestRequestBodiesUntouchedWithoutInjection(t *testing.T) {
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
			host := newHost(t, tt.cfg)
			id, _ := send(t, host, req{path: tt.path, key: "k", body: tt.body}, "200", answerJSON(allowAll()))
			if lr := host.GetSentLocalResponse(id); lr != nil {
				t.Fatalf("denied: %s", lr.Data)
			}
			if got := string(host.GetCurrentRequestBody(id)); got != tt.body {
				t.Fatalf("body changed\n got  %s\n want %s", got, tt.body)
			}
		})
	}
}
