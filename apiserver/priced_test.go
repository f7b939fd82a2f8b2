package apiserver

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/spendgate/spendgate/dataplane/contract"
	"github.com/spendgate/spendgate/policy"
)

// pricedCall asks the priced endpoint with a raw query and service token.
func (h *harness) pricedCall(query, token string) (int, http.Header, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.srv.URL+contract.PricedPath+"?"+query, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		h.t.Fatalf("priced endpoint answered %d with non-JSON %q", resp.StatusCode, b)
	}
	return resp.StatusCode, resp.Header, m
}

// priced asks whether provider's model is priced for tenant, the way the
// filter asks, and decodes the answer with the filter's parser.
func (h *harness) priced(tenant, provider, model string) policy.PricedAnswer {
	h.t.Helper()
	status, _, m := h.pricedCall(policy.PricedQuery(tenant, provider, model), serviceToken)
	if status != http.StatusOK {
		h.t.Fatalf("priced %s/%s: %d %v", provider, model, status, m)
	}
	b, _ := json.Marshal(m)
	a, err := policy.ParsePricedAnswer(b)
	if err != nil {
		h.t.Fatalf("priced answer %s: %v", b, err)
	}
	return a
}

// TestPricedEndpoint: a catalogue model is priced; an unknown one is not
// until the tenant adds an override with rates for it (glob or exact, with
// the model name's special characters intact), and only for that tenant; a
// percent-only or future override does not price it; the answer carries the
// cache TTL.
func TestPricedEndpoint(t *testing.T) {
	h := newHarness(t)
	token, tenant := h.owner("priced-owner@example.com", "priced")
	_, otherTenant := h.owner("priced-other@example.com", "priced-other")

	status, hdr, m := h.pricedCall(policy.PricedQuery(tenant, "openai", "gpt-4o-mini"), serviceToken)
	if status != 200 || m["priced"] != true || m["cache_ttl_seconds"] != 30.0 || hdr.Get("Cache-Control") != "private, max-age=30" {
		t.Fatalf("catalogue model: %d %v %v", status, m, hdr)
	}
	for _, tc := range []struct{ provider, model string }{
		{"anthropic", "claude-haiku-4-5"}, {"gemini", "models/gemini-2.5-flash"}, {"openrouter", "openai/gpt-4o-mini"},
	} {
		if !h.priced(tenant, tc.provider, tc.model).Priced {
			t.Errorf("%s/%s is in the catalogue but not priced", tc.provider, tc.model)
		}
	}
	if h.priced(tenant, "openai", "acme-llm").Priced {
		t.Fatal("unknown model priced")
	}

	vars := map[string]any{"t": tenant}
	// A percent adjustment on everything prices nothing new; nor does an
	// override with rates that is not yet in force.
	h.must(token, `mutation($t:ID!){createPricingOverride(tenantId:$t,input:{model:"*",effectiveFrom:"2026-01-01T00:00:00Z",percentAdjustment:"-10"}){id}}`, vars)
	h.must(token, `mutation($t:ID!){createPricingOverride(tenantId:$t,input:{model:"acme-llm",effectiveFrom:"2099-01-01T00:00:00Z",
		rates:[{class:"input",perMillion:"1"}]}){id}}`, vars)
	if h.priced(tenant, "openai", "acme-llm").Priced {
		t.Fatal("a percent-only or future override priced an unknown model")
	}
	// Rates in force price it, for this tenant only (no server-side cache).
	h.must(token, `mutation($t:ID!){createPricingOverride(tenantId:$t,input:{provider:"openai",model:"acme-*",effectiveFrom:"2026-01-01T00:00:00Z",
		rates:[{class:"input",perMillion:"1"},{class:"output",perMillion:"4"}]}){id}}`, vars)
	if !h.priced(tenant, "openai", "acme-llm").Priced || !h.priced(tenant, "openai", "ACME-llm-2").Priced {
		t.Fatal("a model priced by the tenant's override answers unpriced")
	}
	if h.priced(tenant, "groq", "acme-llm").Priced {
		t.Fatal("an openai override priced another provider's model")
	}
	if h.priced(otherTenant, "openai", "acme-llm").Priced {
		t.Fatal("one tenant's override priced another tenant's model")
	}
	odd := "ft:acme/x y&model=gpt-4o#1"
	if h.priced(tenant, "openai", odd).Priced {
		t.Fatal("a model name's query characters changed the question")
	}
	h.must(token, `mutation($t:ID!,$m:String!){createPricingOverride(tenantId:$t,input:{model:$m,effectiveFrom:"2026-01-01T00:00:00Z",
		rates:[{class:"input",perMillion:"1"}]}){id}}`, map[string]any{"t": tenant, "m": odd})
	if !h.priced(tenant, "openai", odd).Priced {
		t.Fatal("override of a model name with query characters not found")
	}
}

// TestPricedEndpointBadInput: every missing, malformed or oversize parameter
// is a 400 naming it; a wrong or missing service token a 401.
func TestPricedEndpointBadInput(t *testing.T) {
	h := newHarness(t)
	const tenant = "11111111-1111-4111-8111-111111111111"
	long := strings.Repeat("m", 257)
	for _, tc := range []struct{ query, want string }{
		{"provider=openai&model=gpt-4o", "missing tenant_id parameter"},
		{"tenant_id=&provider=openai&model=gpt-4o", "missing tenant_id parameter"},
		{"tenant_id=acme&provider=openai&model=gpt-4o", "tenant_id must be a UUID"},
		{"tenant_id=" + tenant + "&model=gpt-4o", "missing provider parameter"},
		{"tenant_id=" + tenant + "&provider=" + strings.Repeat("p", 65) + "&model=gpt-4o", "provider exceeds 64 bytes"},
		{"tenant_id=" + tenant + "&provider=acme&model=gpt-4o", `unknown provider "acme"`},
		{"tenant_id=" + tenant + "&provider=openai", "missing model parameter"},
		{"tenant_id=" + tenant + "&provider=openai&model=" + long, "model exceeds 256 bytes"},
		{"tenant_id=%zz", "invalid URL escape"},
	} {
		status, _, m := h.pricedCall(tc.query, serviceToken)
		msg, _ := m["error"].(string)
		if status != http.StatusBadRequest || !strings.Contains(msg, tc.want) {
			t.Errorf("%.80s: %d %v, want 400 %q", tc.query, status, m, tc.want)
		}
	}
	if status, _, m := h.pricedCall(policy.PricedQuery(tenant, "openai", long[:256]), serviceToken); status != 200 || m["priced"] != false {
		t.Errorf("a 256-byte model: %d %v", status, m)
	}
	for _, tok := range []string{"", "wrong-token"} {
		if status, _, m := h.pricedCall(policy.PricedQuery(tenant, "openai", "gpt-4o"), tok); status != http.StatusUnauthorized || m["error"] == nil {
			t.Errorf("service token %q: %d %v", tok, status, m)
		}
	}
}
