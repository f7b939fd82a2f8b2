package pricing

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"sigs.k8s.io/yaml"

	"github.com/spendgate/spendgate/usage"
)

// golden is one vector of testdata/golden.json: a provider's usage as it
// arrives (a usage object, or whole response bodies / stream events with the
// usage at one of usage_paths, merged event by event like the metering core
// does) and the exact cost it must give.
type golden struct {
	Name        string            `json:"name"`
	Provider    string            `json:"provider"`
	Model       string            `json:"model"`
	Parser      string            `json:"parser"`
	Time        string            `json:"time"` // RFC 3339; default 2026-08-01
	ServiceTier string            `json:"service_tier"`
	Batch       bool              `json:"batch"`
	Usage       json.RawMessage   `json:"usage"`
	Delta       json.RawMessage   `json:"delta"`
	Events      []json.RawMessage `json:"events"`
	UsagePaths  []string          `json:"usage_paths"`
	Overrides   []struct {
		ID      string           `json:"id"`
		Model   string           `json:"model"`
		Rates   map[string]int64 `json:"rates"`
		Percent int64            `json:"percent_bp"`
	} `json:"overrides"`
	WantNano         int64  `json:"want_nano"`
	WantComputedNano int64  `json:"want_computed_nano"`
	WantTenantNano   *int64 `json:"want_tenant_nano"`
	WantFeeNano      int64  `json:"want_request_fee_nano"`
	WantModel        string `json:"want_model"`
	WantTier         string `json:"want_tier"`
	WantMatchedBy    string `json:"want_matched_by"`
	WantUnrated      string `json:"want_unrated"`
}

func parse(t *testing.T, kind string, raw []byte) usage.Tokens {
	t.Helper()
	var tok usage.Tokens
	var err error
	switch kind {
	case "openai":
		tok, err = usage.ParseOpenAI(raw)
	case "anthropic":
		tok, err = usage.ParseAnthropic(raw)
	case "gemini":
		tok, err = usage.ParseGemini(raw)
	case "bedrock":
		tok, err = usage.ParseBedrock(raw)
	case "units":
		// Record-only vendors report no usage object of their own: the
		// record API's usage fields (characters, seconds, ...) are the counts.
		err = json.Unmarshal(raw, &tok)
	default:
		t.Fatalf("unknown parser %q", kind)
	}
	if err != nil {
		t.Fatalf("parse usage: %v", err)
	}
	return tok
}

