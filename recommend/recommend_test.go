package recommend

import (
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/usage"
)

var (
	to   = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	from = to.Add(-30 * 24 * time.Hour)
)

func byKind(recs []Recommendation) map[Kind]Recommendation {
	out := map[Kind]Recommendation{}
	for _, r := range recs {
		out[r.Kind] = r
	}
	return out
}

// TestSavingsExact prices constructed usage by hand from the catalogue's
// list rates (USD per million tokens) and checks every saving to the nano.
func TestSavingsExact(t *testing.T) {
	cat := pricing.Default()
	cfg := DefaultConfig()
	// gpt-4o (input 2.5, cached 1.25, output 10; batch 1.25/5),
	// gpt-4o-mini (0.15/0.6): 1000 calls of 3000 input and 100 output
	// tokens, none streamed. Now: 3 × 2.5 + 0.1 × 10 = $8.50.
	gpt4o := Usage{KeyID: "k1", Provider: "openai", Model: "gpt-4o", Events: 1000, Tokens: usage.Tokens{Input: 3_000_000, Output: 100_000}}
	cases := map[string]struct {
		in   Input
		want map[Kind]int64
	}{
		"gpt-4o: cheaper sibling, caching and batch": {
			in: Input{TenantID: "t", From: from, To: to, Usage: []Usage{gpt4o}},
			want: map[Kind]int64{
				KindCheaperModel:  8_500_000_000 - 510_000_000,   // mini: 3 × 0.15 + 0.1 × 0.6 = $0.51
				KindPromptCaching: 8_500_000_000 - 6_625_000_000, // half the input cached: 1.5 × 2.5 + 1.5 × 1.25 + 1 = $6.625
				KindBatchAPI:      8_500_000_000 - 4_250_000_000, // 3 × 1.25 + 0.1 × 5 = $4.25
			},
		},
		"half the window: savings doubled to a month": {
			in:   Input{TenantID: "t", From: to.Add(-15 * 24 * time.Hour), To: to, Usage: []Usage{gpt4o}},
			want: map[Kind]int64{KindCheaperModel: 2 * 7_990_000_000, KindPromptCaching: 2 * 1_875_000_000, KindBatchAPI: 2 * 4_250_000_000},
		},
		"a 20 % tenant discount on gpt-4o lowers the saving": {
			in: Input{TenantID: "t", From: from, To: to, Usage: []Usage{gpt4o},
				Overrides: []pricing.Override{{ID: "o1", TenantID: "t", Provider: "openai", Model: "gpt-4o", PercentAdjustmentBP: -2000}}},
			// Now $6.80; the mini is not discounted ($0.51); cached $5.30; batch $3.40.
			want: map[Kind]int64{KindCheaperModel: 6_800_000_000 - 510_000_000, KindPromptCaching: 6_800_000_000 - 5_300_000_000, KindBatchAPI: 6_800_000_000 - 3_400_000_000},
		},
		"streamed, high output, already cached: nothing": {
			in: Input{TenantID: "t", From: from, To: to, Usage: []Usage{{KeyID: "k1", Provider: "openai", Model: "gpt-4o", Events: 1000, StreamingEvents: 1,
				Tokens: usage.Tokens{Input: 3_000_000, CachedInput: 10, Output: 1_000_000}}}},
			want: map[Kind]int64{},
		},
		"too few calls: nothing": {
			in:   Input{TenantID: "t", From: from, To: to, Usage: []Usage{{KeyID: "k1", Provider: "openai", Model: "gpt-4o", Events: 99, Tokens: usage.Tokens{Input: 3_000_000, Output: 100}}}},
			want: map[Kind]int64{},
		},
	}
	for name, tc := range cases {
		recs, err := Generate(cat, &cfg, &tc.in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := byKind(recs)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d recommendations %+v, want %d", name, len(recs), recs, len(tc.want))
		}
		for k, want := range tc.want {
			if got[k].MonthlySavingsNanoUSD != want {
				t.Errorf("%s: %s saves %d, want %d", name, k, got[k].MonthlySavingsNanoUSD, want)
			}
		}
	}
}

// TestCachingWithPricedWrites: Anthropic prices cache writes, so a tenth
// of the cached prefix is written (3.75) and the rest read (0.3).
func TestCachingWithPricedWrites(t *testing.T) {
	cfg := DefaultConfig()
	in := Input{TenantID: "t", From: from, To: to, Usage: []Usage{{KeyID: "k2", Provider: "anthropic", Model: "claude-sonnet-4-5", Events: 1000, StreamingEvents: 1000,
		Tokens: usage.Tokens{Input: 4_000_000, Output: 1_000_000}}}}
	recs, err := Generate(pricing.Default(), &cfg, &in)
	if err != nil {
		t.Fatal(err)
	}
	// Now 4 × 3 + 1 × 15 = $27; then 2 × 3 + 0.2 × 3.75 + 1.8 × 0.3 + 15 = $22.29.
	r := byKind(recs)[KindPromptCaching]
	if r.MonthlySavingsNanoUSD != 4_710_000_000 || r.CurrentMonthlyNanoUSD != 27_000_000_000 {
		t.Fatalf("caching %+v, want savings $4.71 of $27", r)
	}
	if _, ok := byKind(recs)[KindBatchAPI]; ok {
		t.Fatal("streamed traffic got a batch recommendation")
	}
	if r.Fingerprint != "prompt_caching|k2|anthropic|claude-sonnet-4-5|" {
		t.Fatalf("fingerprint %q", r.Fingerprint)
	}
}

func TestUnpricedAndIdleKeys(t *testing.T) {
	cfg := DefaultConfig()
	in := Input{TenantID: "t", From: from, To: to,
		Unpriced: []UnpricedModel{{Provider: "openai", Model: "gpt-9-secret", Events: 12, InputTokens: 1000, OutputTokens: 50}},
		ActiveKeys: []Key{
			{ID: "idle", Name: "old batch", CreatedAt: to.AddDate(0, -3, 0)},
			{ID: "busy", Name: "prod", CreatedAt: to.AddDate(0, -3, 0)},
			{ID: "new", Name: "fresh", CreatedAt: to.AddDate(0, 0, -3)},
		},
		KeysWithTraffic: map[string]bool{"busy": true}}
	recs, err := Generate(pricing.Default(), &cfg, &in)
	if err != nil {
		t.Fatal(err)
	}
	got := byKind(recs)
	if len(recs) != 2 || got[KindPriceModel].Model != "gpt-9-secret" || got[KindRevokeKey].KeyID != "idle" || !strings.Contains(got[KindRevokeKey].Title, "old batch") {
		t.Fatalf("recommendations %+v, want one to price gpt-9-secret and one to revoke the idle key", recs)
	}
}

func TestSiblingsArePriced(t *testing.T) {
	cat := pricing.Default()
	for provider, m := range cheaper {
		for from, to := range m {
			for _, id := range []string{from, to} {
				if got, _, ok := cat.Lookup(provider, id); !ok || got.ID != id {
					t.Errorf("%s/%s is not a catalogue id", provider, id)
				}
			}
		}
	}
}

func TestInputValidate(t *testing.T) {
	cfg := DefaultConfig()
	_, err := Generate(pricing.Default(), &cfg, &Input{From: to, To: to})
	if err == nil || !strings.Contains(err.Error(), "a tenant is required") || !strings.Contains(err.Error(), "is empty") {
		t.Fatalf("bad input: %v", err)
	}
	if _, err := ParseState("closed"); err == nil {
		t.Fatal("ParseState accepted closed")
	}
}
