package pricing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/spendgate/spendgate/money"
)

// LiteLLM's model_prices_and_context_window.json maps a model name to an
// object of per-unit USD costs. This importer turns it into catalogue models.

// litellmProviders maps litellm_provider values to catalogue providers, in
// order of preference when two entries name the same model.
var litellmProviders = map[string]struct {
	provider string
	rank     int
}{
	"openai": {"openai", 0}, "text-completion-openai": {"openai", 1}, "anthropic": {"anthropic", 0},
	"gemini": {"gemini", 0}, "vertex_ai-language-models": {"gemini", 1}, "vertex_ai-embedding-models": {"gemini", 1},
	"xai":      {"xai", 0},
	"deepseek": {"deepseek", 0}, "groq": {"groq", 0}, "deepinfra": {"deepinfra", 0}, "novita": {"novita", 0},
	"fireworks_ai": {"fireworks", 0}, "perplexity": {"perplexity", 0}, "cerebras": {"cerebras", 0},
	"mistral": {"mistral", 0}, "nebius": {"nebius", 0}, "openrouter": {"openrouter", 0},
}

// litellmField maps one LiteLLM cost field to a usage class. Lists are
// ordered: when two fields name the same class, the first one present wins.
type litellmField struct{ field, class string }

var litellmBase = []litellmField{
	{"input_cost_per_token", "input"}, {"output_cost_per_token", "output"},
	{"cache_read_input_token_cost", "cached_input"}, {"input_cost_per_token_cache_hit", "cached_input"},
	{"cache_creation_input_token_cost", "cache_write_5m"}, {"cache_creation_input_token_cost_above_1hr", "cache_write_1h"},
	{"output_cost_per_reasoning_token", "reasoning"},
	{"input_cost_per_audio_token", "audio_input"}, {"output_cost_per_audio_token", "audio_output"},
	{"input_cost_per_image_token", "image_input"}, {"output_cost_per_image_token", "image_output"},
	{"output_cost_per_image", "images"}, {"input_cost_per_character", "characters"},
	{"input_cost_per_second", "seconds"}, {"input_cost_per_audio_per_second", "seconds"},
}

var litellmVariant = []struct {
	name   string
	fields []litellmField
}{
	{"batch", []litellmField{{"input_cost_per_token_batches", "input"}, {"output_cost_per_token_batches", "output"}}},
	{"priority", []litellmField{{"input_cost_per_token_priority", "input"}, {"output_cost_per_token_priority", "output"},
		{"cache_read_input_token_cost_priority", "cached_input"}, {"cache_creation_input_token_cost_priority", "cache_write_5m"},
		{"input_cost_per_audio_token_priority", "audio_input"}}},
	{"flex", []litellmField{{"input_cost_per_token_flex", "input"}, {"output_cost_per_token_flex", "output"},
		{"cache_read_input_token_cost_flex", "cached_input"}, {"cache_creation_input_token_cost_flex", "cache_write_5m"}}},
}

// litellmTierFields are the long-context fields, written as base field +
// threshold suffix (+ "_priority" for the priority tier's rates).
var litellmTierFields = []litellmField{
	{"input_cost_per_token", "input"}, {"output_cost_per_token", "output"},
	{"cache_read_input_token_cost", "cached_input"}, {"cache_creation_input_token_cost", "cache_write_5m"},
	{"cache_creation_input_token_cost_above_1hr", "cache_write_1h"},
}

var litellmLongContext = []struct {
	suffix string
	above  int64
}{{"_above_200k_tokens", 200_000}, {"_above_272k_tokens", 272_000}, {"_above_128k_tokens", 128_000}}

// litellmKnownFields are the cost fields the importer reads; any other field
// with "cost" in its name is reported as ignored so a reviewer sees what the
// catalogue cannot express.
var litellmKnownFields = func() map[string]bool {
	known := map[string]bool{"search_context_cost_per_query": true, "input_cost_per_query": true}
	for _, f := range litellmBase {
		known[f.field] = true
	}
	for _, v := range litellmVariant {
		for _, f := range v.fields {
			known[f.field] = true
		}
	}
	for _, lc := range litellmLongContext {
		for _, f := range litellmTierFields {
			known[f.field+lc.suffix] = true
			known[f.field+lc.suffix+"_priority"] = true
		}
	}
	return known
}()

