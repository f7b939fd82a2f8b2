package pricing

import (
	"math"
	"math/bits"
	"path"
	"strings"
	"time"

	"github.com/spendgate/spendgate/usage"
)

// Request says what is being priced: whose model, when, and under which
// service tier. Time selects the price in force (zero: the latest price).
type Request struct {
	Provider string
	Model    string
	Time     time.Time
	// ServiceTier is the tier the call was served (or requested) at:
	// "priority" and "flex" select those prices, "batch" the batch price;
	// anything else ("", "auto", "default", "standard", "scale") is standard.
	ServiceTier string
	Batch       bool // batch API price (same as ServiceTier "batch")
	// SearchContextSize ("low", "medium", "high") selects a per-request fee
	// that depends on it (Perplexity); see usage.ParseHints.
	SearchContextSize string
}

// Override is a tenant's pricing override; it mirrors the Postgres table
// pricing_overrides. Provider "" matches any provider; Model is a catalogue
// model id (or the requested name) or a glob ("gpt-4o*", "*").
type Override struct {
	ID, TenantID, Provider, Model string
	EffectiveFrom                 time.Time
	EffectiveTo                   *time.Time
	// Rates replace list rates per class (nano-USD per million units).
	Rates map[string]int64
	// PercentAdjustmentBP adjusts the tenant cost in basis points after rates:
	// -1500 is a 15 % discount, 1000 a 10 % markup.
	PercentAdjustmentBP int64
}

// Line explains one class of a cost: quantity × rate.
type Line struct {
	Class             string `json:"class"`
	Quantity          int64  `json:"quantity"`
	RateNanoUSD       int64  `json:"rate_nano_usd_per_million"` // list rate
	AmountNanoUSD     int64  `json:"amount_nano_usd"`           // list amount of this line, rounded
	TenantRateNanoUSD int64  `json:"tenant_rate_nano_usd_per_million"`
}

// Cost is the priced result for one event.
type Cost struct {
	// Priced is false when no price is known: the costs are then absent (not
	// zero) and the event must be flagged for an admin to add a price.
	Priced    bool
	Model     string // catalogue model id that matched
	MatchedBy string // "exact", "alias", "prefix", "override" or "provider_reported"
	// Tier names the price variant used: "standard", "batch", "priority",
	// "flex", with "+long_context" when the long-context tier applied.
	Tier string
	// ListNanoUSD is the list cost. When the provider reported its own cost
	// (OpenRouter), that figure wins; ComputedListNanoUSD keeps ours.
	ListNanoUSD         int64
	ComputedListNanoUSD int64
	TenantNanoUSD       int64
	// ProviderReportedNanoUSD is the provider's own figure, when it gave one.
	ProviderReportedNanoUSD int64
	HasProviderReported     bool
	OverrideID              string // comma-separated when several overrides stacked
	RequestFeeNanoUSD       int64
	Lines                   []Line
	// UnratedClasses lists (comma-separated) the non-token classes that have
	// a quantity but no rate in the price used. The cost is then incomplete:
	// unless the provider reported its own cost, Priced is false and the
	// costs are absent (the lines still explain the known part), so the event
	// shows with the unknown models until an admin adds the rate and
	// re-prices.
	UnratedClasses string
}

// CatalogueNanoUSD is the catalogue's own list price of the usage (with a
// tenant override's rates for a model only the override prices), whether or
// not a reported cost won ListNanoUSD; ok is false when there is none: the
// model is unknown, or a class used has no rate (the figure would be partial).
func (c *Cost) CatalogueNanoUSD() (nano int64, ok bool) {
	if c.Model == "" && c.MatchedBy != "override" || c.UnratedClasses != "" || !c.Priced {
		return 0, false
	}
	return c.ComputedListNanoUSD, true
}

// femto is an unsigned 128-bit sum of quantity × rate products. Units: nano-USD
// per million units × units = 1e-15 USD. Keeping the exact sum and rounding
// once per event means an event's cost does not depend on how it is split.
type femto struct{ hi, lo uint64 }

func (f *femto) addMul(q, r int64) {
	hi, lo := bits.Mul64(uint64(q), uint64(r))
	var carry uint64
	f.lo, carry = bits.Add64(f.lo, lo, 0)
	f.hi, _ = bits.Add64(f.hi, hi, carry)
}

