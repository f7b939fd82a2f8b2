package dataplane

import (
	"strings"
	"testing"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/policy"
)

// TestStoredCredentialPerProviderStyle: a key that uses stored credentials
// gets the tenant's key in the header its provider reads; a provider with
// none stored, and the cloud routes (authorised by the caller's own cloud
// identity), are refused before any lookup or reservation.
func TestStoredCredentialPerProviderStyle(t *testing.T) {
	creds := map[string]string{"openai": "sk-o", "anthropic": "sk-a", "gemini": "AIza-g", "groq": "gsk-q", "bedrock": "x", "azure_openai": "x"}
	pol := policy.Policy{InjectCredentials: true, HardBudget: true}
	answer := func(c map[string]string) policy.Answer { a := tenantAnswer(pol); a.Credentials = c; return a }
	for _, tt := range []struct{ path, body, header, value string }{
		{"/v1/openai/chat/completions", `{"model":"gpt-4o"}`, "authorization", "Bearer sk-o"},
		{"/v1/groq/chat/completions", `{"model":"llama-3.3-70b-versatile"}`, "authorization", "Bearer gsk-q"},
		{"/v1/anthropic/v1/messages", `{"model":"claude-haiku-4-5","max_tokens":5}`, "x-api-key", "sk-a"},
		{"/v1/gemini/v1beta/models/gemini-2.5-flash:generateContent", `{}`, "x-goog-api-key", "AIza-g"},
	} {
		c, _ := cloudCall(t, "gw", tt.path, tt.body, map[string]string{"authorization": "Bearer callers-own"})
		s := c.Policy(answer(creds), nil)
		if s.Kind != Forward { // Reserve is off in cloudCall's config
			t.Fatalf("%s: %v %+v", tt.path, s.Kind, s.Denial)
		}
		if got, ok := c.Credential(); !ok || got.Header != tt.header || got.Value != tt.value {
			t.Errorf("%s: credential %+v %v, want %s: %s", tt.path, got, ok, tt.header, tt.value)
		}
	}

	for _, tt := range []struct{ path, body, msg string }{
		{"/v1/mistral/chat/completions", `{"model":"mistral-small-latest"}`, "none is stored for mistral"},
		{"/v1/bedrock/us-east-1/model/amazon.nova-lite-v1:0/converse", `{}`, "bedrock calls authenticate with the caller's own cloud identity"},
		{"/v1/azure_openai/contoso/openai/deployments/prod/chat/completions", `{}`, "azure_openai calls authenticate"},
	} {
		c, s := cloudCall(t, "gw", tt.path, tt.body, nil)
		if s.Kind != NeedPolicy {
			t.Fatalf("%s: %v", tt.path, s.Kind)
		}
		s = c.Policy(answer(creds), nil)
		if s.Kind != Deny || s.Denial.Reason != event.DenialNoProviderCredential || s.Denial.Status != 403 ||
			!strings.Contains(s.Denial.Message, tt.msg) || s.Denial.Event == nil {
			t.Errorf("%s: %v %+v, want a recorded 403 saying %q", tt.path, s.Kind, s.Denial, tt.msg)
		}
		if _, ok := c.Credential(); ok {
			t.Errorf("%s: a refused call holds a credential", tt.path)
		}
	}

	// Without the setting, credentials in the answer are not used.
	c, _ := cloudCall(t, "gw", "/v1/openai/chat/completions", `{"model":"gpt-4o"}`, nil)
	own := tenantAnswer(policy.Policy{})
	own.Credentials = creds
	if s := c.Policy(own, nil); s.Kind != Forward {
		t.Fatalf("%v", s.Kind)
	}
	if _, ok := c.Credential(); ok {
		t.Error("a key without stored credentials got one")
	}
}
