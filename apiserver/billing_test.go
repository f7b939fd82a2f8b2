package apiserver

import (
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/pdftest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/money"
	"github.com/spendgate/spendgate/pdfdoc"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/usage"
)

const invoiceFields = `id number status total tenantCost period{label start end} pdfUrl csvUrl
	lines{kind provider model events amount tenantCost quantities{class quantity}} pricing{catalogueRevisions}`

// writeBillingEvents stores November 2026 usage of a tenant, priced.
func (h *harness) writeBillingEvents(t *testing.T, tenant string, costs ...int64) {
	t.Helper()
	var evs []spend.PricedEvent
	for i, c := range costs {
		evs = append(evs, spend.PricedEvent{Event: event.Event{SchemaVersion: event.SchemaVersion, Type: event.TypeUsage,
			EventID: uuid.NewString(), Time: time.Date(2026, 11, 3+i, 12, 0, 0, 0, time.UTC), Source: event.SourceGateway,
			TenantID: tenant, KeyID: uuid.NewString(), Provider: "openai", Operation: "chat.completions",
			ModelRequested: "gpt-4o", ModelServed: "gpt-4o", StatusCode: 200, Complete: true, Usage: usage.Tokens{Input: 1000 + int64(i), Output: 10}},
			Cost: pricing.Cost{Priced: true, Model: "gpt-4o", ListNanoUSD: c, TenantNanoUSD: c}})
	}
	_, err := h.events.Write(context.Background(), evs)
	testenv.Must(t, err, "write events")
}

