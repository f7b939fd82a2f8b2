// Package recommend finds ways a tenant can spend less, each with the
// monthly savings it would bring, computed from the tenant's own usage of
// the last window and the pricing catalogue (pricing.Catalogue.Cost, with
// the tenant's overrides): the usage is priced as it was and as it would
// be, and the difference, scaled to 30 days, is the saving. Money is
// integer nano-USD throughout. It is pure: the job in recommend/service
// reads usage from ClickHouse and keeps recommendations in Postgres.
// docs/intelligence.md lists the rules and their assumptions.
package recommend

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"time"

	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/usage"
)

// Kind names a rule.
type Kind string

// Kinds of recommendation.
const (
	KindCheaperModel  Kind = "cheaper_model"  // a cheaper model of the same family for low-output calls
	KindPromptCaching Kind = "prompt_caching" // large repeated input never read from the cache
	KindBatchAPI      Kind = "batch_api"      // non-interactive traffic at standard prices
	KindPriceModel    Kind = "price_model"    // a model used without a price
	KindRevokeKey     Kind = "revoke_key"     // a key without traffic for the idle window
)

// Kinds lists every kind.
var Kinds = []Kind{KindCheaperModel, KindPromptCaching, KindBatchAPI, KindPriceModel, KindRevokeKey}

// State is where a recommendation stands.
type State string

// States.
const (
	StateOpen      State = "open"
	StateApplied   State = "applied"
	StateDismissed State = "dismissed"
)

// ParseState checks a state name.
func ParseState(s string) (State, error) {
	switch st := State(s); st {
	case StateOpen, StateApplied, StateDismissed:
		return st, nil
	}
	return "", fmt.Errorf("recommend: state must be open, applied or dismissed, not %q", s)
}

// Usage is one key's use of one model at one service tier over the window.
type Usage struct {
	KeyID, Provider, Model, ServiceTier string
	Events, StreamingEvents             uint64
	Tokens                              usage.Tokens
}

// Key is one of the tenant's API keys.
type Key struct {
	ID, Name  string
	CreatedAt time.Time
}

// UnpricedModel is a model used in the window without a price.
type UnpricedModel struct {
	Provider, Model           string
	Events                    uint64
	InputTokens, OutputTokens int64
}

// Input is everything the rules read for one tenant.
type Input struct {
	TenantID string
	// From, To is the usage window (the job reads 30 days).
	From, To   time.Time
	Usage      []Usage
	Unpriced   []UnpricedModel
	ActiveKeys []Key
	// KeysWithTraffic holds the ids of keys with any event in the idle
	// window before To (usage and denials alike).
	KeysWithTraffic map[string]bool
	Overrides       []pricing.Override
}

// Validate says what is wrong with in.
func (in *Input) Validate() error {
	var errs []error
	if in.TenantID == "" {
		errs = append(errs, errors.New("recommend: a tenant is required"))
	}
	if !in.From.Before(in.To) {
		errs = append(errs, fmt.Errorf("recommend: the window %s – %s is empty", in.From.Format(time.RFC3339), in.To.Format(time.RFC3339)))
	}
	return errors.Join(errs...)
}

// Config holds the rules' thresholds.
type Config struct {
	// MinEvents is the fewest calls a usage needs before a rule speaks.
	MinEvents uint64
	// MinMonthlySavingsNanoUSD drops recommendations saving less.
	MinMonthlySavingsNanoUSD int64
	// LowOutputTokens: usage averaging at most this many output tokens a
	// call is a low-output workload (classification, extraction, routing).
	LowOutputTokens int64
	// LargeInputTokens: usage averaging at least this many input tokens a
	// call has a prompt worth caching.
	LargeInputTokens int64
	// CacheableShare is the share of input assumed to be a repeated prefix
	// (numerator/denominator), and CacheWritesPerRead how many cached
	// tokens are written for each one read where writes are priced apart
	// (Anthropic): 1 in 10 is a write every ten calls within the lifetime.
	CacheableNum, CacheableDen int64
	CacheWriteEvery            int64
	// IdleDays: a key without traffic for this many days (and older than
	// that) should be revoked.
	IdleDays int
}

