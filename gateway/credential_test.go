package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/openai/openai-go/v3"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/policy"
)

// TestStoredProviderCredentialsReplaceTheCallers: a key whose policy says
// InjectCredentials sends the tenant's stored key to the provider, whatever
// the app put in its SDK; a provider with none stored is refused before it
// is called.
func TestStoredProviderCredentialsReplaceTheCallers(t *testing.T) {
	t.Parallel()
	stored := policy.Answer{Valid: true, TenantID: tenantID, KeyID: keyID, CacheTTLSeconds: 60,
		Policy:      policy.Policy{InjectCredentials: true},
		Credentials: map[string]string{"openai": "sk-stored-openai", "anthropic": "sk-ant-stored"}}
	own := stored
	own.Policy.InjectCredentials = false // the caller's own key goes on, even if credentials were sent
	e := setup(t, nil, map[string]policy.Answer{"sg_stored_x": stored, "sg_own_x": own})
	ctx := context.Background()
	chat := openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}}

	// The OpenAI SDK insists on an API key; the app's is not the tenant's.
	storedClient, ownClient := e.openai("sg_stored_x"), e.openai("sg_own_x")
	if _, err := storedClient.Chat.Completions.New(ctx, chat); err != nil {
		t.Fatal(err)
	}
	last, _ := e.fake.Last()
	if got := last.Header.Values("Authorization"); len(got) != 1 || got[0] != "Bearer sk-stored-openai" {
		t.Fatalf("openai got Authorization %q, want the stored key only", got)
	}

	ac := e.anthropic("sg_stored_x")
	_, err := ac.Messages.New(ctx, anthropic.MessageNewParams{Model: "claude-haiku-4-5", MaxTokens: 10,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("x"))}})
	if err != nil {
		t.Fatal(err)
	}
	last, _ = e.fake.Last()
	if last.Header.Get("X-Api-Key") != "sk-ant-stored" || last.Header.Get("Authorization") != "" {
		t.Fatalf("anthropic got x-api-key %q, authorization %q", last.Header.Get("X-Api-Key"), last.Header.Get("Authorization"))
	}

	// A key without the setting keeps the caller's credential.
	if _, err := ownClient.Chat.Completions.New(ctx, chat); err != nil {
		t.Fatal(err)
	}
	last, _ = e.fake.Last()
	if last.Header.Get("Authorization") != "Bearer sk-provider-key" {
		t.Fatalf("a key without stored credentials forwarded Authorization %q", last.Header.Get("Authorization"))
	}

	// Gemini has no stored credential: refused in Gemini's error shape,
	// never forwarded with the caller's key.
	before := len(e.fake.Requests())
	req, _ := http.NewRequest("POST", e.gw.URL+"/v1/gemini/v1beta/models/gemini-2.5-flash:generateContent",
		strings.NewReader(`{"contents":[{"parts":[{"text":"hi"}]}]}`))
	req.Header.Set("x-goog-api-key", "AIza-callers-own")
	req.Header.Set("x-spendgate-key", "sg_stored_x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("x-spendgate-denial") != event.DenialNoProviderCredential ||
		!strings.Contains(string(b), `"status":"PERMISSION_DENIED"`) || !strings.Contains(string(b), "none is stored for gemini") {
		t.Fatalf("gemini without a stored credential: %d %s %s", resp.StatusCode, resp.Header.Get("x-spendgate-denial"), b)
	}
	if n := len(e.fake.Requests()); n != before {
		t.Fatalf("the refused call reached the provider (%d requests, was %d)", n, before)
	}
	var found bool
	for _, ev := range e.sink.wait(t, 4) {
		found = found || ev.Type == event.TypeDenial && ev.DenialReason == event.DenialNoProviderCredential && ev.Provider == "gemini"
	}
	if !found {
		t.Error("the refusal was not recorded as a denial event")
	}

	// The OpenAI SDK reads the refusal as an API error with the reason as code.
	noOpenAI := stored
	noOpenAI.Credentials = map[string]string{"anthropic": "sk-ant-stored"}
	e2 := setup(t, nil, map[string]policy.Answer{"sg_stored_x": noOpenAI})
	c2 := e2.openai("sg_stored_x")
	_, err = c2.Chat.Completions.New(ctx, chat)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 403 || apiErr.Code != event.DenialNoProviderCredential {
		t.Fatalf("openai without a stored credential: %v", err)
	}
}
