package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spendgate/spendgate/internal/demotraffic"
	"github.com/spendgate/spendgate/internal/testenv"
)

// TestPortalWithHistory is the portal as a new user meets it after `demo
// traffic --days`: two weeks of recorded history and the demo budget. It
// checks what every page says (not only that it loads), follows the
// drill-down from a dashboard row to the calls and one call's cost, filters
// the audit log, saves a screenshot of every page and runs axe-core on each
// (no serious or critical violations).
func TestPortalWithHistory(t *testing.T) {
	ctx := newBrowser(t)
	srv := startServer(t)
	bg := context.Background()
	if _, err := demotraffic.EnsureBudget(bg, demotraffic.EnsureBudgetConfig{APIURL: srv.URL, Email: srv.DemoEmail, Password: srv.DemoPassword}); err != nil {
		t.Fatal(err)
	}
	hist, err := demotraffic.Backfill(bg, demotraffic.BackfillConfig{APIURL: srv.URL, Key: srv.DemoKey, Days: 14, CallsPerDay: 80})
	testenv.Must(t, err, "backfill")
	srv.waitRange(t, hist.From.Format(time.RFC3339), hist.To.Format(time.RFC3339), int64(hist.Recorded))

	// The figures the pages must show, from the API.
	var api struct {
		ByModel struct {
			Groups []struct {
				Keys   []string
				Totals struct{ TenantCost string }
			}
		}
	}
	now := time.Now().UTC()
	srv.gql(t, `query($t:ID!,$f:Time!,$to:Time!){byModel:spendBreakdown(tenantId:$t,from:$f,to:$to,groupBy:[{field:MODEL}],top:1){groups{keys totals{tenantCost}}}}`,
		map[string]any{"t": srv.TenantID, "f": now.AddDate(0, 0, -40).Format(time.RFC3339), "to": now.Add(time.Hour).Format(time.RFC3339)}, &api)
	topModel := api.ByModel.Groups[0].Keys[0]

	signIn(t, ctx, srv.URL, srv.DemoEmail, srv.DemoPassword)
	var layers, buckets int
	var vsPrevious, tip, legendPressed, burn, bucket90, bucket24 string
	var burnDays int
	run(t, ctx, "dashboard, last 30 days",
		chromedp.WaitVisible(chromedp.CSS(`#dash-h`)),
		fill(`#range`, "30d"),
		waitJS(`document.querySelector('[data-testid=timechart]')?.dataset.buckets === '31' && document.querySelector('[data-testid=spend-chart]').getAttribute('aria-busy') === 'false'`, 30*time.Second),
		waitJS(`document.querySelector('[data-testid=spend-chart] canvas')`, 10*time.Second),
		into(&layers, chromedp.Evaluate[int](`+document.querySelector('[data-testid=timechart]').dataset.layers`)),
		into(&buckets, chromedp.Evaluate[int](`+document.querySelector('[data-testid=timechart]').dataset.buckets`)),
		into(&vsPrevious, textOf(`[data-testid=vs-previous]`)),
		// Hovering the plot shows the tooltip with a bucket's exact figures.
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`(() => { const o = document.querySelector('.u-over'); const r = o.getBoundingClientRect();
				o.dispatchEvent(new MouseEvent('mousemove', {clientX: r.left + r.width * 0.8, clientY: r.top + r.height - 5, bubbles: true})); return true; })()`)(ctx, tg)
			return err
		}),
		waitJS(`document.querySelector('[data-testid=chart-tip]')`, 10*time.Second),
		into(&tip, textOf(`[data-testid=chart-tip]`)),
		// A legend entry hides its layer.
		chromedp.Click(chromedp.CSS(`.legend button.legend-item`)),
		into(&legendPressed, chromedp.Evaluate[string](`document.querySelector('.legend button.legend-item').getAttribute('aria-pressed')`)),
		waitJS(`document.querySelector('[data-testid=dash-budgets] li[data-budget="Demo monthly"]')`, 30*time.Second),
		into(&burn, textOf(`[data-testid=dash-budgets] [data-testid=burn-status]`)),
		// The burn-down chart of the month: a day a bucket, drawn.
		waitJS(`document.querySelector('[data-testid=dash-budgets] [data-testid=burnchart] canvas')`, 30*time.Second),
		into(&burnDays, chromedp.Evaluate[int](`+document.querySelector('[data-testid=burnchart]').dataset.buckets`)),
		shots(t, "40-dashboard-history"),
		fill(`#range`, "90d"),
		into(&bucket90, chromedp.Evaluate[string](`document.querySelector('#bucket').value`)),
		fill(`#bucket`, "WEEK"),
		fill(`#range`, "24h"),
		into(&bucket24, chromedp.Evaluate[string](`document.querySelector('#bucket').value`)),
		fill(`#range`, "7d"),
	)
	if buckets != 31 || layers < 3 {
		t.Errorf("chart over 30 days: %d buckets, %d layers (stacked by provider)", buckets, layers)
	}
	if !strings.Contains(vsPrevious, "in this range;") || !strings.Contains(vsPrevious, "in the 30 days before") {
		t.Errorf("comparison with the previous period: %q", vsPrevious)
	}
	if !strings.Contains(tip, "Total$") || !strings.Contains(tip, "Previous period$") {
		t.Errorf("chart tooltip: %q", tip)
	}
	if legendPressed != "false" {
		t.Errorf("a clicked legend entry is aria-pressed=%s", legendPressed)
	}
	if !strings.Contains(burn, "of $100.00") || !strings.Contains(burn, "forecast $") || !strings.Contains(burn, "of the period gone") {
		t.Errorf("budget burn-down on the dashboard: %q", burn)
	}
	if daysInMonth := time.Date(now.Year(), now.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day(); burnDays != daysInMonth {
		t.Errorf("the monthly budget's burn-down has %d buckets, the month %d days", burnDays, daysInMonth)
	}
	if bucket90 != "DAY" || bucket24 != "HOUR" {
		t.Errorf("bars follow the range: 90 days %s (want DAY), 24 hours after weekly %s (want HOUR)", bucket90, bucket24)
	}

	// Drill-down: the top model's row → its calls → why one cost what it did.
	var scope, models, explained, explainedCost, rowCost string
	run(t, ctx, "drill-down",
		waitJS(`document.querySelector('[data-testid=breakdown-model] .bars a.label')`, 30*time.Second),
		chromedp.Click(chromedp.CSS(`[data-testid=breakdown-model] .bars a.label`)),
		chromedp.WaitVisible(chromedp.CSS(`#events-h`)),
		waitJS(`document.querySelectorAll('[data-testid=event-list] tbody tr').length > 0`, 30*time.Second),
		into(&scope, textOf(`[data-testid=events-scope]`)),
		into(&models, chromedp.Evaluate[string](`[...document.querySelectorAll('[data-testid=event-list] tbody tr')].map(r => r.cells[2].textContent.split('/')[1].split(' ')[0]).join(',')`)),
		into(&rowCost, chromedp.Evaluate[string](`document.querySelector('[data-testid=event-list] tbody tr td:nth-child(6) [data-value]').dataset.value`)),
		chromedp.Click(chromedp.CSS(`[data-testid=event-list] tbody tr button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=explanation]`)),
		into(&explained, textOf(`[data-testid=cost-lines]`)),
		into(&explainedCost, chromedp.Evaluate[string](`document.querySelector('[data-testid=tenant-cost]').dataset.value`)),
		shots(t, "41-events-drilldown"),
	)
	if !strings.Contains(scope, "only model "+topModel) {
		t.Errorf("event list after a click on %s: %q", topModel, scope)
	}
	for _, m := range strings.Split(models, ",") {
		if m != topModel {
			t.Errorf("event list filtered to %s shows %s", topModel, m)
			break
		}
	}
	if explainedCost != rowCost || !strings.Contains(explained, "/ 1M tokens") {
		t.Errorf("why this cost: %s for a %s row; lines %q", explainedCost, rowCost, explained)
	}

	// The audit log, filtered to budgets, in words and dollars.
	var audit []string
	run(t, ctx, "audit filter",
		goTo("audit", "audit-h"),
		waitJS(`document.querySelectorAll('[data-testid=audit] tbody tr').length >= 3`, 30*time.Second),
		fill(`#au-area`, "budget."),
		chromedp.Click(chromedp.CSS(`form[aria-label="Filter the audit log"] button[type=submit]`)),
		waitJS(`document.querySelectorAll('[data-testid=audit] tbody tr').length === 1`, 30*time.Second),
		into(&audit, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid=audit] tbody tr')].map(r => r.textContent)`)),
		shots(t, "42-audit-filtered"),
	)
	if len(audit) != 1 || !strings.Contains(audit[0], "Budget created") || !strings.Contains(audit[0], "budget “Demo monthly”") ||
		!strings.Contains(audit[0], "amount$100.00") || strings.Contains(audit[0], "nano") {
		t.Errorf("audit log filtered to budgets: %q", audit)
	}

	// Every page: what it must say, a screenshot, and axe-core.
	axe := axeSource(t)
	for _, p := range []struct{ page, heading, wait, says string }{
		{"dashboard", "dash-h", `document.querySelector('[data-testid=timechart]') && document.querySelector('[data-testid=spend-chart]').getAttribute('aria-busy') === 'false'`, "Spend over time"},
		{"events", "events-h", `document.querySelectorAll('[data-testid=event-list] tbody tr').length > 0`, "Why this cost"},
		{"keys", "keys-h", `document.querySelector('section[aria-labelledby="keys-h"] tbody tr')`, "demo key"},
		{"budgets", "budgets-h", `document.querySelector('li[data-budget="Demo monthly"]')`, "alerts at 50, 80, 100%"},
		{"org", "org-h", `document.querySelector('section[aria-labelledby="org-h"] .empty, [data-testid=org-node]')`, "No workspaces yet"},
		{"pricing", "pricing-h", `document.querySelectorAll('[data-testid=catalogue] tbody tr').length > 10`, "/ 1M tokens"},
		{"alerts", "alerts-h", `document.querySelector('section[aria-labelledby="alerts-h"] li, section[aria-labelledby="alerts-h"] .empty')`, "Budget alerts"},
		{"members", "members-h", `document.querySelector('section[aria-labelledby="members-h"] table')`, srv.DemoEmail},
		{"insights", "insights-h", `document.querySelector('[data-testid=month-forecast], section[aria-labelledby="insights-h"] .empty')`, "recommendations"},
		{"billing", "billing-h", `document.querySelector('section[aria-labelledby="billing-h"] .empty, section[aria-labelledby="billing-h"] table')`, "draft"},
		{"reconciliation", "rec-h", `document.querySelector('[data-testid=rec-totals]') && document.querySelector('section[aria-labelledby="rec-h"] form')`, "No connection yet"},
		{"reports", "reports-h", `document.querySelector('section[aria-labelledby="reports-h"] .empty, section[aria-labelledby="reports-h"] table')`, "No scheduled reports yet"},
		{"audit", "audit-h", `document.querySelector('[data-testid=audit] tbody tr')`, "API key created"},
		{"sso", "sso-h", `document.querySelector('section[aria-labelledby="sso-h"] form')`, "OpenID Connect provider"},
		{"account", "account-h", `document.querySelector('section[aria-labelledby="account-h"] button')`, "authenticator"},
	} {
		var text string
		var violations []axeViolation
		run(t, ctx, "page "+p.page,
			chromedp.Navigate(srv.URL+"/#/"+p.page),
			chromedp.WaitVisible(chromedp.CSS(`#`+p.heading)),
			waitJS(p.wait, 30*time.Second),
			into(&text, textOf(`main`)),
			shots(t, "5x-"+p.page),
			into(&violations, runAxe(axe)),
		)
		if !strings.Contains(strings.ToLower(text), strings.ToLower(p.says)) {
			t.Errorf("%s does not say %q: %.400s", p.page, p.says, text)
		}
		for _, v := range violations {
			t.Errorf("%s: axe %s (%s): %s — %s", p.page, v.ID, v.Impact, v.Help, strings.Join(v.Targets, "; "))
		}
	}
	// The check itself: an image without alternative text is a critical violation axe must report.
	var planted []axeViolation
	run(t, ctx, "axe finds a planted violation",
		waitJS(`(() => { const i = document.createElement('img'); i.src = 'data:image/gif;base64,R0lGODlhAQABAAAAACw='; document.querySelector('main').append(i); return true; })()`, 5*time.Second),
		into(&planted, runAxe(axe)),
	)
	if len(planted) != 1 || planted[0].ID != "image-alt" {
		t.Errorf("axe on a page with an image without alt: %+v", planted)
	}
}

