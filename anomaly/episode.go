package anomaly

import "time"

// SeriesKey names one watched series of a tenant: the tenant's whole spend
// (DimTenant, Value "") or one key, team, project or model.
type SeriesKey struct {
	Dimension Dimension
	Value     string
}

// Episode is a run of anomalous hours of one series, with normal hours
// between them fewer than Config.CloseAfter: one runaway, alerted once.
type Episode struct {
	ID       string // set by the store
	TenantID string
	Series   SeriesKey
	// Label is a human name of the series' value (a key's name), set by
	// whoever reads episodes for people.
	Label string
	// StartedAt is its first anomalous hour, LastAnomalousAt its latest;
	// EndedAt (nil while open) is the hour after its last anomalous one,
	// set once CloseAfter normal hours followed.
	StartedAt, LastAnomalousAt time.Time
	EndedAt                    *time.Time
	// Peak: the most anomalous hour so far (highest score).
	PeakHour                         time.Time
	PeakNanoUSD, PeakExpectedNanoUSD int64
	PeakScore                        float64
	Severity                         Severity // the worst hour's
	ExcessNanoUSD                    int64    // sum over its anomalous hours of spend − baseline
	AnomalousHours                   int
	DetectedAt                       time.Time // when the job first saw it (time-to-detect)
}

// Open reports whether the episode has not ended.
func (e *Episode) Open() bool { return e.EndedAt == nil }

// Step is what one verdict did to a series' episodes.
type Step int

// Steps.
const (
	StepNone     Step = iota // normal hour, no open episode (or still inside one's grace)
	StepOpened               // a new episode: alert it
	StepExtended             // another anomalous hour of the open episode: no new alert
	StepClosed               // the open episode ended
)

// Track applies verdict v to the series' open episode (nil: none) and
// returns the episode as it now stands (nil when there is none) and what
// happened. Verdicts must come in hour order; warming-up hours count as
// normal. detectedAt is the wall-clock time of the run (for a new episode).
func (c *Config) Track(open *Episode, tenantID string, key SeriesKey, v *Verdict, detectedAt time.Time) (*Episode, Step) {
	if !v.Anomalous {
		if open == nil {
			return nil, StepNone
		}
		if v.Hour.Sub(open.LastAnomalousAt) >= time.Duration(c.CloseAfter)*time.Hour {
			end := open.LastAnomalousAt.Add(time.Hour)
			e := *open
			e.EndedAt = &end
			return &e, StepClosed
		}
		return open, StepNone
	}
	excess := v.Observed.SpendNanoUSD - v.ExpectedNanoUSD
	if open == nil {
		return &Episode{TenantID: tenantID, Series: key, StartedAt: v.Hour, LastAnomalousAt: v.Hour,
			PeakHour: v.Hour, PeakNanoUSD: v.Observed.SpendNanoUSD, PeakExpectedNanoUSD: v.ExpectedNanoUSD, PeakScore: v.Score,
			Severity: v.Severity, ExcessNanoUSD: excess, AnomalousHours: 1, DetectedAt: detectedAt}, StepOpened
	}
	e := *open
	if v.Hour.After(e.LastAnomalousAt) {
		e.LastAnomalousAt = v.Hour
	}
	e.AnomalousHours++
	e.ExcessNanoUSD += excess
	if v.Score > e.PeakScore {
		e.PeakHour, e.PeakNanoUSD, e.PeakExpectedNanoUSD, e.PeakScore = v.Hour, v.Observed.SpendNanoUSD, v.ExpectedNanoUSD, v.Score
	}
	if v.Severity.Rank() > e.Severity.Rank() {
		e.Severity = v.Severity
	}
	return &e, StepExtended
}
