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
