// Package anomaly finds unusual hourly spend: a pure detector (no I/O) that
// compares one hour of a series with a baseline of the same hour of the
// week in the weeks before, and an episode tracker that turns anomalous
// hours into episodes so each runaway is alerted once. The job that reads
// spend from ClickHouse and stores episodes in Postgres lives in
// anomaly/service; docs/intelligence.md explains the choice of baseline.
//
// Money stays integer nano-USD: the baseline (a median) and its spread (a
// median absolute deviation) are medians of integers. Only the score, a
// ratio, is a float.
package anomaly

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Dimension is what a series is of.
type Dimension string

// Dimensions a tenant's spend is watched by.
const (
	DimTenant  Dimension = "tenant"  // the tenant's whole spend (Value "")
	DimKey     Dimension = "key"     // one API key
	DimTeam    Dimension = "team"    // one team of the org hierarchy
	DimProject Dimension = "project" // one project of the org hierarchy
	DimModel   Dimension = "model"   // one model (served, else requested)
)

// Dimensions lists every dimension, widest first.
var Dimensions = []Dimension{DimTenant, DimKey, DimTeam, DimProject, DimModel}

// ParseDimension checks a dimension name.
func ParseDimension(s string) (Dimension, error) {
	if d := Dimension(s); slices.Contains(Dimensions, d) {
		return d, nil
	}
	return "", fmt.Errorf("anomaly: dimension must be tenant, key, team, project or model, not %q", s)
}

// Hour is the spend of one series in one hour.
type Hour struct {
	SpendNanoUSD int64
	Events       uint64
}

// Series is consecutive hours of one series, Hours[i] being the hour that
// starts at Start + i hours (UTC, on the hour). Hours without traffic are
// zero.
type Series struct {
	Start time.Time
	Hours []Hour
}

// At returns the hour starting at t and whether the series holds it.
func (s *Series) At(t time.Time) (Hour, bool) {
	i, ok := s.index(t)
	if !ok {
		return Hour{}, false
	}
	return s.Hours[i], true
}

func (s *Series) index(t time.Time) (int, bool) {
	d := t.Sub(s.Start)
	if d < 0 || d%time.Hour != 0 {
		return 0, false
	}
	i := int(d / time.Hour)
	return i, i < len(s.Hours)
}

// Rule names why an hour is anomalous.
type Rule string

// Rules.
const (
	RuleSpike Rule = "spike" // the hour alone is far above its baseline
	RuleShift Rule = "shift" // the last hours sit together above theirs
)

// Severity grades an anomalous hour by how far it is above its baseline.
type Severity string

// Severities, mildest first.
const (
	SeverityMinor    Severity = "minor"
	SeverityMajor    Severity = "major"
	SeverityCritical Severity = "critical"
)

// Rank orders severities (minor 1 … critical 3; 0 for none).
func (s Severity) Rank() int {
	switch s {
	case SeverityMinor:
		return 1
	case SeverityMajor:
		return 2
	case SeverityCritical:
		return 3
	}
	return 0
}

