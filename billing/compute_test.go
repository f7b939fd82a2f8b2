package billing

import (
	"testing"
	"time"
)

func TestRoundCents(t *testing.T) {
	cases := map[string]struct{ in, want int64 }{
		"zero":                        {0, 0},
		"exact cents stay":            {1_230_000_000, 1_230_000_000},
		"half a cent rounds up":       {5_000_000, 10_000_000},
		"just under half rounds down": {4_999_999, 0},
		"negative half rounds away":   {-5_000_000, -10_000_000},
		"negative under half":         {-4_999_999, 0},
		"large":                       {123_456_789_012_345, 123_456_790_000_000},
	}
	for name, c := range cases {
		if got := RoundCents(c.in); got != c.want {
			t.Errorf("%s: RoundCents(%d) = %d, want %d", name, c.in, got, c.want)
		}
	}
}

// Adjustments charge what a period costs now, rounded once per line, less
// what was already charged; charging them makes a period's lines add up to
// its exact cost rounded, however many times it changes.
func TestAdjustmentLinesConverge(t *testing.T) {
	row := func(events, tenant int64) []UsageRow {
		return []UsageRow{{Provider: "openai", Model: "gpt-4o", Events: events, TenantNanoUSD: tenant, ListNanoUSD: tenant, Quantities: Quantities{"input": events * 10}}}
	}
	charged := usageLines(row(3, 4_004_000)) // $0.004004 charged as $0.00
	if charged[0].AmountNanoUSD != 0 {
		t.Fatalf("charged %d", charged[0].AmountNanoUSD)
	}
	steps := []struct{ events, tenant, wantAmount int64 }{
		{4, 6_000_000, 10_000_000}, // now $0.006 -> $0.01 in all: adjust +$0.01
		{4, 6_000_000, 0},          // unchanged: nothing (no line)
		{5, 14_000_000, 0},         // $0.014 -> $0.01: already charged, the line shows the event but $0.00
		{5, 2_000_000, -10_000_000},
	}
	for i, s := range steps {
		adj := adjustmentLines("2026-11", row(s.events, s.tenant), charged)
		var amount int64
		for _, a := range adj {
			amount += a.AmountNanoUSD
			if a.Kind != AdjustmentLine || a.AdjustsPeriod != "2026-11" {
				t.Fatalf("step %d: line %+v", i, a)
			}
		}
		if amount != s.wantAmount {
			t.Fatalf("step %d: adjustment %d, want %d (%+v)", i, amount, s.wantAmount, adj)
		}
		if i == 1 && len(adj) != 0 {
			t.Fatalf("step %d: unchanged period gave lines %+v", i, adj)
		}
		charged = append(charged, adj...)
		var total, exact int64
		for _, c := range charged {
			total += c.AmountNanoUSD
			exact += c.TenantNanoUSD
		}
		if total != RoundCents(s.tenant) || exact != s.tenant {
			t.Fatalf("step %d: charged %d (exact %d), want %d (exact %d)", i, total, exact, RoundCents(s.tenant), s.tenant)
		}
	}
	// A provider × model that disappeared (its events moved) is credited.
	adj := adjustmentLines("2026-11", nil, charged)
	if len(adj) != 1 || adj[0].Events != -5 || adj[0].AmountNanoUSD != 0 || adj[0].TenantNanoUSD != -2_000_000 {
		t.Fatalf("vanished line: %+v", adj)
	}
}

func TestPeriods(t *testing.T) {
	s := Settings{TimeZone: "Europe/Berlin", PeriodStartDay: 1}
	p, err := s.PeriodOf("2026-03")
	if err != nil {
		t.Fatal(err)
	}
	// March 2026 in Berlin: from CET midnight to CEST midnight (DST on 29 March).
	if !p.Start.Equal(time.Date(2026, 2, 28, 23, 0, 0, 0, time.UTC)) || !p.End.Equal(time.Date(2026, 3, 31, 22, 0, 0, 0, time.UTC)) {
		t.Fatalf("Berlin March %v – %v", p.Start, p.End)
	}
	if got := s.PeriodContaining(time.Date(2026, 2, 28, 23, 30, 0, 0, time.UTC)); got.Label != "2026-03" {
		t.Fatalf("23:30 UTC on 28 Feb is March in Berlin, got %s", got.Label)
	}
	s = Settings{TimeZone: "UTC", PeriodStartDay: 15}
	if got := s.PeriodContaining(time.Date(2026, 1, 14, 23, 0, 0, 0, time.UTC)); got.Label != "2025-12" {
		t.Fatalf("14 Jan with start day 15 is in the December period, got %s", got.Label)
	}
	if got := s.Previous(mustPeriod(t, s, "2026-01")); got.Label != "2025-12" || !got.End.Equal(time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("previous %+v", got)
	}
}

func mustPeriod(t *testing.T, s Settings, label string) Period {
	t.Helper()
	p, err := s.PeriodOf(label)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
