package reconcile

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/money"
	"github.com/spendgate/spendgate/spend"
)

// Query selects days [From, To) (UTC midnights) of a tenant, optionally one
// provider.
type Query struct {
	TenantID string
	From, To time.Time
	Provider Provider // "": every provider with a connection or a report
}

// Report is a reconciliation: rows per provider × day × model and their day
// totals.
type Report struct {
	Rows   []Row
	Days   []DayTotal
	Totals DayTotal // over everything (Day and Provider zero)
}

// ErrNoMetered answers reconciliation on a server without ClickHouse.
var ErrNoMetered = &apierr.Error{Code: apierr.CodeUnavailable, Message: "reconciliation needs spend analytics, which are not available on this server (no ClickHouse)"}

func (q *Query) validate() error {
	if q.From.IsZero() || q.To.IsZero() {
		return invalid("from and to are required")
	}
	if !q.From.Equal(Day(q.From)) || !q.To.Equal(Day(q.To)) {
		return invalid("from and to must be UTC midnights (reconciliation is per day)")
	}
	if !q.From.Before(q.To) {
		return invalid("from must be before to")
	}
	if q.To.Sub(q.From) > maxReconcileRangeDays*24*time.Hour {
		return invalid("at most %d days at once", maxReconcileRangeDays)
	}
	return nil
}

// Reconcile compares metered and provider-reported spend (viewers).
func (s *Service) Reconcile(ctx context.Context, q Query) (Report, error) {
	if _, err := s.auth.Authorize(ctx, q.TenantID, controlplane.RoleViewer); err != nil {
		return Report{}, err
	}
	if err := q.validate(); err != nil {
		return Report{}, err
	}
	return s.report(ctx, q)
}

// report computes a reconciliation without authorizing (the sync's drift
// check calls it too).
func (s *Service) report(ctx context.Context, q Query) (Report, error) {
	if s.metered == nil {
		return Report{}, ErrNoMetered
	}
	providers := []Provider{OpenAI, Anthropic, Google}
	if q.Provider != "" {
		providers = []Provider{q.Provider}
	}
	var rep Report
	for _, p := range providers {
		reported, err := s.store.Reported(ctx, q.TenantID, p, q.From, q.To)
		if err != nil {
			return Report{}, err
		}
		metered, err := s.meteredRows(ctx, q.TenantID, p, q.From, q.To)
		if err != nil {
			return Report{}, err
		}
		if len(reported) == 0 && q.Provider == "" {
			// Without a report there is nothing to reconcile: every metered
			// row would read "unreported". Asked for by name, it does.
			continue
		}
		rep.Rows = append(rep.Rows, Compare(p, metered, reported)...)
	}
	rep.Days = Totals(rep.Rows)
	for _, d := range rep.Days {
		rep.Totals.MeteredNanoUSD += d.MeteredNanoUSD
		rep.Totals.ReportedNanoUSD += d.ReportedNanoUSD
		rep.Totals.DriftNanoUSD += d.DriftNanoUSD
		rep.Totals.UnmeteredNanoUSD += d.UnmeteredNanoUSD
		rep.Totals.UnreportedNanoUSD += d.UnreportedNanoUSD
	}
	return rep, nil
}

// meteredRows reads metered spend per day × model (tenant cost: the
// tenant's contract prices, which is what the provider bills).
func (s *Service) meteredRows(ctx context.Context, tenantID string, p Provider, from, to time.Time) ([]Metered, error) {
	pts, err := s.metered.TimeSeries(ctx, spend.Spec{Tenant: tenantID, From: from, To: to,
		Filters: spend.Filters{Providers: p.MeteredProviders()}, GroupBy: []string{"model"}, Bucket: "day"})
	if err != nil {
		if errors.Is(err, spend.ErrUnavailable) {
			return nil, &apierr.Error{Code: apierr.CodeUnavailable, Message: "the analytics database did not answer; retry in a moment", Cause: err}
		}
		return nil, fmt.Errorf("reconcile: metered spend: %w", err)
	}
	out := make([]Metered, 0, len(pts))
	for _, pt := range pts {
		model := ""
		if len(pt.Keys) > 0 {
			model = pt.Keys[0]
		}
		out = append(out, Metered{Day: pt.Bucket, Model: model, Events: pt.Events, InputTokens: pt.InputTokens,
			OutputTokens: pt.OutputTokens, CostNanoUSD: pt.TenantNanoUSD})
	}
	return out, nil
}

