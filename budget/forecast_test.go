package budget

import (
	"math"
	"testing"
	"time"
)

func TestForecast(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 1, 0) // 30 days
	cases := []struct {
		name  string
		spent int64
		now   time.Time
		want  int64
	}{
		{"a third of the way: three times", 1_000, start.Add(10 * 24 * time.Hour), 3_000},
		{"rounded down", 1_000, start.Add(7 * 24 * time.Hour), 1_000 * 30 / 7},
		{"nothing spent", 0, start.Add(24 * time.Hour), 0},
		{"first instant: no rate yet", 500, start, 500},
		{"before the period", 500, start.Add(-time.Hour), 500},
		{"period over: exact", 700, end.Add(time.Hour), 700},
		{"saturates instead of overflowing", math.MaxInt64 / 2, start.Add(time.Second), math.MaxInt64},
		{"large but exact", 9_000_000_000_000_000, start.Add(15 * 24 * time.Hour), 18_000_000_000_000_000},
	}
	for _, c := range cases {
		if got := Forecast(c.spent, start, end, c.now); got != c.want {
			t.Errorf("%s: Forecast = %d, want %d", c.name, got, c.want)
		}
	}
}

func TestStatusRemaining(t *testing.T) {
	s := Status{AmountNanoUSD: 100, SpentNanoUSD: 60, ReservedNanoUSD: 30}
	if got := s.RemainingNanoUSD(); got != 10 {
		t.Fatalf("remaining %d", got)
	}
	s.SpentNanoUSD = 120
	if got := s.RemainingNanoUSD(); got != 0 {
		t.Fatalf("remaining over budget %d", got)
	}
}
