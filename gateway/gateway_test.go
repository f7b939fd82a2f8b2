package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
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
	"github.com/openai/openai-go/v3/responses"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/fakeprovider"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/policy"
	"github.com/spendgate/spendgate/usage"
)

const (
	tenantID = "11111111-1111-4111-8111-111111111111"
	keyID    = "22222222-2222-4222-8222-222222222222"
	goodKey  = "sg_good0001_secretsecretsecretsecretsecret"
)

// policyServer speaks the policy endpoint contract (policy/policy.go) for a
// fixed set of keys, standing in for the control plane.
func policyServer(t *testing.T, answers map[string]policy.Answer) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer svc" {
			http.Error(w, "bad service token", http.StatusUnauthorized)
			return
		}
		a, ok := answers[r.Header.Get("X-Spendgate-Key")]
		if !ok {
			a = policy.Answer{Valid: false, Reason: "unknown_key", CacheTTLSeconds: 5}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(a)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// captureSink plays the ingest endpoint: it keeps every published event.
type captureSink struct {
	mu     sync.Mutex
	events []event.Event
}

func (c *captureSink) Publish(_ context.Context, evs []event.Event) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, evs...)
	return 0, nil
}

func (c *captureSink) wait(t *testing.T, n int) []event.Event {
	t.Helper()
	testenv.WaitFor(t, 5*time.Second, "events", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.events) >= n
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]event.Event(nil), c.events...)
}

type env struct {
	gw *httptest.Server
	// handler is the gateway gw serves.
	handler *Gateway
	fake    *fakeprovider.Server
	sink    *captureSink
	gwCfg   Config
	// hits counts requests that reached the gateway (SDK retries included).
	hits *atomic.Int64
}

// counted serves h and counts the requests it gets.
func counted(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	hits := &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h.ServeHTTP(w, r)
	}))
	return srv, hits
}

func setup(t *testing.T, mutate func(*Config), answers map[string]policy.Answer) *env {
	t.Helper()
	if answers == nil {
		answers = map[string]policy.Answer{goodKey: {Valid: true, TenantID: tenantID, KeyID: keyID, KeyPrefix: "good0001", CacheTTLSeconds: 60,
			Policy: policy.Policy{DefaultDimensions: map[string]string{"env": "test"}}}}
	}
	pol := policyServer(t, answers)
	src := NewCachedPolicySource(&HTTPPolicySource{URL: pol.URL + "/internal/v1/policy", ServiceToken: "svc"}, time.Minute, 10*time.Second)
	return setupWith(t, mutate, src)
}