// ImportResult is the outcome of reading a LiteLLM file.
type ImportResult struct {
	Models  []FileModel
	Skipped []string // "name: reason"
	// Ignored lists cost fields of imported entries that the catalogue
	// format cannot express, as "field (N entries)", sorted.
	Ignored []string
}

// ImportLiteLLM converts LiteLLM's format into catalogue models. checked is the
// YYYY-MM-DD date stamped on every entry, effectiveFrom the date its prices
// start. progress, when not nil, is called after each entry.
func ImportLiteLLM(data []byte, source, checked, effectiveFrom string, progress func(done, total int)) (*ImportResult, error) {
	if _, err := time.Parse(time.DateOnly, checked); err != nil {
		return nil, fmt.Errorf("pricing: checked must be a YYYY-MM-DD date: %q", checked)
	}
	if _, err := parseTime(effectiveFrom); err != nil {
		return nil, fmt.Errorf("pricing: effective_from: %w", err)
	}
	if strings.TrimSpace(source) == "" {
		return nil, fmt.Errorf("pricing: a source is required for imported prices")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var top map[string]json.RawMessage
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("pricing: not a LiteLLM price file (want an object of model objects): %w", err)
	}
	// Model entries are objects; the file also carries metadata such as
	// "last_updated", which is not a model.
	raw := make(map[string]map[string]any, len(top))
	for name, body := range top {
		if len(body) == 0 || body[0] != '{' {
			continue
		}
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		var e map[string]any
		if err := d.Decode(&e); err != nil {
			return nil, fmt.Errorf("pricing: LiteLLM entry %q: %w", name, err)
		}
		raw[name] = e
	}
	names := make([]string, 0, len(raw))
	for n := range raw {
		names = append(names, n)
	}
	sort.Strings(names)
	type pick struct {
		m    FileModel
		rank int
	}
	picked := map[string]pick{}
	ignored := map[string]int{}
	res := &ImportResult{}
	for i, name := range names {
		if progress != nil {
			progress(i+1, len(names))
		}
		entry := raw[name]
		if name == "sample_spec" || entry == nil {
			continue
		}
		lp, _ := entry["litellm_provider"].(string)
		prov, ok := litellmProviders[lp]
		if !ok {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s: provider %q is not one spendgate routes", name, lp))
			continue
		}
		id := stripProviderPrefix(name, lp, prov.provider)
		fp, err := litellmPrice(entry, effectiveFrom)
		if err != nil {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		if err := litellmUnitPrices(entry, &fp); err != nil {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		if len(fp.Rates) == 0 {
			if fp.RequestFee == "" {
				res.Skipped = append(res.Skipped, name+": no per-unit prices")
				continue
			}
			// A per-request API (Perplexity's Search API): the fee is the
			// price; a zero input rate makes the entry a valid price.
			fp.Rates["input"] = "0"
		}
		for field := range entry {
			if strings.Contains(field, "cost") && !litellmKnownFields[field] {
				ignored[field]++
			}
		}
		m := FileModel{Provider: prov.provider, Model: id, Source: source, SourceKind: SourceLiteLLM, Checked: checked,
			MaxOutputTokens: litellmMaxOutput(entry), Prices: []FilePrice{fp}}
		if _, err := buildModel(&m); err != nil {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		k := prov.provider + "\x00" + strings.ToLower(id)
		if prev, ok := picked[k]; ok && prev.rank <= prov.rank {
			continue
		}
		picked[k] = pick{m, prov.rank}
	}
	for _, p := range picked {
		res.Models = append(res.Models, p.m)
	}
	for field, n := range ignored {
		res.Ignored = append(res.Ignored, fmt.Sprintf("%s (%d entries)", field, n))
	}
	sort.Strings(res.Ignored)
	res.Models = collapseSnapshots(res.Models)
	sort.Slice(res.Models, func(i, j int) bool {
		a, b := res.Models[i], res.Models[j]
		if a.Provider != b.Provider {
			return a.Provider < b.Provider
		}
		return a.Model < b.Model
	})
	return res, nil
}

// litellmMaxOutput reads an entry's output limit: max_output_tokens, or
// max_tokens, which older entries use for it; 0 when neither is a positive
// integer.
func litellmMaxOutput(e map[string]any) int64 {
	for _, f := range []string{"max_output_tokens", "max_tokens"} {
		if n, ok := e[f].(json.Number); ok {
			if v, err := n.Int64(); err == nil && v > 0 {
				return v
			}
		}
	}
	return 0
}

func stripProviderPrefix(name, litellmProvider, provider string) string {
	for _, p := range []string{litellmProvider + "/", provider + "/"} {
		if strings.HasPrefix(name, p) {
			return name[len(p):]
		}
	}
	return name
}

// perMillion converts LiteLLM's per-unit USD number into the catalogue's USD
// per million units, exactly, as a decimal string.
func perMillion(v any) (string, error) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	default:
		return "", fmt.Errorf("not a number: %v", v)
	}
	n, err := money.ParseScaled(s, 15) // USD/unit → nano-USD per million units
	if err != nil {
		return "", fmt.Errorf("%q: %w", s, err)
	}
	return money.FormatNano(n), nil
}

func litellmPrice(e map[string]any, effectiveFrom string) (FilePrice, error) {
	fp := FilePrice{EffectiveFrom: effectiveFrom, Rates: map[string]string{}}
	read := func(fields []litellmField, suffix string) (map[string]string, error) {
		m := map[string]string{}
		for _, f := range fields {
			v, ok := e[f.field+suffix]
			if !ok || v == nil {
				continue
			}
			s, err := perMillion(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.field+suffix, err)
			}
			if _, exists := m[f.class]; !exists {
				m[f.class] = s
			}
		}
		return m, nil
	}
	var err error
	if fp.Rates, err = read(litellmBase, ""); err != nil {
		return fp, err
	}
	// LiteLLM writes 0 as the cache read rate of some models it has no rate
	// for; no provider serves cache hits free while charging for input, so
	// a zero there is read as "unknown" and cache reads fall back to the
	// input rate (over-billing is found and fixed, a silent zero is not).
	if fp.Rates["cached_input"] == "0" && fp.Rates["input"] != "" && fp.Rates["input"] != "0" {
		delete(fp.Rates, "cached_input")
	}
	if q, ok := e["search_context_cost_per_query"].(map[string]any); ok {
		if v, ok := q["search_context_size_medium"]; ok {
			s, err := perMillion(v)
			if err != nil {
				return fp, fmt.Errorf("search_context_cost_per_query: %w", err)
			}
			fp.Rates["web_searches"] = s
		}
	}
	for _, v := range litellmVariant {
		m, err := read(v.fields, "")
		if err != nil {
			return fp, err
		}
		if len(m) == 0 {
			continue
		}
		switch v.name {
		case "batch":
			fp.Batch = m
		case "priority":
			fp.Priority = m
		case "flex":
			fp.Flex = m
		}
	}
	for _, lc := range litellmLongContext {
		m, err := read(litellmTierFields, lc.suffix)
		if err != nil {
			return fp, err
		}
		if len(m) == 0 {
			continue
		}
		fp.LongContext = &FileTier{AboveInputTokens: lc.above, Rates: m}
		pr, err := read(litellmTierFields, lc.suffix+"_priority")
		if err != nil {
			return fp, err
		}
		if len(pr) > 0 {
			fp.LongContext.Priority = pr
		}
		break
	}
	return fp, nil
}

