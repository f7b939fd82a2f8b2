package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/policy"
	"github.com/spendgate/spendgate/usage"
)

// TestOpenAICompatibleSurfacesSpeakOpenAI points the OpenAI SDK at the
// OpenAI-compatible endpoints of Gemini (/v1beta/openai) and Anthropic
// (/v1/chat/completions): denials there come in OpenAI's error shape (the
// route's style, not the provider's), so the SDK reports them as API errors
// with spendgate's code and message; allowed calls are metered as OpenAI
// chat completions, streams included. Native routes keep the provider's
// own shape.
func TestOpenAICompatibleSurfacesSpeakOpenAI(t *testing.T) {
	t.Parallel()
	restricted := policy.Answer{Valid: true, TenantID: tenantID, KeyID: keyID, CacheTTLSeconds: 60,
		Policy: policy.Policy{AllowedModels: []string{"gpt-4o-mini"}}}
	e := setup(t, nil, map[string]policy.Answer{goodKey: {Valid: true, TenantID: tenantID, KeyID: keyID, CacheTTLSeconds: 60},
		"sg_restrict_x": restricted})
	ctx := context.Background()
	surfaces := []struct{ provider, base, model string }{
		{"gemini", "/v1/gemini/v1beta/openai", "gemini-2.5-flash"},
		{"anthropic", "/v1/anthropic/v1", "claude-haiku-4-5"},
	}
	for i, s := range surfaces {
		client := func(key string, opts ...option.RequestOption) openai.Client {
			return openai.NewClient(append([]option.RequestOption{option.WithBaseURL(e.gw.URL + s.base), option.WithAPIKey("sk-provider"),
				option.WithHeader("x-spendgate-key", key), option.WithMaxRetries(0)}, opts...)...)
		}
		params := openai.ChatCompletionNewParams{Model: openai.ChatModel(s.model), Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}

		c := client("sg_restrict_x")
		_, err := c.Chat.Completions.New(ctx, params)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 403 || apiErr.Code != event.DenialModelNotAllowed ||
			!strings.Contains(apiErr.Message, "model "+s.model+" is not allowed") {
			t.Fatalf("%s: denial %v", s.provider, err)
		}

		c = client(goodKey, option.WithHeader("x-fake-prompt-tokens", "21"), option.WithHeader("x-fake-completion-tokens", "4"))
		stream := c.Chat.Completions.NewStreaming(ctx, params)
		var sdkTotal int64
		for stream.Next() {
			if u := stream.Current().Usage; u.TotalTokens > 0 {
				sdkTotal = u.TotalTokens
			}
		}
		if err := stream.Err(); err != nil || sdkTotal != 25 {
			t.Fatalf("%s: stream err %v, usage %d", s.provider, err, sdkTotal)
		}
		evs := e.sink.wait(t, 2*(i+1))
		denial, use := evs[2*i], evs[2*i+1]
		if denial.Type != event.TypeDenial || denial.Provider != s.provider || denial.DenialReason != event.DenialModelNotAllowed {
			t.Fatalf("%s: denial event %+v", s.provider, denial)
		}
		if use.Type != event.TypeUsage || use.Provider != s.provider || use.Operation != "chat.completions" || !use.Streaming || !use.Complete ||
			use.Usage != (usage.Tokens{Input: 21, Output: 4}) {
			t.Fatalf("%s: usage event %+v", s.provider, use)
		}
	}
	// Native routes answer in the provider's own shape.
	for _, tc := range []struct{ path, typePath, want string }{
		{"/v1/gemini/v1beta/models/gemini-2.5-flash:generateContent", "error.status", "PERMISSION_DENIED"},
		{"/v1/anthropic/v1/messages", "error.type", "permission_error"},
	} {
		req, _ := http.NewRequest("POST", e.gw.URL+tc.path, strings.NewReader(`{"model":"claude-haiku-4-5","max_tokens":5,"messages":[]}`))
		req.Header.Set("x-spendgate-key", "sg_restrict_x")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || gjson.GetBytes(b, tc.typePath).Str != tc.want || !strings.Contains(gjson.GetBytes(b, "error.message").Str, "not allowed") {
			t.Fatalf("%s: %d %s", tc.path, resp.StatusCode, b)
		}
	}
}

