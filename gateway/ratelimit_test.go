package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/policy"
)

// testClock is the gateway's clock in rate limit tests: it stands still
// until the test moves it, so a minute never ends by itself mid-test.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock(t time.Time) *testClock { return &testClock{t: t} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// at is 2026-11-03 12:mm:ss(.frac) UTC.
func at(mm int, sec float64) time.Time {
	return time.Date(2026, 11, 3, 12, mm, 0, 0, time.UTC).Add(time.Duration(sec * float64(time.Second)))
}

func limitedAnswer(key string, rpm int, tpm int64) policy.Answer {
	return policy.Answer{Valid: true, TenantID: tenantID, KeyID: key, CacheTTLSeconds: 60,
		Policy: policy.Policy{RequestsPerMinute: rpm, TokensPerMinute: tpm}}
}

const (
	limitedKeyID = "44444444-4444-4444-8444-444444444444"
	openKeyID    = "55555555-5555-4555-8555-555555555555"
)

var (
	chatParams = openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
	messageParams = anthropic.MessageNewParams{Model: "claude-haiku-4-5", MaxTokens: 16,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}
)

// rateLimitedOpenAI asserts err is the OpenAI SDK's API error for a rate
// limit denial with the given message and retry-after.
func rateLimitedOpenAI(t *testing.T, err error, msg, retryAfter string) {
	t.Helper()
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("want *openai.Error, got %v", err)
	}
	if apiErr.StatusCode != 429 || apiErr.Code != event.DenialRateLimited || apiErr.Type != "rate_limit_exceeded" || apiErr.Message != msg {
		t.Fatalf("openai error %d code %q type %q message %q, want 429 %s rate_limit_exceeded %q",
			apiErr.StatusCode, apiErr.Code, apiErr.Type, apiErr.Message, event.DenialRateLimited, msg)
	}
	h := apiErr.Response.Header
	if h.Get("Retry-After") != retryAfter || h.Get("X-Should-Retry") != "true" || h.Get("X-Spendgate-Denial") != event.DenialRateLimited {
		t.Fatalf("denial headers %v, want retry-after %s", h, retryAfter)
	}
}

func (e *env) rateEntries() policy.RateWindows {
	g := e.handler
	g.rateMu.Lock()
	defer g.rateMu.Unlock()
	out := policy.RateWindows{}
	for k, w := range g.rates {
		out[k] = w
	}
	return out
}

// TestRequestsPerMinute: the N+1th call of a key within a minute is refused
// in the calling SDK's own error shape (429 rate_limited with retry-after
// until the minute ends and x-should-retry: true) and recorded as a denial;
// another key without limits is unaffected and gets no window; the next
// minute passes again.
func TestRequestsPerMinute(t *testing.T) {
	t.Parallel()
	clk := newTestClock(at(0, 10.5)) // the minute ends in 49.5 s: retry-after 50
	e := setup(t, func(c *Config) { c.Now = clk.Now }, map[string]policy.Answer{
		"sg_limited_x": limitedAnswer(limitedKeyID, 2, 0), "sg_open_x": limitedAnswer(openKeyID, 0, 0)})
	ctx := context.Background()
	oc, ac := e.openai("sg_limited_x"), e.anthropic("sg_limited_x")
	if _, err := oc.Chat.Completions.New(ctx, chatParams); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Messages.New(ctx, messageParams); err != nil {
		t.Fatal(err)
	}
	_, err := oc.Chat.Completions.New(ctx, chatParams)
	rateLimitedOpenAI(t, err, "spendgate: rate limit reached: this key allows 2 requests per minute; retry in 50s", "50")

	_, err = ac.Messages.New(ctx, messageParams)
	var aErr *anthropic.Error
	if !errors.As(err, &aErr) || aErr.StatusCode != 429 || aErr.Type() != "rate_limit_error" ||
		!strings.Contains(aErr.Error(), "this key allows 2 requests per minute; retry in 50s") {
		t.Fatalf("anthropic: %v", err)
	}
	if aErr.Response.Header.Get("Retry-After") != "50" || aErr.Response.Header.Get("X-Should-Retry") != "true" {
		t.Fatalf("anthropic denial headers %v", aErr.Response.Header)
	}

	// A key without limits passes as often as it likes and has no window.
	open := e.openai("sg_open_x")
	for i := 0; i < 5; i++ {
		if _, err := open.Chat.Completions.New(ctx, chatParams); err != nil {
			t.Fatalf("key without limits, call %d: %v", i, err)
		}
	}
	if w := e.rateEntries(); len(w) != 1 || w[limitedKeyID].Requests != 2 {
		t.Fatalf("rate windows %+v, want only the limited key's with 2 calls", w)
	}
	if n := len(e.fake.Requests()); n != 7 {
		t.Fatalf("the provider saw %d calls, want 7 (2 limited + 5 open)", n)
	}
	evs := e.sink.wait(t, 9)
	var denials []event.Event
	for _, ev := range evs {
		if ev.Type == event.TypeDenial {
			denials = append(denials, ev)
		}
	}
	if len(denials) != 2 {
		t.Fatalf("%d denial events, want 2", len(denials))
	}
	for i, d := range denials {
		if d.DenialReason != event.DenialRateLimited || d.KeyID != limitedKeyID || d.TenantID != tenantID ||
			!strings.Contains(d.DenialMessage, "2 requests per minute") || d.Provider != []string{"openai", "anthropic"}[i] {
			t.Fatalf("denial event %+v", d)
		}
	}

	// The next minute starts a fresh count.
	clk.Set(at(1, 0))
	if _, err := oc.Chat.Completions.New(ctx, chatParams); err != nil {
		t.Fatalf("next minute: %v", err)
	}
}