// setupWith serves a gateway over policies, routing openai, anthropic and
// gemini to a fake provider.
func setupWith(t *testing.T, mutate func(*Config), policies PolicySource) *env {
	t.Helper()
	fake := fakeprovider.New(fakeprovider.Config{})
	fakeSrv := httptest.NewServer(fake)
	t.Cleanup(fakeSrv.Close)
	cfg := DefaultConfig()
	cfg.Upstreams = map[string]string{"openai": fakeSrv.URL + "/v1", "anthropic": fakeSrv.URL, "gemini": fakeSrv.URL}
	if mutate != nil {
		mutate(&cfg)
	}
	sink := &captureSink{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	batcher := NewBatcher(sink, 100, 10000, 20*time.Millisecond, log)
	gw := New(cfg, policies, batcher, log)
	srv, hits := counted(t, gw)
	t.Cleanup(func() {
		srv.Close()
		gw.Shutdown(context.Background())
	})
	return &env{gw: srv, handler: gw, fake: fake, sink: sink, gwCfg: cfg, hits: hits}
}

func (e *env) openai(key string, extra ...option.RequestOption) openai.Client {
	opts := []option.RequestOption{option.WithBaseURL(e.gw.URL + "/v1/openai"), option.WithAPIKey("sk-provider-key"),
		option.WithHeader("x-spendgate-key", key), option.WithMaxRetries(0)}
	return openai.NewClient(append(opts, extra...)...)
}

func (e *env) anthropic(key string, extra ...aoption.RequestOption) anthropic.Client {
	opts := []aoption.RequestOption{aoption.WithBaseURL(e.gw.URL + "/v1/anthropic"), aoption.WithAPIKey("sk-ant-provider"),
		aoption.WithHeader("x-spendgate-key", key), aoption.WithMaxRetries(0)}
	return anthropic.NewClient(append(opts, extra...)...)
}

func TestOpenAIChatCompletion(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	c := e.openai(goodKey, option.WithHeader("x-fake-prompt-tokens", "100"), option.WithHeader("x-fake-cached-tokens", "40"),
		option.WithHeader("x-fake-completion-tokens", "20"), option.WithHeader("x-fake-reasoning-tokens", "5"),
		option.WithHeader("x-spendgate-dim-team", "search"))
	resp, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Usage.PromptTokens != 100 || resp.Usage.CompletionTokens != 20 {
		t.Fatalf("SDK usage %+v", resp.Usage)
	}
	ev := e.sink.wait(t, 1)[0]
	want := usage.Tokens{Input: 60, CachedInput: 40, Output: 15, Reasoning: 5}
	if ev.Usage != want || ev.Type != event.TypeUsage || ev.TenantID != tenantID || ev.KeyID != keyID || ev.Provider != "openai" ||
		ev.Operation != "chat.completions" || ev.ModelRequested != "gpt-4o" || ev.StatusCode != 200 || !ev.Complete ||
		ev.Dimensions["team"] != "search" || ev.Dimensions["env"] != "test" || ev.Source != event.SourceGateway || ev.RequestID == "" {
		t.Fatalf("event %+v", ev)
	}
	last, _ := e.fake.Last()
	if last.Header.Get("x-spendgate-key") != "" || last.Header.Get("Authorization") != "Bearer sk-provider-key" {
		t.Fatalf("forwarded headers: key=%q auth=%q", last.Header.Get("x-spendgate-key"), last.Header.Get("Authorization"))
	}
}

func TestOpenAIStreamingGetsUsageInjected(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	c := e.openai(goodKey, option.WithHeader("x-fake-prompt-tokens", "30"), option.WithHeader("x-fake-completion-tokens", "9"), option.WithHeader("x-fake-chunks", "5"))
	stream := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("count")}})
	var text strings.Builder
	var sdkUsage int64
	for stream.Next() {
		ch := stream.Current()
		for _, choice := range ch.Choices {
			text.WriteString(choice.Delta.Content)
		}
		if ch.Usage.TotalTokens > 0 {
			sdkUsage = ch.Usage.TotalTokens
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "word4") || sdkUsage != 39 {
		t.Fatalf("stream text %q usage %d", text.String(), sdkUsage)
	}
	last, _ := e.fake.Last()
	if !strings.Contains(string(last.Body), `"stream_options":{"include_usage":true}`) {
		t.Fatalf("usage option not injected: %s", last.Body)
	}
	ev := e.sink.wait(t, 1)[0]
	if ev.Usage != (usage.Tokens{Input: 30, Output: 9}) || !ev.Streaming || !ev.Complete || ev.ModelServed != "gpt-4o-mini" {
		t.Fatalf("event %+v", ev)
	}
}

