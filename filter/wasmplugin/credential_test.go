package wasmplugin

import (
	"strings"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/spendgate/spendgate/event"
)

// TestStoredProviderCredentialsReplaceTheCallers: for a key whose policy
// says InjectCredentials, the filter puts the tenant's stored key (from the
// policy answer) on the request in place of whatever the caller sent, in the
// provider's own header; a provider with none stored is refused locally.
func TestStoredProviderCredentialsReplaceTheCallers(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := newHost(t, vm, testConfig)
		a := allowAll()
		a.Policy.InjectCredentials = true
		a.Credentials = map[string]string{"openai": "sk-stored-openai", "anthropic": "sk-ant-stored"}

		id, _ := send(t, host, req{path: "/v1/openai/chat/completions", key: "k1", body: `{"model":"gpt-4o"}`,
			headers: [][2]string{{"x-api-key", "leftover"}}}, "200", answerJSON(a))
		if lr := host.GetSentLocalResponse(id); lr != nil {
			t.Fatalf("denied: %s", lr.Data)
		}
		hs := host.GetCurrentRequestHeaders(id)
		if hv(hs, "authorization") != "Bearer sk-stored-openai" || hv(hs, "x-api-key") != "" {
			t.Fatalf("openai call forwarded with %v", hs)
		}

		// The answer is cached: the next call of the key uses it too.
		id, _ = send(t, host, req{path: "/v1/anthropic/v1/messages", key: "k1", body: `{"model":"claude-haiku-4-5","max_tokens":5,"messages":[]}`,
			headers: [][2]string{{"x-api-key", "sk-ant-callers-own"}}}, "200", nil)
		hs = host.GetCurrentRequestHeaders(id)
		if hv(hs, "x-api-key") != "sk-ant-stored" || hv(hs, "authorization") != "" {
			t.Fatalf("anthropic call forwarded with %v", hs)
		}

		// No stored Gemini key: refused here, in Gemini's error shape.
		id, _ = send(t, host, req{path: "/v1/gemini/v1beta/models/gemini-2.5-flash:generateContent", key: "k1",
			body: `{"contents":[]}`, headers: [][2]string{{"x-goog-api-key", "AIza-callers-own"}}}, "200", nil)
		lr := host.GetSentLocalResponse(id)
		if lr == nil || lr.StatusCode != 403 || hv(lr.Headers, "x-spendgate-denial") != event.DenialNoProviderCredential ||
			!strings.Contains(string(lr.Data), "none is stored for gemini") {
			t.Fatalf("gemini without a stored credential: %+v", lr)
		}

		// A key without the setting keeps the caller's credential.
		own := allowAll()
		own.Credentials = a.Credentials
		id, _ = send(t, host, req{path: "/v1/openai/chat/completions", key: "k2", body: `{"model":"gpt-4o"}`}, "200", answerJSON(own))
		if got := hv(host.GetCurrentRequestHeaders(id), "authorization"); got != "Bearer sk-provider" {
			t.Fatalf("a key without stored credentials forwarded authorization %q", got)
		}
	})
}
