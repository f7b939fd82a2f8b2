package wasmplugin

import (
	"encoding/binary"
	"encoding/json"
	"net/url"
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
)

func requirePriced() policy.Answer {
	a := allowAll()
	a.Policy.RequirePricedModels = true
	return a
}

// pricedQuestion is a priced call the filter made.
type pricedQuestion struct {
	asked bool
	query url.Values
}

// sendPriced runs r through the filter, answering the policy call (if any)
// with policyAnswer and the priced call (if any) with status and body.
func sendPriced(t *testing.T, host proxytest.HostEmulator, r req, policyAnswer []byte, status, body string) (uint32, pricedQuestion) {
	t.Helper()
	id, _ := send(t, host, r, "200", policyAnswer)
	var q pricedQuestion
	for _, c := range host.GetCalloutAttributesFromContext(id) {
		path := hv(c.Headers, ":path")
		if c.Upstream != "spendgate_api" || !strings.HasPrefix(path, "/internal/v1/priced?") {
			continue
		}
		if q.asked {
			t.Fatal("priced endpoint asked twice for one call")
		}
		if hv(c.Headers, "authorization") != "Bearer svc-token" || hv(c.Headers, ":authority") != "spendgate-api" ||
			hv(c.Headers, ":method") != "GET" || hv(c.Headers, "x-spendgate-key") != "" {
			t.Fatalf("priced call headers %v", c.Headers)
		}
		vals, err := url.ParseQuery(strings.TrimPrefix(path, "/internal/v1/priced?"))
		if err != nil {
			t.Fatalf("priced query %s: %v", path, err)
		}
		q = pricedQuestion{asked: true, query: vals}
		host.CallOnHttpCallResponse(c.CalloutID, [][2]string{{":status", status}}, nil, []byte(body))
	}
	return id, q
}

// passed fails unless the request went upstream.
func passed(t *testing.T, host proxytest.HostEmulator, id uint32) {
	t.Helper()
	if lr := host.GetSentLocalResponse(id); lr != nil {
		t.Fatalf("denied %d: %s", lr.StatusCode, lr.Data)
	}
	if act := host.GetCurrentHttpStreamAction(id); act != types.ActionContinue {
		t.Fatalf("request held: %v", act)
	}
}

// denied fails unless the request was refused locally with status and
// reason; it returns the decoded body.
func denied(t *testing.T, host proxytest.HostEmulator, id uint32, status int, reason string) map[string]any {
	t.Helper()
	lr := host.GetSentLocalResponse(id)
	if lr == nil || lr.StatusCode != uint32(status) || hv(lr.Headers, "x-spendgate-denial") != reason {
		t.Fatalf("want a %d %s denial, got %+v", status, reason, lr)
	}
	if host.GetCurrentHttpStreamAction(id) == types.ActionContinue {
		t.Fatal("a denied request continues upstream")
	}
	var body map[string]any
	if err := json.Unmarshal(lr.Data, &body); err != nil {
		t.Fatalf("denial body %s", lr.Data)
	}
	return body
}

const (
	pricedYes = `{"priced":true,"cache_ttl_seconds":30}`
	pricedNo  = `{"priced":false,"cache_ttl_seconds":30}`
)