// Config tunes the detector. The zero value is not valid; start from
// DefaultConfig.
type Config struct {
	// Weeks is how many past weeks the baseline looks at.
	Weeks int
	// Neighbours widens each past week's sample to the hours either side of
	// the same hour of the week (1: three hours a week), so a baseline of
	// four weeks has twelve samples and one odd week cannot move it.
	Neighbours int
	// MinSamples is the fewest baseline hours with traffic needed to judge
	// an hour at all (a new series is warming up until then).
	MinSamples int
	// Threshold is the robust z-score from which an hour is anomalous.
	// Spend varies by multiples, not by amounts, so the score is taken on
	// y = ln(1 + spend/LogOffsetNanoUSD): (y − median y) / scale, scale
	// being 1.4826·MAD of y (the standard deviation a MAD stands for under
	// normal noise), at least LogFloor.
	Threshold float64
	// ShiftThreshold is the z-score from which a level shift is anomalous:
	// the median residual of the last ShiftHours (this one included) and
	// this hour's own reach it. A drift that never makes one hour stand out
	// is caught by this rule once it holds for half of ShiftHours.
	ShiftThreshold float64
	ShiftHours     int
	// LogOffsetNanoUSD keeps zero hours finite and damps cent-level moves.
	LogOffsetNanoUSD int64
	// ScaleHours is how many hours before the judged one lend their
	// residuals to the spread.
	ScaleHours int
	// LogFloor floors the scale, so a very regular series does not alert
	// on small relative moves (0.1 ≈ 10 %).
	LogFloor float64
	// Volume guards: an hour is never anomalous unless its spend reaches
	// MinSpendNanoUSD, its excess over the median reaches MinExcessNanoUSD,
	// and it had at least MinEvents calls. They keep tiny series quiet.
	MinSpendNanoUSD  int64
	MinExcessNanoUSD int64
	MinEvents        uint64
	// Severity bounds on observed/expected: at least MajorRatio is major,
	// at least CriticalRatio critical (an excess of CriticalExcessNanoUSD
	// is critical whatever the ratio).
	MajorRatio, CriticalRatio float64
	CriticalExcessNanoUSD     int64
	// CloseAfter ends an episode after this many normal hours in a row.
	CloseAfter int
}

// DefaultConfig is tuned on the generated traffic of the evaluation
// (evaluation_test.go): near-zero false alarms on seasonal traffic with
// lognormal noise, spikes caught in their first hour.
func DefaultConfig() Config {
	return Config{
		Weeks: 4, Neighbours: 1, MinSamples: 6, Threshold: 5, ShiftThreshold: 1.5, ShiftHours: 12, ScaleHours: 48, LogOffsetNanoUSD: 100_000_000, LogFloor: 0.1,
		MinSpendNanoUSD: 1_000_000_000, MinExcessNanoUSD: 1_000_000_000, MinEvents: 5,
		MajorRatio: 3, CriticalRatio: 6, CriticalExcessNanoUSD: 100_000_000_000,
		CloseAfter: 3,
	}
}

// Validate says what is wrong with c.
func (c *Config) Validate() error {
	var errs []error
	if c.Weeks < 1 {
		errs = append(errs, fmt.Errorf("anomaly: weeks must be at least 1, not %d", c.Weeks))
	}
	if c.Weeks > 8 {
		errs = append(errs, fmt.Errorf("anomaly: weeks must be at most 8, not %d", c.Weeks))
	}
	if c.Neighbours < 0 || c.Neighbours > 3 {
		errs = append(errs, fmt.Errorf("anomaly: neighbours must be 0 to 3, not %d", c.Neighbours))
	}
	if c.MinSamples < 3 {
		errs = append(errs, fmt.Errorf("anomaly: min samples must be at least 3, not %d", c.MinSamples))
	}
	if c.MinSamples > c.Weeks*(2*c.Neighbours+1) {
		errs = append(errs, fmt.Errorf("anomaly: min samples %d exceeds the %d the baseline can have", c.MinSamples, c.Weeks*(2*c.Neighbours+1)))
	}
	if c.Threshold <= 0 {
		errs = append(errs, fmt.Errorf("anomaly: threshold must be positive, not %g", c.Threshold))
	}
	if c.LogOffsetNanoUSD <= 0 {
		errs = append(errs, fmt.Errorf("anomaly: log offset must be positive, not %d", c.LogOffsetNanoUSD))
	}
	if c.ShiftThreshold <= 0 || c.ShiftThreshold > c.Threshold {
		errs = append(errs, fmt.Errorf("anomaly: shift threshold must be positive and at most the threshold (%g), not %g", c.Threshold, c.ShiftThreshold))
	}
	if c.ShiftHours < 2 || c.ShiftHours > c.ScaleHours {
		errs = append(errs, fmt.Errorf("anomaly: shift hours must be 2 to scale hours (%d), not %d", c.ScaleHours, c.ShiftHours))
	}
	if c.ScaleHours < 0 || c.ScaleHours > 7*24 {
		errs = append(errs, fmt.Errorf("anomaly: scale hours must be 0 to 168, not %d", c.ScaleHours))
	}
	if c.LogFloor <= 0 {
		errs = append(errs, fmt.Errorf("anomaly: log floor must be positive, not %g", c.LogFloor))
	}
	if c.MinSpendNanoUSD < 0 || c.MinExcessNanoUSD < 0 || c.CriticalExcessNanoUSD < 0 {
		errs = append(errs, errors.New("anomaly: volume guards must not be negative"))
	}
	if c.MajorRatio <= 1 || c.CriticalRatio < c.MajorRatio {
		errs = append(errs, fmt.Errorf("anomaly: need 1 < major ratio (%g) <= critical ratio (%g)", c.MajorRatio, c.CriticalRatio))
	}
	if c.CloseAfter < 1 {
		errs = append(errs, fmt.Errorf("anomaly: close after must be at least 1 hour, not %d", c.CloseAfter))
	}
	return errors.Join(errs...)
}

