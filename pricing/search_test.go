package pricing

import "testing"

func TestSearch(t *testing.T) {
	c := Default()
	all := c.Search("", "", 0)
	if len(all) != len(c.Models()) {
		t.Fatalf("empty search: %d of %d models", len(all), len(c.Models()))
	}
	got := c.Search("SONNET", "anthropic", 0)
	if len(got) == 0 {
		t.Fatal("no anthropic sonnet")
	}
	for _, m := range got {
		if m.Provider != "anthropic" {
			t.Fatalf("provider filter let %s/%s through", m.Provider, m.ID)
		}
	}
	// Aliases match: a dated snapshot finds its model.
	var viaAlias bool
	for _, m := range c.Search("gpt-4o-2024-08-06", "", 0) {
		viaAlias = viaAlias || m.ID == "gpt-4o"
	}
	if !viaAlias {
		t.Fatal("gpt-4o-2024-08-06 does not find gpt-4o")
	}
	if n := len(c.Search("gpt", "", 3)); n != 3 {
		t.Fatalf("limit 3 gave %d", n)
	}
	if n := len(c.Search("no-such-model-anywhere", "", 0)); n != 0 {
		t.Fatalf("nonsense matched %d", n)
	}
}

func TestSearchRanksExactFirst(t *testing.T) {
	got := Default().Search("gpt-4o-mini", "openai", 3)
	if len(got) != 3 || got[0].ID != "gpt-4o-mini" {
		t.Fatalf("first match %v", got)
	}
	for _, m := range got[1:] {
		if m.ID[:len("gpt-4o-mini")] != "gpt-4o-mini" {
			t.Errorf("%s ranked before ids that start with the query", m.ID)
		}
	}
}
