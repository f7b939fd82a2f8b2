package pricing

import (
	_ "embed"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/spendgate/spendgate/money"
)

//go:embed catalogue.yaml
var embeddedCatalogue []byte

var (
	defaultOnce sync.Once
	defaultCat  *Catalogue
)

// Default returns the catalogue shipped inside the binary. It panics only if the
// embedded file is invalid, which a test rules out.
func Default() *Catalogue {
	defaultOnce.Do(func() {
		c, err := LoadCatalogue(embeddedCatalogue)
		if err != nil {
			panic("pricing: embedded catalogue: " + err.Error())
		}
		defaultCat = c
	})
	return defaultCat
}

// EmbeddedCatalogueYAML returns the shipped catalogue file.
func EmbeddedCatalogueYAML() []byte { return append([]byte(nil), embeddedCatalogue...) }

// Providers are the provider ids the catalogue knows.
var Providers = []string{
	"openai", "anthropic", "gemini", "openrouter", "xai", "groq", "deepinfra", "novita",
	"fireworks", "perplexity", "cerebras", "mistral", "deepseek", "nebius",
	// The cloud providers (meter/cloud.go), priced from their own pages.
	"azure_openai", "bedrock", "vertex_ai",
	// Record-only vendors (meter.RecordOnlyProviders): priced for the record
	// API, never routed by the gateway.
	"google_tts", "google_stt", "elevenlabs", "deepgram",
}

// File is the catalogue file format (YAML or JSON). Rates are exact decimal
// strings in USD per million units, so the file reads like a price page.
type File struct {
	Models []FileModel `json:"models"`
}

// FileModel is one model in a catalogue file.
type FileModel struct {
	Provider string   `json:"provider"`
	Model    string   `json:"model"`
	Aliases  []string `json:"aliases,omitempty"`
	Source   string   `json:"source"`
	Checked  string   `json:"checked"` // date the prices were checked, YYYY-MM-DD
	// Pinned says why a reviewer corrected this entry by hand (e.g. LiteLLM
	// lists a wrong rate); `pricing sync` then keeps it and reports the
	// difference instead of overwriting it.
	Pinned string `json:"pinned,omitempty"`
	// SourceKind says what Source is: SourceProvider (the provider's price
	// page, Source its address), SourceLiteLLM (LiteLLM's price file, Source
	// names the copy: commit or date) or SourceHand (entered by a reviewer,
	// Reason says why and from what).
	SourceKind string `json:"source_kind,omitempty"`
	Reason     string `json:"reason,omitempty"`
	// Notes say where two sources disagreed on this entry and which one
	// won (the provider's own page wins over LiteLLM), and what was filled in
	// from another source.
	Notes string `json:"notes,omitempty"`
	// MaxOutputTokens is the most output tokens one call can produce; the
	// data plane reserves budget for it before a call. 0: unknown.
	MaxOutputTokens int64       `json:"max_output_tokens,omitempty"`
	Prices          []FilePrice `json:"prices"`
}

// Source kinds of a catalogue entry: where its prices were read.
const (
	SourceProvider = "provider"
	SourceLiteLLM  = "litellm"
	SourceHand     = "hand"
)

// FilePrice is one effective-dated price of a model.
type FilePrice struct {
	EffectiveFrom string            `json:"effective_from"`
	EffectiveTo   string            `json:"effective_to,omitempty"`
	Rates         map[string]string `json:"rates"`
	Batch         map[string]string `json:"batch,omitempty"`
	// BatchMultiplier ("0.5" = half price) derives batch rates from every
	// token rate, long-context tier included; classes listed in Batch win.
	BatchMultiplier string            `json:"batch_multiplier,omitempty"`
	Priority        map[string]string `json:"priority,omitempty"`
	Flex            map[string]string `json:"flex,omitempty"`
	LongContext     *FileTier         `json:"long_context,omitempty"`
	RequestFee      string            `json:"request_fee,omitempty"` // USD per request
	// RequestFeeBySearchContext is a per-request fee that depends on the
	// search context size the call used (Perplexity: "low", "medium",
	// "high"); RequestFee applies when the size is unknown.
	RequestFeeBySearchContext map[string]string `json:"request_fee_by_search_context,omitempty"`
}

