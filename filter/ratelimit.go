package main

import (
	"encoding/binary"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/spendgate/spendgate/policy"
	"github.com/spendgate/spendgate/usage"
)

// Rate limit counts (policy.RateWindow, the decisions are in policy/) live in
// the proxy's shared data, so every worker thread's VM counts against the
// same minute. Each rate-limited key has one entry, named by its key id and
// reused from minute to minute (the window's minute is in the value), so the
// entries are as many as rate-limited keys in use and never grow with time.
// Only keys the policy endpoint vouched for reach here: random keys are
// refused before, and cannot create entries.
//
// Workers update an entry by compare-and-swap: read it with its version,
// compute, write with that version; a write that lost to another worker is
// retried on the fresh value, so no count is lost or counted twice.
// (Envoy treats version 0 as "unconditional", so only the entry's very first
// write, racing another worker's first write, could lose that one count.)
const rateEntryPrefix = "spendgate.rate."

// rateAttempts bounds the compare-and-swap retries of one update. Each retry
// means another worker wrote in between; updates are a few microseconds, so
// running out means shared data is failing, and the call is let through
// uncounted (a rate limit protects spend, it must not stop traffic).
const rateAttempts = 16

// rateEntryBytes is the entry's size: minute, requests, tokens as big-endian
// int64s.
const rateEntryBytes = 24

// sharedData is the proxy's shared key-value store (proxywasm.GetSharedData
// and SetSharedData); tests wrap it to play other workers writing in between.
type sharedData interface {
	Get(name string) (data []byte, cas uint32, err error)
	Set(name string, data []byte, cas uint32) error
}

type hostSharedData struct{}

func (hostSharedData) Get(name string) ([]byte, uint32, error) { return proxywasm.GetSharedData(name) }
func (hostSharedData) Set(name string, data []byte, cas uint32) error {
	return proxywasm.SetSharedData(name, data, cas)
}

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
	name := rateEntryPrefix + keyID
	var buf [rateEntryBytes]byte
	for attempt := 0; attempt < rateAttempts; attempt++ {
		data, cas, err := p.shared.Get(name)
		if err != nil && err != types.ErrorStatusNotFound {
			p.rateFailed("reading rate limit counts for key "+keyID, err)
			return
		}
		next, write := update(decodeRateWindow(data))
		if !write {
			return
		}
		err = p.shared.Set(name, encodeRateWindow(buf[:0], next), cas)
		if err == nil {
			return
		}
		if err != types.ErrorStatusCasMismatch {
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

// decodeRateWindow reads an entry; anything but a whole entry (none yet, a
// layout from another version) is an empty window, which the next write
// replaces. data may be the host's own memory: it is only read.
func decodeRateWindow(data []byte) policy.RateWindow {
	if len(data) != rateEntryBytes {
		return policy.RateWindow{}
	}
	return policy.RateWindow{
		Minute:   int64(binary.BigEndian.Uint64(data[0:8])),
		Requests: int64(binary.BigEndian.Uint64(data[8:16])),
		Tokens:   int64(binary.BigEndian.Uint64(data[16:24])),
	}
}

func encodeRateWindow(b []byte, w policy.RateWindow) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(w.Minute))
	b = binary.BigEndian.AppendUint64(b, uint64(w.Requests))
	return binary.BigEndian.AppendUint64(b, uint64(w.Tokens))
}
