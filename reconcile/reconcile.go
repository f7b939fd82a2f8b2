// Package reconcile answers finance's first question: does spendgate's
// metered spend match what the providers themselves report?
//
// A tenant keeps provider connections (provider, display name, an admin key
// that reads the provider's usage and cost reports, optionally the data-plane
// key), with the keys sealed at rest by package secrets and never answered
// back (last four characters only). A sync pulls the provider's reports for a
// look-back window (providers revise recent buckets), keeps every page as
// received for audit, and replaces the window's provider-reported rows per
// day × model. Compare then lines metered spend (ClickHouse) up against those
// rows per provider × day × model, in exact nano-USD: drift in dollars and
// basis points, provider spend with no metered counterpart ("unmetered":
// traffic that bypassed spendgate) and metered spend the provider does not
// report. Drift above the tenant's threshold raises one alert per threshold
// and day.
//
// The pull clients live in reconcile/pull, Postgres in reconcile/pgstore.
package reconcile

import (
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/money"
)

// Provider is a provider whose own reports can be pulled.
type Provider string

// Providers with report pulls.
const (
	// OpenAI: organization usage (completions) and costs endpoints.
	OpenAI Provider = "openai"
	// Anthropic: Admin API usage report (messages) and cost report.
	Anthropic Provider = "anthropic"
	// Google: a Cloud Billing BigQuery export file (CSV or JSONL),
	// imported; Vertex AI and Gemini spend.
	Google Provider = "google"
)

// ParseProvider validates a provider name.
func ParseProvider(s string) (Provider, error) {
	switch p := Provider(strings.ToLower(strings.TrimSpace(s))); p {
	case OpenAI, Anthropic, Google:
		return p, nil
	}
	return "", apierr.Invalid("provider %q is not one whose reports spendgate reads (openai, anthropic, google)", s)
}

// Pulled reports whether the provider's reports are pulled over its admin
// API (Google's arrive as an imported billing export).
func (p Provider) Pulled() bool { return p == OpenAI || p == Anthropic }

// MeteredProviders are the metered provider ids (meter's) whose spend the
// provider's report covers: a Google billing export covers Gemini API and
// Vertex AI calls alike.
func (p Provider) MeteredProviders() []string {
	switch p {
	case Google:
		return []string{"gemini", "vertex_ai"}
	default:
		return []string{string(p)}
	}
}

// Defaults.
const (
	DefaultLookbackDays   = 3
	MaxLookbackDays       = 31
	DefaultThresholdBP    = 200 // 2 %
	DefaultRetention      = 90 * 24 * time.Hour
	maxNameLen            = 100
	minKeyLen, maxKeyLen  = 8, 512
	maxReconcileRangeDays = 400
)

// Connection is a tenant's connection to a provider as the API shows it:
// secrets only by their last four characters.
type Connection struct {
	ID, TenantID  string
	Provider      Provider
	Name          string
	AdminKeyLast4 string // "" when none is stored
	DataKeyLast4  string
	LookbackDays  int
	Enabled       bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Run           RunStatus
}

// RunStatus is a connection's last sync, for operators and the portal.
type RunStatus struct {
	LastRunAt, LastOKAt *time.Time
	// NextRunAt is the next scheduled sync (nil: not scheduled yet).
	NextRunAt *time.Time
	LastError string
	// Running is set while a sync is in progress; Progress says how far
	// (pages fetched so far).
	Running  bool
	Progress string
	Pages    int
	Rows     int
	Attempts int
}

// SealedConnection is a connection with its sealed secrets, as stored.
type SealedConnection struct {
	Connection
	AdminKeySealed, DataKeySealed string
}

// ConnectionInput creates a connection or changes one (nil: unchanged).
type ConnectionInput struct {
	Provider     string
	Name         *string
	AdminKey     *string // "" removes it
	DataKey      *string // "" removes it
	LookbackDays *int
	Enabled      *bool
}