func TestAnthropicStreamingWithCacheTokens(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	c := e.anthropic(goodKey, aoption.WithHeader("x-fake-prompt-tokens", "25"), aoption.WithHeader("x-fake-cached-tokens", "1000"),
		aoption.WithHeader("x-fake-cache-write-tokens", "200"), aoption.WithHeader("x-fake-completion-tokens", "42"))
	stream := c.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{
		Model: anthropic.Model("claude-haiku-4-5"), MaxTokens: 256,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
	var msg anthropic.Message
	for stream.Next() {
		if err := msg.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if msg.Usage.CacheReadInputTokens != 1000 || msg.Usage.OutputTokens != 42 {
		t.Fatalf("SDK usage %+v", msg.Usage)
	}
	ev := e.sink.wait(t, 1)[0]
	want := usage.Tokens{Input: 25, CachedInput: 1000, CacheWrite5m: 200, Output: 42}
	if ev.Usage != want || ev.Provider != "anthropic" || ev.Operation != "messages" || !ev.Streaming || !ev.Complete {
		t.Fatalf("event %+v", ev)
	}
	last, _ := e.fake.Last()
	if last.Header.Get("X-Api-Key") != "sk-ant-provider" {
		t.Fatalf("anthropic key not forwarded: %v", last.Header)
	}
}

func TestOpenAIEmbeddings(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	c := e.openai(goodKey, option.WithHeader("x-fake-prompt-tokens", "8"))
	resp, err := c.Embeddings.New(context.Background(), openai.EmbeddingNewParams{Model: "text-embedding-3-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Data) != 1 {
		t.Fatalf("embeddings %+v", resp)
	}
	ev := e.sink.wait(t, 1)[0]
	if ev.Usage != (usage.Tokens{Input: 8}) || ev.Operation != "embeddings" {
		t.Fatalf("event %+v", ev)
	}
}

func TestGeminiStreamOverHTTP(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	req, _ := http.NewRequest("POST", e.gw.URL+"/v1/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
		strings.NewReader(`{"contents":[{"parts":[{"text":"hi"}]}]}`))
	req.Header.Set("x-goog-api-key", "AIza-provider")
	req.Header.Set("x-spendgate-key", goodKey)
	req.Header.Set("x-fake-prompt-tokens", "11")
	req.Header.Set("x-fake-completion-tokens", "6")
	req.Header.Set("x-fake-reasoning-tokens", "50")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "usageMetadata") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	ev := e.sink.wait(t, 1)[0]
	if ev.Usage != (usage.Tokens{Input: 11, Output: 6, Reasoning: 50}) || ev.ModelRequested != "gemini-2.5-flash" || !ev.Streaming || !ev.Complete {
		t.Fatalf("event %+v", ev)
	}
}

func TestDenialsSurfaceAsSDKErrors(t *testing.T) {
	t.Parallel()
	restricted := policy.Answer{Valid: true, TenantID: tenantID, KeyID: keyID, CacheTTLSeconds: 60,
		Policy: policy.Policy{AllowedModels: []string{"gpt-4o-mini", "claude-haiku-*"}, RequiredDimensions: []string{"team"}}}
	blocked := restricted
	blocked.Blocked = true
	e := setup(t, nil, map[string]policy.Answer{"sg_restrict_x": restricted, "sg_blocked_x": blocked,
		"sg_revoked_x": {Valid: false, Reason: "key_revoked", CacheTTLSeconds: 5}})
	ctx := context.Background()
	chat := openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}}

	cases := []struct {
		key, model string
		headers    []option.RequestOption
		status     int
		code, msg  string
	}{
		{"sg_nope_x", "gpt-4o-mini", nil, 401, event.DenialUnknownKey, "not valid"},
		{"sg_revoked_x", "gpt-4o-mini", nil, 401, event.DenialKeyRevoked, "revoked"},
		{"sg_restrict_x", "gpt-4o", []option.RequestOption{option.WithHeader("x-spendgate-dim-team", "a")}, 403, event.DenialModelNotAllowed, "model gpt-4o is not allowed"},
		{"sg_restrict_x", "gpt-4o-mini", nil, 403, event.DenialMissingDimension, "team"},
		{"sg_blocked_x", "gpt-4o-mini", []option.RequestOption{option.WithHeader("x-spendgate-dim-team", "a")}, 429, event.DenialBudgetExceeded, "hard budget"},
	}
	for _, tc := range cases {
		p := chat
		p.Model = tc.model
		client := e.openai(tc.key, tc.headers...)
		_, err := client.Chat.Completions.New(ctx, p)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) {
			t.Fatalf("%s/%s: want *openai.Error, got %v", tc.key, tc.model, err)
		}
		if apiErr.StatusCode != tc.status || apiErr.Code != tc.code || !strings.Contains(apiErr.Message, tc.msg) {
			t.Fatalf("%s/%s: status %d code %q message %q", tc.key, tc.model, apiErr.StatusCode, apiErr.Code, apiErr.Message)
		}
	}
	// Anthropic SDK sees an Anthropic-shaped error.
	ac := e.anthropic("sg_restrict_x")
	_, err := ac.Messages.New(ctx, anthropic.MessageNewParams{Model: "claude-haiku-4-5", MaxTokens: 10,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("x"))}})
	var aErr *anthropic.Error
	if !errors.As(err, &aErr) || aErr.StatusCode != 403 || aErr.Type() != "permission_error" || !strings.Contains(aErr.Error(), "team") {
		t.Fatalf("anthropic denial: %v", err)
	}
	// The fake provider never saw a denied call.
	if n := len(e.fake.Requests()); n != 0 {
		t.Fatalf("%d denied calls reached the provider", n)
	}
	// Denials of tenant keys are recorded; unknown/revoked keys belong to no tenant.
	evs := e.sink.wait(t, 4)
	reasons := map[string]int{}
	for _, ev := range evs {
		if ev.Type != event.TypeDenial || ev.TenantID != tenantID {
			t.Fatalf("unexpected event %+v", ev)
		}
		reasons[ev.DenialReason]++
	}
	if reasons[event.DenialModelNotAllowed] != 1 || reasons[event.DenialMissingDimension] != 2 || reasons[event.DenialBudgetExceeded] != 1 {
		t.Fatalf("denial events %v", reasons)
	}
}

