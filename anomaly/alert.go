package anomaly

import (
	"fmt"
	"time"
)

// Alert is what an episode's one alert says, as published on NATS (JSON)
// and posted to the webhooks of the budgets that cover the series.
type Alert struct {
	Type      string    `json:"type"` // "spend_anomaly"
	EpisodeID string    `json:"episode_id"`
	TenantID  string    `json:"tenant_id"`
	Dimension Dimension `json:"dimension"`
	Value     string    `json:"value"`
	// Label is the key's, team's or project's name ("" for the tenant and
	// models, or when it is gone).
	Label           string    `json:"label,omitempty"`
	Severity        Severity  `json:"severity"`
	StartedAt       time.Time `json:"started_at"`
	Hour            time.Time `json:"hour"`
	ObservedNanoUSD int64     `json:"observed_nano_usd"`
	ExpectedNanoUSD int64     `json:"expected_nano_usd"`
	Score           float64   `json:"score"`
	DetectedAt      time.Time `json:"detected_at"`
}

// AlertType is Alert.Type.
const AlertType = "spend_anomaly"

// AlertOf is the alert of a newly opened episode.
func AlertOf(e *Episode) Alert {
	return Alert{Type: AlertType, EpisodeID: e.ID, TenantID: e.TenantID, Dimension: e.Series.Dimension, Value: e.Series.Value, Label: e.Label,
		Severity: e.Severity, StartedAt: e.StartedAt, Hour: e.PeakHour, ObservedNanoUSD: e.PeakNanoUSD,
		ExpectedNanoUSD: e.PeakExpectedNanoUSD, Score: e.PeakScore, DetectedAt: e.DetectedAt}
}

// Text is the human line (Slack's "text").
func (a *Alert) Text() string {
	what := "the tenant's spend"
	switch {
	case a.Dimension == DimTenant:
	case a.Label != "":
		what = fmt.Sprintf("spend of %s %q", a.Dimension, a.Label)
	default:
		what = fmt.Sprintf("spend of %s %s", a.Dimension, a.Value)
	}
	return fmt.Sprintf("spendgate: %s anomaly: %s was %s in the hour from %s UTC, against %s usual for that hour of the week",
		a.Severity, what, dollars(a.ObservedNanoUSD), a.Hour.UTC().Format("2006-01-02 15:04"), dollars(a.ExpectedNanoUSD))
}

func dollars(nano int64) string {
	return fmt.Sprintf("$%d.%02d", nano/1_000_000_000, nano%1_000_000_000/10_000_000)
}

// Delivery is one anomaly alert to send on one channel.
type Delivery struct {
	Kind       string // "nats" or "webhook"
	WebhookURL string
	Alert      Alert
	Attempt    int // 1 for the first try
}
