package budget

import (
	"math"
	"math/big"
	"time"
)

// Status is where one budget stands in its current period.
type Status struct {
	PeriodStart, PeriodEnd time.Time
	AmountNanoUSD          int64
	// SpentNanoUSD is what the budget counts (Budget.Counted): Metered, or
	// the larger of Metered and Reported on the max basis.
	SpentNanoUSD    int64
	MeteredNanoUSD  int64
	ReportedNanoUSD int64 // provider-reported for the period's days; 0 on the metered basis
	Basis           SpendBasis
	ReservedNanoUSD int64 // held by calls in flight (hard budgets)
	// ForecastNanoUSD projects spend at period end from the run rate so far.
	ForecastNanoUSD int64
}

// RemainingNanoUSD is what can still be spent: amount − spent − reserved, never
// below zero.
func (s *Status) RemainingNanoUSD() int64 {
	r := s.AmountNanoUSD - s.SpentNanoUSD - s.ReservedNanoUSD
	return max(r, 0)
}

// Forecast projects spend at the end of [start, end) from what was spent by
// now at the average rate so far: spent × (end − start) / (now − start),
// rounded down. Before the period (or at its first instant) there is no rate
// yet and the forecast is what was spent; after it the period is over and
// the forecast is exact. The product is computed in big integers so large
// budgets cannot overflow; a result beyond int64 saturates.
func Forecast(spent int64, start, end, now time.Time) int64 {
	elapsed := now.Sub(start)
	total := end.Sub(start)
	if spent <= 0 || elapsed <= 0 || elapsed >= total {
		return spent
	}
	f := new(big.Int).Mul(big.NewInt(spent), big.NewInt(int64(total)))
	f.Quo(f, big.NewInt(int64(elapsed)))
	if !f.IsInt64() {
		return math.MaxInt64
	}
	return f.Int64()
}

// DaySpend is the spend of one whole UTC day.
type DaySpend struct {
	Day     time.Time // 00:00 UTC
	NanoUSD int64
}

// ProjectionInput is what a weekday-aware projection reads.
type ProjectionInput struct {
	PeriodStart, PeriodEnd, Now time.Time
	// SpentNanoUSD is spent in the period so far (the budget counters).
	SpentNanoUSD int64
	// AmountNanoUSD is the budget's amount; 0 when there is none (a
	// tenant's month): then no exceed date is computed.
	AmountNanoUSD int64
	// History is the spend of whole UTC days before Now's day, oldest
	// first, days without spend included as zero (the caller reads up to
	// ProjectionHistoryDays of them, from before the period too).
	History []DaySpend
}

// ProjectionHistoryDays is how many whole days before today a projection
// reads: four of each weekday.
const ProjectionHistoryDays = 28

// Projection is where spend is headed at period end, with a band.
type Projection struct {
	// ExpectedNanoUSD is the projection at period end; LowNanoUSD and
	// HighNanoUSD bound it (about 95 %: two standard deviations of what the
	// rest of the period may add, never below what is already spent).
	ExpectedNanoUSD, LowNanoUSD, HighNanoUSD int64
	// ExceedsOn is the UTC day the projected spend passes the amount, nil
	// when it does not within the period or already has.
	ExceedsOn *time.Time
	// Method is "weekday" (each remaining day at its weekday's mean over
	// the history) or "run_rate" (less than a week of history: the
	// average rate so far, with no band).
	Method string
}