// SyncReport says what a sync changed.
type SyncReport struct {
	Added, Changed, Unchanged []string
	// Pinned lists models the import prices differently but a reviewer
	// pinned; they are kept as they are.
	Pinned []string
}

// Sync merges imported models into a catalogue file. A model whose latest
// rates differ gets a new price effective from effectiveFrom and its previous
// price is closed then, so re-pricing the past reproduces past costs. Models
// only in the current file are kept; aliases, hand-written fields and rates of
// classes the import does not mention are preserved (a sync adds and changes
// rates, it never drops one). Pinned models are never changed.
func Sync(current *File, imported []FileModel, effectiveFrom string) (*File, SyncReport) {
	var rep SyncReport
	out := &File{Models: append([]FileModel(nil), current.Models...)}
	index := map[string]int{}
	aliasOf := map[string]int{}
	for i, m := range out.Models {
		index[m.Provider+"\x00"+strings.ToLower(m.Model)] = i
		for _, a := range m.Aliases {
			aliasOf[m.Provider+"\x00"+strings.ToLower(a)] = i
		}
	}
	for _, im := range imported {
		name := im.Provider + "/" + im.Model
		k := im.Provider + "\x00" + strings.ToLower(im.Model)
		i, ok := index[k]
		if !ok {
			if j, isAlias := aliasOf[k]; isAlias {
				base := &out.Models[j]
				np := carryHandWritten(im.Prices[0], &base.Prices[len(base.Prices)-1])
				if samePrice(&base.Prices[len(base.Prices)-1], &np) {
					rep.Unchanged = append(rep.Unchanged, name)
					continue
				}
				// The snapshot is now priced apart from its base model: it
				// stops being an alias and becomes a model of its own.
				base.Aliases = removeName(base.Aliases, im.Model)
				rep.Added = append(rep.Added, name+" (was an alias of "+base.Model+")")
			} else {
				rep.Added = append(rep.Added, name)
			}
			index[k] = len(out.Models)
			out.Models = append(out.Models, im)
			continue
		}
		cur := &out.Models[i]
		last := &cur.Prices[len(cur.Prices)-1]
		im.Prices = []FilePrice{carryHandWritten(im.Prices[0], last)}
		if samePrice(last, &im.Prices[0]) {
			rep.Unchanged = append(rep.Unchanged, name)
			continue
		}
		if cur.Pinned != "" {
			rep.Pinned = append(rep.Pinned, name+" ("+cur.Pinned+")")
			continue
		}
		if cur.SourceKind == SourceProvider || cur.SourceKind == SourceHand {
			// The provider's page (or a reviewer's reasoned entry) wins over
			// an import; the difference is listed for review.
			rep.Pinned = append(rep.Pinned, name+" (source_kind "+cur.SourceKind+": "+cur.Source+")")
			continue
		}
		prices := append([]FilePrice(nil), cur.Prices...)
		if last.EffectiveFrom == effectiveFrom {
			prices[len(prices)-1] = im.Prices[0]
		} else {
			prices[len(prices)-1].EffectiveTo = effectiveFrom
			np := im.Prices[0]
			np.EffectiveFrom = effectiveFrom
			prices = append(prices, np)
		}
		cur.Prices = prices
		cur.Checked = im.Checked
		cur.Source = im.Source
		cur.SourceKind = im.SourceKind
		if im.MaxOutputTokens > 0 {
			cur.MaxOutputTokens = im.MaxOutputTokens
		}
		rep.Changed = append(rep.Changed, name)
	}
	sort.Slice(out.Models, func(i, j int) bool {
		a, b := out.Models[i], out.Models[j]
		if a.Provider != b.Provider {
			return a.Provider < b.Provider
		}
		return a.Model < b.Model
	})
	return out, rep
}

