package usage

import "github.com/tidwall/gjson"

// Hints are facts a usage object carries beside its counts that select a
// price rather than a quantity.
type Hints struct {
	// ServiceTier is the tier the provider says it served the call at:
	// Anthropic's usage.service_tier ("standard", "priority", "batch").
	ServiceTier string
	// SearchContextSize is Perplexity's usage.search_context_size ("low",
	// "medium", "high"), which sets the per-request fee.
	SearchContextSize string
}

// ParseHints reads the pricing hints of a usage object (any provider's shape;
// absent fields stay empty, and anything that is not an object has none).
func ParseHints(obj []byte) Hints {
	if !gjson.ValidBytes(obj) {
		return Hints{}
	}
	u := gjson.ParseBytes(obj)
	if !u.IsObject() {
		return Hints{}
	}
	var h Hints
	if v := Get(u, "service_tier"); v.Type == gjson.String {
		h.ServiceTier = v.Str
	}
	if v := Get(u, "search_context_size"); v.Type == gjson.String {
		h.SearchContextSize = v.Str
	}
	return h
}
