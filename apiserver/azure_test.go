package apiserver

import (
	"strings"
	"testing"
)

// TestAzureDeploymentsReachThePolicyAnswer: a tenant's Azure OpenAI
// deployment mappings, managed over GraphQL, travel with every policy
// answer of the tenant's keys (and no other tenant's); bad names are
// refused with a clear error; a removed mapping leaves the answer.
func TestAzureDeploymentsReachThePolicyAnswer(t *testing.T) {
	h := newHarness(t)
	tok, tenant := h.owner("alice@example.com", "acme")
	otherTok, other := h.owner("bob@example.com", "globex")
	key := get(h.must(tok, createKey, map[string]any{"t": tenant, "n": "azure"}), "createAPIKey", "secret").(string)
	otherKey := get(h.must(otherTok, createKey, map[string]any{"t": other, "n": "azure"}), "createAPIKey", "secret").(string)

	set := `mutation($t:ID!,$d:String!,$m:String!){setAzureDeployment(tenantId:$t,deployment:$d,model:$m){id deployment model}}`
	h.must(tok, set, map[string]any{"t": tenant, "d": "prod-4o", "m": "gpt-4o"})
	h.must(tok, set, map[string]any{"t": tenant, "d": "eu.chat_v2", "m": "gpt-4o-mini-data-zone"})
	h.must(tok, set, map[string]any{"t": tenant, "d": "prod-4o", "m": "gpt-4o-data-zone"}) // replaced
	h.must(otherTok, set, map[string]any{"t": other, "d": "theirs", "m": "gpt-4.1"})

	list := h.must(tok, `query($t:ID!){azureDeployments(tenantId:$t){deployment model}}`, map[string]any{"t": tenant})
	if got := toJSON(get(list, "azureDeployments")); got != `[{"deployment":"eu.chat_v2","model":"gpt-4o-mini-data-zone"},{"deployment":"prod-4o","model":"gpt-4o-data-zone"}]` {
		t.Fatalf("list: %s", got)
	}
	_, a := h.policy(key)
	if m := get(a, "policy", "azure_deployments"); toJSON(m) != `{"eu.chat_v2":"gpt-4o-mini-data-zone","prod-4o":"gpt-4o-data-zone"}` {
		t.Fatalf("policy answer: %v", a)
	}
	if _, b := h.policy(otherKey); toJSON(get(b, "policy", "azure_deployments")) != `{"theirs":"gpt-4.1"}` {
		t.Fatalf("other tenant's answer: %v", b)
	}

	for _, bad := range []map[string]any{
		{"t": tenant, "d": "", "m": "gpt-4o"},
		{"t": tenant, "d": "has space", "m": "gpt-4o"},
		{"t": tenant, "d": strings.Repeat("d", 65), "m": "gpt-4o"},
		{"t": tenant, "d": "ok", "m": ""},
		{"t": tenant, "d": "ok", "m": strings.Repeat("m", 257)},
	} {
		if r := h.gql(tok, set, bad); r.code() != "INVALID_ARGUMENT" || len(r.Errors) == 0 {
			t.Errorf("%v: %+v", bad, r)
		}
	}

	del := `mutation($t:ID!,$d:String!){deleteAzureDeployment(tenantId:$t,deployment:$d)}`
	h.must(tok, del, map[string]any{"t": tenant, "d": "prod-4o"})
	if _, a = h.policy(key); toJSON(get(a, "policy", "azure_deployments")) != `{"eu.chat_v2":"gpt-4o-mini-data-zone"}` {
		t.Fatalf("after delete: %v", a)
	}
	if r := h.gql(tok, del, map[string]any{"t": tenant, "d": "prod-4o"}); r.code() != "NOT_FOUND" {
		t.Fatalf("deleting twice: %+v", r)
	}
	// Another tenant's mapping cannot be removed from here.
	if r := h.gql(tok, del, map[string]any{"t": tenant, "d": "theirs"}); r.code() != "NOT_FOUND" {
		t.Fatalf("deleting another tenant's mapping: %+v", r)
	}
}