// DefaultConfig returns the documented thresholds.
func DefaultConfig() Config {
	return Config{MinEvents: 100, MinMonthlySavingsNanoUSD: 1_000_000_000, LowOutputTokens: 300, LargeInputTokens: 2_048,
		CacheableNum: 1, CacheableDen: 2, CacheWriteEvery: 10, IdleDays: 30}
}

// Recommendation is one way to spend less.
type Recommendation struct {
	// Fingerprint identifies the recommendation across refreshes (kind,
	// key, provider, model), so its state survives them.
	Fingerprint string
	Kind        Kind
	KeyID       string
	Provider    string
	Model       string
	// Alternative is the model to move to (cheaper_model).
	Alternative string
	Title       string
	Detail      string
	// CurrentMonthlyNanoUSD is what the usage costs a month now;
	// MonthlySavingsNanoUSD what the change saves (0 where it is not about
	// money: a key to revoke, a model to price).
	CurrentMonthlyNanoUSD int64
	MonthlySavingsNanoUSD int64
	Events                uint64
}

// cheaper lists, per provider, a model's next cheaper sibling: same family,
// one capability tier down. Catalogue ids (what Cost.Model names).
var cheaper = map[string]map[string]string{
	"openai": {
		"gpt-4o": "gpt-4o-mini", "gpt-4.1": "gpt-4.1-mini", "gpt-4.1-mini": "gpt-4.1-nano",
		"gpt-5": "gpt-5-mini", "gpt-5-mini": "gpt-5-nano",
	},
	"azure_openai": {"gpt-4o": "gpt-4o-mini"},
	"anthropic": {
		"claude-opus-4-5": "claude-sonnet-4-5", "claude-opus-4-1": "claude-sonnet-4-20250514",
		"claude-sonnet-4-5": "claude-haiku-4-5",
	},
	"gemini": {"gemini-2.5-pro": "gemini-2.5-flash", "gemini-2.5-flash": "gemini-2.5-flash-lite"},
}

// CheaperSibling returns the cheaper model of the same family for a
// catalogue model, if one is listed.
func CheaperSibling(provider, catalogueModel string) (string, bool) {
	m, ok := cheaper[provider][catalogueModel]
	return m, ok
}

const month = 30 * 24 * time.Hour

