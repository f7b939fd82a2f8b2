package dataplane

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"strings"
	"time"

	"github.com/spendgate/spendgate/policy"
)

// The filter caches the control plane's answers in the proxy's shared data
// (visible to every worker thread's VM), under names derived from SHA-256
// digests, so no secret is ever stored. An entry is 8 bytes of expiry (Unix
// milliseconds, big-endian), the 16-byte digest of its question, then the
// answer. The digest makes an entry taken over by another question a miss,
// never a wrong answer.
//
// Positive policy answers live under a name per key (as many as real keys in
// use). Negative answers and priced answers, whose questions callers choose
// freely (random keys, model names), share a fixed set of slots: shared data
// has no eviction, so those must not grow without bound.
const (
	NegativeCacheSlots = 4096
	PricedCacheSlots   = 4096
	entryHeader        = 8 + 16
)

// CacheKey names one question's cache entry.
type CacheKey struct {
	Digest [16]byte
	// Name is the entry's name; Negative the slot for a negative policy
	// answer (policy keys only).
	Name, Negative string
}

// PolicyCacheKey is the cache key of a spendgate key's policy answer.
func PolicyCacheKey(key string) CacheKey {
	sum := sha256.Sum256([]byte(key))
	var k CacheKey
	copy(k.Digest[:], sum[:16])
	k.Name = "spendgate.policy." + hexString(k.Digest[:])
	k.Negative = "spendgate.policy.negative." + strconv.Itoa(int(binary.BigEndian.Uint32(sum[16:20])%NegativeCacheSlots))
	return k
}

// PolicyKeys remembers the cache keys of the spendgate keys a host has
// seen, so a call of a key in use does not hash it and format the entry
// names again (under TinyGo, half a dozen heap objects per call). At most
// MaxPolicyMemo keys are kept; past that it starts over. Not safe for
// concurrent use (one per VM). The zero value is ready.
type PolicyKeys struct {
	keys map[string]*CacheKey
}

// For returns key's cache key (PolicyCacheKey), shared by every call of
// the key: read only.
func (m *PolicyKeys) For(key string) *CacheKey {
	if k, ok := m.keys[key]; ok {
		return k
	}
	k := PolicyCacheKey(key)
	if m.keys == nil || len(m.keys) >= MaxPolicyMemo {
		m.keys = make(map[string]*CacheKey)
	}
	// A copy: the host's key may be a view of a buffer it reuses.
	m.keys[strings.Clone(key)] = &k
	return &k
}

// PricedCacheKey is the cache key of whether provider's model is priced for
// tenantID.
func PricedCacheKey(tenantID, provider, model string) CacheKey {
	h := sha256.New()
	var n [8]byte
	for _, s := range [...]string{tenantID, provider, model} {
		// Lengths first: no two questions share a digest input.
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	sum := h.Sum(nil)
	var k CacheKey
	copy(k.Digest[:], sum[:16])
	k.Name = "spendgate.priced." + strconv.Itoa(int(binary.BigEndian.Uint32(sum[16:20])%PricedCacheSlots))
	return k
}

// AppendEntry appends a cache entry for digest holding payload until expires.
func AppendEntry(b []byte, digest *[16]byte, expires time.Time, payload []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(expires.UnixMilli()))
	b = append(b, digest[:]...)
	return append(b, payload...)
}

// ReadEntry returns an entry's payload when it answers digest and has not
// expired at now.
func ReadEntry(data []byte, digest *[16]byte, now time.Time) ([]byte, bool) {
	if len(data) < entryHeader || int64(binary.BigEndian.Uint64(data[:8])) < now.UnixMilli() || !sameBytes(data[8:entryHeader], digest[:]) {
		return nil, false
	}
	return data[entryHeader:], true
}

// EntryExpiry is an entry's expiry (zero for no entry).
func EntryExpiry(data []byte) time.Time {
	if len(data) < entryHeader {
		return time.Time{}
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(data[:8])))
}

// PolicyEntry encodes a policy answer's cache entry at now, kept for
// ReuseFor of the configured TTL of its kind (positive or negative).
func PolicyEntry(k *CacheKey, a *policy.Answer, ttl, negativeTTL time.Duration, now time.Time) (name string, entry []byte) {
	name, keep := k.Name, ttl
	if !a.Valid {
		name, keep = k.Negative, negativeTTL
	}
	return name, AppendEntry(make([]byte, 0, 256), &k.Digest, now.Add(ReuseFor(keep, a.CacheTTLSeconds)), policy.AppendAnswer(nil, a))
}

