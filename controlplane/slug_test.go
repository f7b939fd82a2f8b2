package controlplane

import (
	"strings"
	"testing"
)

func TestSlugFor(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"Acme Corp": "acme-corp", "  ÄBC--42!": "bc-42", "R&D / Labs": "r-d-labs"} {
		if got := SlugFor(in); got != want {
			t.Errorf("SlugFor(%q) = %q, want %q", in, got, want)
		}
	}
	if got := SlugFor("!!!"); !strings.HasPrefix(got, "t-") || len(got) != 10 {
		t.Errorf("SlugFor of nothing usable: %q", got)
	}
	if got := SlugFor(strings.Repeat("a", 100)); len(got) != 63 {
		t.Errorf("long slug has %d characters", len(got))
	}
	// Whatever the name, the derived slug passes the slug rule.
	for _, in := range []string{"Acme Corp", "!!!", strings.Repeat("ab-", 40), "ÄÖÜ", "x"} {
		if _, err := cleanSlug(SlugFor(in)); err != nil {
			t.Errorf("SlugFor(%q) = %q, refused by the slug rule: %v", in, SlugFor(in), err)
		}
	}
}