// Project projects spend at period end knowing that weekdays differ: each
// remaining day is expected to spend the mean of the same weekday over the
// history, today and a partial last day in proportion to the hours left.
// The band comes from how far history days were from their weekday's mean
// (σ per day) and how well the means are known, in integers:
// σ_rest = σ·√n + σ·n/√h for n days left and h history days. With less
// than a week of history it falls back to the run rate (Forecast).
func Project(in ProjectionInput) Projection {
	in.Now, in.PeriodStart, in.PeriodEnd = in.Now.UTC(), in.PeriodStart.UTC(), in.PeriodEnd.UTC()
	if !in.Now.Before(in.PeriodEnd) {
		return Projection{ExpectedNanoUSD: in.SpentNanoUSD, LowNanoUSD: in.SpentNanoUSD, HighNanoUSD: in.SpentNanoUSD, Method: "run_rate"}
	}
	var sums, counts [7]int64
	for _, d := range in.History {
		wd := d.Day.UTC().Weekday()
		sums[wd] += d.NanoUSD
		counts[wd]++
	}
	for _, c := range counts {
		if c == 0 {
			f := Forecast(in.SpentNanoUSD, in.PeriodStart, in.PeriodEnd, in.Now)
			p := Projection{ExpectedNanoUSD: f, LowNanoUSD: f, HighNanoUSD: f, Method: "run_rate"}
			p.ExceedsOn = exceedsOn(in, func(time.Weekday) int64 {
				elapsed := in.Now.Sub(in.PeriodStart)
				if elapsed <= 0 {
					return 0
				}
				return mulDiv(in.SpentNanoUSD, int64(24*time.Hour), int64(elapsed))
			})
			return p
		}
	}
	var mean [7]int64
	for wd := range mean {
		mean[wd] = sums[wd] / counts[wd]
	}
	// Squared deviations can pass int64 (a $10 000 day is 1e13 nano-USD):
	// big integers.
	sq := new(big.Int)
	for _, d := range in.History {
		r := big.NewInt(d.NanoUSD - mean[d.Day.UTC().Weekday()])
		sq.Add(sq, r.Mul(r, r))
	}
	h := int64(len(in.History))
	sigma := new(big.Int).Sqrt(sq.Quo(sq, big.NewInt(h))).Int64()

	rate := func(wd time.Weekday) int64 { return mean[wd] }
	expected := in.SpentNanoUSD
	var daysLeftMicro int64 // days left in millionths, for the band
	for t := in.Now; t.Before(in.PeriodEnd); {
		dayEnd := time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
		end := minTime(dayEnd, in.PeriodEnd)
		frac := end.Sub(t)
		expected += mulDiv(rate(t.Weekday()), int64(frac), int64(24*time.Hour))
		daysLeftMicro += int64(frac) / int64(24*time.Hour/1_000_000)
		t = end
	}
	// σ·√n + σ·n/√h with n in millionths of days: √(n·10⁶)/10⁶ = √n/10³.
	band := new(big.Int).Sqrt(big.NewInt(daysLeftMicro * 1_000_000)).Int64() // √n · 10⁶
	spread := mulDiv(sigma, band, 1_000_000)
	hRoot := new(big.Int).Sqrt(big.NewInt(h * 1_000_000)).Int64() // √h · 10³
	spread += mulDiv(mulDiv(sigma, daysLeftMicro, 1_000_000), 1_000, hRoot)
	p := Projection{ExpectedNanoUSD: expected, Method: "weekday"}
	p.LowNanoUSD = max(expected-2*spread, in.SpentNanoUSD)
	p.HighNanoUSD = expected + 2*spread
	p.ExceedsOn = exceedsOn(in, rate)
	return p
}

// exceedsOn walks the remaining days at rate and returns the first day the
// cumulative spend passes the amount.
func exceedsOn(in ProjectionInput, rate func(time.Weekday) int64) *time.Time {
	if in.AmountNanoUSD <= 0 || in.SpentNanoUSD > in.AmountNanoUSD {
		return nil
	}
	total := in.SpentNanoUSD
	for t := in.Now; t.Before(in.PeriodEnd); {
		day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		end := minTime(day.AddDate(0, 0, 1), in.PeriodEnd)
		total += mulDiv(rate(t.Weekday()), int64(end.Sub(t)), int64(24*time.Hour))
		if total > in.AmountNanoUSD {
			return &day
		}
		t = end
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// mulDiv is a·b/c rounded down, saturating instead of overflowing.
func mulDiv(a, b, c int64) int64 {
	if c == 0 {
		return 0
	}
	f := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
	f.Quo(f, big.NewInt(c))
	if !f.IsInt64() {
		return math.MaxInt64
	}
	return f.Int64()
}
