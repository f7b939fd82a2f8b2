package policy

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzAnswerRoundTrip: every answer the endpoint can give reads back the
// same through ParseAnswer (the filter caches answers in this encoding), and
// encoding/json reads it as the same Answer too.
func FuzzAnswerRoundTrip(f *testing.F) {
	f.Add(true, "", "11111111-1111-1111-1111-111111111111", "k", "abcd", false, "", "openai", "gpt-4o*", "team", "env", "prod", true, true, 60, int64(1000), 30)
	f.Add(false, "key_revoked", "", "", "", false, "", "", "", "", "", "", false, false, 0, int64(0), 10)
	f.Add(true, "", "t\"<>&\n", "k\\", "é", true, "budget_exceeded", "a,b", "x]", "d}", "k:", "v\u2028", false, true, 0, int64(9), 0)
	f.Fuzz(func(t *testing.T, valid bool, reason, tenant, key, prefix string, blocked bool, blockReason, provider, model, required, dimK, dimV string,
		priced, hard bool, rpm int, tpm int64, ttl int) {
		for _, s := range []string{reason, tenant, key, prefix, blockReason, provider, model, required, dimK, dimV} {
			if !utf8.ValidString(s) {
				t.Skip("the endpoint only writes valid UTF-8")
			}
		}
		if rpm < 0 || tpm < 0 || valid && (tenant == "" || key == "") {
			t.Skip("not an answer the endpoint gives")
		}
		a := Answer{Valid: valid, Reason: reason, TenantID: tenant, KeyID: key, KeyPrefix: prefix, Blocked: blocked, BlockReason: blockReason,
			CacheTTLSeconds: ttl, Policy: Policy{AllowedProviders: []string{provider}, AllowedModels: []string{model, "claude-*"},
				RequiredDimensions: []string{required}, DefaultDimensions: map[string]string{dimK: dimV, "z": "1"},
				RequirePricedModels: priced, HardBudget: hard, RequestsPerMinute: rpm, TokensPerMinute: tpm}}
		if model != "" {
			// The tenant's Azure deployment mappings travel with the answer.
			a.Policy.AzureDeployments = map[string]string{dimK: model, "prod-4o": "gpt-4o-data-zone"}
		}
		if hard != priced {
			// Keys that use the tenant's stored provider credentials.
			a.Policy.InjectCredentials = true
			a.Credentials = map[string]string{provider: dimV, "anthropic": "sk-ant-\"x"}
		}
		raw := AppendAnswer(nil, &a)
		got, err := ParseAnswer(raw)
		if err != nil {
			t.Fatalf("ParseAnswer(%s): %v", raw, err)
		}
		if !reflect.DeepEqual(got, a) {
			t.Fatalf("round trip of %s\n got  %+v\n want %+v", raw, got, a)
		}
		var viaJSON Answer
		if err := json.Unmarshal(raw, &viaJSON); err != nil || !reflect.DeepEqual(viaJSON, a) {
			t.Fatalf("encoding/json reads %s as %+v (%v)", raw, viaJSON, err)
		}
	})
}

// Absent lists and dimensions stay absent; empty ones stay empty.
func TestAppendAnswerKeepsNilAndEmpty(t *testing.T) {
	for name, a := range map[string]Answer{
		"nil":   {Valid: false, Reason: "unknown_key"},
		"empty": {Valid: true, TenantID: "t", KeyID: "k", Policy: Policy{AllowedProviders: []string{}, DefaultDimensions: map[string]string{}}},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ParseAnswer(AppendAnswer(nil, &a))
			if err != nil || !reflect.DeepEqual(got, a) {
				t.Fatalf("got %+v (%v), want %+v", got, err, a)
			}
		})
	}
}