// carryHandWritten keeps what LiteLLM does not describe and a reviewer added
// by hand to the current price: the batch multiplier, request fees, rates of
// classes the import does not mention (web searches, per-second or
// per-character rates, the 1h cache write above 200k tokens, ...).
func carryHandWritten(im FilePrice, cur *FilePrice) FilePrice {
	if im.BatchMultiplier == "" {
		im.BatchMultiplier = cur.BatchMultiplier
	}
	if im.RequestFee == "" {
		im.RequestFee = cur.RequestFee
	}
	if len(im.RequestFeeBySearchContext) == 0 {
		im.RequestFeeBySearchContext = cur.RequestFeeBySearchContext
	}
	im.Rates = mergeRates(cur.Rates, im.Rates)
	im.Batch = mergeRates(cur.Batch, im.Batch)
	im.Priority = mergeRates(cur.Priority, im.Priority)
	im.Flex = mergeRates(cur.Flex, im.Flex)
	switch {
	case im.LongContext == nil && cur.LongContext != nil:
		im.LongContext = cur.LongContext
	case im.LongContext != nil && cur.LongContext != nil && im.LongContext.AboveInputTokens == cur.LongContext.AboveInputTokens:
		im.LongContext = &FileTier{
			AboveInputTokens: im.LongContext.AboveInputTokens,
			Rates:            mergeRates(cur.LongContext.Rates, im.LongContext.Rates),
			Priority:         mergeRates(cur.LongContext.Priority, im.LongContext.Priority),
		}
	}
	return im
}

// mergeRates returns the imported rates plus the current classes they lack.
func mergeRates(cur, im map[string]string) map[string]string {
	if len(cur) == 0 {
		return im
	}
	out := make(map[string]string, len(cur)+len(im))
	for k, v := range cur {
		out[k] = v
	}
	for k, v := range im {
		out[k] = v
	}
	return out
}

func removeName(names []string, name string) []string {
	var out []string
	for _, n := range names {
		if !strings.EqualFold(n, name) {
			out = append(out, n)
		}
	}
	return out
}