// Generate applies every rule to in and returns the recommendations, the
// largest saving first (then by fingerprint, so the order is stable).
func Generate(cat *pricing.Catalogue, cfg *Config, in *Input) ([]Recommendation, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	window := in.To.Sub(in.From)
	monthly := func(nano int64) int64 { return mulDiv(nano, int64(month), int64(window)) }
	var out []Recommendation
	for i := range in.Usage {
		u := &in.Usage[i]
		if u.Events < cfg.MinEvents {
			continue
		}
		req := pricing.Request{Provider: u.Provider, Model: u.Model, Time: in.To, ServiceTier: u.ServiceTier}
		now := priceUsage(cat, req, u.Tokens, u.Events, in.Overrides)
		if !now.Priced || now.Model == "" {
			continue // the unpriced rule speaks for it
		}
		base := Recommendation{KeyID: u.KeyID, Provider: u.Provider, Model: u.Model, Events: u.Events,
			CurrentMonthlyNanoUSD: monthly(now.TenantNanoUSD)}
		events := int64(u.Events)
		output := u.Tokens.Output + u.Tokens.Reasoning
		input := u.Tokens.Input + u.Tokens.CachedInput + u.Tokens.CacheWrite5m + u.Tokens.CacheWrite1h

		// Cheaper sibling for low-output workloads.
		if alt, ok := CheaperSibling(u.Provider, now.Model); ok && output/events <= cfg.LowOutputTokens {
			altReq := req
			altReq.Model = alt
			if then := priceUsage(cat, altReq, u.Tokens, u.Events, in.Overrides); then.Priced {
				r := base
				r.Kind, r.Alternative = KindCheaperModel, alt
				r.MonthlySavingsNanoUSD = monthly(now.TenantNanoUSD - then.TenantNanoUSD)
				r.Title = fmt.Sprintf("Move low-output calls of %s to %s", u.Model, alt)
				r.Detail = fmt.Sprintf("%d calls averaged %d output tokens: a workload the smaller model of the family handles; priced at %s's rates the same usage costs %s less a month",
					u.Events, output/events, alt, usd(r.MonthlySavingsNanoUSD))
				out = append(out, r)
			}
		}

		// Prompt caching: large input, nothing read from or written to the cache.
		if input/events >= cfg.LargeInputTokens && u.Tokens.CachedInput == 0 && u.Tokens.CacheWrite5m == 0 && u.Tokens.CacheWrite1h == 0 {
			if p, ok := priceOf(cat, u.Provider, now.Model, in.To); ok && hasRate(p, pricing.CachedInput) {
				moved := mulDiv(u.Tokens.Input, cfg.CacheableNum, cfg.CacheableDen)
				cached := u.Tokens
				cached.Input -= moved
				if hasRate(p, pricing.CacheWrite5m) {
					writes := moved / cfg.CacheWriteEvery
					cached.CacheWrite5m += writes
					moved -= writes
				}
				cached.CachedInput += moved
				then := priceUsage(cat, req, cached, u.Events, in.Overrides)
				if then.Priced {
					r := base
					r.Kind = KindPromptCaching
					r.MonthlySavingsNanoUSD = monthly(now.TenantNanoUSD - then.TenantNanoUSD)
					r.Title = fmt.Sprintf("Cache the repeated prompt prefix of %s", u.Model)
					r.Detail = fmt.Sprintf("%d calls averaged %d input tokens and none were read from the prompt cache; with half of the input a cached prefix it would cost %s less a month",
						u.Events, input/events, usd(r.MonthlySavingsNanoUSD))
					out = append(out, r)
				}
			}
		}

		// Batch API: nothing streamed (no one waiting on tokens), standard tier.
		if u.StreamingEvents == 0 && isStandardTier(u.ServiceTier) {
			batchReq := req
			batchReq.Batch = true
			if then := priceUsage(cat, batchReq, u.Tokens, u.Events, in.Overrides); then.Priced && then.Tier != "" && then.Tier != now.Tier {
				r := base
				r.Kind = KindBatchAPI
				r.MonthlySavingsNanoUSD = monthly(now.TenantNanoUSD - then.TenantNanoUSD)
				r.Title = fmt.Sprintf("Send this key's %s calls through the batch API", u.Model)
				r.Detail = fmt.Sprintf("none of %d calls streamed, so no one waited on them token by token; at batch prices they would cost %s less a month",
					u.Events, usd(r.MonthlySavingsNanoUSD))
				out = append(out, r)
			}
		}
	}
	kept := out[:0]
	for _, r := range out {
		if r.MonthlySavingsNanoUSD >= cfg.MinMonthlySavingsNanoUSD {
			kept = append(kept, r)
		}
	}
	out = kept

	for _, m := range in.Unpriced {
		out = append(out, Recommendation{Kind: KindPriceModel, Provider: m.Provider, Model: m.Model, Events: m.Events,
			Title:  fmt.Sprintf("Price %s/%s", m.Provider, m.Model),
			Detail: fmt.Sprintf("%d calls (%d input, %d output tokens) have no price: their spend is missing from every total and budget until an override prices them", m.Events, m.InputTokens, m.OutputTokens)})
	}
	idleSince := in.To.Add(-time.Duration(cfg.IdleDays) * 24 * time.Hour)
	for _, k := range in.ActiveKeys {
		if in.KeysWithTraffic[k.ID] || k.CreatedAt.After(idleSince) {
			continue
		}
		out = append(out, Recommendation{Kind: KindRevokeKey, KeyID: k.ID,
			Title:  fmt.Sprintf("Revoke key %q", k.Name),
			Detail: fmt.Sprintf("no traffic in %d days: an unused key is only a risk", cfg.IdleDays)})
	}
	for i := range out {
		r := &out[i]
		r.Fingerprint = string(r.Kind) + "|" + r.KeyID + "|" + r.Provider + "|" + r.Model
		if r.Kind != KindPriceModel && r.Kind != KindRevokeKey {
			r.Fingerprint += "|" + r.Alternative
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].MonthlySavingsNanoUSD != out[j].MonthlySavingsNanoUSD {
			return out[i].MonthlySavingsNanoUSD > out[j].MonthlySavingsNanoUSD
		}
		return out[i].Fingerprint < out[j].Fingerprint
	})
	return out, nil
}

