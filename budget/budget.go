// Package budget is the pure arithmetic of spendgate budgets: calendar periods
// in UTC, scope matching, threshold crossings, reservation fits and alert
// texts. It does no I/O; budget/pgstore keeps the counters in Postgres,
// budget/alerts delivers alerts, budget/httpapi serves reservations and
// budget/service wires them. See docs/budgets.md for the guarantees.
package budget

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/money"
	"github.com/spendgate/spendgate/usage"
)

// Period is a budget's calendar window, always computed in UTC.
type Period string

// Periods.
const (
	Day     Period = "day"
	Week    Period = "week" // Monday 00:00 UTC to the next Monday
	Month   Period = "month"
	Quarter Period = "quarter" // January, April, July, October
	Year    Period = "year"
)

// Periods lists every period, shortest first.
var Periods = []Period{Day, Week, Month, Quarter, Year}

// ErrInvalid marks bad input.
var ErrInvalid = errors.New("budget: invalid")

// ParsePeriod checks a period name.
func ParsePeriod(s string) (Period, error) {
	if p := Period(s); slices.Contains(Periods, p) {
		return p, nil
	}
	return "", fmt.Errorf("%w: period must be day, week, month, quarter or year, not %q", ErrInvalid, s)
}

// Bounds returns the half-open UTC window [start, end) of period p holding t.
func Bounds(p Period, t time.Time) (start, end time.Time, err error) {
	t = t.UTC()
	y, m, d := t.Date()
	switch p {
	case Day:
		start = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 0, 1), nil
	case Week:
		back := (int(t.Weekday()) + 6) % 7 // days since Monday
		start = time.Date(y, m, d-back, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 0, 7), nil
	case Month:
		start = time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0), nil
	case Quarter:
		start = time.Date(y, m-(m-1)%3, 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 3, 0), nil
	case Year:
		start = time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(1, 0, 0), nil
	}
	return time.Time{}, time.Time{}, fmt.Errorf("%w: unknown period %q", ErrInvalid, p)
}