// FileTier is a long-context tier: above AboveInputTokens input tokens, every
// token of the request is priced with Rates (classes not listed keep the base
// rate). Priority holds the tier's rates under the priority service tier.
type FileTier struct {
	AboveInputTokens int64             `json:"above_input_tokens"`
	Rates            map[string]string `json:"rates"`
	Priority         map[string]string `json:"priority,omitempty"`
}

// Model is a priced model of the catalogue.
type Model struct {
	Provider string
	ID       string
	Aliases  []string
	Source   string
	Checked  string
	Pinned   string
	// SourceKind, Reason and Notes are the entry's provenance (see
	// FileModel).
	SourceKind, Reason, Notes string
	MaxOutputTokens           int64   // 0: unknown
	Prices                    []Price // sorted by EffectiveFrom
}

// Price is the price of a model in force from EffectiveFrom until EffectiveTo
// (zero: open-ended).
type Price struct {
	EffectiveFrom, EffectiveTo time.Time
	Rates                      Rates
	Batch, Priority, Flex      *Rates
	LongContext                *Tier
	// LongContextBatch is the long-context tier at batch prices (derived
	// from batch_multiplier); nil when batch does not change it.
	LongContextBatch  *Rates
	RequestFeeNanoUSD int64
	// RequestFeeBySearchContext holds the per-request fee for the search
	// context sizes low, medium and high; -1 where the price names none.
	RequestFeeBySearchContext [3]int64
}

// Tier is a long-context price tier.
type Tier struct {
	AboveInputTokens int64
	Rates            Rates
	Priority         *Rates // the tier's rates under the priority service tier
}

// SearchContextSizes are the search context sizes a request fee can depend
// on, in the order of Price.RequestFeeBySearchContext.
var SearchContextSizes = [3]string{"low", "medium", "high"}

func searchContextIndex(size string) int {
	for i, s := range SearchContextSizes {
		if s == size {
			return i
		}
	}
	return -1
}

// Catalogue is an immutable, indexed set of model prices, safe for concurrent use.
type Catalogue struct {
	models    []*Model
	providers map[string]*providerIndex
}

// providerIndex finds one provider's models without allocating: names are
// stored as written and lower-cased, so a request spelled like the catalogue
// (the common case) is a single map hit.
type providerIndex struct {
	exact   map[string]*Model
	aliases map[string]*Model
	// dotted maps Anthropic version numbers written with dots (OpenRouter's
	// "claude-sonnet-4.5") to the catalogue's dashed ids and aliases.
	dotted map[string]*Model
	// prefixes lists model ids, longest first, for dated snapshots the
	// catalogue does not name.
	prefixes []*Model
}

// LoadCatalogue parses and validates a catalogue file (YAML or JSON).
func LoadCatalogue(data []byte) (*Catalogue, error) {
	var f File
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("pricing: catalogue is not valid YAML/JSON of the catalogue format: %w", err)
	}
	return FromFile(&f)
}