// --- drift alerts ---

// DriftAlert is one provider's day whose drift exceeded the tenant's
// threshold.
type DriftAlert struct {
	ID              int64      `json:"id"`
	TenantID        string     `json:"tenant_id"`
	Provider        Provider   `json:"provider"`
	Day             time.Time  `json:"day"`
	ThresholdBP     int        `json:"threshold_bp"`
	DriftBP         int64      `json:"drift_bp"`
	DriftNanoUSD    int64      `json:"drift_nano_usd"`
	ReportedNanoUSD int64      `json:"reported_nano_usd"`
	MeteredNanoUSD  int64      `json:"metered_nano_usd"`
	CreatedAt       time.Time  `json:"created_at"`
	DeliveredAt     *time.Time `json:"delivered_at,omitempty"`
	Attempts        int        `json:"attempts"`
	LastError       string     `json:"last_error,omitempty"`
}

// Text is the human line (Slack's "text").
func (a *DriftAlert) Text() string {
	return fmt.Sprintf("spendgate: %s reported %s for %s, spendgate metered %s: drift %s (%s %%, threshold %s %%)",
		a.Provider, budget.USD(a.ReportedNanoUSD), a.Day.Format("2006-01-02"), budget.USD(a.MeteredNanoUSD),
		budget.USD(a.DriftNanoUSD), Percent(a.DriftBP), Percent(int64(a.ThresholdBP)))
}