// History is how much of a series before an hour the detector reads.
func (c *Config) History() time.Duration {
	return time.Duration(c.Weeks)*7*24*time.Hour + time.Duration(c.Neighbours)*time.Hour
}

// Verdict is the detector's judgement of one hour.
type Verdict struct {
	Hour     time.Time
	Observed Hour
	// ExpectedNanoUSD is the baseline (median of the samples), LimitNanoUSD
	// the spend from which the score reaches the threshold; Score the robust
	// z-score of the log spend.
	ExpectedNanoUSD, LimitNanoUSD int64
	Score                         float64
	// ShiftScore is the median z-score of the last ShiftHours.
	ShiftScore float64
	Samples    int
	// Rule is what made the hour anomalous.
	Rule Rule
	// WarmingUp: too little history to judge (never anomalous).
	WarmingUp bool
	Anomalous bool
	Severity  Severity // set when anomalous
	// Guard names the volume guard that kept a high score from being
	// anomalous ("" when none did).
	Guard string
}

// Detect judges the hour starting at hour against the baseline of s before
// it. s must hold hour.
func (c *Config) Detect(s *Series, hour time.Time) (Verdict, error) {
	obs, ok := s.At(hour)
	if !ok {
		return Verdict{}, fmt.Errorf("anomaly: the series (from %s, %d hours) does not hold hour %s", s.Start.Format(time.RFC3339), len(s.Hours), hour.Format(time.RFC3339))
	}
	v := Verdict{Hour: hour, Observed: obs}
	b, ok := c.baseline(s, hour)
	v.Samples = b.samples
	if !ok {
		// Too few hours, or none with traffic: the series is new (a new
		// key, model or team). Its spend still counts in the tenant's
		// series, which has a baseline.
		v.WarmingUp = true
		return v, nil
	}
	// The spread is pooled over the residuals (log spend − its baseline)
	// of the ScaleHours before: a dozen samples of one hour of the week
	// estimate a level well but a spread poorly, and an under-estimated
	// spread is a false alarm. It is their deviation from their median, so
	// a level shift (a drift) does not widen it.
	resid := make([]float64, 0, c.ScaleHours+1)
	resid = append(resid, c.logSpend(obs.SpendNanoUSD)-b.center)
	for i := 1; i <= c.ScaleHours; i++ {
		h := hour.Add(-time.Duration(i) * time.Hour)
		x, ok := s.At(h)
		if !ok {
			break
		}
		if hb, ok := c.baseline(s, h); ok {
			resid = append(resid, c.logSpend(x.SpendNanoUSD)-hb.center)
		}
	}
	recent := medianFloat(slices.Clone(resid[:min(c.ShiftHours, len(resid))]))
	mid := medianFloat(slices.Clone(resid))
	devs := make([]float64, len(resid))
	for i, r := range resid {
		devs[i] = math.Abs(r - mid)
	}
	scale := max(1.4826*medianFloat(devs), c.LogFloor)
	v.ExpectedNanoUSD = b.expected
	v.LimitNanoUSD = c.fromLog(b.center + c.Threshold*scale)
	v.Score = resid[0] / scale
	v.ShiftScore = recent / scale
	switch {
	case v.Score >= c.Threshold:
		v.Rule = RuleSpike
	case len(resid) >= c.ShiftHours && v.ShiftScore >= c.ShiftThreshold && v.Score >= c.ShiftThreshold:
		v.Rule = RuleShift
	default:
		return v, nil
	}
	excess := obs.SpendNanoUSD - b.expected
	switch {
	case obs.SpendNanoUSD < c.MinSpendNanoUSD:
		v.Guard = "min_spend"
	case excess < c.MinExcessNanoUSD:
		v.Guard = "min_excess"
	case obs.Events < c.MinEvents:
		v.Guard = "min_events"
	}
	if v.Guard != "" {
		v.Rule = ""
		return v, nil
	}
	v.Anomalous = true
	v.Severity = c.severity(obs.SpendNanoUSD, b.expected)
	return v, nil
}

