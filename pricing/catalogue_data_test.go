package pricing

import (
	"bytes"
	"encoding/json"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/spendgate/spendgate/usage"
)

// litellmCopy is the committed copy of LiteLLM's whole price file the
// catalogue is generated from (1.5 MB, committed so a clean clone's CI
// measures the same thing).
func litellmCopy(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("sources/litellm_model_prices.json")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func litellmEntries(t *testing.T) map[string]map[string]any {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(litellmCopy(t), &top); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for k, v := range top {
		var e map[string]any
		if json.Unmarshal(v, &e) == nil {
			out[k] = e
		}
	}
	return out
}

// TestCoverage fails when the catalogue prices less than 95 % of the priced
// chat models LiteLLM lists for the providers spendgate routes.
func TestCoverage(t *testing.T) {
	rep, err := Coverage(Default(), litellmCopy(t), time.Date(2026, 7, 24, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total < 850 {
		t.Fatalf("only %d chat models counted: the coverage measure itself is broken", rep.Total)
	}
	for _, p := range rep.Providers {
		t.Logf("%-11s %3d/%3d missing %v", p.Provider, p.Covered, p.Total, p.Missing)
	}
	t.Logf("coverage %d/%d = %d.%02d %%", rep.Covered, rep.Total, rep.Percent()/100, rep.Percent()%100)
	if rep.Percent() < 9500 {
		t.Errorf("coverage %d/%d is below 95 %%", rep.Covered, rep.Total)
	}
	// The measure must see a gap: an empty catalogue covers nothing.
	empty, _ := FromFile(&File{})
	if r, _ := Coverage(empty, litellmCopy(t), time.Time{}); r.Covered != 0 || r.Total != rep.Total {
		t.Errorf("empty catalogue covers %d/%d", r.Covered, r.Total)
	}
}

// TestCatalogueIsGenerated holds catalogue.yaml to what `go generate
// ./pricing` makes of its inputs, so nobody edits it by hand.
func TestCatalogueIsGenerated(t *testing.T) {
	data, err := os.ReadFile("sources/reviewed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var reviewed File
	if err := yaml.UnmarshalStrict(data, &reviewed); err != nil {
		t.Fatal(err)
	}
	f, rep, err := Generate(&reviewed, litellmCopy(t), LiteLLMCopyRef, LiteLLMCopyDate)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Orphans) > 0 {
		t.Errorf("entries labelled LiteLLM-sourced that LiteLLM does not have: %v", rep.Orphans)
	}
	body, err := MarshalGenerated(f)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, EmbeddedCatalogueYAML()) {
		t.Error("pricing/catalogue.yaml is not what go generate ./pricing makes of sources/: run go generate ./pricing")
	}
}

// TestProvenance: every shipped entry says where its prices come from and
// when they were checked; hand entries say why; conflicts are noted.
func TestProvenance(t *testing.T) {
	kinds := map[string]int{}
	for _, m := range Default().Models() {
		kinds[m.SourceKind]++
		name := m.Provider + "/" + m.ID
		switch m.SourceKind {
		case SourceLiteLLM:
			if m.Source != LiteLLMCopyRef && !strings.Contains(m.Source, "LiteLLM") {
				t.Errorf("%s: LiteLLM entry names source %q", name, m.Source)
			}
		case SourceProvider:
			if !strings.HasPrefix(m.Source, "https://") {
				t.Errorf("%s: provider entry's source is not the page's address: %q", name, m.Source)
			}
		case SourceHand:
			if m.Reason == "" {
				t.Errorf("%s: hand entry without a reason", name)
			}
		default:
			t.Errorf("%s: source_kind %q", name, m.SourceKind)
		}
		if _, err := time.Parse(time.DateOnly, m.Checked); err != nil {
			t.Errorf("%s: checked %q", name, m.Checked)
		}
	}
	t.Logf("entries by source: %v", kinds)
	// Provider pages win over LiteLLM, and the loss is written down.
	m, _, _ := Default().Lookup("anthropic", "claude-3-haiku-20240307")
	if r, _ := m.Prices[len(m.Prices)-1].Rates.Get(CacheWrite1h); r != 500_000_000 || !strings.Contains(m.Notes, "cache_write_1h 0.5 (here) → 6 (LiteLLM)") {
		t.Errorf("claude-3-haiku 1h write %d, notes %q", r, m.Notes)
	}
	// A mirror's hand-written addition is no longer labelled LiteLLM.
	if m, _, _ := Default().Lookup("anthropic", "claude-mythos-5"); m == nil || m.SourceKind != SourceHand {
		t.Errorf("claude-mythos-5: %+v", m)
	}
}

// TestFineTunesPricedFromBase: an OpenAI fine-tune's name carries its base
// model; it is billed at the base's fine-tune rates, not the base's rates.
func TestFineTunesPricedFromBase(t *testing.T) {
	c := Default()
	tok := usage.Tokens{Input: 1_000_000, CachedInput: 1_000_000, Output: 1_000_000}
	tests := map[string]struct {
		model, want string
		nano        int64
	}{
		"gpt-4o-mini fine-tune":        {"ft:gpt-4o-mini-2024-07-18:acme::9xYzAbC", "ft:gpt-4o-mini-2024-07-18", 300_000_000 + 150_000_000 + 1_200_000_000},
		"with a suffix":                {"ft:gpt-4.1-2025-04-14:acme:support-bot:AbC123", "ft:gpt-4.1-2025-04-14", 3_000_000_000 + 750_000_000 + 12_000_000_000},
		"gpt-4o, cache read not write": {"ft:gpt-4o-2024-11-20:acme::x1", "ft:gpt-4o-2024-11-20", 3_750_000_000 + 1_875_000_000 + 15_000_000_000},
		"gpt-3.5 fine-tune":            {"ft:gpt-3.5-turbo-0125:acme::z", "ft:gpt-3.5-turbo-0125", 3_000_000_000 + 3_000_000_000 + 6_000_000_000},
	}
	for name, tt := range tests {
		got := c.Cost(Request{Provider: "openai", Model: tt.model}, tok, nil)
		if !got.Priced || got.Model != tt.want || got.ListNanoUSD != tt.nano {
			t.Errorf("%s: priced %v by %s as %s, $%d nano; want %s, %d", name, got.Priced, got.MatchedBy, got.Model, got.ListNanoUSD, tt.want, tt.nano)
		}
	}
	for _, bad := range []string{"ft:", "ft:gpt-9-nonexistent:acme::x", "ft::acme"} {
		if _, _, ok := c.Lookup("openai", bad); ok {
			t.Errorf("%s priced", bad)
		}
	}
	// Every fine-tune LiteLLM prices is priced.
	for name, e := range litellmEntries(t) {
		if strings.HasPrefix(name, "ft:") && e["litellm_provider"] == "openai" {
			if _, _, ok := c.Lookup("openai", name+":org::id"); !ok {
				t.Errorf("%s fine-tunes are unpriced", name)
			}
		}
	}
}

// TestMaxOutputTokens: the data plane reserves for the model's output limit.
func TestMaxOutputTokens(t *testing.T) {
	c := Default()
	for _, tt := range []struct {
		provider, model string
		want            int64
	}{
		{"openai", "gpt-4o", 16384},
		{"openai", "gpt-4o-2024-08-06", 16384},
		{"openai", "chatgpt-4o-latest", 4096},
		{"openai", "codex-mini-latest", 100000},
		{"openai", "ft:gpt-4o-2024-11-20:acme::x", 16384},
	} {
		if got, ok := c.MaxOutputTokens(tt.provider, tt.model); !ok || got != tt.want {
			t.Errorf("%s/%s: %d %v, want %d", tt.provider, tt.model, got, ok, tt.want)
		}
	}
	if _, ok := c.MaxOutputTokens("openai", "gpt-9"); ok {
		t.Error("unknown model has a limit")
	}
	known, chat := 0, 0
	for name, e := range litellmEntries(t) {
		lp, _ := e["litellm_provider"].(string)
		prov, ok := litellmProviders[lp]
		if !ok || e["mode"] != "chat" || e["max_output_tokens"] == nil {
			continue
		}
		chat++
		if _, ok := c.MaxOutputTokens(prov.provider, stripProviderPrefix(name, lp, prov.provider)); ok {
			known++
		}
	}
	if known*100 < chat*95 {
		t.Errorf("max output tokens known for %d of %d chat models with a limit in LiteLLM", known, chat)
	}
}

// TestEveryTierLiteLLMListsIsPriced: long-context tiers (xAI above 200k
// input tokens, ...), priority and flex tiers, and cache read rates of every
// routed model LiteLLM prices with them are in the catalogue, and the cache
// read rate is what cached input costs (never the full input rate).
func TestEveryTierLiteLLMListsIsPriced(t *testing.T) {
	c := Default()
	checked := map[string]int{}
	for name, e := range litellmEntries(t) {
		lp, _ := e["litellm_provider"].(string)
		prov, ok := litellmProviders[lp]
		if in, _ := e["input_cost_per_token"].(float64); !ok || in == 0 {
			continue // free experimental entries share names with paid ones
		}
		id := stripProviderPrefix(name, lp, prov.provider)
		m, _, ok := c.Lookup(prov.provider, id)
		if !ok {
			continue // not a priced model of ours (coverage says how many)
		}
		p, _ := m.PriceAt(time.Time{})
		for _, suffix := range []string{"_above_200k_tokens", "_above_128k_tokens", "_above_272k_tokens"} {
			if e["input_cost_per_token"+suffix] != nil {
				checked["long_context"]++
				if p.LongContext == nil {
					t.Errorf("%s/%s: LiteLLM lists a tier (%s), catalogue has none", prov.provider, id, suffix)
				}
			}
		}
		if e["input_cost_per_token_priority"] != nil {
			checked["priority"]++
			if p.Priority == nil {
				t.Errorf("%s/%s: no priority tier", prov.provider, id)
			}
		}
		if e["input_cost_per_token_flex"] != nil {
			checked["flex"]++
			if p.Flex == nil {
				t.Errorf("%s/%s: no flex tier", prov.provider, id)
			}
		}
		if v, ok := e["cache_read_input_token_cost"].(float64); ok && v > 0 {
			checked["cache_read"]++
			in, _ := p.Rates.Get(Input)
			cr, ok := p.Rates.Get(CachedInput)
			if !ok || cr >= in {
				t.Errorf("%s/%s: cached input at %d, input %d: cache hits billed at the full rate", prov.provider, id, cr, in)
			}
			got := c.Cost(Request{Provider: prov.provider, Model: id}, usage.Tokens{Input: 10, CachedInput: 1000}, nil)
			if !got.Priced || len(got.Lines) != 2 || got.Lines[1].Class != "cached_input" || got.Lines[1].RateNanoUSD != cr {
				t.Errorf("%s/%s: cached tokens priced %+v, want the cache rate %d", prov.provider, id, got.Lines, cr)
			}
		}
	}
	t.Logf("checked %v", checked)
	if checked["long_context"] < 20 || checked["priority"] < 10 || checked["cache_read"] < 200 {
		t.Errorf("too few tiers checked: %v", checked)
	}
	// xAI's long-context tier applies above 200k input tokens.
	short := c.Cost(Request{Provider: "xai", Model: "grok-4.3"}, usage.Tokens{Input: 200_000, Output: 1000}, nil)
	long := c.Cost(Request{Provider: "xai", Model: "grok-4.3"}, usage.Tokens{Input: 200_001, Output: 1000}, nil)
	if short.Tier != "standard" || long.Tier != "standard+long_context" || long.ListNanoUSD <= short.ListNanoUSD {
		t.Errorf("grok-4.3 at 200k: %s %d; above: %s %d", short.Tier, short.ListNanoUSD, long.Tier, long.ListNanoUSD)
	}
}

// TestZeroCacheReadIsUnknown: LiteLLM's 0 cache read rate for a paid model
// is a missing rate, not free cache hits.
func TestZeroCacheReadIsUnknown(t *testing.T) {
	res, err := ImportLiteLLM([]byte(`{"openrouter/z-ai/glm-4.7":{"litellm_provider":"openrouter","mode":"chat",
		"input_cost_per_token":4e-07,"output_cost_per_token":1.5e-06,"cache_read_input_token_cost":0}}`), "t", "2026-01-01", "2026-01-01", nil)
	if err != nil || len(res.Models) != 1 {
		t.Fatal(err, res)
	}
	if _, ok := res.Models[0].Prices[0].Rates["cached_input"]; ok {
		t.Errorf("zero cache read kept: %v", res.Models[0].Prices[0].Rates)
	}
}

// TestNonLLMUnitsPricedExactly: every text-to-speech (characters),
// speech-to-text (seconds), image (images) and per-request (request fee)
// price LiteLLM lists for a routed provider is in the catalogue, and a call
// costs exactly quantity × the listed price (rounded once, half up, to
// nano-USD), never through floating point.
func TestNonLLMUnitsPricedExactly(t *testing.T) {
	c := Default()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(litellmCopy(t), &top); err != nil {
		t.Fatal(err)
	}
	units := []struct {
		field, mode, unit string
		tokens            func(q int64) usage.Tokens
	}{
		{"input_cost_per_character", "audio_speech", "characters", func(q int64) usage.Tokens { return usage.Tokens{Characters: q} }},
		{"input_cost_per_second", "audio_transcription", "seconds", func(q int64) usage.Tokens { return usage.Tokens{Seconds: q} }},
		{"output_cost_per_image", "image_generation", "images", func(q int64) usage.Tokens { return usage.Tokens{Images: q} }},
		{"input_cost_per_image", "image_generation", "images", func(q int64) usage.Tokens { return usage.Tokens{Images: q} }},
		{"input_cost_per_query", "search", "requests", func(int64) usage.Tokens { return usage.Tokens{} }},
	}
	checked := map[string]int{}
	// Where two LiteLLM entries name one model (Gemini API and Vertex), the
	// importer keeps the preferred provider's; check that one.
	preferred := map[string]int{}
	for name, raw := range top {
		var e struct {
			P string `json:"litellm_provider"`
		}
		if json.Unmarshal(raw, &e) == nil {
			if prov, ok := litellmProviders[e.P]; ok {
				k := prov.provider + "/" + stripProviderPrefix(name, e.P, prov.provider)
				if r, seen := preferred[k]; !seen || prov.rank < r {
					preferred[k] = prov.rank
				}
			}
		}
	}
	for name, raw := range top {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var e map[string]any
		if dec.Decode(&e) != nil {
			continue
		}
		lp, _ := e["litellm_provider"].(string)
		prov, ok := litellmProviders[lp]
		if !ok {
			continue
		}
		id := stripProviderPrefix(name, lp, prov.provider)
		if preferred[prov.provider+"/"+id] < prov.rank {
			continue
		}
		for _, u := range units {
			lit, ok := e[u.field].(json.Number)
			if !ok || e["mode"] != u.mode {
				continue
			}
			if u.field == "input_cost_per_image" && e["output_cost_per_image"] != nil {
				continue // the output price is the image price
			}
			m, _, found := c.Lookup(prov.provider, id)
			if !found {
				t.Errorf("%s/%s (%s) is not in the catalogue", prov.provider, id, u.unit)
				continue
			}
			if m.SourceKind != SourceLiteLLM || m.ID != id {
				continue // a provider page's price (or a cheaper twin's) wins; TestProvenance covers those
			}
			const q = 1_234_567
			qty := int64(q)
			if u.unit == "requests" {
				qty = 1
			}
			got := c.Cost(Request{Provider: prov.provider, Model: id}, u.tokens(qty), nil)
			// Exact: quantity × USD per unit, in nano-USD, rounded half up
			// (big rationals: no float, no overflow).
			per, ok := new(big.Rat).SetString(lit.String())
			if !ok {
				t.Fatalf("%s: %s is not a number", name, lit)
			}
			if new(big.Rat).Mul(per, big.NewRat(1e15, 1)).IsInt() == false {
				checked["rate below 1e-15 USD, rounded once"]++
				continue // gpt-realtime-whisper's $0.017/min: the stored rate is rounded to 1e-15 USD per second
			}
			exact := new(big.Rat).Mul(per, big.NewRat(qty*1_000_000_000, 1))
			half := new(big.Rat).Add(exact, big.NewRat(1, 2))
			want := new(big.Int).Quo(half.Num(), half.Denom()).Int64()
			if !got.Priced || got.UnratedClasses != "" || got.ListNanoUSD != want {
				t.Errorf("%s/%s: %d %s cost %d nano (priced %v, unrated %q), want %d", prov.provider, id, qty, u.unit, got.ListNanoUSD, got.Priced, got.UnratedClasses, want)
			}
			checked[u.unit]++
		}
	}
	t.Logf("checked %v", checked)
	// Seconds: LiteLLM's speech-to-text prices are all provider-page entries
	// here (whisper-1, Groq), checked exactly in TestNonTokenUnits.
	for _, u := range []string{"characters", "images", "requests"} {
		if checked[u] == 0 {
			t.Errorf("no %s price checked", u)
		}
	}
}