// Validate checks the input; creating says whether a connection is being
// created (provider and name required, a pulled provider needs its admin key).
func (in *ConnectionInput) Validate(creating bool) error {
	var errs []error
	if creating {
		p, err := ParseProvider(in.Provider)
		if err != nil {
			errs = append(errs, err)
		}
		if in.Name == nil {
			errs = append(errs, apierr.Invalid("name is required"))
		}
		if err == nil && p.Pulled() && (in.AdminKey == nil || *in.AdminKey == "") {
			errs = append(errs, apierr.Invalid("an %s connection needs adminKey: the admin API key that reads usage and cost reports", p))
		}
	}
	if in.Name != nil {
		n := strings.TrimSpace(*in.Name)
		if n == "" || utf8.RuneCountInString(n) > maxNameLen {
			errs = append(errs, apierr.Invalid("name must be 1-%d characters", maxNameLen))
		}
	}
	for what, k := range map[string]*string{"adminKey": in.AdminKey, "dataKey": in.DataKey} {
		if k == nil || *k == "" {
			continue
		}
		if len(*k) < minKeyLen || len(*k) > maxKeyLen || strings.ContainsAny(*k, " \t\r\n") {
			errs = append(errs, apierr.Invalid("%s must be %d-%d characters without spaces", what, minKeyLen, maxKeyLen))
		}
	}
	if in.LookbackDays != nil && (*in.LookbackDays < 1 || *in.LookbackDays > MaxLookbackDays) {
		errs = append(errs, apierr.Invalid("lookbackDays must be 1-%d, not %d", MaxLookbackDays, *in.LookbackDays))
	}
	return joinClient(errs)
}

// joinClient joins client errors into one INVALID_ARGUMENT error whose
// message lists every problem.
func joinClient(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	if len(errs) == 1 {
		return errs[0]
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		var ae *apierr.Error
		if errors.As(e, &ae) {
			msgs[i] = ae.Message
		} else {
			msgs[i] = e.Error()
		}
	}
	return apierr.Invalid("%s", strings.Join(msgs, "; "))
}

// Last4 is what the API shows of a secret.
func Last4(secret string) string {
	if len(secret) <= 4 {
		return secret
	}
	return secret[len(secret)-4:]
}

// SecretAAD binds a sealed key to its connection and role, so a sealed value
// copied to another row or column does not open.
func SecretAAD(connectionID, which string) string {
	return "provider-" + which + "-key/" + connectionID
}

// ReportedRow is what a provider reported for one day × model.
type ReportedRow struct {
	Day                       time.Time // UTC midnight
	Model                     string
	InputTokens, OutputTokens int64
	Requests                  int64
	// CostNanoUSD is the reported cost; HasCost is false when the provider
	// reported usage but no cost for the row.
	CostNanoUSD int64
	HasCost     bool
}

// Page is one page of a provider report as received, kept for audit.
type Page struct {
	ID           int64
	TenantID     string
	ConnectionID string
	Provider     Provider
	Endpoint     string // "usage", "costs", "billing_export"
	RequestURL   string // the request, without credentials
	Status       int
	FetchedAt    time.Time
	SHA256       string // hex of Body
	ContentType  string
	Size         int
	Body         []byte // nil in listings
}

// Day truncates t to its UTC day.
func Day(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// Window is the days a sync reads at now: the look-back days before today
// and today, [from, to).
func Window(now time.Time, lookbackDays int) (from, to time.Time) {
	today := Day(now)
	return today.AddDate(0, 0, -lookbackDays), today.AddDate(0, 0, 1)
}

// Settings are a tenant's reconciliation settings.
type Settings struct {
	// ThresholdBP is the drift (basis points of the provider-reported cost)
	// above which a day raises an alert.
	ThresholdBP int
	// WebhookURL, when set, receives drift alerts (Slack-compatible body).
	WebhookURL string
}

// Validate checks the settings.
func (s *Settings) Validate() error {
	if s.ThresholdBP < 1 || s.ThresholdBP > 100_000 {
		return apierr.Invalid("driftThresholdPercent must be between 0.01 and 1000 (%d basis points given)", s.ThresholdBP)
	}
	return nil
}

func invalid(format string, args ...any) error { return apierr.Invalid(format, args...) }

// ParsePercent reads a drift threshold percentage ("2", "0.5", "12.25") as
// basis points, exactly.
func ParsePercent(s string) (int, error) {
	s = strings.TrimSpace(s)
	bp, err := money.ParseScaledExact(s, 2)
	if err != nil || strings.ContainsAny(s, "eE+") || bp < 1 || bp > 100_000 {
		return 0, apierr.Invalid("driftThresholdPercent %q: want a percentage between 0.01 and 1000 with at most two decimals, such as \"2\" or \"0.5\"", s)
	}
	return int(bp), nil
}