// FromFile validates and indexes a parsed catalogue file.
func FromFile(f *File) (*Catalogue, error) {
	c := &Catalogue{providers: map[string]*providerIndex{}}
	index := func(provider string) *providerIndex {
		pi := c.providers[provider]
		if pi == nil {
			pi = &providerIndex{exact: map[string]*Model{}, aliases: map[string]*Model{}, dotted: map[string]*Model{}}
			c.providers[provider] = pi
		}
		return pi
	}
	var errs []error
	for i := range f.Models {
		fm := &f.Models[i]
		m, err := buildModel(fm)
		if err != nil {
			errs = append(errs, fmt.Errorf("models[%d] %s/%s: %w", i, fm.Provider, fm.Model, err))
			continue
		}
		pi := index(m.Provider)
		if _, dup := pi.exact[strings.ToLower(m.ID)]; dup {
			errs = append(errs, fmt.Errorf("models[%d]: duplicate model %s/%s", i, m.Provider, m.ID))
			continue
		}
		pi.exact[m.ID] = m
		pi.exact[strings.ToLower(m.ID)] = m
		c.models = append(c.models, m)
	}
	for _, m := range c.models {
		pi := c.providers[m.Provider]
		for _, a := range m.Aliases {
			la := strings.ToLower(a)
			if other, ok := pi.exact[la]; ok {
				errs = append(errs, fmt.Errorf("alias %s/%s of %s is also a model id (%s)", m.Provider, a, m.ID, other.ID))
				continue
			}
			if other, ok := pi.aliases[la]; ok && other != m {
				errs = append(errs, fmt.Errorf("alias %s/%s names both %s and %s", m.Provider, a, other.ID, m.ID))
				continue
			}
			pi.aliases[a] = m
			pi.aliases[la] = m
		}
		pi.prefixes = append(pi.prefixes, m)
	}
	for _, pi := range c.providers {
		// Longest id first, so the most specific prefix wins.
		sort.Slice(pi.prefixes, func(i, j int) bool {
			a, b := pi.prefixes[i], pi.prefixes[j]
			if len(a.ID) != len(b.ID) {
				return len(a.ID) > len(b.ID)
			}
			return a.ID < b.ID
		})
		for _, m := range pi.prefixes {
			if m.Provider != "anthropic" {
				break // only Anthropic's ids carry dashed versions that OpenRouter dots
			}
			for _, name := range append([]string{m.ID}, m.Aliases...) {
				if d := dotVersions(strings.ToLower(name)); d != strings.ToLower(name) {
					if _, taken := pi.exact[d]; !taken {
						pi.dotted[d] = m
					}
				}
			}
		}
	}
	sort.Slice(c.models, func(i, j int) bool {
		if c.models[i].Provider != c.models[j].Provider {
			return c.models[i].Provider < c.models[j].Provider
		}
		return c.models[i].ID < c.models[j].ID
	})
	if len(errs) > 0 {
		return nil, fmt.Errorf("pricing: invalid catalogue: %w", errors.Join(errs...))
	}
	return c, nil
}

// dotVersions writes version numbers the way OpenRouter does:
// "claude-sonnet-4-5" → "claude-sonnet-4.5", "claude-3-7-sonnet-20250219" →
// "claude-3.7-sonnet-20250219". A dash joins two version parts only between
// digit runs of at most two digits, so dates ("-20250514") stay as they are.
func dotVersions(s string) string {
	runLen := func(i, step int) int {
		n := 0
		for ; i >= 0 && i < len(s) && s[i] >= '0' && s[i] <= '9'; i += step {
			n++
		}
		return n
	}
	b := []byte(s)
	for i := 1; i+1 < len(s); i++ {
		if s[i] != '-' {
			continue
		}
		before, after := runLen(i-1, -1), runLen(i+1, 1)
		if before == 0 || after == 0 || before > 2 || after > 2 {
			continue
		}
		if j := i - 1 - before; j >= 0 && s[j] != '-' {
			continue // "gpt4-1": not a version on its own
		}
		b[i] = '.'
	}
	return string(b)
}

