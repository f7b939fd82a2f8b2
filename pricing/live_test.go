package pricing

import (
	"testing"
	"time"

	"github.com/spendgate/spendgate/usage"
)

func TestLiveRevisionInForce(t *testing.T) {
	cat := func(input string) *Catalogue {
		c, err := FromFile(&File{Models: []FileModel{{Provider: "openai", Model: "m", Source: "t", Checked: "2026-01-01",
			Prices: []FilePrice{{EffectiveFrom: "2024-01-01", Rates: map[string]string{"input": input}}}}}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	t1 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	t2 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	l := NewLive(cat("1"))
	if l.Version() != 0 {
		t.Fatal("version before Set")
	}
	// Out of order on purpose; a later revision with the same start wins.
	l.Set([]Revision{{ID: 3, EffectiveFrom: t2, Catalogue: cat("3")}, {ID: 1, EffectiveFrom: time.Time{}, Catalogue: cat("1")},
		{ID: 2, EffectiveFrom: t1, Catalogue: cat("2")}, {ID: 4, EffectiveFrom: t2, Catalogue: cat("4")}})
	if l.Version() != 4 {
		t.Errorf("version %d", l.Version())
	}
	for _, tt := range []struct {
		at   time.Time
		want int64
	}{
		{t1.Add(-time.Nanosecond), 1_000_000_000}, {t1, 2_000_000_000}, {t2.Add(-time.Second), 2_000_000_000}, {t2, 4_000_000_000},
		{time.Time{}, 4_000_000_000}, // zero: now
	} {
		got := l.CatalogueAt(tt.at).Cost(Request{Provider: "openai", Model: "m", Time: tt.at}, usage.Tokens{Input: 1_000_000}, nil)
		if got.ListNanoUSD != tt.want {
			t.Errorf("at %s: %d, want %d", tt.at, got.ListNanoUSD, tt.want)
		}
	}
	l.Set(nil) // ignored: there is always a catalogue in force
	if l.Version() != 4 {
		t.Error("Set(nil) dropped the revisions")
	}
	var s Source = Default()
	if s.CatalogueAt(t1) != Default() {
		t.Error("a catalogue is its own source")
	}
}

// TestUnitsShownPerUnit: per-unit classes read per unit, exactly.
func TestUnitsShownPerUnit(t *testing.T) {
	for rate, want := range map[int64]string{15_000_000_000: "0.000015", 100_000_000_000: "0.0001", 40_000_000_000_000: "0.04",
		30_833_333_333: "0.000030833333333", 0: "0", 1: "0.000000000000001"} {
		if got := PerUnitUSD(rate); got != want {
			t.Errorf("PerUnitUSD(%d) = %s, want %s", rate, got, want)
		}
	}
	for field, want := range map[Change]string{
		{Field: "characters", Old: "15", New: "30"}:             "character 0.000015 0.00003",
		{Field: "batch.images", Old: "", New: "40000"}:          "image  0.04",
		{Field: "long_context.input", Old: "3", New: "6"}:       "1M tokens 3 6",
		{Field: "request_fee.high", Old: "0.012", New: "0.014"}: "request 0.012 0.014",
		{Field: "max_output_tokens", Old: "4096", New: "16384"}: " 4096 16384",
		{Field: "seconds", Old: "100", New: ""}:                 "second 0.0001 ",
	} {
		u, o, n := field.Display()
		if got := u + " " + o + " " + n; got != want {
			t.Errorf("%+v: %q, want %q", field, got, want)
		}
	}
	if u, per := Unit(Characters); u != "character" || per {
		t.Error("characters are per unit")
	}
	if u, per := Unit(CachedInput); u != "token" || !per {
		t.Error("tokens are per million")
	}
}

func TestDiff(t *testing.T) {
	p := func(from string, rates map[string]string) []FilePrice {
		return []FilePrice{{EffectiveFrom: from, Rates: rates}}
	}
	cur := &File{Models: []FileModel{
		{Provider: "openai", Model: "a", Prices: p("2024-01-01", map[string]string{"input": "1.0", "output": "2"})},
		{Provider: "openai", Model: "b", Prices: p("2024-01-01", map[string]string{"input": "1"})},
		{Provider: "openai", Model: "c", Prices: p("2024-01-01", map[string]string{"input": "1"})},
		{Provider: "openai", Model: "d", Prices: p("2024-01-01", map[string]string{"input": "1"})},
	}}
	next := &File{Models: []FileModel{
		{Provider: "openai", Model: "a", Prices: p("2024-01-01", map[string]string{"input": "1", "output": "2"})}, // same, written differently
		{Provider: "openai", Model: "b", MaxOutputTokens: 100, Prices: []FilePrice{{EffectiveFrom: "2024-01-01", EffectiveTo: "2026-01-01", Rates: map[string]string{"input": "1"}},
			{EffectiveFrom: "2026-01-01", Rates: map[string]string{"input": "0.5"}, RequestFee: "0.01"}}},
		{Provider: "openai", Model: "c", Prices: []FilePrice{{EffectiveFrom: "2024-01-01", EffectiveTo: "2026-01-01", Rates: map[string]string{"input": "1"}}}},
		{Provider: "openai", Model: "e", Prices: p("2026-01-01", map[string]string{"characters": "15"})},
	}}
	d := Diff(cur, next)
	if d.Summary() != "1 added, 1 changed, 2 removed" {
		t.Fatalf("%s: %+v", d.Summary(), d)
	}
	ch := d.Changed[0]
	want := []Change{{Field: "input", Old: "1", New: "0.5"}, {Field: "request_fee", New: "0.01"}, {Field: "max_output_tokens", New: "100"}}
	if ch.Model != "b" || ch.EffectiveFrom != "2026-01-01" || len(ch.Changes) != len(want) {
		t.Fatalf("changed %+v", ch)
	}
	for i := range want {
		if ch.Changes[i] != want[i] {
			t.Errorf("change %d: %+v, want %+v", i, ch.Changes[i], want[i])
		}
	}
	if d.Removed[0].Model != "c" || d.Removed[0].EffectiveFrom != "2026-01-01" || d.Removed[1].Model != "d" {
		t.Errorf("removed %+v", d.Removed)
	}
	if d.Added[0].Model != "e" || d.Added[0].Changes[0] != (Change{Field: "characters", New: "15"}) {
		t.Errorf("added %+v", d.Added)
	}
	if e := Diff(cur, cur); !e.Empty() {
		t.Errorf("self diff %s", e.Summary())
	}
}
