package policy

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/spendgate/spendgate/event"
)

func answer() Answer {
	return Answer{
		Valid: true, TenantID: "t1", KeyID: "k1", KeyPrefix: "abcd1234", CacheTTLSeconds: 30,
		Policy: Policy{
			AllowedProviders:   []string{"openai", "anthropic"},
			AllowedModels:      []string{"gpt-4o*", "claude-*"},
			RequiredDimensions: []string{"team"},
			DefaultDimensions:  map[string]string{"env": "prod"},
		},
	}
}

func TestParseAnswerMatchesEncodingJSON(t *testing.T) {
	for _, a := range []Answer{answer(), {Valid: false, Reason: "unknown_key", CacheTTLSeconds: 10}, {Valid: true, TenantID: "t", KeyID: "k", Blocked: true, BlockReason: "budget_exceeded", Policy: Policy{HardBudget: true, RequirePricedModels: true}}} {
		b, _ := json.Marshal(a)
		got, err := ParseAnswer(b)
		if err != nil {
			t.Fatal(err)
		}
		// encoding/json writes null for nil slices; normalise for comparison.
		norm := func(x Answer) Answer {
			for _, p := range []*[]string{&x.Policy.AllowedProviders, &x.Policy.AllowedModels, &x.Policy.RequiredDimensions} {
				if len(*p) == 0 {
					*p = nil
				}
			}
			if len(x.Policy.DefaultDimensions) == 0 {
				x.Policy.DefaultDimensions = nil
			}
			return x
		}
		if !reflect.DeepEqual(norm(got), norm(a)) {
			t.Fatalf("got %+v want %+v", got, a)
		}
	}
	for _, bad := range []string{``, `[]`, `{"valid":"yes"}`, `{"valid":true}`, `{`} {
		if _, err := ParseAnswer([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestEvaluate(t *testing.T) {
	a := answer()
	priced := func(_, model string) bool { return model != "gpt-4o-secret" }
	tests := []struct {
		name     string
		mutate   func(*Answer)
		provider string
		model    string
		dims     map[string]string
		reason   string
	}{
		{"allowed", nil, "openai", "gpt-4o-mini", map[string]string{"team": "x"}, ""},
		{"glob case-insensitive", nil, "anthropic", "Claude-Haiku-4-5", map[string]string{"team": "x"}, ""},
		{"provider", nil, "gemini", "gemini-2.5-pro", map[string]string{"team": "x"}, event.DenialProviderNotAllowed},
		{"model", nil, "openai", "o3", map[string]string{"team": "x"}, event.DenialModelNotAllowed},
		{"no model", nil, "openai", "", map[string]string{"team": "x"}, event.DenialModelNotAllowed},
		{"dimension", nil, "openai", "gpt-4o", map[string]string{"env": "prod"}, event.DenialMissingDimension},
		{"revoked", func(a *Answer) { a.Valid, a.Reason = false, "key_revoked" }, "openai", "gpt-4o", nil, event.DenialKeyRevoked},
		{"unknown", func(a *Answer) { a.Valid, a.Reason = false, "unknown_key" }, "openai", "gpt-4o", nil, event.DenialUnknownKey},
		{"blocked", func(a *Answer) { a.Blocked = true }, "openai", "gpt-4o", map[string]string{"team": "x"}, event.DenialBudgetExceeded},
		{"unpriced", func(a *Answer) { a.Policy.RequirePricedModels = true }, "openai", "gpt-4o-secret", map[string]string{"team": "x"}, event.DenialUnpricedModel},
		{"open policy", func(a *Answer) { a.Policy = Policy{} }, "gemini", "anything", nil, ""},
	}
	for _, tt := range tests {
		x := a
		x.Policy.AllowedModels = append([]string(nil), a.Policy.AllowedModels...)
		if tt.mutate != nil {
			tt.mutate(&x)
		}
		d := Evaluate(&x, tt.provider, tt.model, tt.dims, priced)
		if d.Reason != tt.reason {
			t.Errorf("%s: reason %q (%s), want %q", tt.name, d.Reason, d.Message, tt.reason)
		}
		if d.Reason != "" && d.Message == "" {
			t.Errorf("%s: denial without message", tt.name)
		}
	}
}

func TestDenialResponseShapes(t *testing.T) {
	msg := `model "o3" is not allowed`
	for _, style := range []string{"openai", "anthropic", "gemini"} {
		status, ct, body := DenialResponse(style, event.DenialModelNotAllowed, msg)
		if status != 403 || ct != "application/json" {
			t.Fatalf("%s: %d %s", style, status, ct)
		}
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s: invalid JSON %s", style, body)
		}
		errObj, _ := v["error"].(map[string]any)
		if errObj == nil || !strings.Contains(errObj["message"].(string), msg) {
			t.Fatalf("%s: no error.message in %s", style, body)
		}
		switch style {
		case "openai":
			if errObj["code"] != event.DenialModelNotAllowed {
				t.Errorf("openai code %v", errObj["code"])
			}
		case "anthropic":
			if v["type"] != "error" || errObj["type"] != "permission_error" {
				t.Errorf("anthropic shape %s", body)
			}
		case "gemini":
			if errObj["status"] != "PERMISSION_DENIED" || errObj["code"] != float64(403) {
				t.Errorf("gemini shape %s", body)
			}
		}
	}
	if s, _, _ := DenialResponse("openai", event.DenialBudgetExceeded, "x"); s != 429 {
		t.Errorf("budget status %d", s)
	}
	if s, _, _ := DenialResponse("anthropic", event.DenialUnknownKey, "x"); s != 401 {
		t.Errorf("unknown key status %d", s)
	}
}

func TestShouldRetry(t *testing.T) {
	for _, reason := range []string{event.DenialMissingKey, event.DenialUnknownKey, event.DenialKeyRevoked, event.DenialProviderNotAllowed,
		event.DenialModelNotAllowed, event.DenialMissingDimension, event.DenialInvalidDimension, event.DenialBodyTooLarge,
		event.DenialBudgetExceeded, event.DenialUnpricedModel, event.DenialUnknownRoute} {
		if ShouldRetry(reason) {
			t.Errorf("%s marked retryable: the same call is denied again", reason)
		}
	}
	if !ShouldRetry(event.DenialAuthUnavailable) {
		t.Error("an unreachable policy service is worth a retry")
	}
}

// FuzzParseAnswer: any bytes from the policy endpoint are either refused or
// give an answer that agrees with encoding/json on whether the key is valid
// and blocked, and a valid answer always names its tenant and key.
func FuzzParseAnswer(f *testing.F) {
	b, _ := json.Marshal(answer())
	f.Add(b)
	f.Add([]byte(`{"valid":false,"reason":"key_revoked","cache_ttl_seconds":5}`))
	f.Add([]byte(`{"valid":true,"tenant_id":"t","key_id":"k","blocked":true,"policy":{"allowed_models":["gpt-*"]}}`))
	f.Add([]byte(`{"valid":true,"tenant_id":"t","key_id":"k","policy":{"requests_per_minute":60,"tokens_per_minute":100000}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := ParseAnswer(raw)
		if err != nil {
			return
		}
		if a.Valid && (a.TenantID == "" || a.KeyID == "") {
			t.Fatalf("valid answer without tenant or key: %s", raw)
		}
		if a.Policy.RequestsPerMinute < 0 || a.Policy.TokensPerMinute < 0 {
			t.Fatalf("negative rate limit %d/%d from %s", a.Policy.RequestsPerMinute, a.Policy.TokensPerMinute, raw)
		}
		var ref map[string]json.RawMessage
		if json.Unmarshal(raw, &ref) != nil {
			return
		}
		for key, got := range map[string]bool{"valid": a.Valid, "blocked": a.Blocked} {
			var want bool
			if strings.Count(string(raw), `"`+key+`"`) == 1 && json.Unmarshal(ref[key], &want) == nil && want != got {
				t.Fatalf("%s=%v, encoding/json reads %v in %s", key, got, want, raw)
			}
		}
	})
}