// TestPricedModels: a key that requires priced models asks the priced
// endpoint about each (tenant, provider, model) once: a priced model passes,
// an unpriced one is refused with 403 unpriced_model in the provider's shape
// and a denial event; both answers are cached. Keys without the rule never
// ask.
func TestPricedModels(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := newHost(t, vm, testConfig)
		chat := func(model string) req {
			return req{path: "/v1/openai/chat/completions", key: "sg_priced", body: `{"model":` + strconv.Quote(model) + `}`}
		}
		id, q := sendPriced(t, host, chat("gpt-4o"), answerJSON(requirePriced()), "200", pricedYes)
		if !q.asked || q.query.Get("tenant_id") != allowAll().TenantID || q.query.Get("provider") != "openai" || q.query.Get("model") != "gpt-4o" || len(q.query) != 3 {
			t.Fatalf("priced question %+v", q)
		}
		passed(t, host, id)
		respond(host, id, "application/json", chatAnswer(3, 4))

		id, q = sendPriced(t, host, chat("gpt-4o"), nil, "200", pricedYes)
		if q.asked {
			t.Fatal("a cached priced answer was asked again")
		}
		passed(t, host, id)
		respond(host, id, "application/json", chatAnswer(3, 4))

		odd := "ft:acme/llm 7&model=gpt-4o"
		id, q = sendPriced(t, host, chat(odd), nil, "200", pricedNo)
		if !q.asked || q.query.Get("model") != odd {
			t.Fatalf("priced question for %q: %+v", odd, q)
		}
		body := denied(t, host, id, 403, event.DenialUnpricedModel)
		errObj, _ := body["error"].(map[string]any)
		if msg, _ := errObj["message"].(string); errObj["code"] != event.DenialUnpricedModel ||
			msg != "spendgate: model "+odd+" has no known price and this key only allows priced models" {
			t.Fatalf("openai-shaped denial %v", body)
		}
		lr := host.GetSentLocalResponse(id)
		if hv(lr.Headers, "x-should-retry") != "false" {
			t.Fatalf("an unpriced model is retryable: %v", lr.Headers)
		}
		id, q = sendPriced(t, host, chat(odd), nil, "200", pricedYes)
		if q.asked {
			t.Fatal("a cached negative answer was asked again")
		}
		denied(t, host, id, 403, event.DenialUnpricedModel)

		// Anthropic's shape, and Gemini's model from the path.
		id, q = sendPriced(t, host, req{path: "/v1/anthropic/v1/messages", key: "sg_priced", body: `{"model":"claude-next","max_tokens":5}`}, nil, "200", pricedNo)
		if !q.asked || q.query.Get("provider") != "anthropic" {
			t.Fatalf("anthropic question %+v", q)
		}
		if body := denied(t, host, id, 403, event.DenialUnpricedModel); body["type"] != "error" {
			t.Fatalf("anthropic-shaped denial %v", body)
		}
		id, q = sendPriced(t, host, req{path: "/v1/gemini/v1beta/models/gemini-2.5-flash:generateContent", key: "sg_priced", body: `{"contents":[]}`}, nil, "200", pricedYes)
		if !q.asked || q.query.Get("provider") != "gemini" || q.query.Get("model") != "gemini-2.5-flash" {
			t.Fatalf("gemini question %+v", q)
		}
		passed(t, host, id)
		respond(host, id, "application/json", `{"candidates":[],"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":1}}`)

		// Another tenant's answer is its own question.
		other := requirePriced()
		other.TenantID, other.KeyID = "33333333-3333-4333-8333-333333333333", "44444444-4444-4444-8444-444444444444"
		id, q = sendPriced(t, host, req{path: "/v1/openai/chat/completions", key: "sg_other", body: `{"model":"gpt-4o"}`}, answerJSON(other), "200", pricedNo)
		if !q.asked || q.query.Get("tenant_id") != other.TenantID {
			t.Fatalf("other tenant's question %+v", q)
		}
		denied(t, host, id, 403, event.DenialUnpricedModel)

		// No model, and a key without the rule.
		id, q = sendPriced(t, host, req{path: "/v1/openai/chat/completions", key: "sg_priced", body: `{"messages":[]}`}, nil, "200", pricedYes)
		if q.asked {
			t.Fatal("asked about a request without a model")
		}
		denied(t, host, id, 403, event.DenialUnpricedModel)
		id, q = sendPriced(t, host, req{path: "/v1/openai/chat/completions", key: "sg_open", body: `{"model":"acme"}`}, answerJSON(allowAll()), "200", pricedNo)
		if q.asked {
			t.Fatal("a key without require_priced_models asked the priced endpoint")
		}
		passed(t, host, id)

		var usage, unpriced int
		for _, b := range ingestBatches(t, host, "200") {
			for _, e := range b {
				switch {
				case e.Type == event.TypeUsage:
					usage++
				case e.DenialReason == event.DenialUnpricedModel && e.TenantID != "":
					unpriced++
				default:
					t.Fatalf("unexpected event %+v", e)
				}
			}
		}
		if usage != 3 || unpriced != 5 {
			t.Fatalf("%d usage and %d unpriced_model denial events, want 3 and 5", usage, unpriced)
		}
	})
}

