package reconcile

import (
	"math"
	"testing"
	"time"
)

func TestDriftArithmetic(t *testing.T) {
	for name, c := range map[string]struct {
		drift, reported, metered int64
		threshold                int
		bp                       int64
		exceeds                  bool
	}{
		"exactly at the threshold does not exceed": {drift: 2, reported: 100, metered: 98, threshold: 200, bp: 200, exceeds: false},
		"one nano over the threshold exceeds":      {drift: 2_000_000_001, reported: 100_000_000_000, threshold: 200, bp: 200, exceeds: true},
		"negative drift counts by its size":        {drift: -3, reported: 100, metered: 103, threshold: 200, bp: -300, exceeds: true},
		"nothing reported: percent of the metered": {drift: -50, reported: 0, metered: 100, threshold: 200, bp: -5000, exceeds: true},
		"nothing on either side":                   {threshold: 200},
		"huge amounts do not overflow":             {drift: math.MaxInt64 / 2, reported: math.MaxInt64 - 1, threshold: 4_999, bp: 5_000, exceeds: true},
		"rounds toward zero":                       {drift: 1, reported: 3, threshold: 1, bp: 3_333, exceeds: true},
	} {
		bp, ok := DriftBP(c.drift, c.reported, c.metered)
		if bp != c.bp || ok != (c.reported != 0 || c.metered != 0) {
			t.Errorf("%s: DriftBP = %d, %v; want %d", name, bp, ok, c.bp)
		}
		if got := Exceeds(c.drift, c.reported, c.metered, c.threshold); got != c.exceeds {
			t.Errorf("%s: Exceeds = %v, want %v", name, got, c.exceeds)
		}
	}
	for bp, want := range map[int64]string{250: "2.50", -5: "-0.05", 0: "0.00", 10_000: "100.00"} {
		if got := Percent(bp); got != want {
			t.Errorf("Percent(%d) = %s, want %s", bp, got, want)
		}
	}
}

func TestCompareStatuses(t *testing.T) {
	d := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	rows := Compare(OpenAI,
		[]Metered{{Day: d.Add(3 * time.Hour), Model: "GPT-4o", Events: 1, CostNanoUSD: 10}, {Day: d, Model: "only-metered", Events: 1, CostNanoUSD: 7}},
		[]ReportedRow{{Day: d, Model: "gpt-4o", CostNanoUSD: 12, HasCost: true}, {Day: d, Model: "only-reported", CostNanoUSD: 5, HasCost: true}})
	want := map[string]struct {
		s     Status
		drift int64
	}{"gpt-4o": {Matched, 2}, "only-metered": {Unreported, -7}, "only-reported": {Unmetered, 5}}
	if len(rows) != 3 {
		t.Fatalf("rows %+v", rows)
	}
	for _, r := range rows {
		if w := want[r.Model]; r.Status != w.s || r.DriftNanoUSD != w.drift {
			t.Errorf("%s: %s %d, want %+v", r.Model, r.Status, r.DriftNanoUSD, w)
		}
	}
	tot := Totals(rows)
	if len(tot) != 1 || tot[0].DriftNanoUSD != 0 || tot[0].UnmeteredNanoUSD != 5 || tot[0].UnreportedNanoUSD != 7 {
		t.Fatalf("totals %+v", tot)
	}
}
