package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spendgate/spendgate/money"
)

// TestPortalBilling: after real calls through the gateway, the Billing page
// shows the current period's draft with the API's total, drills down from a
// line to the events behind it and explains one; issuing the unfinished
// period is refused with the API's message; the chargeback statement puts
// the spend on its unattributed line.
func TestPortalBilling(t *testing.T) {
	ctx := newBrowser(t)
	srv := startServer(t)
	perCall := perCallNano(t)
	var key struct{ CreateAPIKey struct{ Secret string } }
	srv.gql(t, `mutation($t:ID!){createAPIKey(tenantId:$t,name:"billing"){secret}}`, map[string]any{"t": srv.TenantID}, &key)
	c := srv.openAI(key.CreateAPIKey.Secret)
	chat(t, c)
	chat(t, c)
	srv.waitRequests(t, 2)
	period := time.Now().UTC().Format("2006-01")
	var draft struct {
		DraftInvoice struct{ Total, TenantCost string }
	}
	srv.gql(t, `query($t:ID!,$p:String!){draftInvoice(tenantId:$t,period:$p){total tenantCost}}`, map[string]any{"t": srv.TenantID, "p": period}, &draft)
	if draft.DraftInvoice.TenantCost != money.FormatNano(2*perCall) {
		t.Fatalf("draft tenant cost %s, want two calls of %s", draft.DraftInvoice.TenantCost, money.FormatNano(perCall))
	}

	signIn(t, ctx, srv.URL, srv.DemoEmail, srv.DemoPassword)
	var total, lines, events, explained, issueErr, statement string
	run(t, ctx, "draft of the current period",
		goTo("billing", "billing-h"),
		fill(`#bill-period`, period),
		chromedp.Click(`//button[text()="Show draft"]`),
		waitJS(`document.querySelectorAll('[data-testid=invoice-lines] tbody tr').length === 1`, 30*time.Second),
		into(&total, chromedp.Evaluate[string](`document.querySelector('[data-testid=invoice-total]').dataset.value`)),
		into(&lines, textOf(`[data-testid=invoice-lines] tbody`)),
		shots(t, "60-billing-draft"),
	)
	if total != draft.DraftInvoice.Total {
		t.Errorf("page total %q, API total %q", total, draft.DraftInvoice.Total)
	}
	if !strings.Contains(lines, "openai/gpt-4o-mini") || !strings.Contains(lines, "input 200,000") || !strings.Contains(lines, "output 20,000") {
		t.Errorf("draft line %q", lines)
	}
	run(t, ctx, "events behind the line, and why one cost what it did",
		chromedp.Click(chromedp.CSS(`button[aria-label="Events behind openai/gpt-4o-mini"]`)),
		waitJS(`document.querySelectorAll('[data-testid=line-events] tbody tr').length === 2`, 30*time.Second),
		into(&events, textOf(`[data-testid=line-events] tbody`)),
		chromedp.Click(chromedp.CSS(`[data-testid=line-events] tbody tr button`)),
		waitJS(`!!document.querySelector('[data-testid=explanation] [data-testid=tenant-cost]')`, 30*time.Second),
		into(&explained, chromedp.Evaluate[string](`document.querySelector('[data-testid=explanation] [data-testid=tenant-cost]').dataset.value`)),
		shots(t, "61-billing-line-events"),
	)
	if strings.Count(events, "openai/gpt-4o-mini") != 2 {
		t.Errorf("events behind the line: %q", events)
	}
	if explained != money.FormatNano(perCall) {
		t.Errorf("explained cost %q, want %s", explained, money.FormatNano(perCall))
	}
	run(t, ctx, "issuing an unfinished period is refused",
		acceptConfirms,
		chromedp.Click(`//button[text()="Issue invoice"]`),
		waitJS(`document.body.textContent.includes('has not ended')`, 30*time.Second),
		into(&issueErr, textOf(`[role=alert]`)),
	)
	if !strings.Contains(issueErr, "period "+period+" has not ended") {
		t.Errorf("issue error %q", issueErr)
	}
	run(t, ctx, "chargeback statement",
		fill(`#cb-period`, period),
		chromedp.Click(chromedp.CSS(`form[aria-label="Chargeback statement"] button[type=submit]`)),
		waitJS(`document.querySelectorAll('[data-testid=statement] tbody tr').length === 1`, 30*time.Second),
		into(&statement, textOf(`[data-testid=statement]`)),
		shots(t, "62-billing-chargeback"),
	)
	if !strings.Contains(statement, "(unattributed)") {
		t.Errorf("statement %q lacks the unattributed line", statement)
	}
}