func buildModel(fm *FileModel) (*Model, error) {
	if !knownProvider(fm.Provider) {
		return nil, fmt.Errorf("unknown provider %q (want one of %s)", fm.Provider, strings.Join(Providers, ", "))
	}
	if strings.TrimSpace(fm.Model) == "" || len(fm.Model) > 200 {
		return nil, errors.New("model id must be 1..200 characters")
	}
	if fm.Source == "" {
		return nil, errors.New("source is required (where the price was read)")
	}
	if _, err := time.Parse(time.DateOnly, fm.Checked); err != nil {
		return nil, fmt.Errorf("checked must be a YYYY-MM-DD date: %q", fm.Checked)
	}
	switch fm.SourceKind {
	case "", SourceProvider, SourceLiteLLM:
	case SourceHand:
		if strings.TrimSpace(fm.Reason) == "" {
			return nil, errors.New("a hand-entered price needs a reason (why, and read from what)")
		}
	default:
		return nil, fmt.Errorf("source_kind %q: want provider, litellm or hand", fm.SourceKind)
	}
	if fm.MaxOutputTokens < 0 {
		return nil, errors.New("max_output_tokens must not be negative")
	}
	if len(fm.Prices) == 0 {
		return nil, errors.New("at least one price is required")
	}
	m := &Model{Provider: fm.Provider, ID: fm.Model, Aliases: fm.Aliases, Source: fm.Source, Checked: fm.Checked, Pinned: fm.Pinned,
		SourceKind: fm.SourceKind, Reason: fm.Reason, Notes: fm.Notes, MaxOutputTokens: fm.MaxOutputTokens}
	for j := range fm.Prices {
		p, err := buildPrice(&fm.Prices[j])
		if err != nil {
			return nil, fmt.Errorf("prices[%d]: %w", j, err)
		}
		m.Prices = append(m.Prices, p)
	}
	sort.Slice(m.Prices, func(i, j int) bool { return m.Prices[i].EffectiveFrom.Before(m.Prices[j].EffectiveFrom) })
	for j := 1; j < len(m.Prices); j++ {
		prev := m.Prices[j-1]
		if prev.EffectiveFrom.Equal(m.Prices[j].EffectiveFrom) {
			return nil, fmt.Errorf("two prices start at %s", prev.EffectiveFrom.Format(time.RFC3339))
		}
		if !prev.EffectiveTo.IsZero() && prev.EffectiveTo.After(m.Prices[j].EffectiveFrom) {
			return nil, fmt.Errorf("price from %s overlaps the next one", prev.EffectiveFrom.Format(time.RFC3339))
		}
	}
	return m, nil
}

func knownProvider(p string) bool {
	for _, q := range Providers {
		if p == q {
			return true
		}
	}
	return false
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time or YYYY-MM-DD date", s)
	}
	return t, nil
}

func buildPrice(fp *FilePrice) (Price, error) {
	var p Price
	var err error
	if p.EffectiveFrom, err = parseTime(fp.EffectiveFrom); err != nil {
		return p, fmt.Errorf("effective_from: %w", err)
	}
	if fp.EffectiveTo != "" {
		if p.EffectiveTo, err = parseTime(fp.EffectiveTo); err != nil {
			return p, fmt.Errorf("effective_to: %w", err)
		}
		if !p.EffectiveTo.After(p.EffectiveFrom) {
			return p, errors.New("effective_to must be after effective_from")
		}
	}
	if len(fp.Rates) == 0 {
		return p, errors.New("rates must name at least one class")
	}
	if p.Rates, err = ParseRates(fp.Rates); err != nil {
		return p, fmt.Errorf("rates: %w", err)
	}
	for name, src := range map[string]struct {
		in  map[string]string
		out **Rates
	}{"batch": {fp.Batch, &p.Batch}, "priority": {fp.Priority, &p.Priority}, "flex": {fp.Flex, &p.Flex}} {
		if len(src.in) == 0 {
			continue
		}
		r, err := ParseRates(src.in)
		if err != nil {
			return p, fmt.Errorf("%s: %w", name, err)
		}
		*src.out = &r
	}
	if fp.LongContext != nil {
		if fp.LongContext.AboveInputTokens <= 0 {
			return p, errors.New("long_context.above_input_tokens must be positive")
		}
		r, err := ParseRates(fp.LongContext.Rates)
		if err != nil {
			return p, fmt.Errorf("long_context: %w", err)
		}
		p.LongContext = &Tier{AboveInputTokens: fp.LongContext.AboveInputTokens, Rates: r}
		if len(fp.LongContext.Priority) > 0 {
			pr, err := ParseRates(fp.LongContext.Priority)
			if err != nil {
				return p, fmt.Errorf("long_context.priority: %w", err)
			}
			p.LongContext.Priority = &pr
		}
	}
	if fp.BatchMultiplier != "" {
		mul, err := money.ParseScaled(fp.BatchMultiplier, 9)
		if err != nil || mul <= 0 || mul > 10_000_000_000 {
			return p, fmt.Errorf("batch_multiplier %q: want a decimal in (0, 10]", fp.BatchMultiplier)
		}
		b := scaleRates(&p.Rates, mul)
		if p.Batch != nil {
			b = b.overlay(p.Batch)
		}
		p.Batch = &b
		if p.LongContext != nil {
			lb := scaleRates(&p.LongContext.Rates, mul)
			p.LongContextBatch = &lb
		}
	}
	if fp.RequestFee != "" {
		if p.RequestFeeNanoUSD, err = money.ParseScaled(fp.RequestFee, 9); err != nil {
			return p, fmt.Errorf("request_fee %q: %w", fp.RequestFee, err)
		}
	}
	p.RequestFeeBySearchContext = [3]int64{-1, -1, -1}
	for size, v := range fp.RequestFeeBySearchContext {
		i := searchContextIndex(size)
		if i < 0 {
			return p, fmt.Errorf("request_fee_by_search_context: unknown size %q (want low, medium or high)", size)
		}
		if p.RequestFeeBySearchContext[i], err = money.ParseScaled(v, 9); err != nil {
			return p, fmt.Errorf("request_fee_by_search_context.%s %q: %w", size, v, err)
		}
	}
	return p, nil
}