// usageObjects returns the usage objects of a vector in arrival order.
func (g *golden) usageObjects(t *testing.T) [][]byte {
	t.Helper()
	if len(g.Events) == 0 {
		out := [][]byte{g.Usage}
		if len(g.Delta) > 0 {
			out = append(out, g.Delta)
		}
		return out
	}
	var out [][]byte
	for _, ev := range g.Events {
		for _, path := range g.UsagePaths {
			if u := gjson.GetBytes(ev, path); u.IsObject() {
				out = append(out, []byte(u.Raw))
				break
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no usage at %v in any event", g.UsagePaths)
	}
	return out
}

// TestGoldenVectors prices real provider usage payloads with the shipped
// catalogue; expected figures were computed by hand from the list prices
// (and, where the provider reports its own cost, agree with it).
func TestGoldenVectors(t *testing.T) {
	data, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []golden
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cases); err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, g := range cases {
		covered[g.Provider] = true
	}
	for _, p := range Providers {
		if !covered[p] {
			t.Errorf("no golden vector for provider %s", p)
		}
	}
	cat := Default()
	for _, g := range cases {
		t.Run(g.Name, func(t *testing.T) {
			var tok usage.Tokens
			var hints usage.Hints
			for _, u := range g.usageObjects(t) {
				tok = usage.Merge(tok, parse(t, g.Parser, u))
				if h := usage.ParseHints(u); h != (usage.Hints{}) {
					hints = h
				}
			}
			at := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
			if g.Time != "" {
				if at, err = time.Parse(time.RFC3339, g.Time); err != nil {
					t.Fatal(err)
				}
			}
			req := Request{Provider: g.Provider, Model: g.Model, Time: at, ServiceTier: g.ServiceTier, Batch: g.Batch,
				SearchContextSize: hints.SearchContextSize}
			if hints.ServiceTier != "" {
				req.ServiceTier = hints.ServiceTier // the tier the provider says it served wins
			}
			var ovs []Override
			for _, o := range g.Overrides {
				ovs = append(ovs, Override{ID: o.ID, Model: o.Model, Rates: o.Rates, PercentAdjustmentBP: o.Percent,
					EffectiveFrom: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
			}
			c := cat.Cost(req, tok, ovs)
			if !c.Priced {
				t.Fatalf("not priced")
			}
			wantTenant := g.WantNano
			if g.WantTenantNano != nil {
				wantTenant = *g.WantTenantNano
			}
			if c.ListNanoUSD != g.WantNano || c.TenantNanoUSD != wantTenant {
				t.Errorf("list %d tenant %d, want %d %d (usage %+v, lines %+v)", c.ListNanoUSD, c.TenantNanoUSD, g.WantNano, wantTenant, tok, c.Lines)
			}
			wantComputed := g.WantComputedNano
			if wantComputed == 0 && !tok.HasProviderCost {
				wantComputed = g.WantNano
			}
			if wantComputed != 0 && c.ComputedListNanoUSD != wantComputed {
				t.Errorf("computed %d want %d", c.ComputedListNanoUSD, wantComputed)
			}
			if c.Model != g.WantModel {
				t.Errorf("model %q want %q", c.Model, g.WantModel)
			}
			if g.WantMatchedBy != "" && c.MatchedBy != g.WantMatchedBy {
				t.Errorf("matched by %q want %q", c.MatchedBy, g.WantMatchedBy)
			}
			want := g.WantTier
			if want == "" {
				want = "standard"
			}
			if c.Tier != want {
				t.Errorf("tier %q want %q", c.Tier, want)
			}
			if c.RequestFeeNanoUSD != g.WantFeeNano {
				t.Errorf("request fee %d want %d", c.RequestFeeNanoUSD, g.WantFeeNano)
			}
			if c.UnratedClasses != g.WantUnrated {
				t.Errorf("unrated classes %q want %q", c.UnratedClasses, g.WantUnrated)
			}
			var sum int64
			for _, l := range c.Lines {
				sum += l.AmountNanoUSD
			}
			if diff := sum + c.RequestFeeNanoUSD - c.ComputedListNanoUSD; diff < -int64(len(c.Lines)) || diff > int64(len(c.Lines)) {
				t.Errorf("explanation lines sum to %d, total %d", sum, c.ComputedListNanoUSD)
			}
		})
	}
}

func TestEveryProviderHasPrices(t *testing.T) {
	seen := map[string]int{}
	for _, m := range Default().Models() {
		seen[m.Provider]++
		if m.Source == "" || m.Checked == "" {
			t.Errorf("%s/%s has no source or check date", m.Provider, m.ID)
		}
	}
	for _, p := range Providers {
		if seen[p] == 0 {
			t.Errorf("provider %s has no models in the catalogue", p)
		}
	}
}

const testCatalogue = `
models:
- provider: openai
  model: foo
  aliases: [foo-latest]
  source: test
  checked: "2026-01-01"
  prices:
  - effective_from: "2026-01-01"
    effective_to: "2026-03-01T00:00:00Z"
    rates: {input: "1", output: "2"}
  - effective_from: "2026-03-01T00:00:00Z"
    rates: {input: "3", output: "4"}
- provider: openai
  model: foo-mini
  source: test
  checked: "2026-01-01"
  prices:
  - effective_from: "2026-01-01"
    rates: {input: "0.5", output: "0.5"}
- provider: openai
  model: foo-latest-x
  source: test
  checked: "2026-01-01"
  prices:
  - effective_from: "2026-01-01"
    rates: {input: "9", output: "9"}
`

func mustLoad(t *testing.T, s string) *Catalogue {
	t.Helper()
	c, err := LoadCatalogue([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMissingClassRatesFallBack: a class the catalogue lists no rate for is
// billed at the plain input or output rate, never for free.
func TestMissingClassRatesFallBack(t *testing.T) {
	c := mustLoad(t, `models:
- provider: groq
  model: plain
  source: test
  checked: "2026-01-01"
  prices:
  - effective_from: "2026-01-01"
    rates: {input: "1", output: "2", cache_write_5m: "1.25"}
`)
	tok := usage.Tokens{Input: 1, CachedInput: 10, CacheWrite5m: 100, CacheWrite1h: 1000, Output: 10_000,
		Reasoning: 100_000, AudioInput: 1_000_000, AudioOutput: 10_000_000, ImageInput: 100_000_000,
		ImageOutput: 1_000_000_000}
	got := c.Cost(Request{Provider: "groq", Model: "plain"}, tok, nil)
	// input side at $1/M: 1 + 10 + 1_000_000 + 100_000_000 tokens; writes at
	// $1.25/M: 1_100; output side at $2/M: 1_010_110_000.
	want := int64(101_000_011*1_000+1_100*1_250) + 1_010_110_000*2_000
	if !got.Priced || got.ListNanoUSD != want {
		t.Fatalf("list %d want %d (lines %+v)", got.ListNanoUSD, want, got.Lines)
	}
	// Web searches have nothing to fall back to: the cost is incomplete.
	tok.WebSearches = 7
	if got := c.Cost(Request{Provider: "groq", Model: "plain"}, tok, nil); got.Priced || got.UnratedClasses != "web_searches" {
		t.Fatalf("with searches: %+v", got)
	}
}

// TestPriced: a model is priced ahead of a call when the catalogue has a
// price in force then or a tenant override in force sets a rate for it
// (exactly, by glob, by provider); a percent-only override, an expired or
// future one, another provider's, or a provider-reported cost do not price an
// unknown model.
func TestPriced(t *testing.T) {
	c := mustLoad(t, testCatalogue)
	at := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	before := at.AddDate(0, -1, 0)
	rate := map[string]int64{"input": 1_000_000_000}
	tests := []struct {
		name      string
		provider  string
		model     string
		when      time.Time
		overrides []Override
		want      bool
	}{
		{"catalogue", "openai", "foo", at, nil, true},
		{"catalogue, before its first price", "openai", "foo", time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC), nil, false},
		{"unknown", "openai", "my-finetune", at, nil, false},
		{"override rate", "openai", "my-finetune", at, []Override{{ID: "o", Model: "my-finetune", EffectiveFrom: before, Rates: rate}}, true},
		{"override glob, any provider", "openai", "ft:my-finetune", at, []Override{{ID: "o", Model: "ft:*", EffectiveFrom: before, Rates: rate}}, true},
		{"override of another provider", "openai", "my-finetune", at, []Override{{ID: "o", Provider: "anthropic", Model: "*", EffectiveFrom: before, Rates: rate}}, false},
		{"percent-only override", "openai", "my-finetune", at, []Override{{ID: "o", Model: "*", EffectiveFrom: before, PercentAdjustmentBP: -1000}}, false},
		{"override not yet in force", "openai", "my-finetune", at, []Override{{ID: "o", Model: "my-finetune", EffectiveFrom: at.AddDate(0, 0, 1), Rates: rate}}, false},
		{"override expired", "openai", "my-finetune", at, []Override{{ID: "o", Model: "my-finetune", EffectiveFrom: before.AddDate(0, -1, 0), EffectiveTo: &before, Rates: rate}}, false},
		{"override with an unknown class only", "openai", "my-finetune", at, []Override{{ID: "o", Model: "my-finetune", EffectiveFrom: before, Rates: map[string]int64{"bogus": 5}}}, false},
	}
	for _, tt := range tests {
		req := Request{Provider: tt.provider, Model: tt.model, Time: tt.when}
		if got := c.Priced(req, tt.overrides); got != tt.want {
			t.Errorf("%s: priced=%v, want %v", tt.name, got, tt.want)
		}
		// Priced agrees with what Cost does with a real call's usage in the
		// classes the overrides rate.
		if cost := c.Cost(req, usage.Tokens{Input: 1000}, tt.overrides); cost.Priced != tt.want {
			t.Errorf("%s: Cost says priced=%v", tt.name, cost.Priced)
		}
	}
	if !Default().Priced(Request{Provider: "openai", Model: "gpt-4o-mini", Time: time.Now()}, nil) {
		t.Error("gpt-4o-mini is not priced by the shipped catalogue")
	}
}

func TestEffectiveDateBoundaries(t *testing.T) {
	c := mustLoad(t, testCatalogue)
	tok := usage.Tokens{Input: 1_000_000}
	tests := []struct {
		at   time.Time
		want int64
		ok   bool
	}{
		{time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC), 0, false},
		{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 1_000_000_000, true},
		{time.Date(2026, 2, 28, 23, 59, 59, 999, time.UTC), 1_000_000_000, true},
		{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 3_000_000_000, true},
		{time.Time{}, 3_000_000_000, true},
	}
	for _, tt := range tests {
		got := c.Cost(Request{Provider: "openai", Model: "foo", Time: tt.at}, tok, nil)
		if got.Priced != tt.ok || got.ListNanoUSD != tt.want {
			t.Errorf("at %s: priced=%v cost=%d, want %v %d", tt.at, got.Priced, got.ListNanoUSD, tt.ok, tt.want)
		}
	}
}

func TestAliasPrecedence(t *testing.T) {
	c := mustLoad(t, testCatalogue)
	tests := []struct{ model, want, by string }{
		{"foo", "foo", "exact"},
		{"FOO", "foo", "exact"},
		{"foo-latest", "foo", "alias"},                // alias beats the prefix "foo"
		{"foo-latest-x", "foo-latest-x", "exact"},     // exact beats the alias-looking prefix
		{"foo-mini-2026-01-01", "foo-mini", "prefix"}, // longest prefix wins over "foo"
		{"foo-2026-01-01", "foo", "prefix"},
		{"foo.1", "", ""},  // '.' does not end a prefix: foo.1 is another model
		{"foobar", "", ""}, // a prefix must end at a separator
	}
	for _, tt := range tests {
		m, by, ok := c.Lookup("openai", tt.model)
		if tt.want == "" {
			if ok {
				t.Errorf("%s: matched %s, want no match", tt.model, m.ID)
			}
			continue
		}
		if !ok || m.ID != tt.want || by != tt.by {
			t.Errorf("%s: got %v %v %v, want %s by %s", tt.model, m, by, ok, tt.want, tt.by)
		}
	}
	if _, by, ok := Default().Lookup("openrouter", "openai/gpt-4o-mini"); !ok || by != "alias" {
		t.Errorf("openrouter vendor fallback: %v %v", by, ok)
	}
}

func TestOverridesStack(t *testing.T) {
	c := mustLoad(t, testCatalogue)
	at := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	tok := usage.Tokens{Input: 1_000_000, Output: 1_000_000} // list: 3 + 4 = $7
	overrides := []Override{
		{ID: "all-discount", Model: "*", EffectiveFrom: at.AddDate(0, -6, 0), PercentAdjustmentBP: -1000},
		{ID: "foo-rate", Provider: "openai", Model: "foo", EffectiveFrom: at.AddDate(0, -1, 0), Rates: map[string]int64{"input": 2_000_000_000}},
		{ID: "expired", Model: "foo", EffectiveFrom: at.AddDate(-1, 0, 0), EffectiveTo: &at, PercentAdjustmentBP: 5000},
		{ID: "future", Model: "foo", EffectiveFrom: end, PercentAdjustmentBP: 5000},
		{ID: "other-provider", Provider: "anthropic", Model: "*", EffectiveFrom: at.AddDate(-1, 0, 0), PercentAdjustmentBP: 5000},
	}
	got := c.Cost(Request{Provider: "openai", Model: "foo", Time: at}, tok, overrides)
	// tenant: input at $2 + output at $4 = $6, then -10 % = $5.40
	if got.ListNanoUSD != 7_000_000_000 || got.TenantNanoUSD != 5_400_000_000 {
		t.Fatalf("list %d tenant %d", got.ListNanoUSD, got.TenantNanoUSD)
	}
	if got.OverrideID != "foo-rate,all-discount" {
		t.Fatalf("override ids %q", got.OverrideID)
	}
	// Rounding: 1 token at $0.0005/M = 0.5 nano → 1 (half up); +50 % = 1.5 → 2.
	one := c.Cost(Request{Provider: "openai", Model: "foo-mini"}, usage.Tokens{Input: 1},
		[]Override{{ID: "m", Model: "foo-mini", Rates: map[string]int64{"input": 500_000}, PercentAdjustmentBP: 5000}})
	if one.ListNanoUSD != 500 || one.TenantNanoUSD != 2 {
		t.Fatalf("rounding: list %d tenant %d", one.ListNanoUSD, one.TenantNanoUSD)
	}
}

func TestUnknownModelIsUnpriced(t *testing.T) {
	c := Default()
	got := c.Cost(Request{Provider: "openai", Model: "gpt-99-ultra"}, usage.Tokens{Input: 100, Output: 10}, nil)
	if got.Priced || got.ListNanoUSD != 0 || got.TenantNanoUSD != 0 || got.Lines != nil {
		t.Fatalf("unknown model priced: %+v", got)
	}
	// A tenant override with rates prices a model the catalogue lacks.
	got = c.Cost(Request{Provider: "openai", Model: "my-finetune"}, usage.Tokens{Input: 1_000_000},
		[]Override{{ID: "ft", Model: "my-finetune", Rates: map[string]int64{"input": 5_000_000_000}}})
	if !got.Priced || got.MatchedBy != "override" || got.TenantNanoUSD != 5_000_000_000 {
		t.Fatalf("override-priced model: %+v", got)
	}
	// A provider-reported cost prices an unknown model too.
	got = c.Cost(Request{Provider: "openrouter", Model: "someone/new-model"}, usage.Tokens{Input: 5, ProviderCostNanoUSD: 42, HasProviderCost: true}, nil)
	if !got.Priced || got.ListNanoUSD != 42 || got.MatchedBy != "provider_reported" {
		t.Fatalf("provider-reported: %+v", got)
	}
}

func TestLoadCatalogueErrors(t *testing.T) {
	bad := map[string]string{
		"unknown provider": `models: [{provider: acme, model: x, source: s, checked: "2026-01-01", prices: [{effective_from: "2026-01-01", rates: {input: "1"}}]}]`,
		"unknown class":    `models: [{provider: openai, model: x, source: s, checked: "2026-01-01", prices: [{effective_from: "2026-01-01", rates: {tokens: "1"}}]}]`,
		"negative rate":    `models: [{provider: openai, model: x, source: s, checked: "2026-01-01", prices: [{effective_from: "2026-01-01", rates: {input: "-1"}}]}]`,
		"no source":        `models: [{provider: openai, model: x, checked: "2026-01-01", prices: [{effective_from: "2026-01-01", rates: {input: "1"}}]}]`,
		"bad date":         `models: [{provider: openai, model: x, source: s, checked: "2026-01-01", prices: [{effective_from: "soon", rates: {input: "1"}}]}]`,
		"overlap":          `models: [{provider: openai, model: x, source: s, checked: "2026-01-01", prices: [{effective_from: "2026-01-01", effective_to: "2026-06-01", rates: {input: "1"}}, {effective_from: "2026-02-01", rates: {input: "2"}}]}]`,
		"duplicate":        `models: [{provider: openai, model: x, source: s, checked: "2026-01-01", prices: [{effective_from: "2026-01-01", rates: {input: "1"}}]}, {provider: openai, model: X, source: s, checked: "2026-01-01", prices: [{effective_from: "2026-01-01", rates: {input: "1"}}]}]`,
		"unknown field":    `models: [{provider: openai, model: x, source: s, checked: "2026-01-01", price: []}]`,
		"not yaml":         `{{{`,
	}
	for name, in := range bad {
		if _, err := LoadCatalogue([]byte(in)); err == nil {
			t.Errorf("%s: want error", name)
		}
	}
}

func TestValidateOverride(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	before := from.Add(-time.Hour)
	bad := []Override{
		{Model: "", EffectiveFrom: from, PercentAdjustmentBP: 1},
		{Model: "[", EffectiveFrom: from, PercentAdjustmentBP: 1},
		{Model: "x", Provider: "acme", EffectiveFrom: from, PercentAdjustmentBP: 1},
		{Model: "x", EffectiveFrom: from, Rates: map[string]int64{"bogus": 1}},
		{Model: "x", EffectiveFrom: from, Rates: map[string]int64{"input": -1}},
		{Model: "x", EffectiveFrom: from, PercentAdjustmentBP: -10000},
		{Model: "x", EffectiveFrom: from, EffectiveTo: &before, PercentAdjustmentBP: 1},
		{Model: "x", EffectiveFrom: from},
	}
	for i, o := range bad {
		err := ValidateOverride(&o)
		var inv *InvalidError
		if !errors.As(err, &inv) {
			t.Errorf("case %d: want InvalidError, got %v", i, err)
		}
	}
	ok := Override{Model: "gpt-4o*", Provider: "openai", EffectiveFrom: from, PercentAdjustmentBP: -500}
	if err := ValidateOverride(&ok); err != nil {
		t.Errorf("valid override rejected: %v", err)
	}
}

func TestImportLiteLLMSample(t *testing.T) {
	data, err := os.ReadFile("testdata/litellm_sample.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := ImportLiteLLM(data, "sample", "2026-07-24", "2026-07-24", nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &File{Models: res.Models}
	cat, err := FromFile(f)
	if err != nil {
		t.Fatalf("imported catalogue invalid: %v", err)
	}
	m, by, ok := cat.Lookup("anthropic", "claude-3-7-sonnet-20250219")
	if !ok {
		t.Fatal("claude-3-7-sonnet not imported")
	}
	p, _ := m.PriceAt(time.Time{})
	checks := map[Class]int64{Input: 3_000_000_000, Output: 15_000_000_000, CachedInput: 300_000_000, CacheWrite5m: 3_750_000_000, CacheWrite1h: 6_000_000_000, WebSearches: 10_000_000_000_000}
	for cl, want := range checks {
		if got, _ := p.Rates.Get(cl); got != want {
			t.Errorf("%s via %s: %s = %d want %d", m.ID, by, cl, got, want)
		}
	}
	if len(res.Skipped) == 0 || !strings.Contains(strings.Join(res.Skipped, "\n"), "bedrock") {
		t.Errorf("want skipped non-routed providers, got %v", res.Skipped)
	}

	// A second sync with one changed price adds an effective-dated price and
	// keeps the old one for re-pricing the past.
	base := &File{Models: res.Models}
	changed := append([]FileModel(nil), res.Models...)
	for i := range changed {
		if changed[i].Model == "claude-3-7-sonnet-20250219" {
			np := changed[i].Prices[0]
			np.Rates = map[string]string{"input": "2", "output": "10"}
			changed[i].Prices = []FilePrice{np}
		}
	}
	merged, rep := Sync(base, changed, "2026-09-01")
	if len(rep.Changed) != 1 || len(rep.Added) != 0 || len(rep.Unchanged) != len(res.Models)-1 {
		t.Fatalf("report %d added %d changed %d unchanged", len(rep.Added), len(rep.Changed), len(rep.Unchanged))
	}
	mc, err := FromFile(merged)
	if err != nil {
		t.Fatal(err)
	}
	old := mc.Cost(Request{Provider: "anthropic", Model: "claude-3-7-sonnet-20250219", Time: time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)}, usage.Tokens{Input: 1_000_000}, nil)
	now := mc.Cost(Request{Provider: "anthropic", Model: "claude-3-7-sonnet-20250219", Time: time.Date(2026, 9, 2, 0, 0, 0, 0, time.UTC)}, usage.Tokens{Input: 1_000_000}, nil)
	if old.ListNanoUSD != 3_000_000_000 || now.ListNanoUSD != 2_000_000_000 {
		t.Fatalf("re-pricing: before %d after %d", old.ListNanoUSD, now.ListNanoUSD)
	}
}

func TestImportLiteLLMErrors(t *testing.T) {
	if _, err := ImportLiteLLM([]byte(`[1,2]`), "s", "2026-01-01", "2026-01-01", nil); err == nil {
		t.Error("want error for a non-object file")
	}
	res, err := ImportLiteLLM([]byte(`{"gpt-x":{"litellm_provider":"openai","input_cost_per_token":"abc"}}`), "s", "2026-01-01", "2026-01-01", nil)
	if err != nil || len(res.Models) != 0 || len(res.Skipped) != 1 {
		t.Errorf("bad number: %v %+v", err, res)
	}
	long := `{"` + strings.Repeat("x", 300) + `":{"litellm_provider":"openai","input_cost_per_token":1e-06}}`
	if res, err := ImportLiteLLM([]byte(long), "s", "2026-01-01", "2026-01-01", nil); err != nil || len(res.Models) != 0 || len(res.Skipped) != 1 {
		t.Errorf("an entry that would not validate must be skipped: %v %+v", err, res)
	}
	for _, args := range [][3]string{{"", "2026-01-01", "2026-01-01"}, {"s", "someday", "2026-01-01"}, {"s", "2026-01-01", "soon"}} {
		if _, err := ImportLiteLLM([]byte(`{}`), args[0], args[1], args[2], nil); err == nil {
			t.Errorf("ImportLiteLLM(source %q, checked %q, from %q): want error", args[0], args[1], args[2])
		}
	}
}

// FuzzLoadCatalogue: a catalogue that loads is self-consistent: every model
// is found by its own id, and its latest price prices usage.
func FuzzLoadCatalogue(f *testing.F) {
	f.Add([]byte(testCatalogue))
	f.Add(EmbeddedCatalogueYAML()[:4096])
	f.Add([]byte(`{"models":[{"provider":"perplexity","model":"s","source":"s","checked":"2026-01-01","prices":[{"effective_from":"2026-01-01","rates":{"input":"1"},"request_fee_by_search_context":{"low":"0.005"},"long_context":{"above_input_tokens":5,"rates":{"input":"2"},"priority":{"input":"3"}}}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := LoadCatalogue(b)
		if err != nil {
			return
		}
		for _, m := range c.Models() {
			found, _, ok := c.Lookup(m.Provider, m.ID)
			if !ok || found != m {
				t.Fatalf("model %s/%s not found by its own id", m.Provider, m.ID)
			}
			p := m.Prices[len(m.Prices)-1]
			got := c.Cost(Request{Provider: m.Provider, Model: m.ID, Time: p.EffectiveFrom}, usage.Tokens{Input: 1, Output: 1}, nil)
			// Priced unless a used class has no rate; never a negative cost.
			if got.Priced == (got.UnratedClasses != "") || got.ListNanoUSD < 0 || (!got.Priced && got.ListNanoUSD != 0) {
				t.Fatalf("model %s/%s at its latest price: %+v", m.Provider, m.ID, got)
			}
		}
	})
}

// FuzzImportLiteLLM: whatever the file holds, an import that succeeds gives
// a catalogue that validates and survives the YAML round trip sync writes.
func FuzzImportLiteLLM(f *testing.F) {
	f.Add([]byte(`{"m":{"litellm_provider":"openai","input_cost_per_token":3e-06,"output_cost_per_token_batches":1e-06}}`))
	f.Add([]byte(`{"claude-x-20250101":{"litellm_provider":"anthropic","input_cost_per_token":3e-06,"input_cost_per_token_above_200k_tokens":6e-06,"input_cost_per_token_above_200k_tokens_priority":7e-06},"claude-x":{"litellm_provider":"anthropic","input_cost_per_token":3e-06}}`))
	if b, err := os.ReadFile("testdata/litellm_sample.json"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := ImportLiteLLM(b, "s", "2026-01-01", "2026-01-01", nil)
		if err != nil {
			return
		}
		file := &File{Models: res.Models}
		if _, err := FromFile(file); err != nil {
			t.Fatalf("import gave an invalid catalogue: %v", err)
		}
		out, err := yaml.Marshal(file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := LoadCatalogue(out); err != nil {
			t.Fatalf("written catalogue does not load: %v\n%s", err, out)
		}
	})
}

// BenchmarkCost prices one event (lookup + arithmetic + explanation) on the
// paths real traffic takes. Budget: ≤ 2 µs and ≤ 2 allocations per event.
func BenchmarkCost(b *testing.B) {
	c := Default()
	at := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	since := at.AddDate(-1, 0, 0)
	cases := []struct {
		name string
		req  Request
		tok  usage.Tokens
		ovs  []Override
	}{
		{"openai-alias", Request{Provider: "openai", Model: "gpt-4o-2024-08-06", Time: at},
			usage.Tokens{Input: 1200, CachedInput: 800, Output: 300, Reasoning: 100}, nil},
		{"anthropic-cache-split", Request{Provider: "anthropic", Model: "claude-sonnet-4-5-20250929", Time: at},
			usage.Tokens{Input: 50, CachedInput: 2000, CacheWrite5m: 400, CacheWrite1h: 600, Output: 300, WebSearches: 2}, nil},
		{"gemini-long-context", Request{Provider: "gemini", Model: "models/gemini-2.5-pro", Time: at},
			usage.Tokens{Input: 250_000, CachedInput: 10_000, Output: 2000, Reasoning: 1500}, nil},
		{"openrouter-reported", Request{Provider: "openrouter", Model: "anthropic/claude-haiku-4.5", Time: at},
			usage.Tokens{Input: 1000, Output: 100, ProviderCostNanoUSD: 1_600_000, HasProviderCost: true}, nil},
		{"prefix-snapshot", Request{Provider: "openai", Model: "gpt-4o-mini-2099-01-01", Time: at},
			usage.Tokens{Input: 1200, Output: 300}, nil},
		{"overrides-stacked", Request{Provider: "openai", Model: "gpt-4o-2024-08-06", Time: at},
			usage.Tokens{Input: 1200, CachedInput: 800, Output: 300}, []Override{
				{ID: "d", Model: "*", EffectiveFrom: since, PercentAdjustmentBP: -1000},
				{ID: "r", Provider: "openai", Model: "gpt-4o", EffectiveFrom: since, Rates: map[string]int64{"input": 2_000_000_000}},
				{ID: "other", Provider: "anthropic", Model: "*", EffectiveFrom: since, PercentAdjustmentBP: 500},
			}},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if got := c.Cost(bc.req, bc.tok, bc.ovs); !got.Priced {
					b.Fatal("unpriced")
				}
			}
		})
	}
}

func TestBatchMultiplier(t *testing.T) {
	c := mustLoad(t, `models:
- provider: anthropic
  model: sonnet
  source: test
  checked: "2026-01-01"
  prices:
  - effective_from: "2026-01-01"
    batch_multiplier: "0.5"
    batch: {output: "5"}
    rates: {input: "3", cached_input: "0.3", output: "15", web_searches: "10000"}
    long_context:
      above_input_tokens: 200000
      rates: {input: "6", output: "22.5"}
`)
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	small := usage.Tokens{Input: 1_000_000 / 10, CachedInput: 100_000, Output: 10_000, WebSearches: 2}
	tests := []struct {
		name  string
		batch bool
		tok   usage.Tokens
		want  int64
		tier  string
	}{
		// 100k × $3 + 100k × $0.30 + 10k × $15 + 2 × $0.01
		{"standard", false, small, 300_000_000 + 30_000_000 + 150_000_000 + 20_000_000, "standard"},
		// tokens at half price, output at the explicit $5 batch rate, searches undiscounted
		{"batch", true, small, 150_000_000 + 15_000_000 + 50_000_000 + 20_000_000, "batch"},
		// above 200k: long-context rates halved: 300k × $3 + 10k × $11.25
		{"batch long context", true, usage.Tokens{Input: 300_000, Output: 10_000}, 900_000_000 + 112_500_000, "batch+long_context"},
		{"standard long context", false, usage.Tokens{Input: 300_000, Output: 10_000}, 1_800_000_000 + 225_000_000, "standard+long_context"},
	}
	for _, tt := range tests {
		got := c.Cost(Request{Provider: "anthropic", Model: "sonnet", Time: at, Batch: tt.batch}, tt.tok, nil)
		if got.ListNanoUSD != tt.want || got.Tier != tt.tier {
			t.Errorf("%s: cost %d tier %s, want %d %s (lines %+v)", tt.name, got.ListNanoUSD, got.Tier, tt.want, tt.tier, got.Lines)
		}
	}
	for _, bad := range []string{`"0"`, `"-0.5"`, `"11"`, `"half"`} {
		_, err := LoadCatalogue([]byte(`models:
- {provider: openai, model: m, source: s, checked: "2026-01-01", prices: [{effective_from: "2026-01-01", batch_multiplier: ` + bad + `, rates: {input: "1"}}]}`))
		if err == nil || !strings.Contains(err.Error(), "batch_multiplier") {
			t.Errorf("batch_multiplier %s: got %v", bad, err)
		}
	}
}

// TestSyncKeepsHandWrittenFields: LiteLLM has no batch multiplier, request
// fee or 1h long-context write; a sync must neither drop them nor report the
// model as changed because of them.
func TestSyncKeepsHandWrittenFields(t *testing.T) {
	cur := &File{Models: []FileModel{{Provider: "anthropic", Model: "m", Source: "hand", Checked: "2026-01-01", Prices: []FilePrice{{
		EffectiveFrom: "2026-01-01", BatchMultiplier: "0.5", RequestFee: "0.01",
		Rates:       map[string]string{"input": "3", "output": "15"},
		LongContext: &FileTier{AboveInputTokens: 200_000, Rates: map[string]string{"input": "6", "cache_write_1h": "12"}},
	}}}}}
	imported := []FileModel{{Provider: "anthropic", Model: "m", Source: "litellm", Checked: "2026-09-01", Prices: []FilePrice{{
		EffectiveFrom: "2026-09-01", Rates: map[string]string{"input": "3", "output": "15"},
		LongContext: &FileTier{AboveInputTokens: 200_000, Rates: map[string]string{"input": "6"}},
	}}}}
	_, rep := Sync(cur, imported, "2026-09-01")
	if len(rep.Unchanged) != 1 || len(rep.Changed) != 0 {
		t.Fatalf("want unchanged, got %+v", rep)
	}
	imported[0].Prices[0].Rates = map[string]string{"input": "2", "output": "10"}
	merged, rep := Sync(cur, imported, "2026-09-01")
	if len(rep.Changed) != 1 {
		t.Fatalf("want changed, got %+v", rep)
	}
	np := merged.Models[0].Prices[1]
	if np.BatchMultiplier != "0.5" || np.RequestFee != "0.01" || np.LongContext.Rates["cache_write_1h"] != "12" || np.Rates["input"] != "2" {
		t.Errorf("new price lost hand-written fields: %+v %+v", np, np.LongContext)
	}
}

// TestPrefixMatchesOnlySnapshots: a name longer than a catalogue id is that
// model only when the rest is a snapshot stamp; another word after the id is
// another model, and guessing its price would be wrong.
func TestPrefixMatchesOnlySnapshots(t *testing.T) {
	c := Default()
	tests := []struct{ provider, model, want, by string }{
		{"openai", "gpt-4o-2099-01-01", "gpt-4o", "prefix"},
		{"openai", "GPT-4o-2099-01-01", "gpt-4o", "prefix"},
		{"openai", "gpt-4o-mini-20990101", "gpt-4o-mini", "prefix"},
		{"anthropic", "claude-sonnet-4-5@20250929", "claude-sonnet-4-5", "prefix"},
		{"anthropic", "claude-opus-4-5@20991231", "claude-opus-4-5", "prefix"},
		{"gemini", "gemini-2.5-flash-002", "gemini-2.5-flash", "prefix"},
		{"openai", "gpt-5-super", "", ""}, // a new model, not a snapshot
		{"openai", "gpt-4o-mini-2099-01-01x", "", ""},
		{"openai", "gpt-4o-", "", ""},
		{"openai", "gpt-4o--1", "", ""},
		{"openai", "gpt-4o-latest", "", ""},        // not a snapshot stamp: another model
		{"anthropic", "claude-sonnet-4-7", "", ""}, // "claude-sonnet-4" is an alias, never a prefix
		{"xai", "grok-4.3-fast", "", ""},
	}
	for _, tt := range tests {
		m, by, ok := c.Lookup(tt.provider, tt.model)
		if tt.want == "" {
			if ok {
				t.Errorf("%s/%s: matched %s by %s, want unpriced", tt.provider, tt.model, m.ID, by)
			}
			continue
		}
		if !ok || m.ID != tt.want || by != tt.by {
			t.Errorf("%s/%s: got %v %q %v, want %s by %s", tt.provider, tt.model, m, by, ok, tt.want, tt.by)
		}
	}
}

// TestCostAllocations guards the benchmark budget (at most two allocations
// per event) on the lookup paths real traffic takes.
func TestCostAllocations(t *testing.T) {
	c := Default()
	at := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	tok := usage.Tokens{Input: 1200, CachedInput: 800, Output: 300, Reasoning: 100}
	one := []Override{{ID: "d", Model: "*", EffectiveFrom: at.AddDate(-1, 0, 0), PercentAdjustmentBP: -1000}}
	for _, tt := range []struct {
		name string
		req  Request
		ovs  []Override
	}{
		{"exact", Request{Provider: "openai", Model: "gpt-4o", Time: at}, nil},
		{"alias", Request{Provider: "anthropic", Model: "claude-sonnet-4-5-20250929", Time: at}, nil},
		{"prefix", Request{Provider: "openai", Model: "gpt-4o-2099-01-01", Time: at}, nil},
		{"mixed case id", Request{Provider: "deepinfra", Model: "meta-llama/Llama-3.3-70B-Instruct", Time: at}, nil},
		{"openrouter dotted", Request{Provider: "openrouter", Model: "anthropic/claude-sonnet-4.5", Time: at}, nil},
		{"gemini resource name", Request{Provider: "gemini", Model: "models/gemini-2.5-pro", Time: at}, nil},
		{"override", Request{Provider: "openai", Model: "gpt-4o-2024-08-06", Time: at}, one},
		{"unknown", Request{Provider: "openai", Model: "gpt-99", Time: at}, nil},
	} {
		allocs := testing.AllocsPerRun(200, func() { c.Cost(tt.req, tok, tt.ovs) })
		if allocs > 2 {
			t.Errorf("%s: %.0f allocations per event, budget is 2", tt.name, allocs)
		}
	}
}

// TestNonTokenUnits prices APIs billed by the second, character or image.
func TestNonTokenUnits(t *testing.T) {
	c := Default()
	at := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		provider, model string
		tok             usage.Tokens
		want            int64
	}{
		{"openai", "whisper-1", usage.Tokens{Seconds: 60}, 6_000_000},          // $0.006 per minute
		{"openai", "tts-1", usage.Tokens{Characters: 1000}, 15_000_000},        // $15 per 1M characters
		{"openai", "tts-1-hd", usage.Tokens{Characters: 1000}, 30_000_000},     // $30 per 1M characters
		{"openai", "dall-e-3", usage.Tokens{Images: 2}, 80_000_000},            // $0.04 per image
		{"groq", "whisper-large-v3", usage.Tokens{Seconds: 3600}, 111_000_000}, // $0.111 per hour, exact after rounding
		{"groq", "whisper-large-v3-turbo", usage.Tokens{Seconds: 3600}, 40_000_000},
		{"openai", "omni-moderation-latest", usage.Tokens{Input: 5000}, 0}, // free, and priced as free
		// $0.017 a minute: 283.333333333 USD per million seconds, exact to 1e-15 USD a second.
		{"openai", "gpt-realtime-whisper", usage.Tokens{Seconds: 60}, 17_000_000},
		{"perplexity", "search", usage.Tokens{}, 5_000_000},                         // Search API: $5 per 1,000 requests
		{"gemini", "imagen-4.0-generate-001", usage.Tokens{Images: 3}, 120_000_000}, // $0.04 per image
		{"openai", "tts-1", usage.Tokens{Characters: 1}, 15_000},                    // one character, exactly
	}
	for _, tt := range tests {
		got := c.Cost(Request{Provider: tt.provider, Model: tt.model, Time: at}, tt.tok, nil)
		if !got.Priced || got.ListNanoUSD != tt.want || got.UnratedClasses != "" {
			t.Errorf("%s/%s: priced=%v list %d unrated %q, want %d", tt.provider, tt.model, got.Priced, got.ListNanoUSD, got.UnratedClasses, tt.want)
		}
	}
}

// TestUnratedClassesFlagged: usage in a class the price has no rate for is
// not silently free: the cost says which classes are missing.
func TestUnratedClassesFlagged(t *testing.T) {
	c := mustLoad(t, testCatalogue)
	// Usage in classes without a rate leaves the cost incomplete: unknown,
	// not a partial figure; the lines still explain the known part.
	got := c.Cost(Request{Provider: "openai", Model: "foo-mini"}, usage.Tokens{Input: 1_000_000, WebSearches: 3, Seconds: 10}, nil)
	if got.Priced || got.ListNanoUSD != 0 || got.TenantNanoUSD != 0 || got.UnratedClasses != "web_searches,seconds" ||
		len(got.Lines) != 3 || got.Lines[0].AmountNanoUSD != 500_000_000 {
		t.Fatalf("got %+v", got)
	}
	// A provider's own figure is complete whatever the catalogue lacks.
	got = c.Cost(Request{Provider: "openai", Model: "foo-mini"}, usage.Tokens{Input: 1_000_000, WebSearches: 3, HasProviderCost: true,
		ProviderCostNanoUSD: 600_000_000}, nil)
	if !got.Priced || got.ListNanoUSD != 600_000_000 || got.UnratedClasses != "web_searches" {
		t.Fatalf("with a reported cost: %+v", got)
	}
	// A tenant rate for the class completes the cost.
	got = c.Cost(Request{Provider: "openai", Model: "foo-mini"}, usage.Tokens{WebSearches: 3}, []Override{{ID: "ws", Model: "*",
		Rates: map[string]int64{"web_searches": 10_000_000_000_000}}})
	if got.UnratedClasses != "" || got.TenantNanoUSD != 30_000_000 || got.ListNanoUSD != 0 {
		t.Fatalf("tenant-rated searches: %+v", got)
	}
}

// TestManyPercentOverridesStack: every matching percent adjustment applies,
// however many there are.
func TestManyPercentOverridesStack(t *testing.T) {
	c := mustLoad(t, testCatalogue)
	var ovs []Override
	for i := 0; i < 6; i++ {
		ovs = append(ovs, Override{ID: string(rune('a' + i)), Model: "*", PercentAdjustmentBP: -1000})
	}
	got := c.Cost(Request{Provider: "openai", Model: "foo-mini"}, usage.Tokens{Input: 2_000_000}, ovs)
	// $1 × 0.9^6 = $0.531441
	if got.TenantNanoUSD != 531_441_000 || strings.Count(got.OverrideID, ",") != 5 {
		t.Fatalf("tenant %d overrides %q", got.TenantNanoUSD, got.OverrideID)
	}
}

func TestSearchContextRequestFee(t *testing.T) {
	c := mustLoad(t, `models:
- provider: perplexity
  model: s
  source: test
  checked: "2026-01-01"
  prices:
  - effective_from: "2026-01-01"
    rates: {input: "1", output: "1"}
    request_fee: "0.005"
    request_fee_by_search_context: {low: "0.005", medium: "0.008", high: "0.012"}
`)
	for size, want := range map[string]int64{"": 5_000_000, "low": 5_000_000, "medium": 8_000_000, "high": 12_000_000, "huge": 5_000_000} {
		got := c.Cost(Request{Provider: "perplexity", Model: "s", SearchContextSize: size}, usage.Tokens{}, nil)
		if got.RequestFeeNanoUSD != want || got.ListNanoUSD != want {
			t.Errorf("size %q: fee %d list %d, want %d", size, got.RequestFeeNanoUSD, got.ListNanoUSD, want)
		}
	}
	_, err := LoadCatalogue([]byte(`models: [{provider: perplexity, model: s, source: s, checked: "2026-01-01", prices: [{effective_from: "2026-01-01", rates: {input: "1"}, request_fee_by_search_context: {huge: "1"}}]}]`))
	if err == nil || !strings.Contains(err.Error(), "huge") {
		t.Errorf("unknown search context size: %v", err)
	}
}

func TestLongContextPriority(t *testing.T) {
	c := mustLoad(t, `models:
- provider: gemini
  model: p
  source: test
  checked: "2026-01-01"
  prices:
  - effective_from: "2026-01-01"
    rates: {input: "2", output: "12"}
    priority: {input: "3.6", output: "21.6"}
    long_context:
      above_input_tokens: 200000
      rates: {input: "4", output: "18"}
      priority: {input: "7.2", output: "32.4"}
`)
	tok := usage.Tokens{Input: 300_000, Output: 1000}
	tests := []struct {
		tier string
		want int64
		name string
	}{
		{"priority", 300_000*7_200 + 1000*32_400, "priority+long_context"},
		{"", 300_000*4_000 + 1000*18_000, "standard+long_context"},
		{"flex", 300_000*4_000 + 1000*18_000, "standard+long_context"}, // no flex price: standard
	}
	for _, tt := range tests {
		got := c.Cost(Request{Provider: "gemini", Model: "p", ServiceTier: tt.tier}, tok, nil)
		if got.ListNanoUSD != tt.want || got.Tier != tt.name {
			t.Errorf("tier %q: %d %s, want %d %s", tt.tier, got.ListNanoUSD, got.Tier, tt.want, tt.name)
		}
	}
}

// TestShippedPriceHistoryBoundaries re-prices around real price changes of
// the shipped catalogue: the price in force at the event's time applies.
func TestShippedPriceHistoryBoundaries(t *testing.T) {
	c := Default()
	tok := usage.Tokens{Input: 1_000_000, CachedInput: 1_000_000, Output: 1_000_000}
	tests := []struct {
		model string
		at    time.Time
		want  int64
	}{
		{"deepseek-chat", time.Date(2025, 2, 8, 15, 59, 59, 0, time.UTC), -1}, // before the first known price: unpriced
		{"deepseek-chat", time.Date(2025, 2, 8, 16, 0, 0, 0, time.UTC), 1_440_000_000},
		{"deepseek-chat", time.Date(2025, 9, 5, 15, 59, 59, 999_999_999, time.UTC), 1_440_000_000},
		{"deepseek-chat", time.Date(2025, 9, 5, 16, 0, 0, 0, time.UTC), 728_000_000},
		{"deepseek-chat", time.Date(2026, 4, 26, 12, 14, 59, 0, time.UTC), 448_000_000},
		{"deepseek-chat", time.Date(2026, 4, 26, 12, 15, 0, 0, time.UTC), 422_800_000},
		{"o3", time.Date(2025, 6, 9, 23, 59, 59, 0, time.UTC), 52_500_000_000},
		{"o3", time.Date(2025, 6, 10, 0, 0, 0, 0, time.UTC), 10_500_000_000},
	}
	for _, tt := range tests {
		provider := "openai"
		if strings.HasPrefix(tt.model, "deepseek") {
			provider = "deepseek"
		}
		got := c.Cost(Request{Provider: provider, Model: tt.model, Time: tt.at}, tok, nil)
		if tt.want < 0 {
			if got.Priced {
				t.Errorf("%s at %s: priced %d, want unpriced", tt.model, tt.at, got.ListNanoUSD)
			}
			continue
		}
		if !got.Priced || got.ListNanoUSD != tt.want {
			t.Errorf("%s at %s: %d, want %d", tt.model, tt.at, got.ListNanoUSD, tt.want)
		}
	}
}

// TestImportRealLiteLLMFile imports a public copy of LiteLLM's price file
// (218 entries, mirror of 2026-07-24) and checks that the shipped catalogue
// agrees with it everywhere a reviewer did not pin a correction.
func TestImportRealLiteLLMFile(t *testing.T) {
	data, err := os.ReadFile("testdata/litellm_model_prices.json")
	if err != nil {
		t.Fatal(err)
	}
	calls, lastDone, lastTotal := 0, 0, 0
	res, err := ImportLiteLLM(data, "mirror", "2026-11-25", "2026-11-25", func(done, total int) { calls, lastDone, lastTotal = calls+1, done, total })
	if err != nil {
		t.Fatal(err)
	}
	if calls != 218 || lastDone != 218 || lastTotal != 218 {
		t.Errorf("progress called %d times, last %d/%d", calls, lastDone, lastTotal)
	}
	cat, err := FromFile(&File{Models: res.Models})
	if err != nil {
		t.Fatalf("imported catalogue invalid: %v", err)
	}
	rate := func(provider, model string, get func(p *Price) (int64, bool)) int64 {
		t.Helper()
		m, _, ok := cat.Lookup(provider, model)
		if !ok {
			t.Fatalf("%s/%s not imported", provider, model)
		}
		p, _ := m.PriceAt(time.Time{})
		v, ok := get(p)
		if !ok {
			return -1
		}
		return v
	}
	checks := []struct {
		name string
		got  int64
		want int64
	}{
		{"sonnet 4.5 1h write above 200k", rate("anthropic", "claude-sonnet-4-5", func(p *Price) (int64, bool) { return p.LongContext.Rates.Get(CacheWrite1h) }), 12_000_000_000},
		{"sonnet 4.5 via dated alias", rate("anthropic", "claude-sonnet-4-5-20250929", func(p *Price) (int64, bool) { return p.Rates.Get(Input) }), 3_000_000_000},
		{"gemini 3 pro priority above 200k", rate("gemini", "gemini-3-pro-preview", func(p *Price) (int64, bool) { return p.LongContext.Priority.Get(Input) }), 7_200_000_000},
		{"gpt-5.4 above 272k", rate("openai", "gpt-5.4", func(p *Price) (int64, bool) { return p.LongContext.Rates.Get(Input) }), 5_000_000_000},
		{"gpt-5 flex", rate("openai", "gpt-5", func(p *Price) (int64, bool) { return p.Flex.Get(Input) }), 625_000_000},
		{"gpt-4o batch", rate("openai", "gpt-4o", func(p *Price) (int64, bool) { return p.Batch.Get(Output) }), 5_000_000_000},
		{"deepseek v4 cache hit field", rate("deepseek", "deepseek-v4-flash", func(p *Price) (int64, bool) { return p.Rates.Get(CachedInput) }), 2_800_000},
		{"realtime whisper per second", rate("openai", "gpt-realtime-whisper", func(p *Price) (int64, bool) { return p.Rates.Get(Seconds) }), 283_333_333_333},
		{"gemini embedding (vertex list)", rate("gemini", "gemini-embedding-001", func(p *Price) (int64, bool) { return p.Rates.Get(Input) }), 150_000_000},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.name, c.got, c.want)
		}
	}
	if !strings.Contains(strings.Join(res.Ignored, "\n"), "output_cost_per_second (3 entries)") {
		t.Errorf("ignored fields not reported: %v", res.Ignored)
	}
	skipped := strings.Join(res.Skipped, "\n")
	for _, p := range []string{"bedrock", "minimax", "moonshot", "volcengine", "zhipu"} {
		if !strings.Contains(skipped, p) {
			t.Errorf("entries of %s not reported as skipped", p)
		}
	}

	// The shipped catalogue agrees with LiteLLM's own file (of which the
	// mirror is a partial, hand-edited copy) everywhere but the entries read
	// from the providers' pages, which are listed as kept.
	full, err := os.ReadFile("sources/litellm_model_prices.json")
	if err != nil {
		t.Fatal(err)
	}
	fullRes, err := ImportLiteLLM(full, "main", "2026-11-25", "2026-11-25", nil)
	if err != nil {
		t.Fatal(err)
	}
	var shipped File
	if err := yaml.UnmarshalStrict(EmbeddedCatalogueYAML(), &shipped); err != nil {
		t.Fatal(err)
	}
	_, rep := Sync(&shipped, fullRes.Models, "2026-11-25")
	if len(rep.Added) != 0 || len(rep.Changed) != 0 {
		t.Errorf("shipped catalogue disagrees with LiteLLM beyond reviewed entries: added %v changed %v", rep.Added, rep.Changed)
	}
	if len(rep.Pinned) == 0 || !strings.Contains(strings.Join(rep.Pinned, "\n"), "anthropic/claude-3-haiku-20240307") {
		t.Errorf("pinned corrections not reported: %v", rep.Pinned)
	}
}

// TestSyncPinnedAliasesAndHandWrittenClasses covers the review rules of a
// sync: pinned entries stay, rates of classes the import does not know stay,
// and a snapshot alias that gets its own price becomes a model.
func TestSyncPinnedAliasesAndHandWrittenClasses(t *testing.T) {
	price := func(rates map[string]string) []FilePrice {
		return []FilePrice{{EffectiveFrom: "2026-01-01", Rates: rates}}
	}
	cur := &File{Models: []FileModel{
		{Provider: "xai", Model: "g", Source: "hand", Checked: "2026-01-01", Aliases: []string{"g-0309"},
			Prices: price(map[string]string{"input": "1", "output": "2", "web_searches": "5000"})},
		{Provider: "anthropic", Model: "h", Source: "hand", Checked: "2026-01-01", Pinned: "vendor page differs",
			Prices: price(map[string]string{"input": "0.25", "cache_write_1h": "0.5"})},
	}}
	imported := []FileModel{
		{Provider: "xai", Model: "g", Source: "l", Checked: "2026-09-01", Prices: price(map[string]string{"input": "1", "output": "2"})},
		{Provider: "anthropic", Model: "h", Source: "l", Checked: "2026-09-01", Prices: price(map[string]string{"input": "0.25", "cache_write_1h": "6"})},
		{Provider: "xai", Model: "g-0309", Source: "l", Checked: "2026-09-01", Prices: price(map[string]string{"input": "3", "output": "4"})},
	}
	merged, rep := Sync(cur, imported, "2026-09-01")
	if len(rep.Unchanged) != 1 || rep.Unchanged[0] != "xai/g" {
		t.Errorf("unchanged %v: a class the import lacks must not count as a change", rep.Unchanged)
	}
	if len(rep.Pinned) != 1 || !strings.Contains(rep.Pinned[0], "vendor page differs") {
		t.Errorf("pinned %v", rep.Pinned)
	}
	if len(rep.Added) != 1 || !strings.Contains(rep.Added[0], "was an alias of g") {
		t.Errorf("added %v", rep.Added)
	}
	mc, err := FromFile(merged)
	if err != nil {
		t.Fatalf("merged catalogue invalid: %v", err)
	}
	if m, by, _ := mc.Lookup("xai", "g-0309"); m == nil || m.ID != "g-0309" || by != "exact" {
		t.Errorf("g-0309 should be its own model now, got %v by %s", m, by)
	}
	h, _, _ := mc.Lookup("anthropic", "h")
	if r, _ := h.Prices[0].Rates.Get(CacheWrite1h); r != 500_000_000 || len(h.Prices) != 1 {
		t.Errorf("pinned model changed: %+v", h.Prices)
	}
	g, _, _ := mc.Lookup("xai", "g")
	if r, ok := g.Prices[0].Rates.Get(WebSearches); !ok || r != 5_000_000_000_000 {
		t.Errorf("hand-written web search rate lost: %d %v", r, ok)
	}
}
