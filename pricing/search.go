package pricing

import (
	"sort"
	"strings"
)

// Search finds catalogue models whose provider, id or an alias contains
// query (case-insensitive; empty matches all), optionally of one provider, at
// most limit. Exact matches of the id or an alias come first, then ids that
// start with the query, then the rest, each in catalogue order (provider,
// id), so "gpt-4o-mini" finds gpt-4o-mini before its fine-tunes.
func (c *Catalogue) Search(query, provider string, limit int) []*Model {
	q := strings.ToLower(strings.TrimSpace(query))
	var out []*Model
	var rank []int
	for _, m := range c.models {
		if provider != "" && m.Provider != provider {
			continue
		}
		r := 0
		if q != "" {
			if r = searchRank(m, q); r < 0 {
				continue
			}
		}
		out = append(out, m)
		rank = append(rank, r)
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return rank[idx[a]] < rank[idx[b]] })
	sorted := make([]*Model, len(out))
	for i, j := range idx {
		sorted[i] = out[j]
	}
	if limit > 0 && len(sorted) > limit {
		sorted = sorted[:limit]
	}
	return sorted
}

// searchRank is 0 for an exact id or alias, 1 for an id starting with q, 2
// for any other match and -1 for none.
func searchRank(m *Model, q string) int {
	id := strings.ToLower(m.ID)
	if id == q {
		return 0
	}
	best := -1
	for _, a := range m.Aliases {
		la := strings.ToLower(a)
		if la == q {
			return 0
		}
		if strings.Contains(la, q) {
			best = 2
		}
	}
	switch {
	case strings.HasPrefix(id, q):
		return 1
	case strings.Contains(id, q) || strings.Contains(strings.ToLower(m.Provider), q):
		return 2
	}
	return best
}