// scaleRates multiplies every set token rate by mul (nano units: 1e9 = ×1),
// exactly, then rounded half up to nano-USD per million units. Per-unit
// classes (web searches, characters, seconds, images) are not token prices:
// batch discounts do not apply to them and they are left unset, so the base
// rate stays.
func scaleRates(r *Rates, mul int64) Rates {
	out := unsetRates()
	for i, v := range r {
		if v < 0 || Class(i) >= WebSearches {
			continue
		}
		hi, lo := bits.Mul64(uint64(v), uint64(mul))
		if hi >= 1_000_000_000 {
			out[i] = math.MaxInt64
			continue
		}
		q, rem := bits.Div64(hi, lo, 1_000_000_000)
		if rem >= 500_000_000 {
			q++
		}
		out[i] = int64(min(q, math.MaxInt64))
	}
	return out
}

// ParseRates converts class → "USD per million units" decimal strings into
// Rates (nano-USD per million units). Unknown classes are errors.
func ParseRates(in map[string]string) (Rates, error) {
	r := unsetRates()
	for name, v := range in {
		c, ok := ClassByName(name)
		if !ok {
			return r, fmt.Errorf("unknown usage class %q (want one of %s)", name, strings.Join(classNames[:], ", "))
		}
		n, err := money.ParseScaled(v, 9)
		if err != nil {
			return r, fmt.Errorf("%s: %q: %w", name, v, err)
		}
		r[c] = n
	}
	return r, nil
}

// Models lists every model, sorted by provider and id.
func (c *Catalogue) Models() []*Model { return c.models }

// PriceAt returns the price in force at t. A zero t means the latest price.
func (m *Model) PriceAt(t time.Time) (*Price, bool) {
	if t.IsZero() {
		return &m.Prices[len(m.Prices)-1], true
	}
	for i := len(m.Prices) - 1; i >= 0; i-- {
		p := &m.Prices[i]
		if !t.Before(p.EffectiveFrom) {
			if !p.EffectiveTo.IsZero() && !t.Before(p.EffectiveTo) {
				return nil, false
			}
			return p, true
		}
	}
	return nil, false
}

// openRouterVendors maps OpenRouter's vendor prefixes to catalogue providers:
// OpenRouter charges the underlying provider's list price.
var openRouterVendors = map[string]string{
	"openai": "openai", "anthropic": "anthropic", "google": "gemini", "x-ai": "xai",
	"deepseek": "deepseek", "mistralai": "mistral",
}

