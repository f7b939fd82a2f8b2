package billing

import (
	"slices"
	"sort"
	"strings"
)

// nanoPerCent is one US cent in nano-USD.
const nanoPerCent = 10_000_000

// RoundCents rounds nano-USD to whole cents, half away from zero: the one
// rounding rule of billing (see docs/billing.md).
func RoundCents(n int64) int64 {
	q, r := n/nanoPerCent, n%nanoPerCent
	switch {
	case r >= nanoPerCent/2:
		q++
	case r <= -nanoPerCent/2:
		q--
	}
	return q * nanoPerCent
}

type lineKey struct{ provider, model, group string }

func keyOf(l *Line) lineKey { return lineKey{l.Provider, l.Model, l.Group} }

func lessLine(a, b *Line) int {
	if c := strings.Compare(a.AdjustsPeriod, b.AdjustsPeriod); c != 0 {
		return c
	}
	if c := strings.Compare(a.Group, b.Group); c != 0 {
		// Unattributed spend ("") sorts last, as its own line.
		if a.Group == "" {
			return 1
		}
		if b.Group == "" {
			return -1
		}
		return c
	}
	if c := strings.Compare(a.Provider, b.Provider); c != 0 {
		return c
	}
	return strings.Compare(a.Model, b.Model)
}

// usageLines makes one line per usage row, each charging its exact tenant
// cost rounded to cents.
func usageLines(rows []UsageRow) []Line {
	lines := make([]Line, 0, len(rows))
	for _, r := range rows {
		lines = append(lines, Line{Kind: UsageLine, Provider: r.Provider, Model: r.Model, Group: r.Group,
			Events: r.Events, UnpricedEvents: r.UnpricedEvents, Quantities: nonZero(r.Quantities),
			ListNanoUSD: r.ListNanoUSD, TenantNanoUSD: r.TenantNanoUSD, AmountNanoUSD: RoundCents(r.TenantNanoUSD),
			Overrides: sortedUnique(r.Overrides)})
	}
	slices.SortFunc(lines, func(a, b Line) int { return lessLine(&a, &b) })
	return lines
}

// adjustmentLines compares a period's usage as it is now with what invoices
// already charged for it (its usage lines and earlier adjustments), per
// provider × model × group, and returns a line for each difference. An
// adjustment charges the period's corrected amount, rounded to cents, less
// the amounts already charged, so that what a period is charged in all
// always equals its exact cost rounded once per line.
func adjustmentLines(label string, current []UsageRow, charged []Line) []Line {
	now := map[lineKey]*Line{}
	for _, l := range usageLines(current) {
		l := l
		now[keyOf(&l)] = &l
	}
	before := map[lineKey]*Line{}
	for i := range charged {
		c := &charged[i]
		b := before[keyOf(c)]
		if b == nil {
			b = &Line{Provider: c.Provider, Model: c.Model, Group: c.Group, GroupName: c.GroupName, Quantities: Quantities{}}
			before[keyOf(c)] = b
		}
		b.Events += c.Events
		b.UnpricedEvents += c.UnpricedEvents
		b.ListNanoUSD += c.ListNanoUSD
		b.TenantNanoUSD += c.TenantNanoUSD
		b.AmountNanoUSD += c.AmountNanoUSD
		for k, v := range c.Quantities {
			b.Quantities[k] += v
		}
	}
	keys := map[lineKey]bool{}
	for k := range now {
		keys[k] = true
	}
	for k := range before {
		keys[k] = true
	}
	var out []Line
	for k := range keys {
		n, b := now[k], before[k]
		if n == nil {
			n = &Line{Provider: k.provider, Model: k.model, Group: k.group}
		}
		if b == nil {
			b = &Line{}
		}
		adj := Line{Kind: AdjustmentLine, Provider: k.provider, Model: k.model, Group: k.group, AdjustsPeriod: label,
			Events: n.Events - b.Events, UnpricedEvents: n.UnpricedEvents - b.UnpricedEvents,
			ListNanoUSD: n.ListNanoUSD - b.ListNanoUSD, TenantNanoUSD: n.TenantNanoUSD - b.TenantNanoUSD,
			AmountNanoUSD: RoundCents(n.TenantNanoUSD) - b.AmountNanoUSD, Overrides: n.Overrides, Quantities: Quantities{}}
		for c, v := range n.Quantities {
			adj.Quantities[c] += v
		}
		for c, v := range b.Quantities {
			adj.Quantities[c] -= v
		}
		adj.Quantities = nonZero(adj.Quantities)
		if adj.Events == 0 && adj.UnpricedEvents == 0 && adj.ListNanoUSD == 0 && adj.TenantNanoUSD == 0 && adj.AmountNanoUSD == 0 && len(adj.Quantities) == 0 {
			continue
		}
		out = append(out, adj)
	}
	slices.SortFunc(out, func(a, b Line) int { return lessLine(&a, &b) })
	return out
}

// sumLines adds up lines: exact list and tenant cost, and the amount due.
func sumLines(lines []Line) (list, tenant, total int64) {
	for _, l := range lines {
		list += l.ListNanoUSD
		tenant += l.TenantNanoUSD
		total += l.AmountNanoUSD
	}
	return list, tenant, total
}

// providerFigures sums metered list cost per provider of the period's usage
// lines, beside the provider-reported figure when one is known.
func providerFigures(lines []Line, reports []ProviderReport) []ProviderFigure {
	metered := map[string]int64{}
	for _, l := range lines {
		if l.Kind == UsageLine {
			metered[l.Provider] += l.ListNanoUSD
		}
	}
	out := make([]ProviderFigure, 0, len(metered)+len(reports))
	for _, r := range reports {
		f := ProviderFigure{Provider: r.Provider, ReportedNanoUSD: r.CostNanoUSD, Reported: true}
		covers := r.Covers
		if len(covers) == 0 {
			covers = []string{r.Provider}
		}
		if len(covers) != 1 || covers[0] != r.Provider {
			f.Covers = append([]string(nil), covers...)
		}
		for _, p := range covers {
			f.MeteredNanoUSD += metered[p]
			delete(metered, p) // a metered provider is compared once
		}
		out = append(out, f)
	}
	for p, m := range metered {
		out = append(out, ProviderFigure{Provider: p, MeteredNanoUSD: m})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Provider < out[j].Provider })
	return out
}

func nonZero(q Quantities) Quantities {
	out := Quantities{}
	for k, v := range q {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func sortedUnique(s []string) []string {
	out := slices.DeleteFunc(slices.Clone(s), func(v string) bool { return v == "" })
	slices.Sort(out)
	return slices.Compact(out)
}
