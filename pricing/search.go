package pricing

import "strings"

// Search finds catalogue models whose provider, id or an alias contains
// query (case-insensitive; empty matches all), optionally of one provider,
// in catalogue order (provider, id), at most limit.
func (c *Catalogue) Search(query, provider string, limit int) []*Model {
	q := strings.ToLower(strings.TrimSpace(query))
	var out []*Model
	for _, m := range c.models {
		if provider != "" && m.Provider != provider {
			continue
		}
		if q != "" && !searchMatches(m, q) {
			continue
		}
		out = append(out, m)
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

func searchMatches(m *Model, q string) bool {
	if strings.Contains(strings.ToLower(m.ID), q) || strings.Contains(strings.ToLower(m.Provider), q) {
		return true
	}
	for _, a := range m.Aliases {
		if strings.Contains(strings.ToLower(a), q) {
			return true
		}
	}
	return false
}