func (f *femto) add(nano int64) { f.addMul(nano, 1_000_000) }

// nano rounds half up to nano-USD (÷ 1e6), saturating at MaxInt64.
func (f femto) nano() int64 {
	if f.hi >= 1_000_000 {
		return math.MaxInt64
	}
	q, r := bits.Div64(f.hi, f.lo, 1_000_000)
	if r >= 500_000 {
		q++
	}
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(q)
}

// adjust applies a basis-point adjustment to a nano amount, rounding half up.
func adjust(nano, bp int64) int64 {
	if bp == 0 {
		return nano
	}
	var f femto
	f.addMul(nano, 10_000+bp)
	// f is nano × (10000+bp); divide by 10000 with half-up rounding.
	q, r := bits.Div64(f.hi%10_000, f.lo, 10_000)
	if r >= 5_000 {
		q++
	}
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(q)
}

// Cost prices one event. It never guesses: an unknown model gives Priced=false.
//
// Rounding rule: each class contributes quantity × rate exactly (in 1e-15 USD);
// the list and tenant sums are rounded once, half up, to nano-USD; a percent
// adjustment is applied to the rounded tenant sum and rounded half up again.
// Line amounts are rounded individually for display, so they may differ from
// the total by less than one nano-USD per line.
func (c *Catalogue) Cost(req Request, t usage.Tokens, overrides []Override) Cost {
	var out Cost
	m, by, found := c.Lookup(req.Provider, req.Model)
	var price *Price
	if found {
		price, found = m.PriceAt(req.Time)
	}

	rates := unsetRates()
	tier := "standard"
	if found {
		out.Model, out.MatchedBy = m.ID, by
		rates, tier = effectiveRates(price, &req, &t)
		out.RequestFeeNanoUSD = requestFee(price, &req)
	}

	// Overrides: per class, the most specific matching override that sets a
	// rate wins; percent adjustments of all matching overrides stack
	// (applied in turn, most specific first).
	tenantRates := rates
	rateOverridden := false
	var matchedBuf [8]*Override
	var matched []*Override
	if len(overrides) > 0 {
		matched = matchingOverrides(matchedBuf[:0], overrides, &req, out.Model)
		var overridden [numClasses]bool
		var ids []string
		for _, o := range matched {
			used := o.PercentAdjustmentBP != 0
			for name, v := range o.Rates {
				cl, ok := ClassByName(name)
				if !ok || v < 0 || overridden[cl] {
					continue
				}
				overridden[cl] = true
				rateOverridden = true
				tenantRates[cl] = v
				used = true
			}
			if used {
				ids = append(ids, o.ID)
			}
		}
		if len(ids) > 0 {
			out.OverrideID = strings.Join(ids, ",")
		}
		if !found && anySet(&tenantRates) {
			// The catalogue does not know the model but the tenant priced it:
			// the tenant's rate is then the only price there is.
			found = true
			out.MatchedBy = "override"
			rates = tenantRates
		}
	}

	if t.HasProviderCost {
		out.ProviderReportedNanoUSD = t.ProviderCostNanoUSD
		out.HasProviderReported = true
	}
	if !found {
		if !t.HasProviderCost {
			return out // unpriced: costs absent
		}
		out.Priced = true
		out.MatchedBy = "provider_reported"
		out.Tier = tier
		out.ListNanoUSD = t.ProviderCostNanoUSD
		out.TenantNanoUSD = applyAdjustments(t.ProviderCostNanoUSD, matched)
		return out
	}
	out.Priced = true
	out.Tier = tier

	q := quantities(&t)
	n := 0
	for i := range q {
		if q[i] != 0 {
			n++
		}
	}
	if n > 0 {
		out.Lines = make([]Line, 0, n)
	}
	var list, tenant femto
	var unrated [numClasses]bool
	anyUnrated := false
	for i, qty := range q {
		if qty == 0 {
			continue
		}
		lr, ok := rateFor(Class(i), &rates)
		tr, tok := rateFor(Class(i), &tenantRates)
		if !ok && !tok {
			unrated[i] = true
			anyUnrated = true
		}
		list.addMul(qty, lr)
		tenant.addMul(qty, tr)
		var line femto
		line.addMul(qty, lr)
		out.Lines = append(out.Lines, Line{Class: classNames[i], Quantity: qty, RateNanoUSD: lr, AmountNanoUSD: line.nano(), TenantRateNanoUSD: tr})
	}
	list.add(out.RequestFeeNanoUSD)
	tenant.add(out.RequestFeeNanoUSD)
	out.ComputedListNanoUSD = list.nano()
	out.ListNanoUSD = out.ComputedListNanoUSD
	tenantNano := tenant.nano()
	if t.HasProviderCost {
		out.ListNanoUSD = t.ProviderCostNanoUSD
		if !rateOverridden {
			// No tenant rate applies: the tenant pays what the provider billed.
			tenantNano = t.ProviderCostNanoUSD
		}
	}
	out.TenantNanoUSD = applyAdjustments(tenantNano, matched)
	if anyUnrated {
		var names []string
		for i, u := range unrated {
			if u {
				names = append(names, classNames[i])
			}
		}
		out.UnratedClasses = strings.Join(names, ",")
		if !t.HasProviderCost {
			// Incomplete is unknown, never a silent partial figure.
			out.Priced = false
			out.ListNanoUSD, out.ComputedListNanoUSD, out.TenantNanoUSD = 0, 0, 0
		}
	}
	return out
}