// TestPricedCacheTTLAndSlots: priced answers live for cache_ttl_seconds,
// unpriced ones for negative_cache_ttl_seconds (either shortened by the
// answer's hint); an expired entry is asked again. Answers share a bounded
// set of slots (model names come from callers), and a model whose slot
// another took over is asked again, never given the other's answer.
func TestPricedCacheTTLAndSlots(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := newHost(t, vm, strings.Replace(testConfig, `{`, `{"cache_ttl_seconds":120,"negative_cache_ttl_seconds":7,`, 1))
		tenant := allowAll().TenantID
		expiry := func(model string) time.Time {
			t.Helper()
			data, _, err := proxywasm.GetSharedData(dataplane.PricedCacheKey(tenant, "openai", model).Name)
			if err != nil || len(data) != 8+16+1 {
				t.Fatalf("no priced entry for %s: %v", model, err)
			}
			return dataplane.EntryExpiry(data)
		}
		// Entries written moments apart by the plugin's clock: their expiries
		// differ by the differences of their TTLs.
		near := func(got, want time.Duration) bool { return got > want-5*time.Second && got < want+5*time.Second }
		chat := func(model string) req {
			return req{path: "/v1/openai/chat/completions", key: "sg_priced", body: `{"model":` + strconv.Quote(model) + `}`}
		}
		sendPriced(t, host, chat("gpt-4o"), answerJSON(requirePriced()), "200", `{"priced":true,"cache_ttl_seconds":600}`)
		sendPriced(t, host, chat("gpt-4o-mini"), nil, "200", `{"priced":true,"cache_ttl_seconds":45}`)
		sendPriced(t, host, chat("acme"), nil, "200", `{"priced":false,"cache_ttl_seconds":300}`)
		if got := expiry("gpt-4o").Sub(expiry("gpt-4o-mini")); !near(got, 120*time.Second-45*time.Second) {
			t.Fatalf("capped entry outlives the hinted one by %v, want 120s-45s", got)
		}
		if got := expiry("gpt-4o-mini").Sub(expiry("acme")); !near(got, 45*time.Second-7*time.Second) {
			t.Fatalf("hinted entry outlives the unpriced one by %v, want 45s-7s", got)
		}
		// Age gpt-4o's entry: the next call asks again.
		k := dataplane.PricedCacheKey(tenant, "openai", "gpt-4o")
		data, cas, _ := proxywasm.GetSharedData(k.Name)
		aged := append([]byte(nil), data...)
		binary.BigEndian.PutUint64(aged, 0) // expired in 1970, whatever the clock
		if err := proxywasm.SetSharedData(k.Name, aged, cas); err != nil {
			t.Fatal(err)
		}
		if _, q := sendPriced(t, host, chat("gpt-4o"), nil, "200", pricedYes); !q.asked {
			t.Fatal("an expired priced entry was used")
		}

		// Bounded slots.
		slots := map[string]bool{}
		for i := 0; i < 100000; i++ {
			slots[dataplane.PricedCacheKey(tenant, "openai", "m"+strconv.Itoa(i)).Name] = true
		}
		if len(slots) > dataplane.PricedCacheSlots {
			t.Fatalf("%d priced slots, bound %d", len(slots), dataplane.PricedCacheSlots)
		}
		a := dataplane.PricedCacheKey(tenant, "openai", "acme")
		var bModel string
		for i := 0; ; i++ {
			bModel = "acme-" + strconv.Itoa(i)
			if dataplane.PricedCacheKey(tenant, "openai", bModel).Name == a.Name {
				break
			}
		}
		id, q := sendPriced(t, host, chat(bModel), nil, "200", pricedYes) // takes over acme's slot
		if !q.asked {
			t.Fatal("a model was answered from another model's slot")
		}
		passed(t, host, id)
		id, q = sendPriced(t, host, chat("acme"), nil, "200", pricedNo)
		if !q.asked {
			t.Fatal("acme answered from the priced model that took its slot")
		}
		denied(t, host, id, 403, event.DenialUnpricedModel)
		// The tenant, provider and model are kept apart in the digest.
		if dataplane.PricedCacheKey("t", "openai", "x").Digest == dataplane.PricedCacheKey("t", "openaix", "").Digest {
			t.Fatal("different questions share a digest")
		}
	})
}

