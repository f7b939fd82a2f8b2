package report

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/spendgate/spendgate/money"
)

// USD formats nano-USD for people: dollars and cents with thousands
// separators, and four decimals under a dollar so small spend does not
// read as zero. The CSV carries the exact amounts.
func USD(n int64) string {
	digits := 2
	if abs(n) < 1_000_000_000 && n != 0 {
		digits = 4
	}
	s := money.FormatFixed(n, digits)
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	dot := len(s)
	for i := range s {
		if s[i] == '.' {
			dot = i
			break
		}
	}
	var b []byte
	for i := 0; i < dot; i++ {
		if i > 0 && (dot-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	out := "$" + string(b) + s[dot:]
	if neg {
		return "-" + out
	}
	return out
}

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

// PDF renders the report as an A4 PDF: a summary, a chart of daily spend
// against the previous period, movers, budgets, anomalies and
// recommendations, with page numbers. created stamps the document (a fixed
// time gives identical bytes for identical reports).
func (r *Report) PDF(created time.Time) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCreationDate(created)
	pdf.SetModificationDate(created)
	pdf.SetTitle(r.Name, true)
	pdf.SetProducer("spendgate", false)
	pdf.AliasNbPages("{nb}")
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont("Helvetica", "", 8)
		pdf.SetTextColor(110, 110, 110)
		pdf.CellFormat(0, 6, tr(fmt.Sprintf("%s - page %d of {nb}", r.Name, pdf.PageNo())), "", 0, "C", false, 0, "")
	})
	pdf.AddPage()
	doc := &pdfWriter{pdf: pdf, tr: tr}

	doc.title(r.Name)
	doc.line(fmt.Sprintf("%s, %s to %s (%s)", r.ScopeLabel, r.From.In(r.loc()).Format("Mon 2 Jan 2006 15:04"),
		r.To.In(r.loc()).Format("Mon 2 Jan 2006 15:04"), r.TimeZone))
	doc.gap()
	doc.keyValues([][2]string{
		{"Spend this period", USD(r.Current.TenantNanoUSD)},
		{"Previous period", USD(r.Previous.TenantNanoUSD)},
		{"Change", signedUSD(r.ChangeNanoUSD()) + " (" + changePercent(r.Current.TenantNanoUSD, r.Previous.TenantNanoUSD) + ")"},
		{"Requests", fmt.Sprintf("%d (previous %d)", r.Current.Events, r.Previous.Events)},
		{"Unpriced requests", strconv.FormatUint(r.Current.UnpricedEvents, 10)},
	})

	if len(r.Daily) > 0 {
		doc.heading("Spend per day")
		labels := make([]string, len(r.Daily))
		values := make([]int64, len(r.Daily))
		for i, d := range r.Daily {
			labels[i], values[i] = d.Day.Format("2 Jan"), d.NanoUSD
		}
		doc.ensure(70)
		x, y := pdf.GetX(), pdf.GetY()
		DrawBarChart(pdf, tr, x, y, 180, 60, BarChart{Labels: labels, Values: values, Format: USD})
		pdf.SetY(y + 64)
	}

	doc.heading("Top movers")
	if len(r.Movers) == 0 {
		doc.line("No model, key or team changed its spend.")
	} else {
		rows := make([][]string, len(r.Movers))
		for i := range r.Movers {
			m := &r.Movers[i]
			rows[i] = []string{m.Dimension, m.Label, USD(m.CurrentNanoUSD), USD(m.PreviousNanoUSD), signedUSD(m.ChangeNanoUSD()),
				changePercent(m.CurrentNanoUSD, m.PreviousNanoUSD)}
		}
		doc.table([]string{"", "Name", "This period", "Previous", "Change", "%"}, []float64{16, 64, 28, 28, 28, 16}, rows)
	}

	doc.heading("Budgets")
	if len(r.Budgets) == 0 {
		doc.line("No budget covers this scope.")
	} else {
		rows := make([][]string, len(r.Budgets))
		for i := range r.Budgets {
			b := &r.Budgets[i]
			rows[i] = []string{b.Name, b.Period, USD(b.SpentNanoUSD), USD(b.AmountNanoUSD), strconv.FormatInt(b.Percent(), 10) + "%",
				USD(b.ForecastNanoUSD), b.State()}
		}
		doc.table([]string{"Budget", "Period", "Spent", "Amount", "Used", "Forecast", "Status"}, []float64{50, 18, 26, 26, 14, 26, 20}, rows)
	}

	if r.Anomalies != nil {
		doc.heading("Anomalies")
		if len(r.Anomalies) == 0 {
			doc.line("No anomalies in this period.")
		} else {
			rows := make([][]string, len(r.Anomalies))
			for i := range r.Anomalies {
				a := &r.Anomalies[i]
				rows[i] = []string{a.Start.In(r.loc()).Format("2 Jan 15:04"), a.Subject, a.Severity, USD(a.ActualNanoUSD), USD(a.ExpectedNanoUSD)}
			}
			doc.table([]string{"Start", "Where", "Severity", "Actual", "Expected"}, []float64{28, 74, 22, 28, 28}, rows)
		}
	}
	if r.Recommendations != nil {
		doc.heading("Recommendations")
		if len(r.Recommendations) == 0 {
			doc.line("No open recommendations.")
		} else {
			rows := make([][]string, len(r.Recommendations))
			for i := range r.Recommendations {
				rec := &r.Recommendations[i]
				rows[i] = []string{rec.Title, USD(rec.EstimatedMonthlySavingsNanoUSD) + "/month"}
			}
			doc.table([]string{"Recommendation", "Estimated savings"}, []float64{140, 40}, rows)
		}
	}

	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("report: pdf: %w", err)
	}
	return buf.Bytes(), nil
}