type baseline struct {
	samples  int
	expected int64   // median spend of the samples
	center   float64 // median log spend
	spread   float64 // median absolute deviation of the log spend
}

// baseline is the same hour of the week (± Neighbours) in the Weeks before
// hour; ok is false while there are too few samples or none had traffic.
func (c *Config) baseline(s *Series, hour time.Time) (baseline, bool) {
	var buf [4 * 16]int64
	samples := buf[:0]
	withTraffic := 0
	for w := 1; w <= c.Weeks; w++ {
		for n := -c.Neighbours; n <= c.Neighbours; n++ {
			h, ok := s.At(hour.Add(-time.Duration(w)*7*24*time.Hour + time.Duration(n)*time.Hour))
			if !ok {
				continue
			}
			samples = append(samples, h.SpendNanoUSD)
			if h.Events > 0 {
				withTraffic++
			}
		}
	}
	b := baseline{samples: len(samples)}
	if len(samples) < c.MinSamples || withTraffic == 0 {
		return b, false
	}
	// Log is monotonic: the median of the logs is the log of the median.
	b.expected = median(samples)
	b.center = c.logSpend(b.expected)
	var dbuf [4 * 16]float64
	dev := dbuf[:0]
	for _, x := range samples {
		dev = append(dev, math.Abs(c.logSpend(x)-b.center))
	}
	b.spread = medianFloat(dev)
	return b, true
}

func (c *Config) severity(observed, expected int64) Severity {
	ratio := float64(observed) / float64(max(expected, c.MinSpendNanoUSD, 1))
	switch {
	case ratio >= c.CriticalRatio || observed-expected >= c.CriticalExcessNanoUSD:
		return SeverityCritical
	case ratio >= c.MajorRatio:
		return SeverityMajor
	}
	return SeverityMinor
}

func (c *Config) logSpend(nano int64) float64 {
	return math.Log1p(float64(max(nano, 0)) / float64(c.LogOffsetNanoUSD))
}

func (c *Config) fromLog(y float64) int64 {
	v := math.Expm1(y) * float64(c.LogOffsetNanoUSD)
	if v >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

func medianFloat(xs []float64) float64 {
	slices.Sort(xs)
	return xs[(len(xs)-1)/2]
}

// median of xs (reordered); the lower middle for an even count, so the
// result is one of the values and needs no rounding.
func median(xs []int64) int64 {
	slices.Sort(xs)
	return xs[(len(xs)-1)/2]
}