// Priced reports whether a call of req's model would be priced before it is
// made: the catalogue has a price in force at req.Time, or one of the tenant's
// overrides sets a rate for it (Cost's own rule, applied to no usage). A cost
// the provider reports with its answer (OpenRouter) is not known beforehand
// and does not count. The data plane asks this for keys that require priced
// models.
func (c *Catalogue) Priced(req Request, overrides []Override) bool {
	return c.Cost(req, usage.Tokens{}, overrides).Priced
}

// applyAdjustments applies the percent adjustments of the matched overrides
// in turn, each rounded half up.
func applyAdjustments(n int64, matched []*Override) int64 {
	for _, o := range matched {
		n = adjust(n, o.PercentAdjustmentBP)
	}
	return n
}

// fallback names the class whose rate a class without its own rate borrows:
// reasoning, audio and image output are billed as output; cache reads and
// writes, audio and image input as input (a 1-hour write as a 5-minute write
// first). A model that lists no special rate for a class therefore bills it
// at the plain rate, never at zero. The non-token classes (web searches,
// characters, seconds, images) have no fallback: without a rate they cost
// nothing, and the explanation line shows the zero rate.
var fallback = [numClasses]Class{
	Input: -1, CachedInput: Input, CacheWrite5m: Input, CacheWrite1h: CacheWrite5m,
	Output: -1, Reasoning: Output, AudioInput: Input, AudioOutput: Output,
	ImageInput: Input, ImageOutput: Output,
	WebSearches: -1, Characters: -1, Seconds: -1, Images: -1,
}

// rateFor returns the rate of class c, following the fallback chain when the
// price has none for it; ok is false when no rate applies at all.
func rateFor(c Class, r *Rates) (rate int64, ok bool) {
	for c >= 0 {
		if v := r[c]; v >= 0 {
			return v, true
		}
		c = fallback[c]
	}
	return 0, false
}

func anySet(r *Rates) bool {
	for _, v := range r {
		if v >= 0 {
			return true
		}
	}
	return false
}

// variant names the price variant a request selects.
func variant(req *Request) string {
	if req.Batch {
		return "batch"
	}
	switch req.ServiceTier {
	case "batch", "priority", "flex":
		return req.ServiceTier
	}
	return "standard"
}

func effectiveRates(p *Price, req *Request, t *usage.Tokens) (Rates, string) {
	r := p.Rates
	tier := "standard"
	switch v := variant(req); {
	case v == "batch" && p.Batch != nil:
		r = r.overlay(p.Batch)
		tier = "batch"
	case v == "priority" && p.Priority != nil:
		r = r.overlay(p.Priority)
		tier = "priority"
	case v == "flex" && p.Flex != nil:
		r = r.overlay(p.Flex)
		tier = "flex"
	}
	if lc := p.LongContext; lc != nil && t.TotalInput() > lc.AboveInputTokens {
		switch {
		case tier == "batch" && p.LongContextBatch != nil:
			r = r.overlay(p.LongContextBatch)
		case tier == "priority" && lc.Priority != nil:
			r = r.overlay(&lc.Rates).overlay(lc.Priority)
		default:
			r = r.overlay(&lc.Rates)
		}
		tier = longContextTier(tier)
	}
	return r, tier
}