// TestSDKsDoNotRetryDenials: both SDKs retry 429 and 5xx on their own, and a
// budget denial retried is denied again (and recorded again). The gateway's
// x-should-retry header stops that; the requests reaching the gateway are
// counted. An unreachable policy service, which may recover, is retried.
func TestSDKsDoNotRetryDenials(t *testing.T) {
	t.Parallel()
	blocked := policy.Answer{Valid: true, TenantID: tenantID, KeyID: keyID, CacheTTLSeconds: 60, Blocked: true}
	e := setup(t, nil, map[string]policy.Answer{"sg_blocked_x": blocked})
	ctx := context.Background()

	// Default retry settings (2 retries) in both SDKs.
	oc := openai.NewClient(option.WithBaseURL(e.gw.URL+"/v1/openai"), option.WithAPIKey("sk"), option.WithHeader("x-spendgate-key", "sg_blocked_x"))
	_, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
	var oErr *openai.Error
	if !errors.As(err, &oErr) || oErr.StatusCode != 429 || oErr.Code != event.DenialBudgetExceeded || !strings.Contains(oErr.Message, "hard budget") {
		t.Fatalf("openai: %v", err)
	}
	if oErr.Response.Header.Get("x-should-retry") != "false" || oErr.Response.Header.Get("x-spendgate-denial") != event.DenialBudgetExceeded {
		t.Fatalf("openai denial headers %v", oErr.Response.Header)
	}
	if n := e.hits.Load(); n != 1 {
		t.Fatalf("the OpenAI SDK sent the denied call %d times", n)
	}
	ac := anthropic.NewClient(aoption.WithBaseURL(e.gw.URL+"/v1/anthropic"), aoption.WithAPIKey("sk-ant"), aoption.WithHeader("x-spendgate-key", "sg_blocked_x"))
	_, err = ac.Messages.New(ctx, anthropic.MessageNewParams{Model: "claude-haiku-4-5", MaxTokens: 10,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("x"))}})
	var aErr *anthropic.Error
	if !errors.As(err, &aErr) || aErr.StatusCode != 429 || aErr.Type() != "rate_limit_error" || !strings.Contains(aErr.Error(), "hard budget") {
		t.Fatalf("anthropic: %v", err)
	}
	if n := e.hits.Load(); n != 2 {
		t.Fatalf("the Anthropic SDK sent the denied call %d times", n-1)
	}
	if evs := e.sink.wait(t, 2); len(evs) != 2 {
		t.Fatalf("%d denial events for 2 calls", len(evs))
	}
	if n := len(e.fake.Requests()); n != 0 {
		t.Fatalf("%d denied calls reached the provider", n)
	}

	// Policy service down: 503 auth_unavailable says retry, and the SDK does.
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	down := New(DefaultConfig(), NewCachedPolicySource(&HTTPPolicySource{URL: "http://127.0.0.1:1/p", ServiceToken: "svc"}, time.Minute, time.Second),
		NewBatcher(&captureSink{}, 10, 100, 10*time.Millisecond, log), log)
	defer down.Shutdown(context.Background())
	srv, hits := counted(t, down)
	defer srv.Close()
	oc = openai.NewClient(option.WithBaseURL(srv.URL+"/v1/openai"), option.WithAPIKey("sk"), option.WithHeader("x-spendgate-key", goodKey), option.WithMaxRetries(1))
	_, err = oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
	if !errors.As(err, &oErr) || oErr.StatusCode != 503 || oErr.Code != event.DenialAuthUnavailable || oErr.Response.Header.Get("x-should-retry") != "true" {
		t.Fatalf("policy down: %v", err)
	}
	if n := hits.Load(); n != 2 {
		t.Fatalf("the SDK sent a retryable denial %d times, want 2 (one retry)", n)
	}
}