func samePrice(a, b *FilePrice) bool {
	pa, err1 := buildPrice(a)
	pb, err2 := buildPrice(b)
	if err1 != nil || err2 != nil {
		return false
	}
	pa.EffectiveFrom, pa.EffectiveTo, pb.EffectiveFrom, pb.EffectiveTo = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return reflect.DeepEqual(pa, pb)
}

// collapseSnapshots turns dated snapshots ("gpt-4o-2024-08-06",
// "claude-sonnet-4-5-20250929") whose price equals their base model's into
// aliases of the base, so the catalogue lists each price once. Snapshots with a
// different price stay models of their own.
func collapseSnapshots(models []FileModel) []FileModel {
	index := map[string]int{}
	for i, m := range models {
		index[m.Provider+"\x00"+m.Model] = i
	}
	drop := map[int]bool{}
	for i, m := range models {
		base, ok := snapshotBase(m.Model)
		if !ok {
			continue
		}
		j, ok := index[m.Provider+"\x00"+base]
		if !ok || !samePrice(&models[j].Prices[0], &m.Prices[0]) {
			continue
		}
		models[j].Aliases = append(models[j].Aliases, m.Model)
		drop[i] = true
	}
	out := models[:0]
	for i, m := range models {
		if !drop[i] {
			sort.Strings(m.Aliases)
			out = append(out, m)
		}
	}
	return out
}

// snapshotBase strips a trailing date ("-2024-08-06", "-20250929", "-0125")
// and returns the base name.
func snapshotBase(name string) (string, bool) {
	isDigits := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return s != ""
	}
	if n := len(name); n > 11 && name[n-11] == '-' && name[n-6] == '-' && name[n-3] == '-' &&
		isDigits(name[n-10:n-6]) && isDigits(name[n-5:n-3]) && isDigits(name[n-2:]) {
		return name[:n-11], true
	}
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if suffix := name[i+1:]; (len(suffix) == 8 || len(suffix) == 4) && isDigits(suffix) {
			return name[:i], true
		}
	}
	return "", false
}

// CloseMissing ends, at effectiveFrom, the current price of every
// LiteLLM-sourced, unpinned model of f that imported no longer lists (by id
// or alias), and returns their names. providers limits it to the providers
// the import covered (nil: all). History stays, so events before the
// end are still priced; a model whose current price starts at or after
// effectiveFrom is left alone.
func CloseMissing(f *File, imported []FileModel, providers map[string]bool, effectiveFrom string) []string {
	at, err := parseTime(effectiveFrom)
	if err != nil {
		return nil
	}
	listed := map[string]bool{}
	for _, m := range imported {
		listed[m.Provider+"\x00"+strings.ToLower(m.Model)] = true
		for _, a := range m.Aliases {
			listed[m.Provider+"\x00"+strings.ToLower(a)] = true
		}
	}
	var closed []string
	for i := range f.Models {
		m := &f.Models[i]
		if providers != nil && !providers[m.Provider] {
			continue
		}
		if m.SourceKind != SourceLiteLLM || m.Pinned != "" || listed[m.Provider+"\x00"+strings.ToLower(m.Model)] {
			continue
		}
		last := &m.Prices[len(m.Prices)-1]
		from, err := parseTime(last.EffectiveFrom)
		if last.EffectiveTo != "" || err != nil || !from.Before(at) {
			continue
		}
		prices := append([]FilePrice(nil), m.Prices...)
		prices[len(prices)-1].EffectiveTo = effectiveFrom
		m.Prices = prices
		closed = append(closed, m.Provider+"/"+m.Model)
	}
	return closed
}

// litellmUnitPrices reads the non-token prices whose meaning depends on the
// entry's mode: an image generation model's input_cost_per_image is the
// price of each generated image (LiteLLM's name for dall-e-3's $0.04), and
// input_cost_per_query is a per-request fee (Perplexity's Search API).
func litellmUnitPrices(e map[string]any, fp *FilePrice) error {
	if e["mode"] == "image_generation" {
		if v, ok := e["input_cost_per_image"]; ok && v != nil && fp.Rates["images"] == "" {
			s, err := perMillion(v)
			if err != nil {
				return fmt.Errorf("input_cost_per_image: %w", err)
			}
			fp.Rates["images"] = s
		}
	}
	if v, ok := e["input_cost_per_query"].(json.Number); ok {
		n, err := money.ParseScaled(v.String(), 9)
		if err != nil {
			return fmt.Errorf("input_cost_per_query: %w", err)
		}
		fp.RequestFee = money.FormatNano(n)
	}
	return nil
}