// longContextTier names a variant's long-context tier with a constant, so
// costing an event does not build strings.
func longContextTier(tier string) string {
	switch tier {
	case "batch":
		return "batch+long_context"
	case "priority":
		return "priority+long_context"
	case "flex":
		return "flex+long_context"
	}
	return "standard+long_context"
}

// requestFee is the per-request fee of a price: the fee for the request's
// search context size where the price names one, else the flat fee.
func requestFee(p *Price, req *Request) int64 {
	if i := searchContextIndex(req.SearchContextSize); i >= 0 && p.RequestFeeBySearchContext[i] >= 0 {
		return p.RequestFeeBySearchContext[i]
	}
	return p.RequestFeeNanoUSD
}

// matchingOverrides returns the overrides in force for the request, most
// specific first: exact model before globs, provider-specific before "any",
// later effective_from first.
func matchingOverrides(out []*Override, all []Override, req *Request, catalogueModel string) []*Override {
	for i := range all {
		o := &all[i]
		if o.Provider != "" && o.Provider != req.Provider {
			continue
		}
		if !req.Time.IsZero() {
			if req.Time.Before(o.EffectiveFrom) || (o.EffectiveTo != nil && !req.Time.Before(*o.EffectiveTo)) {
				continue
			}
		}
		if !modelMatches(o.Model, req.Model) && (catalogueModel == "" || !modelMatches(o.Model, catalogueModel)) {
			continue
		}
		out = append(out, o)
	}
	// Insertion sort: the list is tiny.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && moreSpecific(out[j], out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func isGlob(s string) bool { return strings.ContainsAny(s, "*?[") }

func modelMatches(pattern, model string) bool {
	if !isGlob(pattern) {
		return strings.EqualFold(pattern, model)
	}
	ok, err := path.Match(strings.ToLower(pattern), strings.ToLower(model))
	return err == nil && ok
}

func moreSpecific(a, b *Override) bool {
	if ag, bg := isGlob(a.Model), isGlob(b.Model); ag != bg {
		return !ag
	}
	if (a.Provider != "") != (b.Provider != "") {
		return a.Provider != ""
	}
	if len(a.Model) != len(b.Model) {
		return len(a.Model) > len(b.Model)
	}
	return a.EffectiveFrom.After(b.EffectiveFrom)
}

// ValidateOverride checks an override as an admin enters it.
func ValidateOverride(o *Override) error {
	if o.Model == "" || len(o.Model) > 200 {
		return errInvalid("model must be 1..200 characters")
	}
	if isGlob(o.Model) {
		if _, err := path.Match(o.Model, ""); err != nil {
			return errInvalid("model glob is malformed: " + err.Error())
		}
	}
	if o.Provider != "" && !knownProvider(o.Provider) {
		return errInvalid("unknown provider " + o.Provider)
	}
	for name, v := range o.Rates {
		if _, ok := ClassByName(name); !ok {
			return errInvalid("unknown usage class " + name)
		}
		if v < 0 {
			return errInvalid("rate for " + name + " must not be negative")
		}
	}
	if o.PercentAdjustmentBP <= -10_000 || o.PercentAdjustmentBP > 1_000_000 {
		return errInvalid("percent adjustment must be above -100 % and at most +10000 %")
	}
	if o.EffectiveFrom.IsZero() {
		return errInvalid("effective_from is required")
	}
	if o.EffectiveTo != nil && !o.EffectiveTo.After(o.EffectiveFrom) {
		return errInvalid("effective_to must be after effective_from")
	}
	if len(o.Rates) == 0 && o.PercentAdjustmentBP == 0 {
		return errInvalid("an override must set rates or a percent adjustment")
	}
	return nil
}

// InvalidError is a validation error with a message meant for the admin.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return "pricing: " + e.Msg }

func errInvalid(msg string) error { return &InvalidError{Msg: msg} }