// statusHook serves h and calls before(status) as each answer's status is
// about to be written, so whatever before changes is in place before the
// caller can see the answer.
func statusHook(t *testing.T, h http.Handler, before func(status int)) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	hits := &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h.ServeHTTP(&statusRecorder{ResponseWriter: w, before: before}, r)
	}))
	t.Cleanup(srv.Close)
	return srv, hits
}

type statusRecorder struct {
	http.ResponseWriter
	before func(status int)
}

func (s *statusRecorder) WriteHeader(code int) {
	s.before(code)
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// TestSDKRetriesWaitForRetryAfter: with their retries on, both SDKs obey
// x-should-retry: true and wait the retry-after the gateway sends (1 s here:
// the test's clock stands at the minute's last second, so no test waits a
// minute). When the minute has turned by the retry, it passes; when not, the
// retries are refused too and each is a denial. Without retries the SDK
// reports the 429 at once.
func TestSDKRetriesWaitForRetryAfter(t *testing.T) {
	t.Parallel()
	clk := newTestClock(at(0, 59.5))
	e := setup(t, func(c *Config) { c.Now = clk.Now }, map[string]policy.Answer{"sg_limited_x": limitedAnswer(limitedKeyID, 1, 0)})
	var turnMinute atomic.Bool // the next denial moves the clock to 12:01:00
	srv, hits := statusHook(t, e.handler, func(status int) {
		if status == http.StatusTooManyRequests && turnMinute.CompareAndSwap(true, false) {
			clk.Set(at(1, 0))
		}
	})
	ctx := context.Background()
	client := func(retries int) openai.Client {
		return openai.NewClient(option.WithBaseURL(srv.URL+"/v1/openai"), option.WithAPIKey("sk"),
			option.WithHeader("x-spendgate-key", "sg_limited_x"), option.WithMaxRetries(retries))
	}
	retrying, once := client(2), client(0)
	if _, err := retrying.Chat.Completions.New(ctx, chatParams); err != nil {
		t.Fatal(err)
	}
	// Refused at 12:00:59.5 with retry-after 1; the SDK waits and retries in
	// the next minute, which admits it.
	turnMinute.Store(true)
	start := time.Now()
	if _, err := retrying.Chat.Completions.New(ctx, chatParams); err != nil {
		t.Fatalf("the SDK's retry after retry-after: %v", err)
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Fatalf("the SDK retried after %v, before retry-after (1 s)", waited)
	}
	if n := hits.Load(); n != 3 {
		t.Fatalf("%d requests reached the gateway, want 3 (call, refused call, its retry)", n)
	}
	// Without retries: the 429 comes back at once (12:01:00, retry-after 60).
	_, err := once.Chat.Completions.New(ctx, chatParams)
	rateLimitedOpenAI(t, err, "spendgate: rate limit reached: this key allows 1 requests per minute; retry in 60s", "60")
	if n := hits.Load(); n != 4 {
		t.Fatalf("%d requests with retries off, want 4", n)
	}
	// The Anthropic SDK with one retry, the minute not turning: both tries
	// are refused, the retry after waiting retry-after.
	clk.Set(at(1, 59.5))
	ac := anthropic.NewClient(aoption.WithBaseURL(srv.URL+"/v1/anthropic"), aoption.WithAPIKey("sk-ant"),
		aoption.WithHeader("x-spendgate-key", "sg_limited_x"), aoption.WithMaxRetries(1))
	start = time.Now()
	_, err = ac.Messages.New(ctx, messageParams)
	var aErr *anthropic.Error
	if !errors.As(err, &aErr) || aErr.StatusCode != 429 || aErr.Type() != "rate_limit_error" || aErr.Response.Header.Get("Retry-After") != "1" {
		t.Fatalf("anthropic: %v", err)
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Fatalf("the Anthropic SDK retried after %v, before retry-after (1 s)", waited)
	}
	if n := hits.Load(); n != 6 {
		t.Fatalf("%d requests, want 6 (the Anthropic call and its one retry)", n)
	}
	if n := len(e.fake.Requests()); n != 2 {
		t.Fatalf("the provider saw %d calls, want 2", n)
	}
	evs := e.sink.wait(t, 6)
	denials := 0
	for _, ev := range evs {
		if ev.Type == event.TypeDenial && ev.DenialReason == event.DenialRateLimited {
			denials++
		}
	}
	if denials != 4 {
		t.Fatalf("%d rate limit denial events, want 4", denials)
	}
}

// TestTokensPerMinute: tokens count when a response's usage is known (a
// JSON answer and a stream); once a minute's tokens reach the limit, the
// next call is refused with a message naming them, until the minute ends.
func TestTokensPerMinute(t *testing.T) {
	t.Parallel()
	clk := newTestClock(at(0, 10))
	e := setup(t, func(c *Config) { c.Now = clk.Now }, map[string]policy.Answer{"sg_limited_x": limitedAnswer(limitedKeyID, 0, 100)})
	ctx := context.Background()
	oc := e.openai("sg_limited_x", option.WithHeader("x-fake-prompt-tokens", "30"), option.WithHeader("x-fake-completion-tokens", "10"))
	if _, err := oc.Chat.Completions.New(ctx, chatParams); err != nil {
		t.Fatal(err)
	}
	e.sink.wait(t, 1) // the tokens are counted before the event is sent
	if w := e.rateEntries()[limitedKeyID]; w.Tokens != 40 || w.Requests != 1 {
		t.Fatalf("window after 40 tokens: %+v", w)
	}
	// A stream of 60 tokens (under the limit when it starts) reaches 100.
	sc := e.openai("sg_limited_x", option.WithHeader("x-fake-prompt-tokens", "50"), option.WithHeader("x-fake-completion-tokens", "10"),
		option.WithHeader("x-fake-chunks", "3"))
	stream := sc.Chat.Completions.NewStreaming(ctx, chatParams)
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	e.sink.wait(t, 2)
	ac := e.anthropic("sg_limited_x")
	_, err := ac.Messages.New(ctx, messageParams)
	var aErr *anthropic.Error
	if !errors.As(err, &aErr) || aErr.StatusCode != 429 || aErr.Type() != "rate_limit_error" ||
		!strings.Contains(aErr.Error(), "this key allows 100 tokens per minute and 100 were used this minute; retry in 50s") {
		t.Fatalf("anthropic after the token limit: %v", err)
	}
	_, err = oc.Chat.Completions.New(ctx, chatParams)
	rateLimitedOpenAI(t, err, "spendgate: token rate limit reached: this key allows 100 tokens per minute and 100 were used this minute; retry in 50s", "50")
	if n := len(e.fake.Requests()); n != 2 {
		t.Fatalf("the provider saw %d calls, want 2", n)
	}
	clk.Set(at(1, 0))
	if _, err := ac.Messages.New(ctx, messageParams); err != nil {
		t.Fatalf("next minute: %v", err)
	}
}

// TestConcurrentCallsNeverExceedTheLimit: many SDK clients at once in one
// minute (run with -race): exactly the limit passes, every other call is a
// rate limit denial, and a key without limits calling meanwhile is never
// refused.
func TestConcurrentCallsNeverExceedTheLimit(t *testing.T) {
	t.Parallel()
	const limit, callers, openCallers = 5, 40, 10
	clk := newTestClock(at(0, 1))
	e := setup(t, func(c *Config) { c.Now = clk.Now }, map[string]policy.Answer{
		"sg_limited_x": limitedAnswer(limitedKeyID, limit, 1_000_000), "sg_open_x": limitedAnswer(openKeyID, 0, 0)})
	ctx := context.Background()
	var passed, limited, openPassed atomic.Int64
	errs := make(chan error, callers+openCallers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < callers+openCallers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			key := "sg_limited_x"
			if i >= callers {
				key = "sg_open_x"
			}
			c := e.openai(key)
			<-start
			_, err := c.Chat.Completions.New(ctx, chatParams)
			var apiErr *openai.Error
			switch {
			case err == nil && key == "sg_open_x":
				openPassed.Add(1)
			case err == nil:
				passed.Add(1)
			case errors.As(err, &apiErr) && apiErr.StatusCode == 429 && apiErr.Code == event.DenialRateLimited && key == "sg_limited_x":
				limited.Add(1)
			default:
				errs <- err
			}
		}(i)
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("unexpected outcome: %v", err)
	}
	if passed.Load() != limit || limited.Load() != callers-limit || openPassed.Load() != openCallers {
		t.Fatalf("limited key: %d passed, %d refused; open key: %d passed; want %d, %d, %d",
			passed.Load(), limited.Load(), openPassed.Load(), limit, callers-limit, openCallers)
	}
	if n := len(e.fake.Requests()); n != limit+openCallers {
		t.Fatalf("the provider saw %d calls, want %d", n, limit+openCallers)
	}
	e.sink.wait(t, callers+openCallers)
	if w := e.rateEntries()[limitedKeyID]; w.Requests != limit {
		t.Fatalf("window %+v, want %d requests", w, limit)
	}
}