func (r *Report) loc() *time.Location {
	loc, err := time.LoadLocation(r.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// pdfWriter lays out text blocks top to bottom.
type pdfWriter struct {
	pdf *fpdf.Fpdf
	tr  func(string) string
}

func (w *pdfWriter) title(s string) {
	w.pdf.SetFont("Helvetica", "B", 18)
	w.pdf.SetTextColor(20, 20, 20)
	w.pdf.CellFormat(0, 10, w.tr(s), "", 1, "L", false, 0, "")
}

func (w *pdfWriter) heading(s string) {
	w.ensure(20)
	w.pdf.Ln(4)
	w.pdf.SetFont("Helvetica", "B", 13)
	w.pdf.SetTextColor(20, 20, 20)
	w.pdf.CellFormat(0, 8, w.tr(s), "", 1, "L", false, 0, "")
}

func (w *pdfWriter) line(s string) {
	w.pdf.SetFont("Helvetica", "", 10)
	w.pdf.SetTextColor(60, 60, 60)
	w.pdf.MultiCell(0, 5, w.tr(s), "", "L", false)
}

func (w *pdfWriter) gap() { w.pdf.Ln(3) }

// ensure starts a new page when less than h mm are left.
func (w *pdfWriter) ensure(h float64) {
	_, pageH := w.pdf.GetPageSize()
	_, _, _, bottom := w.pdf.GetMargins()
	if w.pdf.GetY()+h > pageH-bottom-15 {
		w.pdf.AddPage()
	}
}

func (w *pdfWriter) keyValues(kv [][2]string) {
	for _, p := range kv {
		w.pdf.SetFont("Helvetica", "", 10)
		w.pdf.SetTextColor(90, 90, 90)
		w.pdf.CellFormat(50, 6, w.tr(p[0]), "", 0, "L", false, 0, "")
		w.pdf.SetFont("Helvetica", "B", 10)
		w.pdf.SetTextColor(20, 20, 20)
		w.pdf.CellFormat(0, 6, w.tr(p[1]), "", 1, "L", false, 0, "")
	}
}

func (w *pdfWriter) table(header []string, widths []float64, rows [][]string) {
	w.ensure(14)
	w.pdf.SetFont("Helvetica", "B", 9)
	w.pdf.SetFillColor(235, 238, 243)
	w.pdf.SetTextColor(20, 20, 20)
	for i, h := range header {
		w.pdf.CellFormat(widths[i], 7, w.tr(h), "B", 0, "L", true, 0, "")
	}
	w.pdf.Ln(-1)
	w.pdf.SetFont("Helvetica", "", 9)
	for _, row := range rows {
		w.ensure(7)
		for i, c := range row {
			w.pdf.CellFormat(widths[i], 6, fit(w.pdf, w.tr(c), widths[i]-2), "", 0, "L", false, 0, "")
		}
		w.pdf.Ln(-1)
	}
}

// fit shortens s with ".." to fit width mm (in the current font).
func fit(pdf *fpdf.Fpdf, s string, width float64) string {
	if pdf.GetStringWidth(s) <= width {
		return s
	}
	for len(s) > 1 && pdf.GetStringWidth(s+"..") > width {
		s = s[:len(s)-1]
	}
	return s + ".."
}
