package reconcile

import (
	"math"
	"math/bits"
	"sort"
	"strings"
	"time"
)

// Status says how a day × model row lines up.
type Status string

// Row statuses.
const (
	// Matched: both sides have the row.
	Matched Status = "MATCHED"
	// Unmetered: the provider reports spend spendgate did not meter
	// (traffic that bypassed the gateway).
	Unmetered Status = "UNMETERED"
	// Unreported: spendgate metered spend the provider does not report.
	Unreported Status = "UNREPORTED"
)

// Metered is spendgate's metered spend of one day × model.
type Metered struct {
	Day                       time.Time
	Model                     string
	Events                    uint64
	InputTokens, OutputTokens int64
	CostNanoUSD               int64
}

// Row is one reconciled provider × day × model.
type Row struct {
	Provider Provider
	Day      time.Time
	Model    string
	Status   Status

	MeteredEvents                           uint64
	MeteredInputTokens, MeteredOutputTokens int64
	MeteredNanoUSD                          int64

	ReportedRequests                          int64
	ReportedInputTokens, ReportedOutputTokens int64
	ReportedNanoUSD                           int64
	// ReportedHasCost is false when the provider reported usage without a
	// cost for this row (its cost endpoint lags its usage endpoint).
	ReportedHasCost bool

	// DriftNanoUSD is reported − metered: positive when the provider
	// charges more than spendgate metered.
	DriftNanoUSD int64
}

// DriftBP is the drift in basis points of the reported cost (of the metered
// cost when nothing was reported), rounded toward zero; ok is false when
// both are zero.
func DriftBP(drift, reported, metered int64) (bp int64, ok bool) {
	base := reported
	if base == 0 {
		base = metered
	}
	if base == 0 {
		return 0, false
	}
	return mulDiv(drift, 10_000, base), true
}

// mulDiv is a·b/c rounded toward zero, exact in 128 bits; a result beyond
// int64 saturates (a drift of more than 2^63 basis points means nothing).
func mulDiv(a, b, c int64) int64 {
	neg := (a < 0) != (b < 0) != (c < 0)
	hi, lo := bits.Mul64(abs(a), abs(b))
	uc := abs(c)
	if hi >= uc {
		if neg {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, uc)
	if q > math.MaxInt64 {
		q = math.MaxInt64
	}
	if neg {
		return -int64(q)
	}
	return int64(q)
}

func abs(x int64) uint64 {
	if x < 0 {
		return uint64(-x)
	}
	return uint64(x)
}

// Exceeds reports whether |drift| is above thresholdBP basis points of the
// base (reported, else metered), exactly: |drift|·10^4 > threshold·|base|
// in 128-bit arithmetic.
func Exceeds(drift, reported, metered int64, thresholdBP int) bool {
	base := reported
	if base == 0 {
		base = metered
	}
	if base == 0 {
		return false
	}
	dh, dl := bits.Mul64(abs(drift), 10_000)
	bh, bl := bits.Mul64(abs(base), uint64(thresholdBP))
	return dh > bh || (dh == bh && dl > bl)
}

// ModelKey is how models from the two sides are matched: providers and
// meters agree on the model id but not always on its case or spacing.
func ModelKey(model string) string { return strings.ToLower(strings.TrimSpace(model)) }

// Compare lines up one provider's metered and reported rows per day ×
// model. Rows come back ordered by day, then model.
func Compare(p Provider, metered []Metered, reported []ReportedRow) []Row {
	type key struct {
		day   int64
		model string
	}
	rows := map[key]*Row{}
	get := func(day time.Time, model string) *Row {
		k := key{Day(day).Unix(), ModelKey(model)}
		r, ok := rows[k]
		if !ok {
			r = &Row{Provider: p, Day: Day(day), Model: k.model}
			rows[k] = r
		}
		return r
	}
	for _, m := range metered {
		r := get(m.Day, m.Model)
		r.MeteredEvents += m.Events
		r.MeteredInputTokens += m.InputTokens
		r.MeteredOutputTokens += m.OutputTokens
		r.MeteredNanoUSD += m.CostNanoUSD
	}
	for _, rep := range reported {
		r := get(rep.Day, rep.Model)
		r.ReportedRequests += rep.Requests
		r.ReportedInputTokens += rep.InputTokens
		r.ReportedOutputTokens += rep.OutputTokens
		r.ReportedNanoUSD += rep.CostNanoUSD
		r.ReportedHasCost = r.ReportedHasCost || rep.HasCost
	}
	out := make([]Row, 0, len(rows))
	for _, r := range rows {
		metered := r.MeteredEvents > 0 || r.MeteredNanoUSD != 0
		reported := r.ReportedHasCost || r.ReportedRequests > 0 || r.ReportedInputTokens+r.ReportedOutputTokens > 0
		switch {
		case metered && reported:
			r.Status = Matched
		case reported:
			r.Status = Unmetered
		default:
			r.Status = Unreported
		}
		r.DriftNanoUSD = r.ReportedNanoUSD - r.MeteredNanoUSD
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Day.Equal(out[j].Day) {
			return out[i].Day.Before(out[j].Day)
		}
		return out[i].Model < out[j].Model
	})
	return out
}

// DayTotal sums one provider's rows of a day.
type DayTotal struct {
	Provider          Provider
	Day               time.Time
	MeteredNanoUSD    int64
	ReportedNanoUSD   int64
	DriftNanoUSD      int64
	UnmeteredNanoUSD  int64 // reported cost of rows with no metered counterpart
	UnreportedNanoUSD int64 // metered cost of rows the provider does not report
}

// DriftBP is the day's drift in basis points (see DriftBP).
func (d *DayTotal) DriftBP() (int64, bool) {
	return DriftBP(d.DriftNanoUSD, d.ReportedNanoUSD, d.MeteredNanoUSD)
}

// Totals sums rows per provider × day, ordered by day then provider.
func Totals(rows []Row) []DayTotal {
	type key struct {
		p   Provider
		day int64
	}
	idx := map[key]int{}
	var out []DayTotal
	for i := range rows {
		r := &rows[i]
		k := key{r.Provider, r.Day.Unix()}
		j, ok := idx[k]
		if !ok {
			j = len(out)
			idx[k] = j
			out = append(out, DayTotal{Provider: r.Provider, Day: r.Day})
		}
		t := &out[j]
		t.MeteredNanoUSD += r.MeteredNanoUSD
		t.ReportedNanoUSD += r.ReportedNanoUSD
		t.DriftNanoUSD += r.DriftNanoUSD
		switch r.Status {
		case Unmetered:
			t.UnmeteredNanoUSD += r.ReportedNanoUSD
		case Unreported:
			t.UnreportedNanoUSD += r.MeteredNanoUSD
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Day.Equal(out[j].Day) {
			return out[i].Day.Before(out[j].Day)
		}
		return out[i].Provider < out[j].Provider
	})
	return out
}