// priced is a usage's cost.
type priced struct {
	Priced        bool
	Model, Tier   string
	TenantNanoUSD int64
}

// priceUsage prices usage summed over calls as that many average calls
// plus the tokens left over from the division as one more: a long-context
// tier (priced per call, above N input tokens) is judged on the average
// call, not on the window's sum.
func priceUsage(cat *pricing.Catalogue, req pricing.Request, t usage.Tokens, calls uint64, overrides []pricing.Override) priced {
	n := int64(max(calls, 1))
	// What the call would cost, not what a provider reported it cost.
	t.ProviderCostNanoUSD = 0
	avg, rest := t, t
	q, qa, qr := classes(&t), classes(&avg), classes(&rest)
	leftover := false
	for i, v := range q {
		*qa[i], *qr[i] = *v/n, *v%n
		leftover = leftover || *qr[i] != 0
	}
	one := cat.Cost(req, avg, overrides)
	out := priced{Priced: one.Priced, Model: one.Model, Tier: one.Tier, TenantNanoUSD: mulDiv(one.TenantNanoUSD, n, 1)}
	if leftover {
		r := cat.Cost(req, rest, overrides)
		out.Priced = out.Priced && r.Priced
		out.TenantNanoUSD += r.TenantNanoUSD
	}
	return out
}

// classes points at every quantity of t.
func classes(t *usage.Tokens) [14]*int64 {
	return [...]*int64{&t.Input, &t.CachedInput, &t.CacheWrite5m, &t.CacheWrite1h, &t.Output, &t.Reasoning,
		&t.AudioInput, &t.AudioOutput, &t.ImageInput, &t.ImageOutput, &t.WebSearches, &t.Characters, &t.Seconds, &t.Images}
}

func isStandardTier(t string) bool {
	switch t {
	case "", "auto", "default", "standard", "scale":
		return true
	}
	return false
}

// priceOf is the catalogue price of a model in force at t.
func priceOf(cat *pricing.Catalogue, provider, model string, t time.Time) (*pricing.Price, bool) {
	m, _, ok := cat.Lookup(provider, model)
	if !ok {
		return nil, false
	}
	return m.PriceAt(t)
}

// usd formats nano-USD as dollars and cents (rounded down), for the text.
func usd(nano int64) string {
	return fmt.Sprintf("$%d.%02d", nano/1_000_000_000, nano%1_000_000_000/10_000_000)
}

// mulDiv is a·b/c rounded down, saturating instead of overflowing.
func mulDiv(a, b, c int64) int64 {
	f := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
	f.Quo(f, big.NewInt(c))
	if !f.IsInt64() {
		if f.Sign() < 0 {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	return f.Int64()
}

func hasRate(p *pricing.Price, c pricing.Class) bool {
	_, ok := p.Rates.Get(c)
	return ok
}
