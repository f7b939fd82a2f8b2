package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spendgate/spendgate/money"
)

// TestPortalReconciliation: real calls through the gateway of a real
// `spendgate serve`, whose fake provider also answers OpenAI's organization
// usage and costs endpoints with what it served (priced at list prices).
// In the browser the admin adds an OpenAI connection with an admin key,
// syncs it, and sees the matched day × model with no drift, the per-day
// drift chart and the key shown only by its last four characters.
func TestPortalReconciliation(t *testing.T) {
	const adminKey = "sk-admin-portalE2Esecret-Wx7Y"
	ctx := newBrowser(t)
	srv := startServer(t)
	perCall := perCallNano(t)
	var key struct{ CreateAPIKey struct{ Secret string } }
	srv.gql(t, `mutation($t:ID!){createAPIKey(tenantId:$t,name:"recon"){secret}}`, map[string]any{"t": srv.TenantID}, &key)
	c := srv.openAI(key.CreateAPIKey.Secret)
	chat(t, c)
	chat(t, c)
	srv.waitRequests(t, 2)
	signIn(t, ctx, srv.URL, srv.DemoEmail, srv.DemoPassword)
	var rows []string
	var connections string
	run(t, ctx, "add a connection, sync it, read the reconciliation",
		goTo("reconciliation", "rec-h"),
		chromedp.WaitVisible(chromedp.CSS(`#conn-name`)),
		chromedp.SendKeys(chromedp.CSS(`#conn-name`), "OpenAI org"),
		chromedp.SendKeys(chromedp.CSS(`#conn-key`), adminKey),
		chromedp.Click(`//button[text()="Add connection"]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=connections]`)),
		chromedp.Click(`//button[text()="Sync now"]`),
		waitJS(`document.querySelector('[data-testid=rec-rows]')?.textContent.includes('gpt-4o-mini')`, 60*time.Second),
		into(&rows, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid=rec-rows] tbody tr')].map(r => r.textContent)`)),
		into(&connections, textOf(`[data-testid=connections]`)),
		waitJS(`document.querySelectorAll('[data-testid=drift-chart] rect').length === 1`, 10*time.Second),
		shots(t, "60-reconciliation"),
	)
	if len(rows) != 1 {
		t.Fatalf("rows %q", rows)
	}
	cost := usd(t, money.FormatNano(2*perCall))
	// metered = reported = two calls at list price: matched, no drift.
	if r := rows[0]; !strings.Contains(r, "openai") || !strings.Contains(r, "matched") || strings.Count(r, cost) != 2 || !strings.Contains(r, "$0.00") {
		t.Fatalf("row %q, want matched with %s on both sides and no drift", r, cost)
	}
	if !strings.Contains(connections, "…Wx7Y") || strings.Contains(connections, "portalE2Esecret") {
		t.Fatalf("connections show %q", connections)
	}
	var html string
	run(t, ctx, "the key is nowhere on the page", into(&html, chromedp.Evaluate[string](`document.documentElement.outerHTML`)))
	if strings.Contains(html, "portalE2Esecret") {
		t.Fatal("the admin key is on the page")
	}
	if strings.Contains(srv.LogTail(), "portalE2Esecret") {
		t.Fatal("the admin key is in the server's log")
	}
}
