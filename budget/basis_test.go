package budget

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCountedIsTheLargerOnTheMaxBasis(t *testing.T) {
	for name, c := range map[string]struct {
		basis                     SpendBasis
		metered, reported, counts int64
	}{
		"metered basis ignores reports":      {BasisMetered, 5, 9, 5},
		"default basis ignores reports":      {"", 5, 9, 5},
		"max basis, reported above metered":  {BasisMaxMeteredReported, 1_000_000_000, 1_000_000_001, 1_000_000_001},
		"max basis, metered above reported":  {BasisMaxMeteredReported, 7, 3, 7},
		"max basis, never the sum":           {BasisMaxMeteredReported, 4, 4, 4},
		"max basis, no report yet (lagging)": {BasisMaxMeteredReported, 12, 0, 12},
	} {
		b := Budget{SpendBasis: c.basis}
		if got := b.Counted(c.metered, c.reported); got != c.counts {
			t.Errorf("%s: counted %d, want %d", name, got, c.counts)
		}
	}
}

func TestReportedBasisOnlyWhereReportsCanBeAttributed(t *testing.T) {
	base := func(scope Scope) Budget {
		return Budget{Scope: scope, Period: Month, AmountNanoUSD: 1e9, SpendBasis: BasisMaxMeteredReported}
	}
	for name, c := range map[string]struct {
		edit func(*Budget)
		want string // "" when valid
	}{
		"tenant budget":                {func(*Budget) {}, ""},
		"openai provider budget":       {func(b *Budget) { b.Scope, b.Provider = ScopeProvider, "openai" }, ""},
		"anthropic provider budget":    {func(b *Budget) { b.Scope, b.Provider = ScopeProvider, "anthropic" }, ""},
		"gemini: Google reports mixed": {func(b *Budget) { b.Scope, b.Provider = ScopeProvider, "gemini" }, "covers gemini and vertex_ai together"},
		"key budget":                   {func(b *Budget) { b.Scope, b.KeyID = ScopeKey, "k" }, "cannot be attributed to a key budget"},
		"team budget":                  {func(b *Budget) { b.Scope, b.TeamID = ScopeTeam, "t" }, "cannot be attributed to a team budget"},
		"project budget":               {func(b *Budget) { b.Scope, b.ProjectID = ScopeProject, "p" }, "cannot be attributed to a project budget"},
		"workspace budget":             {func(b *Budget) { b.Scope, b.WorkspaceID = ScopeWorkspace, "w" }, "cannot be attributed to a workspace budget"},
		"model budget":                 {func(b *Budget) { b.Scope, b.Model = ScopeModel, "gpt-4o" }, "cannot be attributed to a model budget"},
		"dimension budget": {func(b *Budget) { b.Scope, b.DimensionName, b.DimensionValue = ScopeDimension, "team", "ml" },
			"cannot be attributed to a dimension budget"},
		"unknown basis":                 {func(b *Budget) { b.SpendBasis = "reported" }, "spend basis must be"},
		"breach webhook on a soft cap":  {func(b *Budget) { b.BreachWebhookURL = "https://x.example" }, "make the budget hard"},
		"breach webhook on a hard cap":  {func(b *Budget) { b.BreachWebhookURL, b.Hard = "https://x.example", true }, ""},
		"key budget on metered is fine": {func(b *Budget) { b.Scope, b.KeyID, b.SpendBasis = ScopeKey, "k", "" }, ""},
	} {
		b := base(ScopeTenant)
		c.edit(&b)
		err := b.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case c.want != "" && (err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want an error saying %q", name, err, c.want)
		}
	}
}

func TestBreachSignature(t *testing.T) {
	secret, body := []byte("whsec-0123456789abcdef"), []byte(`{"event_id":"e"}`)
	at := time.Unix(1_800_000_000, 0)
	h := Sign(secret, at, body)
	if got, err := VerifySignature(secret, h, body); err != nil || !got.Equal(at) {
		t.Fatalf("verify %q: %v %v", h, got, err)
	}
	for name, c := range map[string]struct {
		secret, body []byte
		header       string
	}{
		"other secret": {[]byte("another"), body, h},
		"altered body": {secret, []byte(`{"event_id":"f"}`), h},
		"altered time": {secret, body, strings.Replace(h, "t=1800000000", "t=1800000001", 1)},
		"no signature": {secret, body, "t=1800000000"},
		"garbage":      {secret, body, "v1=zz,t=x"},
		"empty header": {secret, body, ""},
	} {
		if _, err := VerifySignature(c.secret, c.header, c.body); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}
