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
	SpentNanoUSD           int64
	ReservedNanoUSD        int64 // held by calls in flight (hard budgets)
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
