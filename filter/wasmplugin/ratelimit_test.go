package wasmplugin

import (
	"encoding/json"
	"errors"
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

// clock is the time the plugin reads for rate limit windows; tests move it.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newClock() *clock { return &clock{t: time.Date(2026, 11, 3, 12, 0, 10, 0, time.UTC)} }

// newHostVM is newHost with a VM context of the test's choosing.
func newHostVM(t *testing.T, cfg string, vm *vmContext) proxytest.HostEmulator {
	t.Helper()
	opt := proxytest.NewEmulatorOption().WithVMContext(vm).WithPluginConfiguration([]byte(cfg))
	host, reset := proxytest.NewHostEmulator(opt)
	t.Cleanup(reset)
	if st := host.StartPlugin(); st != types.OnPluginStartStatusOK {
		t.Fatalf("plugin did not start: %v", st)
	}
	return host
}

// rateConfig keeps policy answers for an hour: the tests move the clock
// across minutes and the cached answer must keep the limits.
var rateConfig = strings.Replace(testConfig, `{`, `{"cache_ttl_seconds":3600,`, 1)

func limited(rpm int, tpm int64) policy.Answer {
	a := allowAll()
	a.CacheTTLSeconds = 3600
	a.Policy.RequestsPerMinute, a.Policy.TokensPerMinute = rpm, tpm
	return a
}

var (
	openAICall    = req{path: "/v1/openai/chat/completions", key: "sg_limited", body: `{"model":"gpt-4o-mini"}`, headers: [][2]string{{"x-spendgate-dim-team", "search"}}}
	anthropicCall = req{path: "/v1/anthropic/v1/messages", key: "sg_limited", body: `{"model":"claude-haiku-4-5","max_tokens":10}`}
)

// chatAnswer is a non-streaming chat completion using in+out tokens.
func chatAnswer(in, out int) string {
	return `{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":` +
		strconv.Itoa(in) + `,"completion_tokens":` + strconv.Itoa(out) + `,"total_tokens":` + strconv.Itoa(in+out) + `}}`
}

// pass sends r and fails unless it goes upstream; the provider answers body.
func pass(t *testing.T, host proxytest.HostEmulator, r req, answer []byte, body string) {
	t.Helper()
	id, _ := send(t, host, r, "200", answer)
	if lr := host.GetSentLocalResponse(id); lr != nil {
		t.Fatalf("denied %d: %s", lr.StatusCode, lr.Data)
	}
	if host.GetCurrentHttpStreamAction(id) != types.ActionContinue {
		t.Fatal("request held")
	}
	respond(host, id, "application/json", body)
}

// rateDenied sends r, which must be refused for its rate limit with a 429
// and retry-after; it returns the decoded error body.
func rateDenied(t *testing.T, host proxytest.HostEmulator, r req, retryAfter int) map[string]any {
	t.Helper()
	id, called := send(t, host, r, "200", nil)
	if called {
		t.Fatal("policy endpoint asked again: the cached answer lost the limits")
	}
	lr := host.GetSentLocalResponse(id)
	if lr == nil {
		t.Fatal("not denied")
	}
	if lr.StatusCode != 429 || hv(lr.Headers, "x-spendgate-denial") != event.DenialRateLimited ||
		hv(lr.Headers, "retry-after") != strconv.Itoa(retryAfter) || hv(lr.Headers, "x-should-retry") != "true" {
		t.Fatalf("denial %d headers %v, want 429 rate_limited retry-after %d x-should-retry true", lr.StatusCode, lr.Headers, retryAfter)
	}
	if host.GetCurrentHttpStreamAction(id) == types.ActionContinue {
		t.Fatal("rate limited request continues upstream")
	}
	var body map[string]any
	if err := json.Unmarshal(lr.Data, &body); err != nil {
		t.Fatalf("denial body %s", lr.Data)
	}
	return body
}

// TestRequestsPerMinute: the N+1th call of a key in a minute is refused in
// its provider's shape with retry-after and a denial event; the next minute
// passes again. Calls after the first use the cached answer, so the cache
// keeps the limits.
func TestRequestsPerMinute(t *testing.T) {
	clk := newClock()
	host := newHostVM(t, rateConfig, &vmContext{now: clk.now})
	ans := answerJSON(limited(2, 0))
	pass(t, host, openAICall, ans, chatAnswer(5, 5))
	pass(t, host, anthropicCall, nil, `{"type":"message","model":"claude-haiku-4-5","usage":{"input_tokens":3,"output_tokens":4}}`)

	clk.t = clk.t.Add(500 * time.Millisecond) // 12:00:10.5: the minute ends in 49.5 s
	body := rateDenied(t, host, openAICall, 50)
	errObj, _ := body["error"].(map[string]any)
	if errObj["code"] != event.DenialRateLimited || errObj["type"] != "rate_limit_exceeded" {
		t.Fatalf("openai shape %v", body)
	}
	if msg, _ := errObj["message"].(string); msg != "spendgate: rate limit reached: this key allows 2 requests per minute; retry in 50s" {
		t.Fatalf("message %q", msg)
	}
	clk.t = time.Date(2026, 11, 3, 12, 0, 59, 900, time.UTC)
	body = rateDenied(t, host, anthropicCall, 1)
	if errObj, _ := body["error"].(map[string]any); body["type"] != "error" || errObj["type"] != "rate_limit_error" {
		t.Fatalf("anthropic shape %v", body)
	}

	// Another key has its own count.
	other := openAICall
	other.key = "sg_other"
	otherAnswer := limited(2, 0)
	otherAnswer.KeyID = "33333333-3333-3333-3333-333333333333"
	pass(t, host, other, answerJSON(otherAnswer), chatAnswer(1, 1))

	var denials []event.Event
	usageEvents := 0
	for _, b := range ingestBatches(t, host, "200") {
		for _, e := range b {
			if e.Type == event.TypeDenial {
				denials = append(denials, e)
			} else {
				usageEvents++
			}
		}
	}
	if usageEvents != 3 || len(denials) != 2 {
		t.Fatalf("%d usage and %d denial events, want 3 and 2", usageEvents, len(denials))
	}
	for _, e := range denials {
		if e.DenialReason != event.DenialRateLimited || e.KeyID != allowAll().KeyID || e.TenantID != allowAll().TenantID || e.DenialMessage == "" {
			t.Fatalf("denial event %+v", e)
		}
	}
	if denials[0].Dimensions["team"] != "search" || denials[0].Provider != "openai" || denials[1].Provider != "anthropic" {
		t.Fatalf("denial events lack the call's attribution: %+v", denials)
	}

	clk.t = time.Date(2026, 11, 3, 12, 1, 0, 0, time.UTC) // the next minute
	pass(t, host, openAICall, nil, chatAnswer(1, 1))
	pass(t, host, anthropicCall, nil, chatAnswer(1, 1))
	rateDenied(t, host, openAICall, 60)
}

// TestTokensPerMinute: tokens count when a response's usage is known; once
// a minute's tokens reach the limit the next call is refused (the call that
// crossed it was served), and the next minute passes again.
func TestTokensPerMinute(t *testing.T) {
	clk := newClock()
	host := newHostVM(t, rateConfig, &vmContext{now: clk.now})
	pass(t, host, openAICall, answerJSON(limited(0, 1000)), chatAnswer(600, 300)) // 900 of 1000
	pass(t, host, openAICall, nil, chatAnswer(700, 500))                          // under the limit when it started; 2100 now
	clk.t = clk.t.Add(20 * time.Second)
	body := rateDenied(t, host, openAICall, 30)
	errObj, _ := body["error"].(map[string]any)
	if msg, _ := errObj["message"].(string); msg != "spendgate: token rate limit reached: this key allows 1000 tokens per minute and 2100 were used this minute; retry in 30s" {
		t.Fatalf("message %q", msg)
	}
	b := ingestBatches(t, host, "200")
	if len(b) != 1 || len(b[0]) != 3 || b[0][0].Usage.Input != 600 || b[0][1].Usage.Output != 500 || b[0][2].DenialReason != event.DenialRateLimited {
		t.Fatalf("events %+v", b)
	}
	clk.t = clk.t.Add(30 * time.Second) // 12:01:00
	pass(t, host, openAICall, nil, chatAnswer(1, 1))
}

// TestBothLimits: whichever limit is reached first refuses the call.
func TestBothLimits(t *testing.T) {
	clk := newClock()
	host := newHostVM(t, rateConfig, &vmContext{now: clk.now})
	pass(t, host, openAICall, answerJSON(limited(3, 100)), chatAnswer(10, 10))
	pass(t, host, openAICall, nil, chatAnswer(10, 10))
	pass(t, host, openAICall, nil, chatAnswer(10, 10)) // third call: request limit reached, 60 tokens
	rateDenied(t, host, openAICall, 50)
	clk.t = clk.t.Add(time.Minute)
	pass(t, host, openAICall, nil, chatAnswer(90, 10)) // the token limit now
	rateDenied(t, host, openAICall, 50)
}

// TestKeysWithoutLimitsAreUnaffected: a key without limits is never refused
// and leaves nothing in shared data.
func TestKeysWithoutLimitsAreUnaffected(t *testing.T) {
	host := newHostVM(t, rateConfig, &vmContext{})
	ans := answerJSON(allowAll())
	for i := 0; i < 200; i++ {
		pass(t, host, openAICall, ans, chatAnswer(100000, 100000))
		ans = nil
	}
	if _, _, err := proxywasm.GetSharedData(dataplane.RateEntryPrefix + allowAll().KeyID); !errors.Is(err, types.ErrorStatusNotFound) {
		t.Fatalf("unlimited key has a rate entry: %v", err)
	}
}

// TestRateCountsAreSharedBetweenWorkers: in Envoy each worker thread runs its
// own VM and plugin context, and they share only the proxy's shared data.
// proxytest emulates one plugin context per host (and one host at a time),
// so the second worker here is a second plugin context over the same
// emulated shared data, counting through the same code (admitRate and
// addRateTokens) that the first one's HTTP contexts use.
func TestRateCountsAreSharedBetweenWorkers(t *testing.T) {
	clk := newClock()
	vm := &vmContext{now: clk.now}
	host := newHostVM(t, rateConfig, vm)
	worker2 := vm.NewPluginContext(2).(*pluginContext)
	if worker2.OnPluginStart(len(testConfig)) != types.OnPluginStartStatusOK {
		t.Fatal("second worker did not start")
	}
	a := limited(4, 0)
	pass(t, host, openAICall, answerJSON(a), chatAnswer(1, 1))
	for i := 0; i < 2; i++ {
		if d := worker2.admitRate(&a, clk.now()); !d.Allowed() {
			t.Fatalf("worker 2 call %d denied: %s", i, d.Message)
		}
	}
	pass(t, host, openAICall, nil, chatAnswer(1, 1)) // the fourth call of the key
	rateDenied(t, host, openAICall, 50)
	if d := worker2.admitRate(&a, clk.now()); d.Reason != event.DenialRateLimited || d.RetryAfterSeconds != 50 {
		t.Fatalf("worker 2 admitted the fifth call: %+v", d)
	}

	// Tokens one worker counts stop the other.
	clk.t = clk.t.Add(time.Minute)
	tl := limited(0, 500)
	tl.KeyID = "44444444-4444-4444-4444-444444444444"
	r := openAICall
	r.key = "sg_tokens"
	pass(t, host, r, answerJSON(tl), chatAnswer(1, 1))
	worker2.addRateTokens(&tl, usage.Tokens{Input: 400, Output: 100}, clk.now())
	rateDenied(t, host, r, 50)

	// A key the other worker used up is refused on this worker's very first
	// call, decided in the policy call's callback.
	one := limited(1, 0)
	one.KeyID = "66666666-6666-6666-6666-666666666666"
	if d := worker2.admitRate(&one, clk.now()); !d.Allowed() {
		t.Fatalf("worker 2: %s", d.Message)
	}
	r.key = "sg_one"
	id, called := send(t, host, r, "200", answerJSON(one))
	if lr := host.GetSentLocalResponse(id); !called || lr == nil || lr.StatusCode != 429 || hv(lr.Headers, "retry-after") != "50" {
		t.Fatalf("first call on this worker after the other's: called=%v %+v", called, lr)
	}
}

// racingShared plays another worker: before each of the next `races` writes
// to a rate entry, that worker counts one call of its own in the same entry,
// so the plugin's write carries a stale version and must be retried.
type racingShared struct {
	hostSharedData
	races int
	clk   *clock
}

func (r *racingShared) Set(name string, data []byte, cas uint32) error {
	if r.races > 0 && len(name) > len(dataplane.RateEntryPrefix) && name[:len(dataplane.RateEntryPrefix)] == dataplane.RateEntryPrefix {
		r.races--
		cur, curCas, _ := proxywasm.GetSharedData(name)
		w, _ := dataplane.ReadRateWindow(cur).Admit(&policy.Policy{RequestsPerMinute: 1 << 30}, r.clk.now())
		if err := proxywasm.SetSharedData(name, dataplane.AppendRateWindow(nil, w), curCas); err != nil {
			panic("the other worker's write failed: " + err.Error())
		}
	}
	return r.hostSharedData.Set(name, data, cas)
}

// TestRateCASConflictsAreRetried: a write that lost to another worker is
// redone on the fresh counts, so both workers' calls count and the decision
// is taken on the fresh counts; when conflicts never end, the call passes
// uncounted and the failure is counted. (Races start once the entry exists:
// Envoy takes version 0, what a missing entry reads as, as "write
// unconditionally", where the emulator refuses it.)
func TestRateCASConflictsAreRetried(t *testing.T) {
	clk := newClock()
	racer := &racingShared{clk: clk}
	host := newHostVM(t, rateConfig, &vmContext{now: clk.now, shared: racer})
	a := limited(4, 0)
	counts := func(keyID string) policy.RateWindow {
		t.Helper()
		data, _, err := proxywasm.GetSharedData(dataplane.RateEntryPrefix + keyID)
		if err != nil {
			t.Fatal(err)
		}
		return dataplane.ReadRateWindow(data)
	}
	pass(t, host, openAICall, answerJSON(a), chatAnswer(1, 1))
	racer.races = 1
	pass(t, host, openAICall, nil, chatAnswer(1, 1))
	if w := counts(a.KeyID); w.Requests != 3 {
		t.Fatalf("after 2 calls racing 1 of another worker: %d requests counted, want 3", w.Requests)
	}
	racer.races = 1 // the other worker takes the last call of the minute: this one, redone, is refused
	rateDenied(t, host, openAICall, 50)
	if w := counts(a.KeyID); w.Requests != 4 {
		t.Fatalf("%d requests counted, want 4", w.Requests)
	}
	if v, _ := host.GetCounterMetric(MetricRateConflicts); v != 2 {
		t.Fatalf("conflicts metric %d, want 2", v)
	}
	if v, _ := host.GetCounterMetric(MetricRateFailures); v != 0 {
		t.Fatalf("rate limit failures metric %d", v)
	}

	// Endless conflicts: the call passes, uncounted by this worker, and the
	// failure shows in the metrics.
	busy := limited(1000, 0)
	busy.KeyID = "55555555-5555-5555-5555-555555555555"
	r := openAICall
	r.key = "sg_busy"
	pass(t, host, r, answerJSON(busy), chatAnswer(1, 1))
	racer.races = 1 << 30
	pass(t, host, r, nil, chatAnswer(1, 1))
	racer.races = 0
	if v, _ := host.GetCounterMetric(MetricRateFailures); v != 1 {
		t.Fatalf("rate limit failures metric %d, want 1", v)
	}
	if v, _ := host.GetCounterMetric(MetricRateConflicts); v != 2+rateAttempts {
		t.Fatalf("conflicts metric %d, want %d", v, 2+rateAttempts)
	}
	if w := counts(busy.KeyID); w.Requests != 1+rateAttempts {
		t.Fatalf("%d requests counted, want this worker's first call and the other's %d", w.Requests, rateAttempts)
	}
}

func TestRateEntryCodec(t *testing.T) {
	w := policy.RateWindow{Minute: -5, Requests: 1 << 40, Tokens: 1<<63 - 1}
	if got := dataplane.ReadRateWindow(dataplane.AppendRateWindow(nil, w)); got != w {
		t.Fatalf("round trip %+v -> %+v", w, got)
	}
	for _, bad := range [][]byte{nil, {}, make([]byte, 23), make([]byte, 25)} {
		if got := dataplane.ReadRateWindow(bad); got != (policy.RateWindow{}) {
			t.Fatalf("%d bytes decoded as %+v", len(bad), got)
		}
	}
}
