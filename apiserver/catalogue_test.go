package apiserver

import "testing"

// The price catalogue is public knowledge but the API still wants a session.
func TestPricingCatalogue(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	token, _ := h.owner("cat@example.com", "cat")
	const q = `query($s:String,$p:String,$n:Int){pricingCatalogue(search:$s,provider:$p,first:$n){provider model aliases rates{class perMillion} effectiveFrom source}}`
	if r := h.gql("", q, map[string]any{"s": "gpt"}); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("anonymous catalogue: %+v", r)
	}
	d := h.must(token, q, map[string]any{"s": "gpt-4o-mini", "p": "openai", "n": 5})
	list := d["pricingCatalogue"].([]any)
	if len(list) == 0 || len(list) > 5 {
		t.Fatalf("catalogue %v", list)
	}
	var found bool
	for _, it := range list {
		m := it.(map[string]any)
		if m["provider"] != "openai" {
			t.Fatalf("provider filter: %v", m)
		}
		if m["model"] == "gpt-4o-mini" {
			found = true
			rates := map[string]string{}
			for _, r := range m["rates"].([]any) {
				r := r.(map[string]any)
				rates[r["class"].(string)] = r["perMillion"].(string)
			}
			if rates["input"] == "" || rates["output"] == "" || m["source"] == "" {
				t.Fatalf("gpt-4o-mini without rates or source: %v", m)
			}
		}
	}
	if !found {
		t.Fatalf("gpt-4o-mini not found: %v", list)
	}
	if r := h.gql(token, q, map[string]any{"n": 0}); r.code() != "INVALID_ARGUMENT" {
		t.Fatalf("first 0: %+v", r)
	}
}

// Rate limits are part of the key policy: set through GraphQL, listed, and
// handed to the data plane in the policy answer.
func TestKeyRateLimitsThroughAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	token, tenant := h.owner("rate@example.com", "rate")
	d := h.must(token, `mutation($t:ID!){createAPIKey(tenantId:$t,name:"limited",policy:{requestsPerMinute:60,tokensPerMinute:100000}){secret key{id policy{requestsPerMinute tokensPerMinute}}}}`,
		map[string]any{"t": tenant})
	if get(d, "createAPIKey", "key", "policy", "requestsPerMinute") != 60.0 || get(d, "createAPIKey", "key", "policy", "tokensPerMinute") != 100000.0 {
		t.Fatalf("created policy: %v", d)
	}
	status, a := h.policy(get(d, "createAPIKey", "secret").(string))
	pol, _ := a["policy"].(map[string]any)
	if status != 200 || pol["requests_per_minute"] != 60.0 || pol["tokens_per_minute"] != 100000.0 {
		t.Fatalf("policy answer %d %v", status, a)
	}
	r := h.gql(token, `mutation($t:ID!,$k:ID!){updateAPIKeyPolicy(tenantId:$t,id:$k,policy:{requestsPerMinute:-1}){id}}`,
		map[string]any{"t": tenant, "k": get(d, "createAPIKey", "key", "id")})
	if r.code() != "INVALID_ARGUMENT" {
		t.Fatalf("negative rate limit: %+v", r)
	}
}
