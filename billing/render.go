package billing

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spendgate/spendgate/money"
	"github.com/spendgate/spendgate/pdfdoc"
	"github.com/spendgate/spendgate/pricing"
)

// CSV columns: exact decimal USD for list and tenant cost, cents for the
// amount charged; one column per usage class.
func csvHeader() []string {
	h := []string{"kind", "adjusts_period", "provider", "model", "group", "group_name", "events", "unpriced_events"}
	h = append(h, pricing.ClassNames()...)
	return append(h, "list_cost_usd", "tenant_cost_usd", "amount_usd", "overrides")
}

func csvLine(l *Line) []string {
	row := []string{string(l.Kind), l.AdjustsPeriod, l.Provider, l.Model, l.Group, l.GroupName,
		strconv.FormatInt(l.Events, 10), strconv.FormatInt(l.UnpricedEvents, 10)}
	for _, c := range pricing.ClassNames() {
		row = append(row, strconv.FormatInt(l.Quantities[c], 10))
	}
	return append(row, money.FormatNano(l.ListNanoUSD), money.FormatNano(l.TenantNanoUSD), money.FormatFixed(l.AmountNanoUSD, 2),
		strings.Join(l.Overrides, " "))
}

func csvTotal(list, tenant, total int64) []string {
	row := make([]string, len(csvHeader()))
	row[0] = "total"
	n := len(row)
	row[n-4], row[n-3], row[n-2] = money.FormatNano(list), money.FormatNano(tenant), money.FormatFixed(total, 2)
	return row
}

// WriteInvoiceCSV writes the invoice's lines and a total row as CSV.
func WriteInvoiceCSV(w io.Writer, inv *Invoice) error {
	return writeCSV(w, inv.Lines, inv.ListNanoUSD, inv.TenantNanoUSD, inv.TotalNanoUSD)
}

// WriteStatementCSV writes the statement's lines and a total row as CSV.
func WriteStatementCSV(w io.Writer, st *Statement) error {
	return writeCSV(w, st.Lines, st.ListNanoUSD, st.TenantNanoUSD, st.TotalNanoUSD)
}

func writeCSV(w io.Writer, lines []Line, list, tenant, total int64) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader())
	for i := range lines {
		_ = cw.Write(csvLine(&lines[i]))
	}
	_ = cw.Write(csvTotal(list, tenant, total))
	cw.Flush()
	return cw.Error()
}

// quantityText summarises a line's quantities in class order.
func quantityText(q Quantities) string {
	var parts []string
	for _, c := range pricing.ClassNames() {
		if v := q[c]; v != 0 {
			parts = append(parts, strings.ReplaceAll(c, "_", " ")+" "+pdfdoc.Count(v))
		}
	}
	return strings.Join(parts, ", ")
}