// checkDrift raises an alert for every complete day (before today) of
// [from, to) whose provider total drifts beyond the tenant's threshold:
// once per threshold and day.
func (s *Service) checkDrift(ctx context.Context, tenantID string, p Provider, from, to time.Time) (int, error) {
	if s.metered == nil {
		return 0, nil
	}
	st, err := s.store.Settings(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	today := Day(s.Now())
	if to.After(today) {
		to = today // today is still being metered and reported
	}
	if !from.Before(to) {
		return 0, nil
	}
	rep, err := s.report(ctx, Query{TenantID: tenantID, From: from, To: to, Provider: p})
	if err != nil {
		return 0, err
	}
	raised := 0
	for _, d := range rep.Days {
		if d.ReportedNanoUSD == 0 || !Exceeds(d.DriftNanoUSD, d.ReportedNanoUSD, d.MeteredNanoUSD, st.ThresholdBP) {
			continue
		}
		bp, _ := d.DriftBP()
		a := &DriftAlert{TenantID: tenantID, Provider: p, Day: d.Day, ThresholdBP: st.ThresholdBP, DriftBP: bp,
			DriftNanoUSD: d.DriftNanoUSD, ReportedNanoUSD: d.ReportedNanoUSD, MeteredNanoUSD: d.MeteredNanoUSD}
		inserted, err := s.store.RecordDriftAlert(ctx, a)
		if err != nil {
			return raised, err
		}
		if inserted {
			raised++
			s.deliver(ctx, a, st.WebhookURL)
		}
	}
	return raised, nil
}

// deliver sends one alert and records the outcome; a failure is retried by
// DeliverAlerts.
func (s *Service) deliver(ctx context.Context, a *DriftAlert, webhookURL string) {
	if s.notify == nil {
		return
	}
	msg := ""
	if err := s.notify.NotifyDrift(ctx, a, webhookURL); err != nil {
		msg = err.Error()
		s.log.Warn("reconcile: drift alert not delivered", "tenant", a.TenantID, "alert", a.ID, "err", err)
	}
	if err := s.store.MarkDriftAlert(context.WithoutCancel(ctx), a.ID, msg); err != nil {
		s.log.Warn("reconcile: drift alert outcome not recorded", "alert", a.ID, "err", err)
	}
}

// DeliverAlerts retries undelivered drift alerts (the store hands out those
// whose backoff has passed).
func (s *Service) DeliverAlerts(ctx context.Context) error {
	if s.notify == nil {
		return nil
	}
	pending, err := s.store.UndeliveredDriftAlerts(ctx, 100)
	if err != nil {
		return err
	}
	for i := range pending {
		st, err := s.store.Settings(ctx, pending[i].TenantID)
		if err != nil {
			return err
		}
		s.deliver(ctx, &pending[i], st.WebhookURL)
	}
	return nil
}

// DriftAlerts lists a tenant's drift alerts, newest first (viewers).
func (s *Service) DriftAlerts(ctx context.Context, tenantID string, limit int) ([]DriftAlert, error) {
	if _, err := s.auth.Authorize(ctx, tenantID, controlplane.RoleViewer); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxPages {
		limit = 50
	}
	return s.store.DriftAlerts(ctx, tenantID, limit)
}

// --- CSV ---

// CSVHeader is the reconciliation export's header.
var CSVHeader = []string{"provider", "day", "model", "status", "metered_events", "metered_input_tokens", "metered_output_tokens",
	"metered_usd", "reported_requests", "reported_input_tokens", "reported_output_tokens", "reported_usd", "reported_has_cost",
	"drift_usd", "drift_percent"}

// WriteCSV writes the report's rows as CSV (exact decimal dollars).
func WriteCSV(w io.Writer, rep *Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, r := range rep.Rows {
		pct := ""
		if bp, ok := DriftBP(r.DriftNanoUSD, r.ReportedNanoUSD, r.MeteredNanoUSD); ok {
			pct = Percent(bp)
		}
		if err := cw.Write([]string{string(r.Provider), r.Day.Format("2006-01-02"), r.Model, string(r.Status),
			strconv.FormatUint(r.MeteredEvents, 10), i64(r.MeteredInputTokens), i64(r.MeteredOutputTokens), money.FormatNano(r.MeteredNanoUSD),
			i64(r.ReportedRequests), i64(r.ReportedInputTokens), i64(r.ReportedOutputTokens), money.FormatNano(r.ReportedNanoUSD),
			strconv.FormatBool(r.ReportedHasCost), money.FormatNano(r.DriftNanoUSD), pct}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Percent formats basis points as an exact percentage with two decimals
// (250 → "2.50", -5 → "-0.05").
func Percent(bp int64) string {
	sign := ""
	u := abs(bp)
	if bp < 0 {
		sign = "-"
	}
	return fmt.Sprintf("%s%d.%02d", sign, u/100, u%100)
}

// ReportedTotal is what one provider reported for a tenant over a range of
// days, and the metered providers its report covers.
type ReportedTotal struct {
	Provider    Provider
	Covers      []string
	CostNanoUSD int64
}

// ReportedTotals sums each provider's reported cost for the tenant over the
// UTC days that [from, to) overlaps (provider reports come in UTC days),
// for services acting for a caller they authorized (invoices). Providers
// with no reported row with a cost in those days are left out: not
// reported, rather than reported as zero.
func (s *Service) ReportedTotals(ctx context.Context, tenantID string, from, to time.Time) ([]ReportedTotal, error) {
	first, end := Day(from), Day(to)
	if end.Before(to) {
		end = end.AddDate(0, 0, 1)
	}
	var out []ReportedTotal
	for _, p := range []Provider{Anthropic, Google, OpenAI} {
		rows, err := s.store.Reported(ctx, tenantID, p, first, end)
		if err != nil {
			return nil, fmt.Errorf("reconcile: %s reports: %w", p, err)
		}
		t, found := ReportedTotal{Provider: p, Covers: p.MeteredProviders()}, false
		for _, r := range rows {
			if r.HasCost {
				t.CostNanoUSD += r.CostNanoUSD
				found = true
			}
		}
		if found {
			out = append(out, t)
		}
	}
	return out, nil
}