// TestPassThroughIsByteForByte sends one call directly to a provider and
// through the gateway: the provider must see the same body and headers
// (less the spendgate key and, on a metered route, Accept-Encoding, which the
// direct Go client adds), and the caller the same answer and headers.
func TestPassThroughIsByteForByte(t *testing.T) {
	t.Parallel()
	type seen struct {
		body   []byte
		header http.Header
		uri    string
	}
	var mu sync.Mutex
	var got []seen
	const respBody = "{\n  \"id\": \"x\",  \"model\": \"m\", \"usage\": {\"prompt_tokens\": 3, \"completion_tokens\": 4}\n}\n"
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, seen{b, r.Header.Clone(), r.RequestURI})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Custom-Upstream", "kept")
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.Header().Set("Openai-Processing-Ms", "12")
		_, _ = io.WriteString(w, respBody)
	}))
	defer up.Close()
	e := setup(t, func(c *Config) { c.Upstreams["openai"] = up.URL + "/v1" }, nil)
	reqBody := "{\"model\": \"gpt-4o\",\n \"messages\": [{\"role\":\"user\",\"content\":\"ünïcode \\u00e9\"}], \"temperature\": 0.10}"
	call := func(url string, viaGateway bool) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("POST", url, strings.NewReader(reqBody))
		if viaGateway {
			req.Header.Set("x-spendgate-key", goodKey)
		}
		req.Header.Set("Authorization", "Bearer sk-abc")
		req.Header.Set("OpenAI-Organization", "org-1")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Add("X-Multi", "1")
		req.Header.Add("X-Multi", "2")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	direct, directBody := call(up.URL+"/v1/chat/completions?api-version=x", false)
	via, viaBody := call(e.gw.URL+"/v1/openai/chat/completions?api-version=x", true)

	mu.Lock()
	d, g := got[0], got[1]
	mu.Unlock()
	if string(g.body) != reqBody || string(d.body) != reqBody {
		t.Fatalf("request body changed:\n%q\n%q", g.body, reqBody)
	}
	if g.uri != d.uri {
		t.Fatalf("request URI %q, direct %q", g.uri, d.uri)
	}
	if d.header.Get("Accept-Encoding") != "gzip" || g.header.Get("Accept-Encoding") != "" {
		t.Fatalf("Accept-Encoding: direct %q, via gateway %q", d.header.Get("Accept-Encoding"), g.header.Get("Accept-Encoding"))
	}
	d.header.Del("Accept-Encoding")
	if !equalHeaders(g.header, d.header) {
		t.Fatalf("provider saw headers\n%v\nvia the gateway, direct\n%v", g.header, d.header)
	}
	if string(viaBody) != respBody || string(directBody) != respBody {
		t.Fatalf("response body changed: %q", viaBody)
	}
	direct.Header.Del("Date")
	via.Header.Del("Date")
	if via.StatusCode != direct.StatusCode || !equalHeaders(via.Header, direct.Header) {
		t.Fatalf("response headers\n%v\nvia the gateway, direct\n%v", via.Header, direct.Header)
	}
	ev := e.sink.wait(t, 1)[0]
	if ev.Usage != (usage.Tokens{Input: 3, Output: 4}) {
		t.Fatalf("event %+v", ev)
	}
}

