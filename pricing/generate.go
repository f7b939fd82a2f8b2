package pricing

import (
	"fmt"

	"sigs.k8s.io/yaml"
	"sort"
	"strings"
)

// The copy of LiteLLM's price file the shipped catalogue is generated from
// (sources/litellm_model_prices.json). Update the file and these together.
const (
	LiteLLMCopyRef  = "LiteLLM model_prices_and_context_window.json (main, copy of 2026-07-24)"
	LiteLLMCopyDate = "2026-07-24"
)

// GenerateReport says what Generate did, for the reviewer of a generated
// catalogue.
type GenerateReport struct {
	Added     []string // LiteLLM models new to the catalogue
	Corrected []string // LiteLLM-sourced entries whose current price the file corrects
	Conflicts []string // provider or hand entries LiteLLM prices differently (kept, noted)
	// Filled lists what a provider or hand entry took from LiteLLM because
	// it said nothing about it: a long-context tier, a service tier, a cache
	// read rate.
	Filled []string
	// Orphans are entries labelled as LiteLLM-sourced that the file does not
	// have: a reviewer must find their real source.
	Orphans []string
	Skipped int // LiteLLM entries not imported (providers not routed, no per-unit price)
}

// Generate builds the shipped catalogue from the reviewed entries and a copy
// of LiteLLM's price file (ref names the copy: commit or date; date is the
// YYYY-MM-DD it was taken). It is what `go generate ./pricing` runs, so the
// catalogue is reproducible from its inputs:
//
//   - A model the reviewed file does not name is added from LiteLLM, priced
//     from 2024-01-01 (LiteLLM does not say since when).
//   - A reviewed entry sourced from LiteLLM (source_kind litellm, not
//     pinned) takes the file's current rates in place: both describe the
//     price in force now, the file is the newer reading. Reviewed history
//     (closed prices), aliases and classes LiteLLM does not describe stay.
//   - A reviewed entry read from the provider's page or entered by hand, or
//     pinned, wins; where LiteLLM differs the difference is written to its
//     conflict note.
//   - Every entry gets LiteLLM's max_output_tokens where it names none.
func Generate(reviewed *File, litellm []byte, ref, date string) (*File, GenerateReport, error) {
	var rep GenerateReport
	res, err := ImportLiteLLM(litellm, ref, date, "2024-01-01", nil)
	if err != nil {
		return nil, rep, err
	}
	rep.Skipped = len(res.Skipped)
	out := &File{Models: make([]FileModel, len(reviewed.Models))}
	for i, m := range reviewed.Models {
		m.Aliases = append([]string(nil), m.Aliases...)
		m.Prices = append([]FilePrice(nil), m.Prices...)
		out.Models[i] = m
	}
	index, aliasOf := map[string]int{}, map[string]int{}
	for i, m := range out.Models {
		index[m.Provider+"\x00"+strings.ToLower(m.Model)] = i
		for _, a := range m.Aliases {
			aliasOf[m.Provider+"\x00"+strings.ToLower(a)] = i
		}
	}
	inFile := map[int]bool{}
	for _, im := range res.Models {
		name := im.Provider + "/" + im.Model
		k := im.Provider + "\x00" + strings.ToLower(im.Model)
		i, ok := index[k]
		if !ok {
			j, isAlias := aliasOf[k]
			if isAlias {
				inFile[j] = true
				base := &out.Models[j]
				if np := carryHandWritten(im.Prices[0], latest(base)); samePrice(latest(base), &np) || base.SourceKind != SourceLiteLLM || base.Pinned != "" {
					if base.MaxOutputTokens == 0 {
						base.MaxOutputTokens = im.MaxOutputTokens
					}
					continue
				}
				base.Aliases = removeName(base.Aliases, im.Model)
			}
			for _, a := range im.Aliases {
				ak := im.Provider + "\x00" + strings.ToLower(a)
				_, taken := aliasOf[ak]
				_, isModel := index[ak]
				if taken || isModel {
					im.Aliases = removeName(im.Aliases, a)
					continue
				}
				aliasOf[ak] = len(out.Models)
			}
			index[k] = len(out.Models)
			inFile[len(out.Models)] = true
			out.Models = append(out.Models, im)
			rep.Added = append(rep.Added, name)
			continue
		}
		inFile[i] = true
		cur := &out.Models[i]
		for _, a := range im.Aliases {
			ak := im.Provider + "\x00" + strings.ToLower(a)
			if _, taken := aliasOf[ak]; !taken {
				if _, isModel := index[ak]; !isModel {
					cur.Aliases = append(cur.Aliases, a)
					aliasOf[ak] = i
				}
			}
		}
		sort.Strings(cur.Aliases)
		if cur.MaxOutputTokens == 0 {
			cur.MaxOutputTokens = im.MaxOutputTokens
		}
		last := &cur.Prices[len(cur.Prices)-1]
		np := carryHandWritten(im.Prices[0], last)
		np.EffectiveFrom, np.EffectiveTo = last.EffectiveFrom, last.EffectiveTo
		if samePrice(last, &np) {
			if cur.SourceKind == SourceLiteLLM {
				cur.Source, cur.Checked = ref, date
			}
			continue
		}
		changes := priceChanges(last, &np)
		if cur.SourceKind != SourceLiteLLM || cur.Pinned != "" {
			var notes []string
			if filled := fillMissing(last, &im.Prices[0]); len(filled) > 0 {
				d := describeChanges(filled, "here", "LiteLLM")
				rep.Filled = append(rep.Filled, name+": "+d)
				notes = append(notes, fmt.Sprintf("Filled from LiteLLM (%s), which the %s source does not mention: %s.", ref, cur.SourceKind, d))
				np = carryHandWritten(im.Prices[0], last)
				np.EffectiveFrom, np.EffectiveTo = last.EffectiveFrom, last.EffectiveTo
				changes = priceChanges(last, &np)
			}
			if len(changes) > 0 {
				c := fmt.Sprintf("LiteLLM (%s) disagrees: %s; this entry's %s price wins.", ref, describeChanges(changes, "here", "LiteLLM"), cur.SourceKind)
				rep.Conflicts = append(rep.Conflicts, name+": "+c)
				notes = append(notes, c)
			}
			cur.Notes = strings.Join(notes, " ")
			continue
		}
		*last = np
		cur.Source, cur.Checked = ref, date
		rep.Corrected = append(rep.Corrected, name+": "+describeChanges(changes, "was", "now"))
	}
	for i, m := range out.Models {
		if m.SourceKind == SourceLiteLLM && !inFile[i] {
			rep.Orphans = append(rep.Orphans, m.Provider+"/"+m.Model)
		}
	}
	sort.Slice(out.Models, func(i, j int) bool {
		a, b := out.Models[i], out.Models[j]
		if a.Provider != b.Provider {
			return a.Provider < b.Provider
		}
		return a.Model < b.Model
	})
	if _, err := FromFile(out); err != nil {
		return nil, rep, fmt.Errorf("pricing: generated catalogue does not validate: %w", err)
	}
	return out, rep, nil
}