func periodText(p Period) string {
	loc, err := time.LoadLocation(p.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	return fmt.Sprintf("%s to %s (%s)", p.Start.In(loc).Format("2006-01-02 15:04"), p.End.In(loc).Format("2006-01-02 15:04"), p.TimeZone)
}

const roundingNote = "Each line charges its exact tenant cost rounded to cents (half away from zero); the total is the sum of the rounded lines. " +
	"List and tenant cost are exact (nano-USD)."

func lineTable(lines []Line, grouped, adjustments bool) pdfdoc.Table {
	cols := []pdfdoc.Column{}
	if adjustments {
		cols = append(cols, pdfdoc.Column{Header: "Period", Weight: 1.1})
	}
	if grouped {
		cols = append(cols, pdfdoc.Column{Header: "Group", Weight: 1.6})
	}
	cols = append(cols,
		pdfdoc.Column{Header: "Provider", Weight: 1.3},
		pdfdoc.Column{Header: "Model", Weight: 2.2},
		pdfdoc.Column{Header: "Quantities", Weight: 3.2},
		pdfdoc.Column{Header: "Events", Weight: 0.9, Align: pdfdoc.Right},
		pdfdoc.MoneyColumn("List", 1.3),
		pdfdoc.MoneyColumn("Tenant cost", 1.4),
		pdfdoc.MoneyColumn("Amount", 1.3))
	t := pdfdoc.Table{Columns: cols}
	for _, l := range lines {
		var row []string
		if adjustments {
			row = append(row, l.AdjustsPeriod)
		}
		if grouped {
			row = append(row, l.GroupName)
		}
		t.Rows = append(t.Rows, append(row, l.Provider, l.Model, quantityText(l.Quantities), pdfdoc.Count(l.Events),
			pdfdoc.USD(l.ListNanoUSD), "$"+pdfdoc.Amount(l.TenantNanoUSD, 6), pdfdoc.USD(l.AmountNanoUSD)))
	}
	return t
}

func totalRow(t *pdfdoc.Table, label string, amount int64) {
	row := make([]string, len(t.Columns))
	row[0], row[len(row)-1] = label, pdfdoc.USD(amount)
	t.Totals = append(t.Totals, row)
}

// WriteInvoicePDF renders the invoice. tenantName heads it.
func WriteInvoicePDF(w io.Writer, inv *Invoice, tenantName string) error {
	title := "Invoice " + inv.NumberText()
	if inv.Status == Draft {
		title = "Draft invoice (not issued)"
	}
	created := inv.IssuedAt
	if created.IsZero() {
		created = inv.Pricing.ComputedAt
	}
	d := pdfdoc.New(title, tenantName+" - billing period "+inv.Period.Label, pdfdoc.Options{Landscape: true, CreatedAt: created,
		FooterNote: tenantName + " · " + title, Author: "spendgate"})
	kv := []pdfdoc.KV{{Key: "Number", Value: inv.NumberText()}, {Key: "Status", Value: string(inv.Status)},
		{Key: "Period", Value: periodText(inv.Period)}, {Key: "Currency", Value: inv.Currency}}
	if !inv.IssuedAt.IsZero() {
		kv = append(kv, pdfdoc.KV{Key: "Issued", Value: inv.IssuedAt.UTC().Format(time.RFC3339) + " by " + inv.IssuedBy})
	}
	if inv.PaidAt != nil {
		kv = append(kv, pdfdoc.KV{Key: "Paid", Value: inv.PaidAt.UTC().Format(time.RFC3339) + " by " + inv.PaidBy})
	}
	if inv.VoidedAt != nil {
		kv = append(kv, pdfdoc.KV{Key: "Void", Value: inv.VoidedAt.UTC().Format(time.RFC3339) + " by " + inv.VoidedBy + ": " + inv.VoidReason})
	}
	kv = append(kv, pdfdoc.KV{Key: "Priced by", Value: pricingText(&inv.Pricing)},
		pdfdoc.KV{Key: "Amount due", Value: pdfdoc.USD(inv.TotalNanoUSD)})
	d.KeyValues(kv)

	var usageLines, adjustments []Line
	for _, l := range inv.Lines {
		if l.Kind == AdjustmentLine {
			adjustments = append(adjustments, l)
		} else {
			usageLines = append(usageLines, l)
		}
	}
	grouped := inv.GroupBy != ""
	d.Heading("Usage " + inv.Period.Label)
	ut := lineTable(usageLines, grouped, false)
	_, _, usageTotal := sumLines(usageLines)
	totalRow(&ut, "Usage total", usageTotal)
	d.Table(ut)
	_, _, adjTotal := sumLines(adjustments)
	if len(adjustments) > 0 {
		d.Heading("Adjustments of earlier periods (late events, re-pricing)")
		at := lineTable(adjustments, grouped, true)
		totalRow(&at, "Adjustments total", adjTotal)
		d.Table(at)
	}
	d.Heading("Total")
	d.Table(pdfdoc.Table{Columns: []pdfdoc.Column{{Header: "", Weight: 4}, pdfdoc.MoneyColumn("Amount", 1)},
		Rows:   [][]string{{"Usage", pdfdoc.USD(usageTotal)}, {"Adjustments", pdfdoc.USD(adjTotal)}},
		Totals: [][]string{{"Total due", pdfdoc.USD(inv.TotalNanoUSD)}}})
	if len(inv.ProviderReported) > 0 {
		d.Heading("Metered vs provider-reported (list cost)")
		pt := pdfdoc.Table{Columns: []pdfdoc.Column{{Header: "Provider", Weight: 2}, pdfdoc.MoneyColumn("Metered", 1),
			pdfdoc.MoneyColumn("Provider-reported", 1), pdfdoc.MoneyColumn("Difference", 1)}}
		for _, f := range inv.ProviderReported {
			reported, diff := "not reported", ""
			if f.Reported {
				reported, diff = pdfdoc.USD(f.ReportedNanoUSD), pdfdoc.USD(f.ReportedNanoUSD-f.MeteredNanoUSD)
			}
			name := f.Provider
			if len(f.Covers) > 0 {
				name += " (" + strings.Join(f.Covers, ", ") + ")"
			}
			pt.Rows = append(pt.Rows, []string{name, pdfdoc.USD(f.MeteredNanoUSD), reported, diff})
		}
		d.Table(pt)
	}
	d.Paragraph(roundingNote)
	return d.Write(w)
}

func pricingText(b *PricingBasis) string {
	revs := make([]string, len(b.CatalogueRevisions))
	for i, r := range b.CatalogueRevisions {
		revs[i] = "#" + strconv.FormatInt(r, 10)
	}
	s := "catalogue revision"
	if len(revs) != 1 {
		s += "s"
	}
	if len(revs) == 0 {
		s += " (embedded catalogue)"
	} else {
		s += " " + strings.Join(revs, ", ")
	}
	ids := make([]string, len(b.Overrides))
	for i, o := range b.Overrides {
		ids[i] = o.Provider + "/" + o.Model
	}
	sort.Strings(ids)
	if len(ids) > 0 {
		s += "; tenant overrides " + strings.Join(ids, ", ")
	}
	return s
}

// WriteStatementPDF renders a chargeback statement.
func WriteStatementPDF(w io.Writer, st *Statement, tenantName string) error {
	d := pdfdoc.New("Chargeback statement "+st.Period.Label, tenantName+" - by "+st.GroupBy,
		pdfdoc.Options{Landscape: true, FooterNote: tenantName + " · chargeback " + st.Period.Label, Author: "spendgate"})
	d.KeyValues([]pdfdoc.KV{{Key: "Period", Value: periodText(st.Period)}, {Key: "Grouped by", Value: st.GroupBy},
		{Key: "Total", Value: pdfdoc.USD(st.TotalNanoUSD)}})
	d.Heading("Per " + st.GroupBy)
	gt := pdfdoc.Table{Columns: []pdfdoc.Column{{Header: "Group", Weight: 3}, {Header: "Events", Weight: 1, Align: pdfdoc.Right},
		pdfdoc.MoneyColumn("List", 1), pdfdoc.MoneyColumn("Tenant cost", 1.2), pdfdoc.MoneyColumn("Amount", 1)}}
	for _, g := range st.Groups {
		gt.Rows = append(gt.Rows, []string{g.GroupName, pdfdoc.Count(g.Events), pdfdoc.USD(g.ListNanoUSD),
			"$" + pdfdoc.Amount(g.TenantNanoUSD, 6), pdfdoc.USD(g.AmountNanoUSD)})
	}
	gt.Totals = [][]string{{"Total", "", "", "", pdfdoc.USD(st.TotalNanoUSD)}}
	d.Table(gt)
	d.Heading("Lines")
	lt := lineTable(st.Lines, true, false)
	totalRow(&lt, "Total", st.TotalNanoUSD)
	d.Table(lt)
	d.Paragraph(roundingNote)
	return d.Write(w)
}