func TestClientDisconnectMidStream(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", e.gw.URL+"/v1/openai/chat/completions",
		strings.NewReader(`{"model":"gpt-4o","stream":true,"messages":[]}`))
	req.Header.Set("x-spendgate-key", goodKey)
	req.Header.Set("x-fake-chunks", "50")
	req.Header.Set("x-fake-chunk-delay-ms", "20")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first chunk %q %v", line, err)
	}
	cancel()
	resp.Body.Close()
	ev := e.sink.wait(t, 1)[0]
	if ev.Complete || ev.Type != event.TypeUsage || ev.ModelServed != "gpt-4o" {
		t.Fatalf("want an incomplete usage event, got %+v", ev)
	}
	// The provider's stream was cancelled too (client cancel propagates).
	testenv.WaitFor(t, 3*time.Second, "upstream cancel", func() bool { return e.fake.StreamsCut() == 1 })
}

func TestLimitsAndUpstreamErrors(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *Config) { c.MaxRequestBodyBytes = 1024 }, nil)
	ctx := context.Background()
	big := strings.Repeat("x", 2000)
	c := e.openai(goodKey)
	_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(big)}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 413 || apiErr.Code != event.DenialBodyTooLarge {
		t.Fatalf("oversize body: %v", err)
	}
	// Without a Content-Length (chunked upload) the limit holds too, and a
	// body under it arrives whole.
	for _, tc := range []struct {
		size   int
		status int
	}{{2000, 413}, {1000, 200}} {
		body := `{"model":"gpt-4o","messages":[],"pad":"` + strings.Repeat("p", tc.size-40) + `"}`
		req, _ := http.NewRequest("POST", e.gw.URL+"/v1/openai/chat/completions", io.MultiReader(strings.NewReader(body)))
		req.Header.Set("x-spendgate-key", goodKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if req.ContentLength != 0 || resp.StatusCode != tc.status {
			t.Fatalf("chunked %d bytes: status %d (content length %d)", len(body), resp.StatusCode, req.ContentLength)
		}
		if tc.status == 200 {
			if last, _ := e.fake.Last(); string(last.Body) != body {
				t.Fatalf("chunked body changed: %d bytes arrived", len(last.Body))
			}
		}
	}
	// The provider's own errors pass through as they are.
	failing := e.openai(goodKey, option.WithHeader("x-fake-status", "500"))
	_, err = failing.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 500 || apiErr.Message != "fake provider error" {
		t.Fatalf("upstream error: %v", err)
	}
	ev := e.sink.wait(t, 2)
	if ev[len(ev)-1].StatusCode != 500 {
		t.Fatalf("upstream error event %+v", ev)
	}
	// Provider unreachable: 502 in the provider's shape.
	e2 := setup(t, func(c *Config) { c.Upstreams["openai"] = "http://127.0.0.1:1/v1" }, nil)
	c2 := e2.openai(goodKey)
	_, err = c2.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 502 || !strings.Contains(apiErr.Message, "could not be reached") {
		t.Fatalf("unreachable: %v", err)
	}
	if ev := e2.sink.wait(t, 1)[0]; ev.Type != event.TypeUsage || ev.StatusCode != 502 || ev.Complete || ev.Usage != (usage.Tokens{}) {
		t.Fatalf("unreachable event %+v", ev)
	}
}

func TestPolicyServiceDownFailsClosed(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sink := &captureSink{}
	b := NewBatcher(sink, 10, 100, 10*time.Millisecond, log)
	src := NewCachedPolicySource(&HTTPPolicySource{URL: "http://127.0.0.1:1/internal/v1/policy", ServiceToken: "svc"}, time.Minute, time.Second)
	gw := New(DefaultConfig(), src, b, log)
	srv := httptest.NewServer(gw)
	defer srv.Close()
	defer gw.Shutdown(context.Background())
	c := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/openai"), option.WithAPIKey("sk"), option.WithHeader("x-spendgate-key", goodKey), option.WithMaxRetries(0))
	_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 || apiErr.Code != event.DenialAuthUnavailable {
		t.Fatalf("policy down: %v", err)
	}
}

