package budget

import (
	"math"
	"math/rand/v2"
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

func history(end time.Time, days int, spend func(time.Time) int64) []DaySpend {
	out := make([]DaySpend, 0, days)
	for i := days; i >= 1; i-- {
		d := end.AddDate(0, 0, -i)
		out = append(out, DaySpend{Day: d, NanoUSD: spend(d)})
	}
	return out
}

func TestProjectExact(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 1, 0)
	now := time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)
	flat := func(time.Time) int64 { return 10_000_000_000 }
	p := Project(ProjectionInput{PeriodStart: start, PeriodEnd: end, Now: now, SpentNanoUSD: 100_000_000_000, AmountNanoUSD: 250_000_000_000,
		History: history(now, 28, flat)})
	if p.Method != "weekday" || p.ExpectedNanoUSD != 300_000_000_000 || p.LowNanoUSD != p.ExpectedNanoUSD || p.HighNanoUSD != p.ExpectedNanoUSD {
		t.Fatalf("flat $10 a day, 20 days left after $100: %+v", p)
	}
	if want := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC); p.ExceedsOn == nil || !p.ExceedsOn.Equal(want) {
		t.Fatalf("exceeds on %v, want %s ($100 + 16 days of $10 passes $250)", p.ExceedsOn, want.Format(time.DateOnly))
	}
	// Weekdays $10, weekends nothing: November 2026 from the 11th (a
	// Wednesday) at noon has half of the 11th and 13 whole weekdays left.
	weekdays := func(d time.Time) int64 {
		if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
			return 0
		}
		return 10_000_000_000
	}
	noon := now.Add(12 * time.Hour)
	p = Project(ProjectionInput{PeriodStart: start, PeriodEnd: end, Now: noon, SpentNanoUSD: 75_000_000_000, History: history(now, 28, weekdays)})
	if want := int64(75_000_000_000 + 5_000_000_000 + 13*10_000_000_000); p.ExpectedNanoUSD != want || p.ExceedsOn != nil {
		t.Fatalf("weekday projection %+v, want expected %d and no exceed date (no amount)", p, want)
	}
	// Less than a week of history: the run rate.
	p = Project(ProjectionInput{PeriodStart: start, PeriodEnd: end, Now: now, SpentNanoUSD: 100_000_000_000, AmountNanoUSD: 200_000_000_000,
		History: history(now, 5, flat)})
	if p.Method != "run_rate" || p.ExpectedNanoUSD != 300_000_000_000 || p.ExceedsOn == nil || !p.ExceedsOn.Equal(time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("run rate fallback %+v", p)
	}
	// Already over: no exceed date; period over: exact.
	if p := Project(ProjectionInput{PeriodStart: start, PeriodEnd: end, Now: now, SpentNanoUSD: 300, AmountNanoUSD: 200, History: history(now, 28, flat)}); p.ExceedsOn != nil {
		t.Fatalf("already over: %+v", p)
	}
	if p := Project(ProjectionInput{PeriodStart: start, PeriodEnd: end, Now: end, SpentNanoUSD: 7}); p.ExpectedNanoUSD != 7 || p.HighNanoUSD != 7 {
		t.Fatalf("period over: %+v", p)
	}
}

// TestProjectWithinBand projects generated seasonal months (weekday
// profile, ±30 % daily noise, a different level each) from a random day and
// checks the month's real end lands in the band about as often as a 95 %
// band should, and that the band stays useful (narrow).
func TestProjectWithinBand(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	profile := [7]float64{0.3, 1, 1.1, 1.05, 1, 0.9, 0.25} // Sunday first
	const trials = 300
	inside, weekdayBetter := 0, 0
	var widthSum float64
	for range trials {
		level := 1e9 * (1 + rng.Float64()*500) // $1–$500 a weekday
		month := time.Date(2026, time.Month(1+rng.IntN(12)), 1, 0, 0, 0, 0, time.UTC)
		end := month.AddDate(0, 1, 0)
		day := func(d time.Time) int64 {
			return int64(level * profile[d.Weekday()] * (1 + 0.3*(2*rng.Float64()-1)))
		}
		// Days from four weeks before the month to its end, drawn once.
		days := map[time.Time]int64{}
		for d := month.AddDate(0, 0, -28); d.Before(end); d = d.AddDate(0, 0, 1) {
			days[d] = day(d)
		}
		now := month.AddDate(0, 0, 3+rng.IntN(20))
		var spent, actual int64
		for d := month; d.Before(end); d = d.AddDate(0, 0, 1) {
			actual += days[d]
			if d.Before(now) {
				spent += days[d]
			}
		}
		p := Project(ProjectionInput{PeriodStart: month, PeriodEnd: end, Now: now, SpentNanoUSD: spent,
			History: history(now, ProjectionHistoryDays, func(d time.Time) int64 { return days[d] })})
		if p.LowNanoUSD <= actual && actual <= p.HighNanoUSD {
			inside++
		}
		widthSum += float64(p.HighNanoUSD-p.LowNanoUSD) / float64(actual)
		runRate := Forecast(spent, month, end, now)
		if abs64(p.ExpectedNanoUSD-actual) <= abs64(runRate-actual) {
			weekdayBetter++
		}
	}
	t.Logf("%d/%d month ends inside the band, mean width %.1f %% of the actual, weekday projection at least as close as the run rate in %d", inside, trials, 100*widthSum/trials, weekdayBetter)
	if inside < trials*90/100 {
		t.Errorf("%d of %d month ends inside the band, want >= 90 %%", inside, trials)
	}
	if w := widthSum / trials; w > 0.4 {
		t.Errorf("the band is %.0f %% of the month on average, want <= 40 %%", 100*w)
	}
	if weekdayBetter < trials*60/100 {
		t.Errorf("the weekday projection beat the run rate in only %d of %d months", weekdayBetter, trials)
	}
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