// PolicyFromEntry reads a policy answer from a cache entry.
func PolicyFromEntry(k *CacheKey, data []byte, now time.Time) (policy.Answer, bool) {
	payload, ok := ReadEntry(data, &k.Digest, now)
	if !ok {
		return policy.Answer{}, false
	}
	a, err := policy.ParseAnswer(payload)
	return a, err == nil
}

// PolicyMemo remembers the answers a host last decoded from policy cache
// entries, by entry name, so a hit on an unchanged entry is not parsed
// again: the filter's hot path, every call of a key in use, otherwise
// parses the same JSON answer per call. Expiry and digest are checked
// every time, and an entry another worker rewrote is decoded afresh. At
// most MaxPolicyMemo names are kept; past that it starts over. Not safe for
// concurrent use (one per VM). The zero value is ready.
type PolicyMemo struct {
	entries map[string]memoEntry
}

// MaxPolicyMemo bounds a PolicyMemo.
const MaxPolicyMemo = 1024

type memoEntry struct {
	payload []byte
	answer  policy.Answer
}

// FromEntry is PolicyFromEntry for the entry named name, through the memo.
// The answer's maps and slices are shared by every call it is returned to:
// read only, as they are everywhere.
func (m *PolicyMemo) FromEntry(k *CacheKey, name string, data []byte, now time.Time) (policy.Answer, bool) {
	payload, ok := ReadEntry(data, &k.Digest, now)
	if !ok {
		return policy.Answer{}, false
	}
	if e, ok := m.entries[name]; ok && sameBytes(e.payload, payload) {
		return e.answer, true
	}
	a, err := policy.ParseAnswer(payload)
	if err != nil {
		return policy.Answer{}, false
	}
	if m.entries == nil || len(m.entries) >= MaxPolicyMemo {
		m.entries = make(map[string]memoEntry)
	}
	m.entries[name] = memoEntry{payload: append([]byte(nil), payload...), answer: a}
	return a, true
}

// PricedEntry encodes a priced answer's cache entry at now.
func PricedEntry(k *CacheKey, a policy.PricedAnswer, ttl, negativeTTL time.Duration, now time.Time) []byte {
	keep, v := negativeTTL, byte(0)
	if a.Priced {
		keep, v = ttl, 1
	}
	return AppendEntry(make([]byte, 0, entryHeader+1), &k.Digest, now.Add(ReuseFor(keep, a.CacheTTLSeconds)), []byte{v})
}

// PricedFromEntry reads a priced answer from a cache entry.
func PricedFromEntry(k *CacheKey, data []byte, now time.Time) (priced, ok bool) {
	payload, ok := ReadEntry(data, &k.Digest, now)
	if !ok || len(payload) != 1 {
		return false, false
	}
	return payload[0] == 1, true
}

// ReuseFor is how long an answer of the control plane may be reused: the
// host's ttl for its kind, shortened by the answer's own hint
// (cache_ttl_seconds; 0: none).
func ReuseFor(ttl time.Duration, hintSeconds int) time.Duration {
	if hint := time.Duration(hintSeconds) * time.Second; hint > 0 && hint < ttl {
		return hint
	}
	return ttl
}

// RateEntryPrefix names a key's rate limit counts in shared data (one entry
// per rate-limited key id, reused from minute to minute).
const RateEntryPrefix = "spendgate.rate."

// rateEntryBytes is a rate entry's size: minute, requests, tokens as
// big-endian int64s.
const rateEntryBytes = 24

// AppendRateWindow encodes a rate window's shared entry.
func AppendRateWindow(b []byte, w policy.RateWindow) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(w.Minute))
	b = binary.BigEndian.AppendUint64(b, uint64(w.Requests))
	return binary.BigEndian.AppendUint64(b, uint64(w.Tokens))
}

// ReadRateWindow decodes a rate entry; anything but a whole entry (none yet,
// a layout from another version) is an empty window, which the next write
// replaces.
func ReadRateWindow(data []byte) policy.RateWindow {
	if len(data) != rateEntryBytes {
		return policy.RateWindow{}
	}
	return policy.RateWindow{
		Minute:   int64(binary.BigEndian.Uint64(data[0:8])),
		Requests: int64(binary.BigEndian.Uint64(data[8:16])),
		Tokens:   int64(binary.BigEndian.Uint64(data[16:24])),
	}
}

// sameBytes is bytes.Equal without its string(a) == string(b), which TinyGo
// (unlike Go) compiles to two copies: this runs on every cache hit.
func sameBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}
