package ingest

import (
	"testing"
	"time"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/usage"
)

// The price selectors a provider reports inside its usage object reach the
// price: Perplexity's search context size sets the request fee, Anthropic's
// service tier the tier.
func TestCostRequestUsesUsageHints(t *testing.T) {
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	cat := pricing.Default()
	perplexity := func(raw string) pricing.Cost {
		e := event.Event{Provider: "perplexity", ModelRequested: "sonar", Time: at, RawUsage: raw}
		return cat.Cost(CostRequest(&e), usage.Tokens{Input: 1000, Output: 100}, nil)
	}
	low := perplexity(`{"prompt_tokens":1000,"completion_tokens":100,"search_context_size":"low"}`)
	high := perplexity(`{"prompt_tokens":1000,"completion_tokens":100,"search_context_size":"high"}`)
	if !low.Priced || !high.Priced || high.ListNanoUSD-low.ListNanoUSD != 7_000_000 {
		t.Fatalf("high-context fee over low: %d nano-USD (want 7,000,000); low %+v high %+v", high.ListNanoUSD-low.ListNanoUSD, low, high)
	}
	e := event.Event{Provider: "anthropic", ModelRequested: "claude-sonnet-4-5", Time: at, ServiceTier: "",
		RawUsage: `{"input_tokens":10,"output_tokens":5,"service_tier":"batch"}`}
	if r := CostRequest(&e); r.ServiceTier != "batch" || r.Model != "claude-sonnet-4-5" || !r.Time.Equal(at) {
		t.Fatalf("anthropic request %+v", r)
	}
	e.RawUsage = "not json"
	e.ServiceTier = "priority"
	if r := CostRequest(&e); r.ServiceTier != "priority" || r.SearchContextSize != "" {
		t.Fatalf("without hints: %+v", r)
	}
}
