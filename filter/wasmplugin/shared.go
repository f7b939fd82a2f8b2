package wasmplugin

import (
	"errors"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/spendgate/spendgate/dataplane"
	"github.com/spendgate/spendgate/policy"
	"github.com/spendgate/spendgate/usage"
)

// sharedData is the proxy's shared key-value store (proxywasm.GetSharedData
// and SetSharedData), visible to every worker thread's VM; tests wrap it to
// play other workers writing in between.
type sharedData interface {
	Get(name string) (data []byte, cas uint32, err error)
	Set(name string, data []byte, cas uint32) error
}

type hostSharedData struct{}

func (hostSharedData) Get(name string) ([]byte, uint32, error) { return sharedDataGet(name) }
func (hostSharedData) Set(name string, data []byte, cas uint32) error {
	return proxywasm.SetSharedData(name, data, cas)
}

// The control plane's answers are cached in shared data in the core's entry
// layout (dataplane/cache.go).

func (p *pluginContext) cachedPolicy(k *dataplane.CacheKey) (policy.Answer, bool) {
	now := p.at
	if data, _, err := p.shared.Get(k.Name); err == nil {
		if a, ok := p.answers.FromEntry(k, k.Name, data, now); ok {
			return a, true
		}
	}
	data, _, err := p.shared.Get(k.Negative)
	if err != nil {
		return policy.Answer{}, false
	}
	return p.answers.FromEntry(k, k.Negative, data, now)
}

func (p *pluginContext) storePolicy(k *dataplane.CacheKey, a *policy.Answer) {
	name, entry := dataplane.PolicyEntry(k, a, seconds(p.cfg.CacheTTLSeconds), seconds(p.cfg.NegativeCacheTTLSeconds), p.at)
	p.replace(name, entry, "policy")
}

func (p *pluginContext) cachedPriced(k *dataplane.CacheKey) (priced, ok bool) {
	data, _, err := p.shared.Get(k.Name)
	if err != nil {
		return false, false
	}
	return dataplane.PricedFromEntry(k, data, p.at)
}

func (p *pluginContext) storePriced(k *dataplane.CacheKey, a policy.PricedAnswer) {
	p.replace(k.Name, dataplane.PricedEntry(k, a, seconds(p.cfg.CacheTTLSeconds), seconds(p.cfg.NegativeCacheTTLSeconds), p.at), "priced")
}

// replace writes a cache entry over whatever it holds (another question's
// answer in a shared slot, an expired answer). Passing the version just
// read makes a concurrent writer win instead; either way the entry is whole.
func (p *pluginContext) replace(name string, entry []byte, what string) {
	_, cas, _ := p.shared.Get(name)
	if err := p.shared.Set(name, entry, cas); err != nil && !errors.Is(err, types.ErrorStatusCasMismatch) {
		proxywasm.LogWarnf("spendgate: caching %s answer: %v", what, err)
	}
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

// Rate limit counts (policy.RateWindow decides) live in shared data, so
// every worker thread's VM counts against the same minute: one entry per
// rate-limited key id (dataplane.RateEntryPrefix), reused from minute to
// minute. Only keys the policy endpoint vouched for reach here, so random
// keys cannot create entries.
//
// Workers update an entry by compare-and-swap: read it with its version,
// compute, write with that version; a write that lost to another worker is
// retried on the fresh value, so no count is lost or counted twice.
// (Envoy treats version 0 as "unconditional", so only the entry's very first
// write, racing another worker's first write, could lose that one count.)

// rateAttempts bounds the compare-and-swap retries of one update. Each retry
// means another worker wrote in between; updates are a few microseconds, so
// running out means shared data is failing, and the call is let through
// uncounted (a rate limit protects spend, it must not stop traffic).
const rateAttempts = 16

// admitRate applies the key's per-minute limits to a call at now and counts
// it when admitted.
func (p *pluginContext) admitRate(a *policy.Answer, now time.Time) policy.Decision {
	var d policy.Decision
	p.updateRate(a.KeyID, func(w policy.RateWindow) (policy.RateWindow, bool) {
		var next policy.RateWindow
		next, d = w.Admit(&a.Policy, now)
		return next, d.Allowed()
	})
	return d
}

// releaseRate takes back a call admitted at admitted that was then refused.
func (p *pluginContext) releaseRate(a *policy.Answer, admitted time.Time) {
	p.updateRate(a.KeyID, func(w policy.RateWindow) (policy.RateWindow, bool) {
		return w.Release(admitted), true
	})
}

// addRateTokens counts a finished call's tokens for a key that limits them.
func (p *pluginContext) addRateTokens(a *policy.Answer, u usage.Tokens, now time.Time) {
	tokens := policy.RateTokens(u)
	if tokens <= 0 {
		return
	}
	p.updateRate(a.KeyID, func(w policy.RateWindow) (policy.RateWindow, bool) {
		return w.AddTokens(tokens, now), true
	})
}

// updateRate runs update on the key's current window and stores the result
// (when update says so) by compare-and-swap, retrying on conflicts.
func (p *pluginContext) updateRate(keyID string, update func(policy.RateWindow) (policy.RateWindow, bool)) {
	name := dataplane.RateEntryPrefix + keyID
	var buf [24]byte
	for attempt := 0; attempt < rateAttempts; attempt++ {
		data, cas, err := p.shared.Get(name)
		if err != nil && !errors.Is(err, types.ErrorStatusNotFound) {
			p.rateFailed("reading rate limit counts for key "+keyID, err)
			return
		}
		next, write := update(dataplane.ReadRateWindow(data))
		if !write {
			return
		}
		err = p.shared.Set(name, dataplane.AppendRateWindow(buf[:0], next), cas)
		if err == nil {
			return
		}
		if !errors.Is(err, types.ErrorStatusCasMismatch) {
			p.rateFailed("storing rate limit counts for key "+keyID, err)
			return
		}
		p.rateConflicts.Increment(1)
	}
	p.rateFailed("storing rate limit counts for key "+keyID, types.ErrorStatusCasMismatch)
}

func (p *pluginContext) rateFailed(what string, err error) {
	p.rateUnavailable.Increment(1)
	proxywasm.LogWarnf("spendgate: %s: %v; the call is not counted", what, err)
}