func (h *harness) download(t *testing.T, token, path string) (int, string, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", h.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, "GET "+path)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// Through GraphQL and the HTTP exports: issuing is idempotent, the PDF and
// CSV show the API's totals, transitions that are not allowed answer
// CONFLICT, and another tenant reaches nothing.
func TestBillingOverGraphQLAndExports(t *testing.T) {
	t.Parallel()
	h := newFullHarness(t)
	token, tenant := h.owner("bill@example.com", "billco")
	otherToken, other := h.owner("eve@example.com", "evil")
	h.writeBillingEvents(t, tenant, 1_234_567_891, 5_000_000, 9_999_999_999)
	vars := map[string]any{"t": tenant, "p": "2026-11"}

	draft := h.must(token, `query($t:ID!,$p:String!){draftInvoice(tenantId:$t,period:$p){`+invoiceFields+`}}`, vars)["draftInvoice"].(map[string]any)
	if draft["status"] != "DRAFT" || draft["number"] != "DRAFT" || draft["id"] != "" {
		t.Fatalf("draft %v", draft)
	}
	first := h.must(token, `mutation($t:ID!,$p:String!){issueInvoice(tenantId:$t,period:$p){`+invoiceFields+`}}`, vars)["issueInvoice"].(map[string]any)
	again := h.must(token, `mutation($t:ID!,$p:String!){issueInvoice(tenantId:$t,period:$p){`+invoiceFields+`}}`, vars)["issueInvoice"].(map[string]any)
	if first["id"] != again["id"] || first["number"] != "INV-000001" || first["status"] != "ISSUED" {
		t.Fatalf("issued %v then %v", first["id"], again["id"])
	}
	// One line (openai × gpt-4o) of 1.234567891 + 0.005 + 9.999999999 =
	// 11.23956789 USD exact, charged as 11.24.
	if first["total"] != draft["total"] || first["tenantCost"] != "11.23956789" || first["total"] != "11.24" {
		t.Fatalf("total %v (draft %v), tenant cost %v", first["total"], draft["total"], first["tenantCost"])
	}
	total, err := money.ParseUSD(first["total"].(string))
	testenv.Must(t, err, "total")

	status, ctype, pdf := h.download(t, token, first["pdfUrl"].(string))
	if status != 200 || ctype != "application/pdf" {
		t.Fatalf("pdf: %d %s %s", status, ctype, pdf)
	}
	text := pdftest.Text(t, pdf)
	if m := regexp.MustCompile(`Total due\s+(\S+)`).FindStringSubmatch(text); len(m) < 2 || m[1] != pdfdoc.USD(total) {
		t.Fatalf("PDF total %v, API total %s:\n%s", m, pdfdoc.USD(total), text)
	}
	if !strings.Contains(text, "INV-000001") || !strings.Contains(text, "Tenant billco") {
		t.Fatalf("PDF lacks number or tenant:\n%s", text)
	}
	status, ctype, body := h.download(t, token, first["csvUrl"].(string))
	if status != 200 || !strings.HasPrefix(ctype, "text/csv") {
		t.Fatalf("csv: %d %s %s", status, ctype, body)
	}
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	testenv.Must(t, err, "csv")
	last := rows[len(rows)-1]
	if last[0] != "total" || last[len(last)-2] != "11.24" {
		t.Fatalf("CSV total row %v", last)
	}

	// Another tenant: its token does not open this tenant's documents, and
	// this invoice's id under its own tenant is not found.
	if status, _, _ := h.download(t, otherToken, first["pdfUrl"].(string)); status != http.StatusForbidden {
		t.Fatalf("another tenant downloading the PDF: %d, want 403", status)
	}
	r := h.gql(otherToken, `query($t:ID!,$id:ID!){invoice(tenantId:$t,id:$id){id}}`, map[string]any{"t": other, "id": first["id"]})
	if r.code() != "NOT_FOUND" {
		t.Fatalf("another tenant's invoice id: %+v", r.Errors)
	}
	r = h.gql(otherToken, `query($t:ID!){invoices(tenantId:$t){id}}`, map[string]any{"t": tenant})
	if r.code() != "FORBIDDEN" {
		t.Fatalf("listing another tenant's invoices: %+v", r.Errors)
	}

	id := map[string]any{"t": tenant, "id": first["id"]}
	paid := h.must(token, `mutation($t:ID!,$id:ID!){markInvoicePaid(tenantId:$t,id:$id){status}}`, id)["markInvoicePaid"].(map[string]any)
	if paid["status"] != "PAID" {
		t.Fatalf("paid %v", paid)
	}
	r = h.gql(token, `mutation($t:ID!,$id:ID!){voidInvoice(tenantId:$t,id:$id,reason:"late"){status}}`, id)
	if r.code() != "CONFLICT" || !strings.Contains(r.Errors[0].Message, "is paid") {
		t.Fatalf("voiding a paid invoice: %+v", r.Errors)
	}
	for name, c := range map[string]struct{ query, code, msg string }{
		"future period":   {`mutation($t:ID!){issueInvoice(tenantId:$t,period:"2099-01"){id}}`, "INVALID_ARGUMENT", "has not started"},
		"not a period":    {`query($t:ID!){draftInvoice(tenantId:$t,period:"11/2026"){id}}`, "INVALID_ARGUMENT", "YYYY-MM"},
		"issued period":   {`query($t:ID!){draftInvoice(tenantId:$t,period:"2026-11"){id}}`, "CONFLICT", "already issued as INV-000001"},
		"statement group": {`query($t:ID!){chargebackStatement(tenantId:$t,period:"2026-11",groupBy:"nope"){total}}`, "INVALID_ARGUMENT", "groupBy"},
		"settings":        {`mutation($t:ID!){updateBillingSettings(tenantId:$t,input:{timeZone:"Nowhere/Land",periodStartDay:1}){timeZone}}`, "INVALID_ARGUMENT", "IANA"},
	} {
		r := h.gql(token, c.query, map[string]any{"t": tenant})
		if r.code() != c.code || !strings.Contains(r.Errors[0].Message, c.msg) {
			t.Errorf("%s: %+v, want %s mentioning %q", name, r.Errors, c.code, c.msg)
		}
	}
	if status, _, body := h.download(t, token, "/export/invoice.pdf?tenantId="+tenant); status != http.StatusBadRequest {
		t.Errorf("export without id or period: %d %s", status, body)
	}
	st := h.must(token, `query($t:ID!){chargebackStatement(tenantId:$t,period:"2026-11",groupBy:"team"){total groups{groupName amount} csvUrl}}`,
		map[string]any{"t": tenant})["chargebackStatement"].(map[string]any)
	if st["total"] != "11.24" || len(st["groups"].([]any)) != 1 || get(st, "groups").([]any)[0].(map[string]any)["groupName"] != "(unattributed)" {
		t.Fatalf("statement %v", st)
	}
	if status, _, body := h.download(t, token, st["csvUrl"].(string)); status != 200 || !strings.Contains(string(body), "(unattributed)") {
		t.Fatalf("statement csv %d %s", status, body)
	}
}