// axeSource is axe-core from the portal's npm dev dependencies.
func axeSource(t testing.TB) string {
	t.Helper()
	root, err := testenv.ModuleRoot()
	testenv.Must(t, err, "module root")
	b, err := os.ReadFile(filepath.Join(root, "portal", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core is a dev dependency of the portal: run `cd portal && npm ci` (%v)", err)
	}
	return string(b)
}

type axeViolation struct {
	ID, Impact, Help string
	Targets          []string
}

// runAxe injects axe-core and returns the serious and critical violations of the page (WCAG 2.1 A and AA rules).
func runAxe(src string) chromedp.Action[[]axeViolation] {
	return func(ctx context.Context, tg *chromedp.Target) ([]axeViolation, error) {
		if _, err := chromedp.Evaluate[bool](src+";true")(ctx, tg); err != nil {
			return nil, fmt.Errorf("inject axe-core: %w", err)
		}
		raw, err := chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
			.then(r => JSON.stringify(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
				.map(v => ({id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))))`,
			chromedp.EvalAwaitPromise)(ctx, tg)
		if err != nil {
			return nil, fmt.Errorf("axe.run: %w", err)
		}
		var out []axeViolation
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			return nil, fmt.Errorf("axe result %.200s: %w", raw, err)
		}
		return out, nil
	}
}