// TestStaleWindowsAreSwept: a key's window is dropped once its minute is
// over (at the next rate-limited call, at most once a minute), so the
// gateway's memory holds only the keys limited in the current minute.
func TestStaleWindowsAreSwept(t *testing.T) {
	t.Parallel()
	clk := newTestClock(at(0, 10))
	e := setup(t, func(c *Config) { c.Now = clk.Now }, map[string]policy.Answer{
		"sg_limited_x": limitedAnswer(limitedKeyID, 1, 0), "sg_other_x": limitedAnswer(openKeyID, 1, 0)})
	ctx := context.Background()
	first, second := e.openai("sg_limited_x"), e.openai("sg_other_x")
	if _, err := first.Chat.Completions.New(ctx, chatParams); err != nil {
		t.Fatal(err)
	}
	clk.Set(at(2, 0))
	if _, err := second.Chat.Completions.New(ctx, chatParams); err != nil {
		t.Fatal(err)
	}
	w := e.rateEntries()
	if _, ok := w[limitedKeyID]; ok || len(w) != 1 || w[openKeyID].Requests != 1 {
		t.Fatalf("windows after two minutes: %+v, want only the current key's", w)
	}
}

// TestBudgetRefusalDoesNotCount: a call admitted by its rate limit and then
// refused by its hard budget's reservation gives its count back (refused
// calls do not count), so the key's next call in the minute can pass.
func TestBudgetRefusalDoesNotCount(t *testing.T) {
	t.Parallel()
	clk := newTestClock(at(0, 10))
	hard := limitedAnswer(limitedKeyID, 1, 0)
	hard.Policy.HardBudget = true
	budget := &budgetStandIn{room: 0}
	e := setup(t, func(c *Config) { c.Now = clk.Now; c.Reserver = budget }, map[string]policy.Answer{"sg_limited_x": hard})
	ctx := context.Background()
	oc := e.openai("sg_limited_x")
	_, err := oc.Chat.Completions.New(ctx, chatParams)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Code != event.DenialBudgetExceeded {
		t.Fatalf("no room: %v", err)
	}
	budget.mu.Lock()
	budget.room = 1
	budget.mu.Unlock()
	if _, err := oc.Chat.Completions.New(ctx, chatParams); err != nil {
		t.Fatalf("the call after a budget refusal: %v", err)
	}
	_, err = oc.Chat.Completions.New(ctx, chatParams)
	rateLimitedOpenAI(t, err, "spendgate: rate limit reached: this key allows 1 requests per minute; retry in 50s", "50")
	if n := len(budget.requests()); n != 2 {
		t.Fatalf("%d reservations, want 2 (a rate limited call is not reserved)", n)
	}
}