// TestPricedEndpointDown: an error answer or a malformed one fails closed by
// default (a retryable 503 auth_unavailable with a denial event) and is not
// cached; with fail_open the call goes on, still attributed and metered.
// Both are counted in spendgate_priced_unavailable.
func TestPricedEndpointDown(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		for _, tt := range []struct{ name, status, body string }{
			{"server error", "503", `{"error":"reading the tenant's pricing overrides failed"}`},
			{"bad request", "400", `{"error":"tenant_id must be a UUID"}`},
			{"malformed answer", "200", `{"priced":"maybe"}`},
			{"not json", "200", `<html>`},
		} {
			t.Run(tt.name, func(t *testing.T) {
				host := newHost(t, vm, testConfig)
				r := req{path: "/v1/anthropic/v1/messages", key: "sg_priced", body: `{"model":"claude-haiku-4-5","max_tokens":5}`}
				id, q := sendPriced(t, host, r, answerJSON(requirePriced()), tt.status, tt.body)
				if !q.asked {
					t.Fatal("priced endpoint not asked")
				}
				denied(t, host, id, 503, event.DenialAuthUnavailable)
				lr := host.GetSentLocalResponse(id)
				if hv(lr.Headers, "x-should-retry") != "true" || !strings.Contains(string(lr.Data), `"overloaded_error"`) ||
					!strings.Contains(string(lr.Data), "could not say whether model claude-haiku-4-5 has a price") {
					t.Fatalf("fail-closed denial %v %s", lr.Headers, lr.Data)
				}
				if v, _ := host.GetCounterMetric(MetricPricedFailures); v != 1 {
					t.Fatalf("priced failures metric %d", v)
				}
				id, q = sendPriced(t, host, r, nil, "200", pricedYes)
				if !q.asked {
					t.Fatal("a failed priced answer was cached")
				}
				passed(t, host, id)
				b := ingestBatches(t, host, "200")
				if len(b) != 1 || len(b[0]) != 1 || b[0][0].DenialReason != event.DenialAuthUnavailable || b[0][0].TenantID == "" {
					t.Fatalf("want one auth_unavailable denial event, got %+v", b)
				}
			})
		}

		host := newHost(t, vm, strings.Replace(testConfig, `{`, `{"fail_open":true,`, 1))
		r := req{path: "/v1/openai/chat/completions", key: "sg_priced", body: `{"model":"gpt-4o"}`}
		id, q := sendPriced(t, host, r, answerJSON(requirePriced()), "500", `oops`)
		if !q.asked {
			t.Fatal("priced endpoint not asked")
		}
		passed(t, host, id)
		respond(host, id, "application/json", chatAnswer(6, 2))
		if v, _ := host.GetCounterMetric(MetricPricedFailures); v != 1 {
			t.Fatalf("priced failures metric %d", v)
		}
		b := ingestBatches(t, host, "200")
		if len(b) != 1 || len(b[0]) != 1 || b[0][0].Type != event.TypeUsage || b[0][0].KeyID != allowAll().KeyID || b[0][0].Usage.Input != 6 {
			t.Fatalf("fail-open call not metered: %+v", b)
		}
	})
}

// TestPricedCheckComesBeforeRateLimits: an unpriced model is refused before
// the rate limit counts it, so it does not use up the key's minute.
func TestPricedCheckComesBeforeRateLimits(t *testing.T) {
	clk := newClock()
	host := newHostVM(t, testConfig, &vmContext{now: clk.now})
	a := limited(1, 0)
	a.Policy.RequirePricedModels = true
	id, _ := sendPriced(t, host, req{path: "/v1/openai/chat/completions", key: "sg_limited", body: `{"model":"acme"}`}, answerJSON(a), "200", pricedNo)
	denied(t, host, id, 403, event.DenialUnpricedModel)
	id, _ = sendPriced(t, host, req{path: "/v1/openai/chat/completions", key: "sg_limited", body: `{"model":"gpt-4o"}`}, nil, "200", pricedYes)
	passed(t, host, id)
	respond(host, id, "application/json", chatAnswer(1, 1))
	id, _ = sendPriced(t, host, req{path: "/v1/openai/chat/completions", key: "sg_limited", body: `{"model":"gpt-4o"}`}, nil, "200", pricedYes)
	denied(t, host, id, 429, event.DenialRateLimited)
}
