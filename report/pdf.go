package report

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/spendgate/spendgate/pdfdoc"
)

// USD formats nano-USD for people (pdfdoc's rule: dollars and cents,
// thousands grouped). The CSV carries the exact amounts.
func USD(n int64) string { return pdfdoc.USD(n) }

// signedUSD is USD with a leading + for increases.
func signedUSD(n int64) string {
	if n > 0 {
		return "+" + USD(n)
	}
	return USD(n)
}

// changePercent is the change relative to before in whole percent, "new"
// when there was nothing before.
func changePercent(now, before int64) string {
	switch {
	case before == 0 && now == 0:
		return "0%"
	case before == 0:
		return "new"
	}
	return strconv.FormatInt((now-before)*100/before, 10) + "%"
}

func (r *Report) loc() *time.Location {
	loc, err := time.LoadLocation(r.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// PDF renders the report as an A4 PDF: a summary, charts of daily and
// cumulative spend against the previous period, movers, budgets, anomalies
// and recommendations, with page numbers. created stamps the document (a
// fixed time gives identical bytes for identical reports).
func (r *Report) PDF(created time.Time) ([]byte, error) {
	loc := r.loc()
	d := pdfdoc.New(r.Name, fmt.Sprintf("%s, %s to %s (%s)", r.ScopeLabel, r.From.In(loc).Format("Mon 2 Jan 2006 15:04"),
		r.To.In(loc).Format("Mon 2 Jan 2006 15:04"), r.TimeZone), pdfdoc.Options{CreatedAt: created, FooterNote: r.Name + " - spendgate"})
	d.KeyValues([]pdfdoc.KV{
		{Key: "Spend this period", Value: USD(r.Current.TenantNanoUSD)},
		{Key: "Previous period", Value: USD(r.Previous.TenantNanoUSD)},
		{Key: "Change", Value: signedUSD(r.ChangeNanoUSD()) + " (" + changePercent(r.Current.TenantNanoUSD, r.Previous.TenantNanoUSD) + ")"},
		{Key: "Requests", Value: fmt.Sprintf("%s (previous %s)", pdfdoc.Count(int64(r.Current.Events)), pdfdoc.Count(int64(r.Previous.Events)))},
		{Key: "Unpriced requests", Value: pdfdoc.Count(int64(r.Current.UnpricedEvents))},
	})

	if len(r.Daily) > 0 {
		labels := make([]string, len(r.Daily))
		values := make([]int64, len(r.Daily))
		for i, day := range r.Daily {
			labels[i], values[i] = day.Day.Format("2 Jan"), day.NanoUSD
		}
		d.Heading("Spend per day")
		d.BarChart(pdfdoc.Chart{Labels: labels, Series: []pdfdoc.Series{{Name: "Tenant cost per day", Values: values}}, Format: USD})
		if len(r.PreviousDaily) == len(r.Daily) {
			cur, prev := cumulative(values), make([]int64, len(r.PreviousDaily))
			for i := range r.PreviousDaily {
				prev[i] = r.PreviousDaily[i].NanoUSD
			}
			d.LineChart(pdfdoc.Chart{Title: "Cumulative spend against the previous period", Labels: labels, Height: 45, Format: USD,
				Series: []pdfdoc.Series{{Name: "This period", Values: cur}, {Name: "Previous period", Values: cumulative(prev)}}})
		}
	}

	d.Heading("Top movers")
	if len(r.Movers) == 0 {
		d.Paragraph("No model, key or team changed its spend.")
	} else {
		t := pdfdoc.Table{Columns: []pdfdoc.Column{{Header: "", Weight: 1}, {Header: "Name", Weight: 3.5},
			pdfdoc.MoneyColumn("This period", 1.5), pdfdoc.MoneyColumn("Previous", 1.5), pdfdoc.MoneyColumn("Change", 1.5),
			{Header: "%", Weight: 0.8, Align: pdfdoc.Right}}}
		for i := range r.Movers {
			m := &r.Movers[i]
			t.Rows = append(t.Rows, []string{m.Dimension, m.Label, USD(m.CurrentNanoUSD), USD(m.PreviousNanoUSD), signedUSD(m.ChangeNanoUSD()),
				changePercent(m.CurrentNanoUSD, m.PreviousNanoUSD)})
		}
		d.Table(t)
	}

	d.Heading("Budgets")
	if len(r.Budgets) == 0 {
		d.Paragraph("No budget covers this scope.")
	} else {
		t := pdfdoc.Table{Columns: []pdfdoc.Column{{Header: "Budget", Weight: 3}, {Header: "Period", Weight: 1},
			pdfdoc.MoneyColumn("Spent", 1.5), pdfdoc.MoneyColumn("Amount", 1.5), {Header: "Used", Weight: 0.8, Align: pdfdoc.Right},
			pdfdoc.MoneyColumn("Forecast", 1.5), {Header: "Status", Weight: 1.2}}}
		for i := range r.Budgets {
			b := &r.Budgets[i]
			t.Rows = append(t.Rows, []string{b.Name, b.Period, USD(b.SpentNanoUSD), USD(b.AmountNanoUSD), strconv.FormatInt(b.Percent(), 10) + "%",
				USD(b.ForecastNanoUSD), b.State()})
		}
		d.Table(t)
	}

	if r.Anomalies != nil {
		d.Heading("Anomalies")
		if len(r.Anomalies) == 0 {
			d.Paragraph("No anomalies in this period.")
		} else {
			t := pdfdoc.Table{Columns: []pdfdoc.Column{{Header: "Start", Weight: 1.3}, {Header: "Where", Weight: 3}, {Header: "Severity", Weight: 1},
				pdfdoc.MoneyColumn("Actual", 1.3), pdfdoc.MoneyColumn("Expected", 1.3)}}
			for i := range r.Anomalies {
				a := &r.Anomalies[i]
				t.Rows = append(t.Rows, []string{a.Start.In(loc).Format("2 Jan 15:04"), a.Subject, a.Severity, USD(a.ActualNanoUSD), USD(a.ExpectedNanoUSD)})
			}
			d.Table(t)
		}
	}
	if r.Recommendations != nil {
		d.Heading("Recommendations")
		if len(r.Recommendations) == 0 {
			d.Paragraph("No open recommendations.")
		} else {
			t := pdfdoc.Table{Columns: []pdfdoc.Column{{Header: "Recommendation", Weight: 5}, pdfdoc.MoneyColumn("Savings a month", 1.5)}}
			for i := range r.Recommendations {
				rec := &r.Recommendations[i]
				t.Rows = append(t.Rows, []string{rec.Title, USD(rec.EstimatedMonthlySavingsNanoUSD)})
			}
			d.Table(t)
		}
	}

	var buf bytes.Buffer
	if err := d.Write(&buf); err != nil {
		return nil, fmt.Errorf("report: pdf: %w", err)
	}
	return buf.Bytes(), nil
}

func cumulative(v []int64) []int64 {
	out := make([]int64, len(v))
	var sum int64
	for i, x := range v {
		sum += x
		out[i] = sum
	}
	return out
}