func TestPolicyCacheCollapsesConcurrentLookups(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		<-release // hold the first lookup until every caller waits on it
		_ = json.NewEncoder(w).Encode(policy.Answer{Valid: true, TenantID: "t", KeyID: "k", CacheTTLSeconds: 30})
	}))
	defer srv.Close()
	src := NewCachedPolicySource(&HTTPPolicySource{URL: srv.URL, ServiceToken: "svc"}, time.Minute, time.Second)
	const callers = 50
	var wg sync.WaitGroup
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if a, err := src.Lookup(context.Background(), "sg_same_key"); err != nil || !a.Valid {
				t.Errorf("lookup: %v %v", a, err)
			}
		}()
	}
	testenv.WaitFor(t, 5*time.Second, "callers joining one lookup", func() bool { return src.cache.joined() == callers-1 })
	close(release)
	wg.Wait()
	if _, err := src.Lookup(context.Background(), "sg_same_key"); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d policy calls for one key", n)
	}
}

func TestPolicyCacheTTLs(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		a := policy.Answer{Valid: false, Reason: "unknown_key", CacheTTLSeconds: 300}
		if r.Header.Get("X-Spendgate-Key") == "sg_good" {
			a = policy.Answer{Valid: true, TenantID: "t", KeyID: "k", CacheTTLSeconds: 20}
		}
		_ = json.NewEncoder(w).Encode(a)
	}))
	defer srv.Close()
	now := time.Unix(1_700_000_000, 0)
	src := NewCachedPolicySource(&HTTPPolicySource{URL: srv.URL, ServiceToken: "svc"}, time.Minute, 10*time.Second)
	src.Now = func() time.Time { return now }
	lookup := func(key string) {
		t.Helper()
		if _, err := src.Lookup(context.Background(), key); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		advance time.Duration
		key     string
		calls   int64
	}{
		{0, "sg_good", 1},
		{19 * time.Second, "sg_good", 1}, // within the answer's own 20 s hint
		{2 * time.Second, "sg_good", 2},  // the hint caps the 60 s TTL
		{0, "sg_bad", 3},
		{9 * time.Second, "sg_bad", 3}, // negative TTL 10 s beats the 300 s hint
		{2 * time.Second, "sg_bad", 4},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		lookup(s.key)
		if n := calls.Load(); n != s.calls {
			t.Fatalf("step %d: %d calls, want %d", i, n, s.calls)
		}
	}
	// Errors are not cached.
	bad := NewCachedPolicySource(&HTTPPolicySource{URL: srv.URL + "/x", ServiceToken: "svc", Client: &http.Client{Transport: errTransport{}}}, time.Minute, time.Minute)
	for i := 0; i < 2; i++ {
		if _, err := bad.Lookup(context.Background(), "sg_good"); !errors.Is(err, ErrPolicyUnavailable) {
			t.Fatalf("want ErrPolicyUnavailable, got %v", err)
		}
	}
}

type errTransport struct{}

func (errTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("connection refused")
}

type flakySink struct {
	captureSink
	fail int
}

func (f *flakySink) Publish(ctx context.Context, evs []event.Event) (int, error) {
	f.mu.Lock()
	if f.fail > 0 {
		f.fail--
		f.mu.Unlock()
		return 0, errors.New("ingest down")
	}
	f.mu.Unlock()
	return f.captureSink.Publish(ctx, evs)
}

func TestBatcherRetriesAndBounds(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sink := &flakySink{fail: 2}
	b := NewBatcher(sink, 5, 8, 10*time.Millisecond, log)
	for i := 0; i < 12; i++ {
		b.Add(event.Event{EventID: string(rune('a' + i))})
	}
	got := sink.wait(t, 8)
	b.Close()
	sent, dropped, failures := b.Stats()
	if len(got) != 8 || sent != 8 || dropped != 4 || failures != 2 {
		t.Fatalf("got %d events, sent %d dropped %d failures %d", len(got), sent, dropped, failures)
	}
	seen := map[string]bool{}
	for _, e := range got {
		if seen[e.EventID] {
			t.Fatalf("event %s delivered twice", e.EventID)
		}
		seen[e.EventID] = true
	}
}

