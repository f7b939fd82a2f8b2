package policy

import (
	"math"
	"strconv"
	"time"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/usage"
)

// Rate limits (Policy.RequestsPerMinute, Policy.TokensPerMinute) are counted
// per key in fixed one-minute windows that start on the UTC minute, the way
// the limits read ("per minute") and the way a caller can predict: the count
// starts again at the next minute, which is what retry-after tells.
//
// A call is counted when it is admitted (denied calls do not count, so a
// client retrying a denied call does not push its own limit further away).
// Tokens are only known when the response has ended: they count in the window
// of that moment, and once a window's tokens reach the limit the calls after
// it in that window are refused; the call that crossed the limit has already
// been served.
//
// The functions take the current time as an argument and keep no state of
// their own: the data plane keeps a RateWindow per key where its workers see
// it (the filter in proxy-wasm shared data, the gateway in memory, see
// RateWindows) and stores what Admit and AddTokens return.

// RateLimited reports whether the policy limits calls or tokens per minute.
func (p *Policy) RateLimited() bool {
	return p.RequestsPerMinute > 0 || p.TokensPerMinute > 0
}

// RateWindow is one key's use in one minute.
type RateWindow struct {
	// Minute is the window's start in Unix minutes (Unix seconds / 60).
	Minute int64
	// Requests counts the admitted calls; Tokens the input and output tokens
	// of the calls that ended in the window.
	Requests int64
	Tokens   int64
}

// Admit decides whether a call at now may proceed under p's per-minute
// limits. When it may, the returned window counts it and must be stored in
// place of w; when not, the Decision has Reason event.DenialRateLimited and
// RetryAfterSeconds (1 to 60) until the window ends, and nothing changed. A
// policy without limits admits every call.
func (w RateWindow) Admit(p *Policy, now time.Time) (RateWindow, Decision) {
	cur := w.at(now)
	if p.RequestsPerMinute > 0 && cur.Requests >= int64(p.RequestsPerMinute) {
		retry := cur.secondsLeft(now)
		return cur, Decision{Reason: event.DenialRateLimited, RetryAfterSeconds: retry,
			Message: "rate limit reached: this key allows " + strconv.Itoa(p.RequestsPerMinute) +
				" requests per minute; retry in " + strconv.Itoa(retry) + "s"}
	}
	if p.TokensPerMinute > 0 && cur.Tokens >= p.TokensPerMinute {
		retry := cur.secondsLeft(now)
		return cur, Decision{Reason: event.DenialRateLimited, RetryAfterSeconds: retry,
			Message: "token rate limit reached: this key allows " + strconv.FormatInt(p.TokensPerMinute, 10) +
				" tokens per minute and " + strconv.FormatInt(cur.Tokens, 10) + " were used this minute; retry in " +
				strconv.Itoa(retry) + "s"}
	}
	cur.Requests = addSaturating(cur.Requests, 1)
	return cur, Decision{}
}

// AddTokens counts the tokens of a call that ended at now (see RateTokens);
// store the result in place of w. Negative counts are ignored and the sum
// stops at the largest int64 instead of wrapping.
func (w RateWindow) AddTokens(tokens int64, now time.Time) RateWindow {
	cur := w.at(now)
	if tokens > 0 {
		cur.Tokens = addSaturating(cur.Tokens, tokens)
	}
	return cur
}

// Release takes back the count of a call that Admit admitted at admitted and
// that was refused after all (a budget reservation said no), so refused calls
// do not count; store the result in place of w. Once the window that counted
// the call is over, there is nothing to take back.
func (w RateWindow) Release(admitted time.Time) RateWindow {
	if w.Minute == unixMinute(admitted) && w.Requests > 0 {
		w.Requests--
	}
	return w
}

// Stale reports whether the window no longer counts for calls at now, so
// a data plane may forget it.
func (w RateWindow) Stale(now time.Time) bool {
	return w.at(now) != w
}

// at returns the window that counts a call at now: w itself during its
// minute, a fresh window once the minute is over. A clock that stepped back
// into the previous minute (an NTP correction) stays in w, so a step cannot
// refill the allowance; a reading from further back means the clock was
// reset, and keeping w would block the key until the clock caught up, so it
// starts afresh. An empty window (the zero value) is always fresh.
func (w RateWindow) at(now time.Time) RateWindow {
	m := unixMinute(now)
	if (m == w.Minute || m+1 == w.Minute) && (w.Requests != 0 || w.Tokens != 0) {
		return w
	}
	return RateWindow{Minute: m}
}

// secondsLeft is the whole seconds from now until the window ends, rounded
// up, between 1 and 60 (a clock stepped back would give more than 60).
func (w RateWindow) secondsLeft(now time.Time) int {
	into := now.Unix() - w.Minute*60 // w.Minute*60 <= now's seconds + 60: no overflow
	return int(min(max(60-into, 1), 60))
}

// unixMinute is now in whole Unix minutes, rounded down also before 1970.
func unixMinute(now time.Time) int64 {
	s := now.Unix()
	m := s / 60
	if s%60 < 0 {
		m--
	}
	return m
}

// RateTokens is what a call's usage counts against TokensPerMinute: every
// input and output token, whatever its class (cached, cache writes,
// reasoning, audio, image). Non-token units (characters, seconds, images,
// web searches) do not count.
func RateTokens(t usage.Tokens) int64 {
	var sum int64
	for _, n := range [...]int64{t.Input, t.CachedInput, t.CacheWrite5m, t.CacheWrite1h, t.AudioInput, t.ImageInput,
		t.Output, t.Reasoning, t.AudioOutput, t.ImageOutput} {
		if n > 0 {
			sum = addSaturating(sum, n)
		}
	}
	return sum
}

func addSaturating(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// RateWindows holds the windows of many keys, by key id, for a data plane
// that counts in its own memory (the embedded gateway). It is a plain map:
// guard it with a mutex when goroutines share it. Entries exist only for
// keys with limits, so it holds at most one per rate-limited key in use;
// Sweep drops the ones whose minute is over.
type RateWindows map[string]RateWindow

// Admit applies a's rate limits to a call at now and counts the call when it
// is admitted. Keys without limits are admitted without an entry.
func (m RateWindows) Admit(a *Answer, now time.Time) Decision {
	if !a.Policy.RateLimited() {
		return Decision{}
	}
	w, d := m[a.KeyID].Admit(&a.Policy, now)
	if d.Allowed() {
		m[a.KeyID] = w
	}
	return d
}

// Release takes back a call of a that Admit admitted at admitted and that
// was refused after all (see RateWindow.Release).
func (m RateWindows) Release(a *Answer, admitted time.Time) {
	if w, ok := m[a.KeyID]; ok && a.Policy.RateLimited() {
		m[a.KeyID] = w.Release(admitted)
	}
}

// AddTokens counts the usage of a's call that ended at now, when a limits
// tokens.
func (m RateWindows) AddTokens(a *Answer, u usage.Tokens, now time.Time) {
	if a.Policy.TokensPerMinute <= 0 {
		return
	}
	m[a.KeyID] = m[a.KeyID].AddTokens(RateTokens(u), now)
}

// Sweep forgets the windows that no longer count at now.
func (m RateWindows) Sweep(now time.Time) {
	for k, w := range m {
		if w.Stale(now) {
			delete(m, k)
		}
	}
}