// Reached returns the thresholds (percents, ascending) that spent has reached
// for a budget of amount. Spent exactly at a threshold counts as reached.
// The arithmetic is exact: spent*100 >= t*amount, computed without overflow.
func Reached(thresholds []int, amount, spent int64) []int {
	var out []int
	for _, t := range thresholds {
		if t <= 0 || amount <= 0 {
			continue
		}
		if atLeastPercent(spent, amount, int64(t)) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// atLeastPercent reports spent >= amount*pct/100 exactly.
func atLeastPercent(spent, amount, pct int64) bool {
	// spent*100 >= amount*pct, split to avoid overflow: compare quotient and
	// remainder of amount*pct/100.
	q := amount / 100 * pct
	r := amount % 100 * pct
	q += r / 100
	r %= 100
	if spent != q {
		return spent > q
	}
	return r == 0
}

// Fits reports whether reserving x more stays within amount given spent and
// reserved: spent + reserved + x <= amount, without overflow.
func Fits(amount, spent, reserved, x int64) bool {
	if x < 0 || spent < 0 || reserved < 0 {
		return false
	}
	return spent <= amount && reserved <= amount-spent && x <= amount-spent-reserved
}

// Exhausted reports whether no further spend fits: spent + reserved >= amount.
func Exhausted(amount, spent, reserved int64) bool {
	return spent >= amount || reserved >= amount-spent
}

// Spend is one priced event as budgets see it. ingest adapts its priced
// events to this type (see FromEvent in budget/pgstore).
type Spend struct {
	EventID string
	// Subject is what the spend is of: tenant, its place in the hierarchy
	// (resolved at ingest), key, provider, model and dimensions.
	Subject
	Time          time.Time
	CostNanoUSD   int64 // tenant cost; 0 when not priced
	ReservationID string
}

// Validate checks one spend record.
func (s *Spend) Validate() error {
	switch {
	case s.EventID == "":
		return fmt.Errorf("%w: spend without event_id", ErrInvalid)
	case s.TenantID == "":
		return fmt.Errorf("%w: spend %s without tenant_id", ErrInvalid, s.EventID)
	case s.Time.IsZero():
		return fmt.Errorf("%w: spend %s without time", ErrInvalid, s.EventID)
	case s.CostNanoUSD < 0:
		return fmt.Errorf("%w: spend %s has negative cost", ErrInvalid, s.EventID)
	}
	return nil
}

// Alert is one threshold crossing of one budget in one period.
type Alert struct {
	ID            int64     `json:"id"`
	BudgetID      string    `json:"budget_id"`
	BudgetName    string    `json:"budget_name"`
	TenantID      string    `json:"tenant_id"`
	Threshold     int       `json:"threshold_percent"`
	PeriodStart   time.Time `json:"period_start"`
	PeriodEnd     time.Time `json:"period_end"`
	SpentNanoUSD  int64     `json:"spent_nano_usd"`
	AmountNanoUSD int64     `json:"amount_nano_usd"`
	Hard          bool      `json:"hard"`
	Time          time.Time `json:"time"`
}

// Text is the human line for one alert (Slack's "text").
func (a *Alert) Text() string {
	return fmt.Sprintf("spendgate: budget %q reached %d%% (%s of %s USD) for %s – %s UTC",
		a.BudgetName, a.Threshold, USD(a.SpentNanoUSD), USD(a.AmountNanoUSD),
		a.PeriodStart.UTC().Format("2006-01-02"), a.PeriodEnd.UTC().Format("2006-01-02"))
}

// USD formats nano-USD as a decimal dollar amount, trailing zeros trimmed to
// cents at least.
func USD(nano int64) string {
	neg := nano < 0
	u := uint64(nano)
	if neg {
		u = -u
	}
	s := fmt.Sprintf("%d.%09d", u/1e9, u%1e9)
	s = strings.TrimRight(s, "0")
	if i := strings.IndexByte(s, '.'); len(s)-i < 3 {
		s += strings.Repeat("0", 3-(len(s)-i))
	}
	if neg {
		s = "-" + s
	}
	return "$" + s
}

// WebhookBody is what a budget's webhook URL receives: Slack-compatible
// (text) plus the structured alerts coalesced into this delivery.
type WebhookBody struct {
	Text   string  `json:"text"`
	Alerts []Alert `json:"alerts"`
}

// Coalesce builds one webhook body from alerts of one budget.
func Coalesce(alerts []Alert) WebhookBody {
	lines := make([]string, 0, len(alerts))
	for i := range alerts {
		lines = append(lines, alerts[i].Text())
	}
	return WebhookBody{Text: strings.Join(lines, "\n"), Alerts: alerts}
}

// Backoff is the delay before retry attempt n (1-based): base·2^(n-1), capped.
func Backoff(base, maxDelay time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	return min(d, maxDelay)
}

// Delivery is one alert message to send: one alert for NATS, or every pending
// alert of one budget for its webhook (debounced, coalesced).
type Delivery struct {
	Kind       string // "nats", "webhook", "email" or "breach"
	WebhookURL string
	Emails     []string // the budget's recipients, for "email"
	Alerts     []Alert
	// Breach is the hard-cap breach to post, for "breach" (no Alerts).
	Breach  *BreachDelivery
	Attempt int // 1 for the first try
}

// DeliverPolicy says how failed deliveries are retried.
type DeliverPolicy struct {
	MaxAttempts int                             // then the delivery is marked failed
	Backoff     func(attempt int) time.Duration // delay after failed attempt n
}

// ReserveRequest is what the data plane sends before forwarding a call
// covered by a hard budget (POST /internal/v1/reservations).
type ReserveRequest struct {
	TenantID   string            `json:"tenant_id"`
	KeyID      string            `json:"key_id"`
	Dimensions map[string]string `json:"dimensions,omitempty"`
	Provider   string            `json:"provider,omitempty"`
	Model      string            `json:"model,omitempty"`
	// MaxTokens bounds the output; 0 means the configured default.
	MaxTokens int64 `json:"max_tokens,omitempty"`
	// InputTokensEstimate is the prompt size if the data plane knows it; 0
	// means the configured default.
	InputTokensEstimate int64 `json:"input_tokens_estimate,omitempty"`
	// Usage, when set, is the call's worst-case usage in any class
	// (characters, seconds, images as well as tokens), priced instead of
	// MaxTokens and InputTokensEstimate (the public preflight API).
	Usage *usage.Tokens `json:"usage,omitempty"`
	// MaxCostNanoUSD, when above 0, is the caller's own worst case: it is
	// reserved as is, with no catalogue estimate.
	MaxCostNanoUSD int64 `json:"max_cost_nano_usd,omitempty"`
}

// Validate checks a reservation request.
func (r *ReserveRequest) Validate() error {
	switch {
	case r.TenantID == "":
		return fmt.Errorf("%w: tenant_id is required", ErrInvalid)
	case !event.IsUUID(r.TenantID):
		return fmt.Errorf("%w: tenant_id %q is not a UUID", ErrInvalid, r.TenantID)
	case r.KeyID != "" && !event.IsUUID(r.KeyID):
		return fmt.Errorf("%w: key_id %q is not a UUID", ErrInvalid, r.KeyID)
	case r.MaxTokens < 0 || r.InputTokensEstimate < 0:
		return fmt.Errorf("%w: token counts must not be negative", ErrInvalid)
	case r.MaxTokens > 100_000_000 || r.InputTokensEstimate > 100_000_000:
		return fmt.Errorf("%w: token counts above 100,000,000", ErrInvalid)
	case r.MaxCostNanoUSD < 0:
		return fmt.Errorf("%w: max_cost_nano_usd must not be negative", ErrInvalid)
	}
	return nil
}

// Reservation is a granted hold.
type Reservation struct {
	ID            string    `json:"reservation_id"`
	AmountNanoUSD int64     `json:"amount_nano_usd"`
	ExpiresAt     time.Time `json:"expires_at"`
	// BudgetIDs are the hard budgets the amount is held against (empty when
	// no hard budget covers the call).
	BudgetIDs []string `json:"budget_ids"`
	// Unchecked is true when the reservation store was unreachable and the
	// service is configured to fail open: the call is not held against caps.
	Unchecked bool `json:"unchecked,omitempty"`
}

// DeniedError says which hard budget has no room for a reservation.
type DeniedError struct {
	BudgetID, BudgetName string
	AmountNanoUSD        int64 // the cap
	// CallNanoUSD is what the refused call could cost at most (its
	// reservation); LeftNanoUSD what the budget had left for it. When the
	// budget is not spent out, the caller learns that a smaller worst case
	// (max_tokens) would fit.
	CallNanoUSD, LeftNanoUSD int64
}

func (e *DeniedError) Error() string {
	if e.CallNanoUSD > 0 && e.LeftNanoUSD > 0 {
		return fmt.Sprintf("budget: %q (%s): this call may cost up to $%s, $%s is left in this period; set max_tokens to reserve less",
			e.BudgetName, e.BudgetID, money.FormatNano(e.CallNanoUSD), money.FormatNano(e.LeftNanoUSD))
	}
	return fmt.Sprintf("budget: %q (%s) has no room left in this period", e.BudgetName, e.BudgetID)
}

// ErrUnavailable means the budget store could not be reached; hard caps fail
// closed on it unless configured otherwise.
var ErrUnavailable = errors.New("budget: store unavailable")