// TestStreamIsNotBuffered holds the provider's stream open after its first
// event: the client must receive that event while the provider still waits,
// and the whole stream must arrive byte for byte, with the request body
// changed only by the documented usage injection.
func TestStreamIsNotBuffered(t *testing.T) {
	t.Parallel()
	const first = "data: {\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
	const rest = "data: {\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n"
	release := make(chan struct{})
	var gotBody []byte
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotBody, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, first)
		w.(http.Flusher).Flush()
		<-release
		_, _ = io.WriteString(w, rest)
	}))
	defer up.Close()
	e := setup(t, func(c *Config) { c.Upstreams["openai"] = up.URL + "/v1" }, nil)
	reqBody := `{"model":"gpt-4o", "stream":true, "messages":[{"role":"user","content":"hi"}]}`
	req, _ := http.NewRequest("POST", e.gw.URL+"/v1/openai/chat/completions", strings.NewReader(reqBody))
	req.Header.Set("x-spendgate-key", goodKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, len(first))
	read := make(chan error, 1)
	go func() {
		_, err := io.ReadFull(resp.Body, buf)
		read <- err
	}()
	select {
	case err := <-read:
		if err != nil || string(buf) != first {
			t.Fatalf("first event %q %v", buf, err)
		}
	case <-time.After(5 * time.Second): // a bound, not a wait: buffering would hang here
		close(release)
		t.Fatal("the first event did not reach the client while the provider was still streaming")
	}
	close(release) // only now may the provider finish
	tail, _ := io.ReadAll(resp.Body)
	if string(tail) != rest {
		t.Fatalf("rest of the stream changed: %q", tail)
	}
	const injected = `"stream_options":{"include_usage":true},`
	if !strings.HasPrefix(string(gotBody), "{"+injected) || "{"+string(gotBody[1+len(injected):]) != reqBody {
		t.Fatalf("upstream body %s", gotBody)
	}
	ev := e.sink.wait(t, 1)[0]
	if ev.Usage != (usage.Tokens{Input: 5, Output: 2}) || !ev.Complete || !ev.Streaming {
		t.Fatalf("event %+v", ev)
	}
}

func TestOpenAIResponsesAPI(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	c := e.openai(goodKey, option.WithHeader("x-fake-prompt-tokens", "50"), option.WithHeader("x-fake-cached-tokens", "10"),
		option.WithHeader("x-fake-completion-tokens", "30"), option.WithHeader("x-fake-reasoning-tokens", "12"))
	resp, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "o4-mini",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Usage.InputTokens != 50 || resp.Usage.OutputTokens != 30 {
		t.Fatalf("SDK usage %+v", resp.Usage)
	}
	ev := e.sink.wait(t, 1)[0]
	if ev.Usage != (usage.Tokens{Input: 40, CachedInput: 10, Output: 18, Reasoning: 12}) || ev.Operation != "responses" || !ev.Complete {
		t.Fatalf("event %+v", ev)
	}
}

func TestFailOpenForwardsWithoutEvents(t *testing.T) {
	t.Parallel()
	fake := fakeprovider.New(fakeprovider.Config{})
	fakeSrv := httptest.NewServer(fake)
	defer fakeSrv.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sink := &captureSink{}
	b := NewBatcher(sink, 10, 100, 10*time.Millisecond, log)
	cfg := DefaultConfig()
	cfg.FailOpen = true
	cfg.Upstreams = map[string]string{"openai": fakeSrv.URL + "/v1"}
	gw := New(cfg, NewCachedPolicySource(&HTTPPolicySource{URL: "http://127.0.0.1:1/p", ServiceToken: "svc"}, time.Minute, time.Second), b, log)
	srv := httptest.NewServer(gw)
	defer srv.Close()
	c := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/openai"), option.WithAPIKey("sk"), option.WithHeader("x-spendgate-key", goodKey), option.WithMaxRetries(0))
	if _, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}}); err != nil {
		t.Fatalf("fail-open call: %v", err)
	}
	gw.Shutdown(context.Background())
	if last, _ := fake.Last(); last.Header.Get("x-spendgate-key") != "" {
		t.Fatal("key forwarded")
	}
	if sent, _, _ := b.Stats(); sent != 0 {
		t.Fatalf("%d events for an unattributed call", sent)
	}
}
