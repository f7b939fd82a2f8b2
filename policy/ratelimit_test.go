package policy

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/usage"
)

// minute0 is 12:00:00 UTC; at(s) is s seconds after it (fractions allowed).
var minute0 = time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return minute0.Add(time.Duration(s * float64(time.Second))) }

// rateStep is one call (or, with tokens > 0, one response's usage) at a time.
type rateStep struct {
	t      float64
	tokens int64 // > 0: AddTokens instead of Admit
	allow  bool  // for Admit steps: admitted?
	retry  int   // for denials: RetryAfterSeconds
}

func TestRateWindow(t *testing.T) {
	tests := []struct {
		name  string
		rpm   int
		tpm   int64
		steps []rateStep
	}{
		{"request limit: the N+1th call in a minute is denied until the next minute", 3, 0, []rateStep{
			{t: 0, allow: true}, {t: 10, allow: true}, {t: 20, allow: true},
			{t: 20.5, allow: false, retry: 40}, {t: 59.999, allow: false, retry: 1},
			{t: 60, allow: true}, {t: 61, allow: true}, {t: 119, allow: true}, {t: 119.5, allow: false, retry: 1},
		}},
		{"window edges: the minute starts on :00 and a call at :59.999 is still in it", 1, 0, []rateStep{
			{t: 59.999, allow: true}, {t: 59.9999, allow: false, retry: 1}, {t: 60, allow: true}, {t: 60.001, allow: false, retry: 60},
		}},
		{"denied calls do not count", 2, 0, []rateStep{
			{t: 1, allow: true}, {t: 2, allow: true}, {t: 3, allow: false, retry: 57}, {t: 4, allow: false, retry: 56},
			{t: 60, allow: true}, {t: 61, allow: true}, {t: 62, allow: false, retry: 58},
		}},
		{"token limit reached by one response denies the next call", 0, 1000, []rateStep{
			{t: 1, allow: true}, {t: 2, tokens: 999}, {t: 3, allow: true}, {t: 4, tokens: 1},
			{t: 5, allow: false, retry: 55}, {t: 30, allow: false, retry: 30}, {t: 60, allow: true},
		}},
		{"tokens ending in the next minute count there", 0, 100, []rateStep{
			{t: 59, allow: true}, {t: 61, tokens: 500}, {t: 62, allow: false, retry: 58}, {t: 120, allow: true},
		}},
		{"token limit crossed by a single large response", 0, 10, []rateStep{
			{t: 0, allow: true}, {t: 1, allow: true}, {t: 2, tokens: 1_000_000}, {t: 3, allow: false, retry: 57},
		}},
		{"both limits: requests first", 2, 1000, []rateStep{
			{t: 0, allow: true}, {t: 1, tokens: 10}, {t: 2, allow: true}, {t: 3, allow: false, retry: 57},
		}},
		{"both limits: tokens first", 5, 1000, []rateStep{
			{t: 0, allow: true}, {t: 1, tokens: 1000}, {t: 2, allow: false, retry: 58}, {t: 60, allow: true},
		}},
		{"0 means unlimited", 0, 0, []rateStep{
			{t: 0, allow: true}, {t: 0, tokens: math.MaxInt64}, {t: 0, allow: true}, {t: 59, allow: true},
		}},
		{"clock stepping back into the previous minute keeps the counts", 2, 0, []rateStep{
			{t: 60, allow: true}, {t: 61, allow: true}, {t: 59.5, allow: false, retry: 60}, {t: 62, allow: false, retry: 58},
		}},
		{"clock stepping back further starts afresh", 1, 0, []rateStep{
			{t: 600, allow: true}, {t: 601, allow: false, retry: 59}, {t: 100, allow: true}, {t: 101, allow: false, retry: 19},
		}},
		{"times before 1970 round down to their minute", 1, 0, []rateStep{
			{t: -epoch() - 50, allow: true}, {t: -epoch() - 0.5, allow: false, retry: 1}, {t: -epoch(), allow: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Policy{RequestsPerMinute: tt.rpm, TokensPerMinute: tt.tpm}
			var w RateWindow
			for i, s := range tt.steps {
				now := at(s.t)
				if s.tokens > 0 {
					w = w.AddTokens(s.tokens, now)
					continue
				}
				next, d := w.Admit(&p, now)
				if d.Allowed() != s.allow {
					t.Fatalf("step %d at +%vs: allowed=%v (%s), want %v; window %+v", i, s.t, d.Allowed(), d.Message, s.allow, w)
				}
				if d.Allowed() {
					if d.RetryAfterSeconds != 0 || next.Requests < 1 {
						t.Fatalf("step %d: admitted call not counted: %+v %+v", i, next, d)
					}
					w = next
					continue
				}
				if d.Reason != event.DenialRateLimited || d.RetryAfterSeconds != s.retry {
					t.Fatalf("step %d at +%vs: reason %q retry %d, want %s %d", i, s.t, d.Reason, d.RetryAfterSeconds, event.DenialRateLimited, s.retry)
				}
				if !strings.Contains(d.Message, "per minute") || !strings.HasSuffix(d.Message, "retry in "+strconv.Itoa(s.retry)+"s") {
					t.Fatalf("step %d: message %q", i, d.Message)
				}
				if next.Requests != w.at(now).Requests || next.Tokens != w.at(now).Tokens {
					t.Fatalf("step %d: a denial changed the counts: %+v -> %+v", i, w, next)
				}
			}
		})
	}
}

// epoch is minute0 in Unix seconds: at(-epoch()) is 1970-01-01 00:00:00 UTC.
func epoch() float64 { return float64(minute0.Unix()) }

func TestRateLimitMessagesNameTheLimit(t *testing.T) {
	p := Policy{RequestsPerMinute: 1, TokensPerMinute: 500}
	w, _ := RateWindow{}.Admit(&p, at(0))
	if _, d := w.Admit(&p, at(1)); !strings.Contains(d.Message, "allows 1 requests per minute") {
		t.Errorf("request limit message %q", d.Message)
	}
	p.RequestsPerMinute = 0
	w = w.AddTokens(777, at(2))
	if _, d := w.Admit(&p, at(3)); !strings.Contains(d.Message, "allows 500 tokens per minute and 777 were used this minute") {
		t.Errorf("token limit message %q", d.Message)
	}
}

func TestRateWindowOverflow(t *testing.T) {
	w := RateWindow{}.AddTokens(math.MaxInt64, at(0)).AddTokens(math.MaxInt64, at(1))
	if w.Tokens != math.MaxInt64 {
		t.Fatalf("tokens wrapped: %d", w.Tokens)
	}
	w = w.AddTokens(-5, at(2))
	if w.Tokens != math.MaxInt64 {
		t.Fatalf("negative tokens counted: %d", w.Tokens)
	}
	if _, d := w.Admit(&Policy{TokensPerMinute: math.MaxInt64}, at(3)); d.Allowed() {
		t.Fatal("a saturated count passed the largest limit")
	}
	// Requests saturate too (only reachable with the token limit alone).
	full := RateWindow{Minute: w.Minute, Requests: math.MaxInt64}
	next, d := full.Admit(&Policy{TokensPerMinute: math.MaxInt64}, at(4))
	if !d.Allowed() || next.Requests != math.MaxInt64 {
		t.Fatalf("requests wrapped: %+v %+v", next, d)
	}
	// The largest int limit never rejects a fresh window.
	if _, d := (RateWindow{}).Admit(&Policy{RequestsPerMinute: math.MaxInt}, at(5)); !d.Allowed() {
		t.Fatal("largest request limit denied")
	}
	// A window decoded from anywhere (shared data) with a minute far away
	// gives a retry-after within 1..60 and no overflow.
	for _, m := range []int64{math.MaxInt64, math.MinInt64, unixMinute(at(0)) + 1} {
		_, d := RateWindow{Minute: m, Requests: 10}.Admit(&Policy{RequestsPerMinute: 1}, at(30))
		if !d.Allowed() && (d.RetryAfterSeconds < 1 || d.RetryAfterSeconds > 60) {
			t.Errorf("minute %d: retry after %d", m, d.RetryAfterSeconds)
		}
	}
	huge := usage.Tokens{Input: math.MaxInt64, Output: math.MaxInt64, Reasoning: -3}
	if got := RateTokens(huge); got != math.MaxInt64 {
		t.Fatalf("RateTokens overflow: %d", got)
	}
}

func TestRateTokensCountsEveryInputAndOutputToken(t *testing.T) {
	u := usage.Tokens{Input: 1, CachedInput: 2, CacheWrite5m: 4, CacheWrite1h: 8, Output: 16, Reasoning: 32, AudioInput: 64,
		AudioOutput: 128, ImageInput: 256, ImageOutput: 512, WebSearches: 1000, Characters: 2000, Seconds: 3000, Images: 4000}
	if got := RateTokens(u); got != 1023 {
		t.Fatalf("RateTokens %d, want 1023 (tokens only)", got)
	}
	if got := RateTokens(u); got != u.TotalInput()+u.TotalOutput() {
		t.Fatalf("RateTokens %d disagrees with TotalInput+TotalOutput %d", got, u.TotalInput()+u.TotalOutput())
	}
}

func TestRateWindowsMap(t *testing.T) {
	limited := Answer{Valid: true, TenantID: "t", KeyID: "k1", Policy: Policy{RequestsPerMinute: 2, TokensPerMinute: 100}}
	other := Answer{Valid: true, TenantID: "t", KeyID: "k2", Policy: Policy{RequestsPerMinute: 1}}
	open := Answer{Valid: true, TenantID: "t", KeyID: "k3"}
	m := RateWindows{}
	for i := 0; i < 100; i++ {
		if d := m.Admit(&open, at(1)); !d.Allowed() {
			t.Fatal("key without limits denied")
		}
		m.AddTokens(&open, usage.Tokens{Input: 1000}, at(1))
	}
	if _, ok := m["k3"]; ok {
		t.Fatal("key without limits got an entry")
	}
	if !m.Admit(&limited, at(1)).Allowed() || !m.Admit(&other, at(1)).Allowed() {
		t.Fatal("first calls denied")
	}
	if d := m.Admit(&other, at(2)); d.Reason != event.DenialRateLimited || d.RetryAfterSeconds != 58 {
		t.Fatalf("k2's second call: %+v", d)
	}
	// k1 has its own count: one more call passes, then its tokens stop it.
	if !m.Admit(&limited, at(2)).Allowed() {
		t.Fatal("k1 counted k2's calls")
	}
	if m["k1"].Requests != 2 || m["k2"].Requests != 1 {
		t.Fatalf("counts %+v", m)
	}
	limited.Policy.RequestsPerMinute = 0 // the limit was lifted (a new policy answer)
	m.AddTokens(&limited, usage.Tokens{Input: 60, Output: 40}, at(3))
	if d := m.Admit(&limited, at(4)); d.Allowed() {
		t.Fatal("k1 passed after its tokens reached the limit")
	}
	m.Sweep(at(59))
	if len(m) != 2 {
		t.Fatalf("swept current windows: %+v", m)
	}
	m.Sweep(at(60))
	if len(m) != 0 {
		t.Fatalf("stale windows kept: %+v", m)
	}
	if !m.Admit(&limited, at(60)).Allowed() {
		t.Fatal("k1 denied in the next minute")
	}
}

func TestParseAnswerRateLimits(t *testing.T) {
	a := answer()
	a.Policy.RequestsPerMinute, a.Policy.TokensPerMinute = 60, 100_000
	b, _ := json.Marshal(a)
	got, err := ParseAnswer(b)
	if err != nil || got.Policy.RequestsPerMinute != 60 || got.Policy.TokensPerMinute != 100_000 || !got.Policy.RateLimited() {
		t.Fatalf("limits %+v %v from %s", got.Policy, err, b)
	}
	base := `{"valid":true,"tenant_id":"t","key_id":"k","policy":{%s}}`
	for _, tt := range []struct {
		fields   string
		rpm      int
		tpm      int64
		rejected bool
	}{
		{``, 0, 0, false},
		{`"requests_per_minute":null,"tokens_per_minute":0`, 0, 0, false},
		{`"requests_per_minute":1,"tokens_per_minute":9223372036854775807`, 1, math.MaxInt64, false},
		{`"tokens_per_minute":1e30`, 0, 0, true},
		{`"tokens_per_minute":99999999999999999999999`, 0, math.MaxInt64, false},
		{`"requests_per_minute":99999999999`, int(min(99999999999, int64(math.MaxInt))), 0, false},
		{`"requests_per_minute":-1`, 0, 0, true},
		{`"tokens_per_minute":-5`, 0, 0, true},
		{`"requests_per_minute":1.5`, 0, 0, true},
		{`"requests_per_minute":"60"`, 0, 0, true},
		{`"tokens_per_minute":true`, 0, 0, true},
	} {
		raw := strings.Replace(base, "%s", tt.fields, 1)
		got, err := ParseAnswer([]byte(raw))
		if tt.rejected {
			if err == nil {
				t.Errorf("%s accepted: %+v", raw, got.Policy)
			}
			continue
		}
		if err != nil || got.Policy.RequestsPerMinute != tt.rpm || got.Policy.TokensPerMinute != tt.tpm {
			t.Errorf("%s: %d %d %v, want %d %d", raw, got.Policy.RequestsPerMinute, got.Policy.TokensPerMinute, err, tt.rpm, tt.tpm)
		}
	}
}

func TestRateLimitDenialIsRetryable(t *testing.T) {
	if !ShouldRetry(event.DenialRateLimited) {
		t.Fatal("a rate limit denial passes after retry-after: it must say so")
	}
	for style, check := range map[string]func(map[string]any) bool{
		"openai": func(v map[string]any) bool {
			e, _ := v["error"].(map[string]any)
			return e["code"] == event.DenialRateLimited && e["type"] == "rate_limit_exceeded"
		},
		"anthropic": func(v map[string]any) bool {
			e, _ := v["error"].(map[string]any)
			return v["type"] == "error" && e["type"] == "rate_limit_error"
		},
		"gemini": func(v map[string]any) bool {
			e, _ := v["error"].(map[string]any)
			return e["status"] == "RESOURCE_EXHAUSTED" && e["code"] == float64(429)
		},
	} {
		status, _, body := DenialResponse(style, event.DenialRateLimited, "rate limit reached")
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil || status != 429 || !check(v) {
			t.Errorf("%s: %d %s", style, status, body)
		}
	}
}

// TestRateRelease: a call admitted and then refused (by its budget) gives its
// count back within its minute; once the minute is over nothing changes, and
// a key without an entry or without limits is left alone.
func TestRateRelease(t *testing.T) {
	a := Answer{Valid: true, TenantID: "t", KeyID: "k1", Policy: Policy{RequestsPerMinute: 1}}
	m := RateWindows{}
	if !m.Admit(&a, at(1)).Allowed() {
		t.Fatal("first call denied")
	}
	if m.Admit(&a, at(2)).Allowed() {
		t.Fatal("second call admitted over a limit of 1")
	}
	m.Release(&a, at(1))
	if m["k1"].Requests != 0 {
		t.Fatalf("released call still counted: %+v", m["k1"])
	}
	if !m.Admit(&a, at(3)).Allowed() {
		t.Fatal("the call after a released one denied")
	}
	// The next minute: releasing the previous minute's call changes nothing.
	if !m.Admit(&a, at(61)).Allowed() {
		t.Fatal("next minute denied")
	}
	m.Release(&a, at(3))
	if m["k1"].Requests != 1 {
		t.Fatalf("a past minute's release changed this minute: %+v", m["k1"])
	}
	m.Release(&Answer{Valid: true, KeyID: "k2"}, at(61))
	if _, ok := m["k2"]; ok {
		t.Fatal("release created an entry")
	}
	if w := (RateWindow{}).Release(at(0)); w != (RateWindow{}) {
		t.Fatalf("empty window released into %+v", w)
	}
}