// describeChanges writes changes as "input 3 (was) → 2.5 (now), ...".
func describeChanges(ch []Change, oldLabel, newLabel string) string {
	parts := make([]string, 0, len(ch))
	for _, c := range ch {
		o, n := c.Old, c.New
		if o == "" {
			o = "none"
		}
		if n == "" {
			n = "none"
		}
		parts = append(parts, fmt.Sprintf("%s %s (%s) → %s (%s)", c.Field, o, oldLabel, n, newLabel))
	}
	return strings.Join(parts, ", ")
}

// fillMissing copies into a reviewed price what LiteLLM describes and the
// reviewed price does not mention at all, so a provider-page entry does not
// lose a tier or a cache rate its reviewer did not transcribe: the
// long-context tier, the priority and flex tiers, and the cache read rate
// (without it cached input would be billed at the full input rate). Rates
// the reviewed price sets are never touched; per-search and per-request
// prices are not copied (Perplexity's request fees already cover searches).
func fillMissing(cur *FilePrice, im *FilePrice) []Change {
	var out []Change
	note := func(field, v string) { out = append(out, Change{Field: field, New: normDecimal(v)}) }
	if cur.LongContext == nil && im.LongContext != nil {
		lc := *im.LongContext
		cur.LongContext = &lc
		note("long_context.above_input_tokens", fmt.Sprint(lc.AboveInputTokens))
	}
	if len(cur.Priority) == 0 && len(im.Priority) > 0 {
		cur.Priority = im.Priority
		note("priority.input", im.Priority["input"])
	}
	if len(cur.Flex) == 0 && len(im.Flex) > 0 {
		cur.Flex = im.Flex
		note("flex.input", im.Flex["input"])
	}
	if _, has := cur.Rates["cached_input"]; !has {
		if v, ok := im.Rates["cached_input"]; ok {
			rates := make(map[string]string, len(cur.Rates)+1)
			for k, r := range cur.Rates {
				rates[k] = r
			}
			rates["cached_input"] = v
			cur.Rates = rates
			note("cached_input", v)
		}
	}
	return out
}

const generatedHeader = `# spendgate pricing catalogue. GENERATED by 'go generate ./pricing' from
# sources/reviewed.yaml and sources/litellm_model_prices.json; do not edit:
# change the reviewed entries (or update the LiteLLM copy) and regenerate.
# Rates are exact decimal USD per 1,000,000 units of a usage class (input,
# cached_input, cache_write_5m, cache_write_1h, output, reasoning, audio_input,
# audio_output, image_input, image_output, web_searches, characters, seconds,
# images). Every entry names its source, source_kind and the date it was checked.
`

// MarshalGenerated writes a generated catalogue as catalogue.yaml holds it.
func MarshalGenerated(f *File) ([]byte, error) {
	body, err := yaml.Marshal(f)
	if err != nil {
		return nil, err
	}
	return append([]byte(generatedHeader), body...), nil
}
