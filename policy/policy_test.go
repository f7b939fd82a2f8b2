package policy

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

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
		{"blocked: budget exceeded", func(a *Answer) { a.Blocked, a.BlockReason = true, "budget_exceeded" }, "openai", "gpt-4o", map[string]string{"team": "x"}, event.DenialBudgetExceeded},
		{"blocked: budget unavailable", func(a *Answer) { a.Blocked, a.BlockReason = true, "budget_unavailable" }, "openai", "gpt-4o", map[string]string{"team": "x"}, event.DenialBudgetUnavailable},
		{"priced rule is the data plane's", func(a *Answer) { a.Policy.RequirePricedModels = true }, "openai", "gpt-4o-secret", map[string]string{"team": "x"}, ""},
		{"open policy", func(a *Answer) { a.Policy = Policy{} }, "gemini", "anything", nil, ""},
	}
	for _, tt := range tests {
		x := a
		x.Policy.AllowedModels = append([]string(nil), a.Policy.AllowedModels...)
		if tt.mutate != nil {
			tt.mutate(&x)
		}
		d := Evaluate(&x, tt.provider, tt.model, tt.dims)
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
	for _, reason := range []string{event.DenialAuthUnavailable, event.DenialBudgetUnavailable, event.DenialRateLimited} {
		if !ShouldRetry(reason) {
			t.Errorf("%s: an unreachable service or a rate limit is worth a retry", reason)
		}
	}
}

// TestUnavailableServicesAre503: an unreachable policy or budget service is
// a 503 in every shape (OpenAI server_error, Anthropic overloaded_error,
// Gemini UNAVAILABLE), which the SDKs know as transient.
func TestUnavailableServicesAre503(t *testing.T) {
	for _, reason := range []string{event.DenialAuthUnavailable, event.DenialBudgetUnavailable} {
		for style, want := range map[string][2]string{"openai": {"error.type", "server_error"}, "anthropic": {"error.type", "overloaded_error"},
			"gemini": {"error.status", "UNAVAILABLE"}} {
			status, _, body := DenialResponse(style, reason, "x")
			if !gjson.ValidBytes(body) || status != 503 {
				t.Fatalf("%s %s: %d %s", reason, style, status, body)
			}
			if got := gjson.GetBytes(body, want[0]).String(); got != want[1] {
				t.Errorf("%s %s: %s=%v, want %s (%s)", reason, style, want[0], got, want[1], body)
			}
		}
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

// TestPricedWire: the query percent-encodes every value so a model name
// cannot add parameters, and answers parse strictly (a broken answer is an
// error the filter fails closed or open on, never a silent "priced").
func TestPricedWire(t *testing.T) {
	q := PricedQuery("11111111-1111-4111-8111-111111111111", "openrouter", "anthropic/claude 3&x=y?#%é")
	want := "tenant_id=11111111-1111-4111-8111-111111111111&provider=openrouter&model=anthropic%2Fclaude%203%26x%3Dy%3F%23%25%C3%A9"
	if q != want {
		t.Fatalf("query\n got  %s\n want %s", q, want)
	}
	vals, err := url.ParseQuery(q)
	if err != nil || vals.Get("model") != "anthropic/claude 3&x=y?#%é" || len(vals) != 3 {
		t.Fatalf("net/url reads %v (%v)", vals, err)
	}
	for _, tt := range []struct {
		raw  string
		want PricedAnswer
		ok   bool
	}{
		{`{"priced":true,"cache_ttl_seconds":30}`, PricedAnswer{Priced: true, CacheTTLSeconds: 30}, true},
		{`{"priced":false}`, PricedAnswer{}, true},
		{`{"priced":false,"cache_ttl_seconds":-4}`, PricedAnswer{}, true},
		{`{"priced":"yes"}`, PricedAnswer{}, false},
		{`{"cache_ttl_seconds":30}`, PricedAnswer{}, false},
		{`{"priced":true,"cache_ttl_seconds":"30"}`, PricedAnswer{}, false},
		{`[true]`, PricedAnswer{}, false},
		{`{"priced":tru`, PricedAnswer{}, false},
		{``, PricedAnswer{}, false},
	} {
		got, err := ParsePricedAnswer([]byte(tt.raw))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("%s: %+v %v, want %+v ok=%v", tt.raw, got, err, tt.want, tt.ok)
		}
	}
	if d := UnpricedModel("gpt-x"); d.Reason != event.DenialUnpricedModel || !strings.Contains(d.Message, "model gpt-x has no known price") {
		t.Fatalf("unpriced decision %+v", d)
	}
}

// TestResolveAzureDeployment: a mapped deployment is its model; an
// unmapped one (or one mapped to nothing) stays its own name.
func TestResolveAzureDeployment(t *testing.T) {
	p := Policy{AzureDeployments: map[string]string{"prod-4o": "gpt-4o-data-zone", "blank": ""}}
	for dep, want := range map[string]string{"prod-4o": "gpt-4o-data-zone", "dev-x": "dev-x", "blank": "blank"} {
		if got := p.ResolveAzureDeployment(dep); got != want {
			t.Errorf("%s: %s, want %s", dep, got, want)
		}
	}
	if got := (&Policy{}).ResolveAzureDeployment("d"); got != "d" {
		t.Errorf("no mappings: %s", got)
	}
}
