package billing_test

import (
	"bytes"
	"encoding/csv"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/billing"
	"github.com/spendgate/spendgate/internal/pdftest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/money"
	"github.com/spendgate/spendgate/pdfdoc"
	"github.com/spendgate/spendgate/usage"
)

// The PDF and CSV of an issued invoice (with adjustments) show the same
// lines and totals as the invoice the API returns.
func TestInvoiceExportsMatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, tenant := f.owner("hal@example.com", "hale")
	f.record(ctx, tenant, novemberCalls()...)
	_, err := f.svc.Issue(ctx, tenant, "2026-11")
	testenv.Must(t, err, "issue november")
	f.record(ctx, tenant, call{provider: "anthropic", model: haiku, at: nov(29, 1), tokens: usage.Tokens{Input: 400_000, Output: 20_000}},
		call{provider: "openai", model: gpt4o, at: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), tokens: usage.Tokens{Input: 123_456, Output: 789}})
	f.now = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	inv, err := f.svc.Issue(ctx, tenant, "2026-12")
	testenv.Must(t, err, "issue december")
	if inv.TotalNanoUSD == 0 || len(inv.Lines) != 2 {
		t.Fatalf("december %+v: want a usage line and an adjustment", inv)
	}

	var pdf bytes.Buffer
	testenv.Must(t, billing.WriteInvoicePDF(&pdf, &inv, "Tenant hale"), "pdf")
	text := pdftest.Text(t, pdf.Bytes())
	for _, want := range []string{"Invoice INV-000002", "Tenant hale", "2026-12-01 00:00 to 2027-01-01 00:00 (UTC)", "issued",
		"Adjustments of earlier periods", "2026-11", gpt4o, haiku} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF lacks %q:\n%s", want, text)
		}
	}
	total := regexp.MustCompile(`Total due\s+(\S+)`).FindStringSubmatch(text)
	if len(total) < 2 || total[1] != pdfdoc.USD(inv.TotalNanoUSD) {
		t.Errorf("PDF total due %v, API total %s", total, pdfdoc.USD(inv.TotalNanoUSD))
	}
	due := regexp.MustCompile(`Amount due\s+(\S+)`).FindStringSubmatch(text)
	if len(due) < 2 || due[1] != pdfdoc.USD(inv.TotalNanoUSD) {
		t.Errorf("PDF amount due %v, API total %s", due, pdfdoc.USD(inv.TotalNanoUSD))
	}
	for _, l := range inv.Lines {
		if !strings.Contains(text, pdfdoc.USD(l.AmountNanoUSD)) {
			t.Errorf("PDF lacks line amount %s", pdfdoc.USD(l.AmountNanoUSD))
		}
	}

	var buf bytes.Buffer
	testenv.Must(t, billing.WriteInvoiceCSV(&buf, &inv), "csv")
	rows, err := csv.NewReader(&buf).ReadAll()
	testenv.Must(t, err, "read csv")
	head := rows[0]
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	if len(rows) != len(inv.Lines)+2 {
		t.Fatalf("%d CSV rows for %d lines", len(rows), len(inv.Lines))
	}
	var sum int64
	for i, l := range inv.Lines {
		r := rows[i+1]
		if r[col["kind"]] != string(l.Kind) || r[col["model"]] != l.Model || r[col["tenant_cost_usd"]] != money.FormatNano(l.TenantNanoUSD) ||
			r[col["input"]] != strconv.FormatInt(l.Quantities["input"], 10) {
			t.Errorf("CSV row %v for line %+v", r, l)
		}
		cents, err := money.ParseUSD(strings.TrimPrefix(r[col["amount_usd"]], "-"))
		testenv.Must(t, err, "amount")
		if strings.HasPrefix(r[col["amount_usd"]], "-") {
			cents = -cents
		}
		sum += cents
	}
	last := rows[len(rows)-1]
	if last[0] != "total" || last[col["amount_usd"]] != money.FormatFixed(inv.TotalNanoUSD, 2) || sum != inv.TotalNanoUSD {
		t.Errorf("CSV total row %v, lines sum %d; API total %d", last, sum, inv.TotalNanoUSD)
	}
}
