package pricing

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/spendgate/spendgate/money"
)

// Change is one field of a model that differs between two catalogues, with
// its old and new value ("" where the field is absent). Rates are USD per
// million units (per unit for the characters, seconds, images and web
// searches classes is the same number divided by a million; see
// UnitOfClass), request fees USD per request.
type Change struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// ModelDiff is how one model differs between two catalogues.
type ModelDiff struct {
	Provider string   `json:"provider"`
	Model    string   `json:"model"`
	Changes  []Change `json:"changes,omitempty"`
	// EffectiveFrom is when the new price starts (changed and added models)
	// or when the old one ends (removed models).
	EffectiveFrom string `json:"effective_from,omitempty"`
}

// CatalogueDiff is what a proposed catalogue changes: models added, models
// whose current price, limits or aliases change, and models no longer priced.
type CatalogueDiff struct {
	Added   []ModelDiff `json:"added"`
	Changed []ModelDiff `json:"changed"`
	Removed []ModelDiff `json:"removed"`
}

// Empty reports whether the diff changes nothing.
func (d *CatalogueDiff) Empty() bool {
	return len(d.Added) == 0 && len(d.Changed) == 0 && len(d.Removed) == 0
}

// Summary is a one-line count of the diff.
func (d *CatalogueDiff) Summary() string {
	return fmt.Sprintf("%d added, %d changed, %d removed", len(d.Added), len(d.Changed), len(d.Removed))
}

// Diff compares the current (latest) price of every model of two catalogue
// files. A model whose latest price in next is closed (effective_to set)
// while it was open in cur counts as removed: its history stays, so events
// before the end are still priced.
func Diff(cur, next *File) CatalogueDiff {
	key := func(m *FileModel) string { return m.Provider + "\x00" + strings.ToLower(m.Model) }
	old := map[string]*FileModel{}
	for i := range cur.Models {
		old[key(&cur.Models[i])] = &cur.Models[i]
	}
	var d CatalogueDiff
	seen := map[string]bool{}
	for i := range next.Models {
		n := &next.Models[i]
		k := key(n)
		seen[k] = true
		nl := latest(n)
		o, ok := old[k]
		if !ok {
			d.Added = append(d.Added, ModelDiff{Provider: n.Provider, Model: n.Model, EffectiveFrom: nl.EffectiveFrom,
				Changes: modelChanges(&FileModel{}, &FilePrice{}, n, nl)})
			continue
		}
		ol := latest(o)
		if ol.EffectiveTo == "" && nl.EffectiveTo != "" {
			d.Removed = append(d.Removed, ModelDiff{Provider: n.Provider, Model: n.Model, EffectiveFrom: nl.EffectiveTo,
				Changes: modelChanges(o, ol, &FileModel{}, &FilePrice{})})
			continue
		}
		if ch := modelChanges(o, ol, n, nl); len(ch) > 0 {
			d.Changed = append(d.Changed, ModelDiff{Provider: n.Provider, Model: n.Model, EffectiveFrom: nl.EffectiveFrom, Changes: ch})
		}
	}
	for i := range cur.Models {
		o := &cur.Models[i]
		if !seen[key(o)] {
			d.Removed = append(d.Removed, ModelDiff{Provider: o.Provider, Model: o.Model, Changes: modelChanges(o, latest(o), &FileModel{}, &FilePrice{})})
		}
	}
	for _, l := range []*[]ModelDiff{&d.Added, &d.Changed, &d.Removed} {
		sort.Slice(*l, func(i, j int) bool {
			a, b := (*l)[i], (*l)[j]
			if a.Provider != b.Provider {
				return a.Provider < b.Provider
			}
			return a.Model < b.Model
		})
	}
	return d
}

func latest(m *FileModel) *FilePrice {
	if len(m.Prices) == 0 {
		return &FilePrice{}
	}
	last := &m.Prices[0]
	for i := range m.Prices {
		if m.Prices[i].EffectiveFrom > last.EffectiveFrom {
			last = &m.Prices[i]
		}
	}
	return last
}

// modelChanges lists the fields that differ between two models' given
// prices, limits and aliases.
func modelChanges(om *FileModel, op *FilePrice, nm *FileModel, np *FilePrice) []Change {
	out := priceChanges(op, np)
	if om.MaxOutputTokens != nm.MaxOutputTokens {
		out = append(out, Change{Field: "max_output_tokens", Old: intOrEmpty(om.MaxOutputTokens), New: intOrEmpty(nm.MaxOutputTokens)})
	}
	if a, b := strings.Join(sortedCopy(om.Aliases), ", "), strings.Join(sortedCopy(nm.Aliases), ", "); a != b {
		out = append(out, Change{Field: "aliases", Old: a, New: b})
	}
	return out
}

func intOrEmpty(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// priceChanges lists the rate fields that differ between two prices, each
// value normalised ("3.0" equals "3").
func priceChanges(a, b *FilePrice) []Change {
	fa, fb := flattenPrice(a), flattenPrice(b)
	var fields []string
	for f := range fa {
		fields = append(fields, f)
	}
	for f := range fb {
		if _, ok := fa[f]; !ok {
			fields = append(fields, f)
		}
	}
	sort.Strings(fields)
	var out []Change
	for _, f := range fields {
		if fa[f] != fb[f] {
			out = append(out, Change{Field: f, Old: fa[f], New: fb[f]})
		}
	}
	return out
}

// flattenPrice writes a price as field → normalised value: "input",
// "batch.output", "long_context.cached_input", "request_fee", ...
func flattenPrice(p *FilePrice) map[string]string {
	out := map[string]string{}
	put := func(prefix string, rates map[string]string) {
		for c, v := range rates {
			out[prefix+c] = normDecimal(v)
		}
	}
	put("", p.Rates)
	put("batch.", p.Batch)
	put("priority.", p.Priority)
	put("flex.", p.Flex)
	if p.BatchMultiplier != "" {
		out["batch_multiplier"] = normDecimal(p.BatchMultiplier)
	}
	if lc := p.LongContext; lc != nil {
		out["long_context.above_input_tokens"] = strconv.FormatInt(lc.AboveInputTokens, 10)
		put("long_context.", lc.Rates)
		put("long_context.priority.", lc.Priority)
	}
	if p.RequestFee != "" {
		out["request_fee"] = normDecimal(p.RequestFee)
	}
	for size, v := range p.RequestFeeBySearchContext {
		out["request_fee."+size] = normDecimal(v)
	}
	return out
}

func normDecimal(s string) string {
	n, err := money.ParseScaled(s, 9)
	if err != nil {
		return s
	}
	return money.FormatNano(n)
}
