package main

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/filter/config"
	"github.com/spendgate/spendgate/policy"
)

// Keys whose policy requires priced models refuse models without a price.
// The filter carries no pricing catalogue, so it asks the control plane's
// priced endpoint (policy/priced.go) on the policy cluster, which also knows
// the tenant's pricing overrides, and caches the answers in shared data.
//
// Model names come from callers, so the cache cannot have an entry per name:
// answers (positive and negative) share pricedCacheSlots slots, like the
// negative key cache. Each entry records the digest of its tenant, provider
// and model, so a slot taken over by another model is a miss, never a wrong
// answer.
const pricedCacheSlots = 4096

// Priced cache entries are 8 bytes of expiry (Unix ms), the question's
// 16-byte digest, then 1 for priced or 0 for not.
const pricedEntryBytes = 8 + 16 + 1

type pricedCacheKey struct {
	digest [16]byte
	name   string
}

func newPricedCacheKey(tenantID, provider, model string) pricedCacheKey {
	h := sha256.New()
	// Lengths first: no two questions share a digest input.
	var n [8]byte
	for _, s := range [...]string{tenantID, provider, model} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	sum := h.Sum(nil)
	var k pricedCacheKey
	copy(k.digest[:], sum[:16])
	k.name = "spendgate.priced." + strconv.Itoa(int(binary.BigEndian.Uint32(sum[16:20])%pricedCacheSlots))
	return k
}

func cachedPriced(k pricedCacheKey) (priced, ok bool) {
	data, _, err := proxywasm.GetSharedData(k.name)
	if err != nil || len(data) != pricedEntryBytes {
		return false, false
	}
	if int64(binary.BigEndian.Uint64(data[:8])) < time.Now().UnixMilli() || string(data[8:24]) != string(k.digest[:]) {
		return false, false
	}
	return data[24] == 1, true
}

func storePriced(k pricedCacheKey, a policy.PricedAnswer, cfg *config.Config) {
	var buf [pricedEntryBytes]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(time.Now().Add(answerTTL(a.Priced, a.CacheTTLSeconds, cfg)).UnixMilli()))
	copy(buf[8:24], k.digest[:])
	if a.Priced {
		buf[24] = 1
	}
	// As for policy answers: replace whatever the slot holds; a concurrent
	// writer wins instead, and either way the entry is whole.
	_, cas, _ := proxywasm.GetSharedData(k.name)
	if err := proxywasm.SetSharedData(k.name, buf[:], cas); err != nil {
		proxywasm.LogWarnf("spendgate: caching priced answer: %v", err)
	}
}

// checkPriced refuses a model without a price for a key that requires priced
// models, asking the priced endpoint when the cache has no answer; a priced
// model goes on to admit. It returns Pause while the call is out.
func (h *httpContext) checkPriced(body []byte, resume bool) types.Action {
	model := h.call.Request.Model
	if model == "" || len(model) > event.MaxModelNameBytes {
		// No name, or one longer than any the control plane prices.
		d := policy.UnpricedModel(model)
		return h.deny(h.style, d.Reason, d.Message)
	}
	provider := h.call.Route.Provider.ID
	k := newPricedCacheKey(h.answer.TenantID, provider, model)
	if priced, ok := cachedPriced(k); ok {
		return h.pricedDecided(priced, body, resume)
	}
	cfg := &h.plugin.cfg
	headers := [][2]string{
		{":method", "GET"}, {":path", cfg.PricedPath + "?" + policy.PricedQuery(h.answer.TenantID, provider, model)},
		{":authority", cfg.PolicyAuthority}, {"authorization", "Bearer " + cfg.ServiceToken},
	}
	_, err := proxywasm.DispatchHttpCall(cfg.PolicyCluster, headers, nil, nil, uint32(cfg.TimeoutMs),
		func(numHeaders, bodySize, numTrailers int) {
			status := callStatus()
			if status != 200 {
				h.pricedUnavailable("priced endpoint answered "+strconv.Itoa(status)+": "+string(callBody(bodySize)), body)
				return
			}
			raw, err := proxywasm.GetHttpCallResponseBody(0, bodySize)
			if err != nil {
				h.pricedUnavailable("reading the priced answer: "+err.Error(), body)
				return
			}
			a, err := policy.ParsePricedAnswer(raw)
			if err != nil {
				h.pricedUnavailable(err.Error()+": "+string(raw), body)
				return
			}
			storePriced(k, a, cfg)
			h.pricedDecided(a.Priced, body, true)
		})
	if err != nil {
		return h.pricedUnavailableAction("dispatch to policy cluster "+cfg.PolicyCluster+" failed: "+err.Error(), body, resume)
	}
	return types.ActionPause
}

func (h *httpContext) pricedDecided(priced bool, body []byte, resume bool) types.Action {
	if !priced {
		d := policy.UnpricedModel(h.call.Request.Model)
		return h.deny(h.style, d.Reason, d.Message)
	}
	return h.admit(body, resume)
}

// pricedUnavailable handles a priced endpoint that failed inside its
// callback.
func (h *httpContext) pricedUnavailable(why string, body []byte) {
	h.pricedUnavailableAction(why, body, true)
}

// pricedUnavailableAction follows the auth fail-open setting: by default the
// call is refused with a retryable 503 (the policy service could not vouch
// for it); with fail_open it goes on, still attributed and metered, without
// the priced check. Either way it is counted in spendgate_priced_unavailable.
func (h *httpContext) pricedUnavailableAction(why string, body []byte, resume bool) types.Action {
	h.plugin.pricedUnavailable.Increment(1)
	proxywasm.LogWarnf("spendgate: priced check for model %s: %s", h.call.Request.Model, why)
	if h.plugin.cfg.FailOpen {
		return h.admit(body, resume)
	}
	d := policy.PricedUnavailable(h.call.Request.Model)
	return h.deny(h.style, d.Reason, d.Message)
}
