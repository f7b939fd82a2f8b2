package pricing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// CoverageModes are the LiteLLM modes that count as chat models for
// coverage: the chat completions and responses endpoints.
var CoverageModes = map[string]bool{"chat": true, "responses": true}

// ProviderCoverage is the coverage of one provider's chat models.
type ProviderCoverage struct {
	Provider       string   `json:"provider"`
	Total, Covered int      `json:"-"`
	Missing        []string `json:"missing,omitempty"`
}

// CoverageReport says how many of a LiteLLM file's priced chat models of the
// providers spendgate prices the catalogue can price.
type CoverageReport struct {
	Total, Covered int
	Providers      []ProviderCoverage // sorted by provider
}

// Percent is the covered share in hundredths of a percent (9512 = 95.12 %),
// an integer so a threshold compares exactly.
func (r CoverageReport) Percent() int {
	if r.Total == 0 {
		return 0
	}
	return r.Covered * 10_000 / r.Total
}

// Coverage measures which of a LiteLLM price file's priced chat models the
// catalogue prices at time at: an entry counts when its litellm_provider is
// one spendgate routes, its mode is chat or responses and it has a per-token
// input or output price; it is covered when the name a client would send
// (LiteLLM's key without its provider prefix) looks up to a model with a
// price in force at at.
func Coverage(c *Catalogue, litellm []byte, at time.Time) (CoverageReport, error) {
	dec := json.NewDecoder(bytes.NewReader(litellm))
	dec.UseNumber()
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return CoverageReport{}, fmt.Errorf("pricing: coverage: not a LiteLLM price file: %w", err)
	}
	by := map[string]*ProviderCoverage{}
	var rep CoverageReport
	for name, body := range raw {
		var e struct {
			Provider string `json:"litellm_provider"`
			Mode     string `json:"mode"`
			In       any    `json:"input_cost_per_token"`
			Out      any    `json:"output_cost_per_token"`
		}
		if json.Unmarshal(body, &e) != nil {
			continue // sample_spec and other non-entries
		}
		prov, ok := litellmProviders[e.Provider]
		if !ok || !CoverageModes[e.Mode] || (e.In == nil && e.Out == nil) {
			continue
		}
		pc := by[prov.provider]
		if pc == nil {
			pc = &ProviderCoverage{Provider: prov.provider}
			by[prov.provider] = pc
		}
		pc.Total++
		rep.Total++
		id := stripProviderPrefix(name, e.Provider, prov.provider)
		if m, _, ok := c.Lookup(prov.provider, id); ok {
			if _, ok := m.PriceAt(at); ok {
				pc.Covered++
				rep.Covered++
				continue
			}
		}
		pc.Missing = append(pc.Missing, id)
	}
	for _, pc := range by {
		sort.Strings(pc.Missing)
		rep.Providers = append(rep.Providers, *pc)
	}
	sort.Slice(rep.Providers, func(i, j int) bool { return rep.Providers[i].Provider < rep.Providers[j].Provider })
	return rep, nil
}
