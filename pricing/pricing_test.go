package pricing

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/usage"
)

type golden struct {
	Name             string          `json:"name"`
	Provider         string          `json:"provider"`
	Model            string          `json:"model"`
	Parser           string          `json:"parser"`
	ServiceTier      string          `json:"service_tier"`
	Batch            bool            `json:"batch"`
	Usage            json.RawMessage `json:"usage"`
	Delta            json.RawMessage `json:"delta"`
	WantNano         int64           `json:"want_nano"`
	WantComputedNano int64           `json:"want_computed_nano"`
	WantModel        string          `json:"want_model"`
	WantTier         string          `json:"want_tier"`
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
	default:
		t.Fatalf("unknown parser %q", kind)
	}
	if err != nil {
		t.Fatalf("parse usage: %v", err)
	}
	return tok
}

// TestGoldenVectors prices real provider usage payloads with the shipped
// catalogue; expected figures were computed by hand from the list prices.
func TestGoldenVectors(t *testing.T) {
	data, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []golden
	if err := json.Unmarshal(data, &cases); err != nil {
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
			tok := parse(t, g.Parser, g.Usage)
			if len(g.Delta) > 0 {
				tok = usage.Merge(tok, parse(t, g.Parser, g.Delta))
			}
			c := cat.Cost(Request{Provider: g.Provider, Model: g.Model, Time: time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC),
				ServiceTier: g.ServiceTier, Batch: g.Batch}, tok, nil)
			if !c.Priced {
				t.Fatalf("not priced")
			}
			if c.ListNanoUSD != g.WantNano || c.TenantNanoUSD != g.WantNano {
				t.Errorf("list %d tenant %d, want %d (lines %+v)", c.ListNanoUSD, c.TenantNanoUSD, g.WantNano, c.Lines)
			}
			if g.WantComputedNano != 0 && c.ComputedListNanoUSD != g.WantComputedNano {
				t.Errorf("computed %d want %d", c.ComputedListNanoUSD, g.WantComputedNano)
			}
			if c.Model != g.WantModel {
				t.Errorf("model %q want %q", c.Model, g.WantModel)
			}
			want := g.WantTier
			if want == "" {
				want = "standard"
			}
			if c.Tier != want {
				t.Errorf("tier %q want %q", c.Tier, want)
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
		ImageOutput: 1_000_000_000, WebSearches: 7}
	got := c.Cost(Request{Provider: "groq", Model: "plain"}, tok, nil)
	// input side at $1/M: 1 + 10 + 1_000_000 + 100_000_000 tokens; writes at
	// $1.25/M: 1_100; output side at $2/M: 1_010_110_000; searches: no rate.
	want := int64(101_000_011*1_000+1_100*1_250) + 1_010_110_000*2_000
	if got.ListNanoUSD != want {
		t.Fatalf("list %d want %d (lines %+v)", got.ListNanoUSD, want, got.Lines)
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
	if _, by, ok := Default().Lookup("openrouter", "openai/gpt-4o"); !ok || by != "alias" {
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
}

func FuzzLoadCatalogue(f *testing.F) {
	f.Add([]byte(testCatalogue))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := LoadCatalogue(b)
		if err == nil {
			for _, m := range c.Models() {
				c.Cost(Request{Provider: m.Provider, Model: m.ID}, usage.Tokens{Input: 1, Output: 1}, nil)
			}
		}
	})
}

func FuzzImportLiteLLM(f *testing.F) {
	f.Add([]byte(`{"m":{"litellm_provider":"openai","input_cost_per_token":3e-06,"output_cost_per_token_batches":1e-06}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := ImportLiteLLM(b, "s", "2026-01-01", "2026-01-01", nil)
		if err == nil {
			_, _ = FromFile(&File{Models: res.Models})
		}
	})
}

func BenchmarkCost(b *testing.B) {
	c := Default()
	tok := usage.Tokens{Input: 1200, CachedInput: 800, Output: 300, Reasoning: 100}
	req := Request{Provider: "openai", Model: "gpt-4o-2024-08-06", Time: time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)}
	b.ReportAllocs()
	for b.Loop() {
		if c := c.Cost(req, tok, nil); !c.Priced {
			b.Fatal("unpriced")
		}
	}
}

func BenchmarkCostWithOverride(b *testing.B) {
	c := Default()
	tok := usage.Tokens{Input: 1200, CachedInput: 800, Output: 300, Reasoning: 100}
	req := Request{Provider: "openai", Model: "gpt-4o-2024-08-06", Time: time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)}
	overrides := []Override{{ID: "d", Model: "*", EffectiveFrom: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), PercentAdjustmentBP: -1000}}
	b.ReportAllocs()
	for b.Loop() {
		if c := c.Cost(req, tok, overrides); c.TenantNanoUSD >= c.ListNanoUSD {
			b.Fatal("discount not applied")
		}
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