// Lookup finds the catalogue model for a provider's model name, with precedence
// exact id > alias > prefix. matchedBy is "exact", "alias" or "prefix".
//
// A prefix match is a dated snapshot of a catalogue model: the id followed by
// '-', '@' or ':' and a stamp of digits and dashes ("gpt-4o-2024-05-13",
// "claude-3-5-sonnet@20240620", "gemini-2.0-flash-001"). Anything else after
// the id names another model ("gpt-5-super", "gpt-4.1" after "gpt-4") and is
// unpriced rather than guessed. Names are compared case-insensitively; Gemini's
// "models/" resource prefix is ignored. Lookup does not allocate for names
// spelled as in the catalogue.
func (c *Catalogue) Lookup(provider, model string) (m *Model, matchedBy string, ok bool) {
	model = strings.TrimPrefix(model, "models/") // Gemini resource names
	if pi := c.providers[provider]; pi != nil {
		if m, by, ok := pi.lookup(model); ok {
			return m, by, true
		}
	}
	if provider == "openrouter" {
		if vendor, rest, found := strings.Cut(model, "/"); found {
			if p, ok := openRouterVendors[vendor]; ok {
				if pi := c.providers[p]; pi != nil {
					if m, by, ok := pi.lookup(rest); ok {
						if by == "exact" {
							by = "alias"
						}
						return m, by, true
					}
				}
			}
		}
	}
	return nil, "", false
}

func (pi *providerIndex) lookup(model string) (*Model, string, bool) {
	if m, ok := pi.exact[model]; ok {
		return m, "exact", true
	}
	if m, ok := pi.aliases[model]; ok {
		return m, "alias", true
	}
	if m, ok := pi.dotted[model]; ok {
		return m, "alias", true
	}
	if hasUpper(model) {
		lower := strings.ToLower(model)
		if m, ok := pi.exact[lower]; ok {
			return m, "exact", true
		}
		if m, ok := pi.aliases[lower]; ok {
			return m, "alias", true
		}
		if m, ok := pi.dotted[lower]; ok {
			return m, "alias", true
		}
	}
	if base, ok := fineTuneBase(model); ok {
		// "ft:gpt-4o-mini-2024-07-18:org:suffix:id" is a fine-tune of the
		// base; it is billed at the base model's fine-tune rates, which the
		// catalogue lists as "ft:<base>".
		if m, _, ok := pi.lookup(base); ok {
			return m, "alias", true
		}
	}
	for _, m := range pi.prefixes {
		if len(model) > len(m.ID)+1 && strings.EqualFold(model[:len(m.ID)], m.ID) && isSnapshotSuffix(model[len(m.ID):]) {
			return m, "prefix", true
		}
	}
	return nil, "", false
}

// fineTuneBase returns "ft:<base>" for an OpenAI fine-tuned model name
// "ft:<base>:<org>[:<suffix>]:<id>".
func fineTuneBase(model string) (string, bool) {
	if len(model) < 4 || !strings.EqualFold(model[:3], "ft:") {
		return "", false
	}
	i := strings.IndexByte(model[3:], ':')
	if i <= 0 {
		return "", false
	}
	return model[:3+i], true
}

// MaxOutputTokens returns the most output tokens one call of the model can
// produce, as the catalogue knows it; ok is false for an unknown model or an
// unknown limit. The data plane uses it to reserve budget before a call.
func (c *Catalogue) MaxOutputTokens(provider, model string) (n int64, ok bool) {
	m, _, found := c.Lookup(provider, model)
	if !found || m.MaxOutputTokens <= 0 {
		return 0, false
	}
	return m.MaxOutputTokens, true
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// isSnapshotSuffix reports whether s (what follows a model id) is a snapshot
// stamp: a separator ('-', '@', ':') then digits, optionally in dash-separated
// groups ("-2024-08-06", "-20250929", "@20240620", "-001").
func isSnapshotSuffix(s string) bool {
	if len(s) < 2 || (s[0] != '-' && s[0] != '@' && s[0] != ':') {
		return false
	}
	prevDash := true
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			prevDash = false
		case c == '-' && !prevDash:
			prevDash = true
		default:
			return false
		}
	}
	return !prevDash
}
