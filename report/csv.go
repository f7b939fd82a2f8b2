package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"
	"time"

	"github.com/spendgate/spendgate/money"
)

// CSVHeader is the first row of a report's CSV: one table for every
// section, so a spreadsheet filters it by the first column. Amounts are
// exact decimal USD (the nano-USD the API reports, as dollars).
var CSVHeader = []string{"section", "dimension", "item", "current_usd", "previous_usd", "change_usd",
	"current_requests", "previous_requests", "note"}

// CSV renders the report as one CSV table (RFC 4180).
func (r *Report) CSV() ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	usd := money.FormatNano
	n := func(v uint64) string { return strconv.FormatUint(v, 10) }
	rows := [][]string{CSVHeader,
		{"summary", "total", r.ScopeLabel, usd(r.Current.TenantNanoUSD), usd(r.Previous.TenantNanoUSD), usd(r.ChangeNanoUSD()),
			n(r.Current.Events), n(r.Previous.Events), fmt.Sprintf("%s to %s (%s)", r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), r.TimeZone)},
	}
	for _, d := range r.Daily {
		rows = append(rows, []string{"day", "", d.Day.Format(time.DateOnly), usd(d.NanoUSD), "", "", n(d.Requests), "", ""})
	}
	for i := range r.Movers {
		m := &r.Movers[i]
		rows = append(rows, []string{"mover", m.Dimension, m.Label, usd(m.CurrentNanoUSD), usd(m.PreviousNanoUSD), usd(m.ChangeNanoUSD()),
			n(m.CurrentEvents), n(m.Previous), m.ID})
	}
	for i := range r.Budgets {
		b := &r.Budgets[i]
		rows = append(rows, []string{"budget", b.Period, b.Name, usd(b.SpentNanoUSD), "", "", "", "",
			fmt.Sprintf("%d%% of %s USD, forecast %s USD, %s", b.Percent(), usd(b.AmountNanoUSD), usd(b.ForecastNanoUSD), b.State())})
	}
	for i := range r.Anomalies {
		a := &r.Anomalies[i]
		rows = append(rows, []string{"anomaly", a.Severity, a.Subject, usd(a.ActualNanoUSD), usd(a.ExpectedNanoUSD),
			usd(a.ActualNanoUSD - a.ExpectedNanoUSD), "", "", a.Start.Format(time.RFC3339) + " " + a.Description})
	}
	for i := range r.Recommendations {
		rec := &r.Recommendations[i]
		rows = append(rows, []string{"recommendation", "", rec.Title, usd(rec.EstimatedMonthlySavingsNanoUSD), "", "", "", "", rec.Detail})
	}
	if err := w.WriteAll(rows); err != nil {
		return nil, fmt.Errorf("report: csv: %w", err)
	}
	return buf.Bytes(), nil
}
