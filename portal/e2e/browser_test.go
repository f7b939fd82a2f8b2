package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/money"
)

// chromiumPath finds the browser: $SPENDGATE_CHROMIUM, /usr/bin/chromium, or chromium/google-chrome on PATH.
func chromiumPath() string {
	if p := os.Getenv("SPENDGATE_CHROMIUM"); p != "" {
		return p
	}
	for _, n := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// Browser sizes the portal is checked at.
const (
	laptopW, laptopH = 1280, 900
	phoneW, phoneH   = 390, 844
)

// newBrowser starts headless Chromium with a fresh profile and returns a tab
// context. Without Chromium the test fails: the browser tests are part of
// the suite, and only SPENDGATE_SKIP_BROWSER=1 says to skip them on purpose.
func newBrowser(t testing.TB) context.Context {
	t.Helper()
	testenv.Require(t, "chromium")
	if os.Getenv("SPENDGATE_SKIP_BROWSER") == "1" {
		t.Skip("SPENDGATE_SKIP_BROWSER=1: portal browser tests skipped on request")
	}
	exe := chromiumPath()
	if exe == "" {
		t.Fatal("no Chromium found: install Debian's chromium (apt-get install chromium) or set SPENDGATE_CHROMIUM; " +
			"set SPENDGATE_SKIP_BROWSER=1 to skip the portal's browser tests deliberately")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// The portal keeps polling and its websocket while the tab is "hidden" in headless mode.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(laptopW, laptopH),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser; no timeout on this first call
		t.Fatalf("start chromium %s: %v", exe, err)
	}
	return ctx
}

// artifactDir is test-artifacts/portal at the repository root (gitignored).
func artifactDir(t testing.TB) string {
	t.Helper()
	root, err := testenv.ModuleRoot()
	testenv.Must(t, err, "module root")
	dir := filepath.Join(root, "test-artifacts", "portal")
	testenv.Must(t, os.MkdirAll(dir, 0o755), "artifact dir")
	return dir
}

func saveShot(t testing.TB, name string, buf []byte) error {
	p := filepath.Join(artifactDir(t), name+".png")
	t.Logf("screenshot %s", p)
	return os.WriteFile(p, buf, 0o644)
}

// shots saves the page at laptop and at phone width (name-laptop.png,
// name-phone.png) and fails the test when the phone layout scrolls sideways.
func shots(t testing.TB, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		buf, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return err
		}
		if err := saveShot(t, name+"-laptop", buf); err != nil {
			return err
		}
		if _, err := chromedp.EmulateViewport(phoneW, phoneH, chromedp.EmulateMobile, chromedp.EmulatePortrait)(ctx, tg); err != nil {
			return err
		}
		width, err := chromedp.Evaluate[int](`document.documentElement.scrollWidth`)(ctx, tg)
		if err != nil {
			return err
		}
		if width > phoneW {
			wide, _ := chromedp.Evaluate[string](`[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > `+
				fmt.Sprint(phoneW+1)+` && !e.closest('.table-wrap, nav')).slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).join(', ')`)(ctx, tg)
			t.Errorf("%s: at phone width the page is %d px wide (scrolls sideways); too wide: %s", name, width, wide)
		}
		// A viewport as tall as the page: Chromium leaves parts of very tall
		// mobile pages unpainted in beyond-the-viewport captures.
		height, err := chromedp.Evaluate[int](`Math.min(document.documentElement.scrollHeight, 8000)`)(ctx, tg)
		if err != nil {
			return err
		}
		if _, err := chromedp.EmulateViewport(phoneW, int64(max(height, phoneH)), chromedp.EmulateMobile, chromedp.EmulatePortrait)(ctx, tg); err != nil {
			return err
		}
		if buf, err = chromedp.CaptureScreenshot()(ctx, tg); err != nil {
			return err
		}
		if err := saveShot(t, name+"-phone", buf); err != nil {
			return err
		}
		_, err = chromedp.EmulateViewport(laptopW, laptopH)(ctx, tg)
		return err
	})
}

// into stores the value of an action in *dst, to mix value actions into a step list.
func into[T any](dst *T, a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		v, err := a(ctx, tg)
		*dst = v
		return err
	})
}

// waitJS waits (polling on animation frames, no sleeps) until a JavaScript
// expression is truthy.
func waitJS(expr string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Poll[bool]("!!("+expr+")", chromedp.WithPollingTimeout(timeout))(ctx, tg)
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", expr, err)
		}
		return nil
	})
}

// refreshUntil waits until expr holds, clicking the page's Refresh button
// every two seconds meanwhile, as a user would: the data a page shows (spend,
// a budget's counter) lands a moment after the call that makes it, and one
// Refresh clicked in that moment would never show it.
func refreshUntil(expr string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	return waitJS(`(() => {
		if (`+expr+`) return true;
		const now = Date.now();
		if (!window.__refreshedAt || now - window.__refreshedAt > 2000) {
			window.__refreshedAt = now;
			[...document.querySelectorAll('button')].find(b => b.textContent.trim() === 'Refresh')?.click();
		}
		return false;
	})()`, timeout)
}

// textOf is the trimmed text of the first element matching a CSS selector ("" when none).
func textOf(css string) chromedp.Action[string] {
	return chromedp.Evaluate[string](`(document.querySelector(` + jsString(css) + `)?.textContent ?? "").trim()`)
}

// fill replaces an input's value the way typing does for React (the native
// setter, then an input event), for fields that start with a value.
func fill(css, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		ok, err := chromedp.Evaluate[bool](`(() => { const el = document.querySelector(`+jsString(css)+`); if (!el) return false;
			const proto = el instanceof HTMLSelectElement ? HTMLSelectElement.prototype : HTMLInputElement.prototype;
			Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, `+jsString(value)+`);
			el.dispatchEvent(new Event(el instanceof HTMLSelectElement ? 'change' : 'input', { bubbles: true })); return true; })()`)(ctx, tg)
		if err == nil && !ok {
			err = fmt.Errorf("fill: no element %s", css)
		}
		return err
	})
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// stepTimeout bounds one step; waits poll the page, they never sleep blindly.
const stepTimeout = 90 * time.Second

func run(t testing.TB, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		fctx, fcancel := context.WithTimeout(ctx, 10*time.Second)
		shot, _ := chromedp.Run(fctx, chromedp.FullScreenshot(100))
		fcancel()
		if len(shot) > 0 {
			_ = saveShot(t, "failure-"+strings.ReplaceAll(t.Name(), "/", "_"), shot)
		}
		t.Fatalf("%s: %v", step, err)
	}
}

func signIn(t testing.TB, ctx context.Context, base, email, password string) {
	t.Helper()
	run(t, ctx, "sign in",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`form[aria-label="Sign in"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav[aria-label="Sections"]`)),
		acceptConfirms,
	)
}

// acceptConfirms answers yes to the confirm() of revoke/rotate/delete; hash
// navigation keeps it, a reload needs it again.
var acceptConfirms = chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
	_, err := chromedp.Evaluate[bool](`(window.confirm = () => true, true)`)(ctx, tg)
	return err
})

// goTo opens a section from the navigation and waits for its heading.
func goTo(section, heading string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := chromedp.Click(chromedp.CSS(`nav a[href="#/`+section+`"]`))(ctx, tg); err != nil {
			return err
		}
		_, err := chromedp.WaitVisible(chromedp.CSS(`#`+heading))(ctx, tg)
		return err
	})
}

// allowDownloads saves the tab's downloads into dir.
func allowDownloads(dir string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, chromedp.FromContext(ctx).Browser, browser.SetDownloadBehavior,
			browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir})
		return err
	})
}

// TestPortalSpendFlow is the story in a real browser against a real
// `spendgate serve`: sign in as the demo owner, create a key in the UI and
// read its secret once, send traffic through the gateway with it (official
// OpenAI SDK), see the exact spend on the dashboard and download the
// breakdown as CSV, create a budget in the UI, send more traffic and receive
// the threshold alerts live (toast and feed), then explain an event's cost
// and manage price overrides. Screenshots at laptop and phone width go to
// test-artifacts/portal.
func TestPortalSpendFlow(t *testing.T) {
	ctx := newBrowser(t)
	srv := startServer(t)
	perCall := perCallNano(t)
	downloads := t.TempDir()

	signIn(t, ctx, srv.URL, srv.DemoEmail, srv.DemoPassword)
	var tenant string
	run(t, ctx, "empty dashboard",
		allowDownloads(downloads),
		chromedp.WaitVisible(chromedp.CSS(`#dash-h`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=total]`)),
		into(&tenant, chromedp.Evaluate[string](`document.querySelector('select[aria-label="Tenant"]').selectedOptions[0].text`)),
		// The budgetAlerts subscription is up before any traffic.
		waitJS(`document.querySelector('[data-testid=live]')?.dataset.state === 'live'`, 60*time.Second),
		shots(t, "01-dashboard-empty"),
	)
	if tenant != "Demo (owner)" {
		t.Fatalf("tenant switcher shows %q", tenant)
	}

	// A key with a policy, created in the UI; its secret is shown once.
	var secret string
	run(t, ctx, "create key",
		goTo("keys", "keys-h"),
		chromedp.WaitVisible(chromedp.CSS(`#key-name`)),
		chromedp.SendKeys(chromedp.CSS(`#key-name`), "search backend"),
		chromedp.SendKeys(chromedp.CSS(`#key-providers`), "openai"),
		chromedp.SendKeys(chromedp.CSS(`#key-defaults`), "team=search"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Create API key"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=secret]`)),
		into(&secret, textOf(`[data-testid=secret]`)),
		shots(t, "02-key-secret-once"),
	)
	if !strings.HasPrefix(secret, "sg_") || !srv.policyFor(t, secret).Valid {
		t.Fatalf("the secret shown in the portal (%q) is not a valid key", secret)
	}
	var keyRow string
	run(t, ctx, "key list",
		chromedp.Click(`//button[text()="I saved it"]`),
		chromedp.WaitNotPresent(chromedp.CSS(`[data-testid=secret]`)),
		waitJS(`[...document.querySelectorAll('section[aria-labelledby="keys-h"] tbody tr')].some(r => r.textContent.includes('search backend'))`, 30*time.Second),
		into(&keyRow, chromedp.Evaluate[string](`[...document.querySelectorAll('section[aria-labelledby="keys-h"] tbody tr')].find(r => r.textContent.includes('search backend')).textContent`)),
	)
	if !strings.Contains(keyRow, "providers: openai") || !strings.Contains(keyRow, "defaults: team=search") || strings.Contains(keyRow, secret) {
		t.Fatalf("key row %q (the list must show the policy and never the secret)", keyRow)
	}

	// Traffic through the gateway with the key from the portal.
	client := srv.openAI(secret)
	chat(t, client)
	chat(t, client)
	api := srv.waitRequests(t, 2)
	if api.TenantCost != money.FormatNano(2*perCall) {
		t.Fatalf("the API reports %s for two calls, the catalogue says %s", api.TenantCost, money.FormatNano(2*perCall))
	}

	// The dashboard shows exactly what the API reports, attributed to the
	// key (by name), the provider and the key's default dimension.
	// ClickHouse shows raw events a moment before the rollups the
	// dashboard's whole-hour range reads: wait until the API answers for
	// the page's exact range, then refresh the page once.
	var shown, totalTitle, byKey, byProvider, byDim, dimName, from, to string
	run(t, ctx, "dashboard range",
		goTo("dashboard", "dash-h"),
		into(&from, chromedp.Evaluate[string](`document.querySelector('[data-testid=range]').dataset.from`)),
		into(&to, chromedp.Evaluate[string](`document.querySelector('[data-testid=range]').dataset.to`)),
	)
	srv.waitRange(t, from, to, 2)
	run(t, ctx, "dashboard with spend",
		chromedp.Click(chromedp.CSS(`button[aria-label="Refresh the dashboard"]`)),
		waitJS(`document.querySelector('[data-testid=total]')?.dataset.value === `+jsString(api.TenantCost), 30*time.Second),
		into(&shown, textOf(`[data-testid=total]`)),
		into(&totalTitle, chromedp.Evaluate[string](`document.querySelector('[data-testid=total]').title`)),
		// The dimension breakdown loads after the figures.
		waitJS(`document.querySelector('[data-testid=breakdown-dimension]')?.getAttribute('aria-busy') === 'false' && document.querySelector('[data-testid=breakdown-dimension] .bars')`, 30*time.Second),
		into(&dimName, chromedp.Value(chromedp.CSS(`#dim`))),
		into(&byKey, textOf(`[data-testid=breakdown-key] .bars`)),
		into(&byProvider, textOf(`[data-testid=breakdown-provider] .bars`)),
		into(&byDim, textOf(`[data-testid=breakdown-dimension] .bars`)),
		shots(t, "03-dashboard-spend"),
	)
	// Headlines in cents; the exact figure is the title.
	want := cents(t, api.TenantCost)
	if shown != want {
		t.Fatalf("dashboard total %q, the API reports %s (%q)", shown, api.TenantCost, want)
	}
	if totalTitle != usd(t, api.TenantCost)+" exactly" {
		t.Fatalf("dashboard total's title %q, want the exact %s", totalTitle, api.TenantCost)
	}
	if !strings.Contains(byKey, "search backend"+want) || !strings.Contains(byProvider, "openai"+want) {
		t.Fatalf("breakdowns: by key %q, by provider %q; want %s each", byKey, byProvider, want)
	}
	if dimName != "team" || !strings.Contains(byDim, "search"+want) {
		t.Fatalf("dimension picker %q shows %q; want team with search at %s", dimName, byDim, want)
	}

	// The provider breakdown as CSV: the downloaded file is the export of
	// exactly what is shown, and its row has the API's figures.
	var href string
	run(t, ctx, "download CSV",
		into(&href, chromedp.Evaluate[string](`document.querySelector('button[aria-label="Download by provider as CSV"]').dataset.href`)),
		chromedp.Click(chromedp.CSS(`button[aria-label="Download by provider as CSV"]`)),
	)
	var csv []byte
	testenv.WaitFor(t, 30*time.Second, "the downloaded CSV", func() bool {
		entries, _ := os.ReadDir(downloads)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "spend-by-provider-") && strings.HasSuffix(e.Name(), ".csv") {
				csv, _ = os.ReadFile(filepath.Join(downloads, e.Name()))
				return len(csv) > 0
			}
		}
		return false
	})
	direct := srv.get(t, href)
	if string(csv) != direct {
		t.Fatalf("downloaded CSV differs from the export of %s:\n%s\nvs\n%s", href, csv, direct)
	}
	wantRow := fmt.Sprintf("openai,openai,2,0,%s,%s,%d,%d", api.ListCost, api.TenantCost, 2*promptTokens, 2*completionTokens)
	if !strings.Contains(string(csv), wantRow+"\n") || !strings.Contains(href, "groupBy=provider") || !strings.Contains(href, "top=10") {
		t.Fatalf("CSV from %s:\n%s\nwant the row %q", href, csv, wantRow)
	}

	// A budget created in the UI, two calls' worth, alerting at 50 and 100 %.
	amount := money.FormatNano(2 * perCall)
	var budgetText string
	run(t, ctx, "create budget",
		goTo("budgets", "budgets-h"),
		waitJS(`document.querySelector('section[aria-labelledby="budgets-h"] .empty')`, 30*time.Second),
		chromedp.Click(`//button[text()="New budget"]`),
		chromedp.WaitVisible(chromedp.CSS(`#b-name`)),
		chromedp.Click(chromedp.CSS(`form[aria-label="Create budget"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#b-name-err`)), // a name is required
		chromedp.SendKeys(chromedp.CSS(`#b-name`), "Search monthly"),
		chromedp.SendKeys(chromedp.CSS(`#b-amount`), amount),
		fill(`#b-th`, "50, 100"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Create budget"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`li[data-budget="Search monthly"] [role=progressbar]`)),
		into(&budgetText, textOf(`li[data-budget="Search monthly"]`)),
		shots(t, "04-budget-created"),
	)
	if !strings.Contains(budgetText, "$0.00 of "+cents(t, amount)+" (0%)") || !strings.Contains(budgetText, "alerts at 50, 100%") {
		t.Fatalf("new budget: %q", budgetText)
	}

	// More traffic: each threshold arrives live, as a toast and in the feed.
	for i, threshold := range []int{50, 100} {
		chat(t, client)
		var toast string
		run(t, ctx, fmt.Sprintf("%d%% alert", threshold),
			waitJS(`document.querySelector('[data-testid=toast]')?.textContent.includes('reached `+fmt.Sprint(threshold)+`%')`, 90*time.Second),
			into(&toast, textOf(`[data-testid=toast]`)),
			shots(t, fmt.Sprintf("%02d-alert-toast-%d", 5+i, threshold)),
		)
		if !strings.Contains(toast, "Search monthly") {
			t.Fatalf("toast %q", toast)
		}
	}
	// The budget's bar follows the alerts: all of it spent, exactly.
	var status string
	run(t, ctx, "budget spent",
		refreshUntil(`document.querySelector('li[data-budget="Search monthly"] [data-testid=budget-spent]')?.dataset.value === `+jsString(amount), 30*time.Second),
		into(&status, textOf(`li[data-budget="Search monthly"] [data-testid=budget-status]`)),
		shots(t, "07-budget-used-up"),
	)
	if !strings.Contains(status, cents(t, amount)+" of "+cents(t, amount)+" (100%)") {
		t.Fatalf("budget status %q", status)
	}
	var feed []string
	run(t, ctx, "alert feed",
		goTo("alerts", "alerts-h"),
		waitJS(`document.querySelectorAll('[data-testid=alert-feed] li').length === 2`, 30*time.Second),
		into(&feed, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid=alert-feed] li')].map(li => li.dataset.threshold + ' ' + li.textContent)`)),
		shots(t, "08-alerts-feed"),
	)
	if len(feed) != 2 || !strings.HasPrefix(feed[0], "100 Search monthly reached 100%") || !strings.HasPrefix(feed[1], "50 Search monthly reached 50%") ||
		!strings.Contains(feed[0], "new") {
		t.Fatalf("alert feed %q", feed)
	}
	// After a reload the feed comes from budgetAlertHistory alone.
	run(t, ctx, "alert history",
		chromedp.Reload(),
		acceptConfirms,
		waitJS(`document.querySelectorAll('[data-testid=alert-feed] li').length === 2 && !document.querySelector('[data-testid=alert-feed] .badge.new')`, 30*time.Second),
	)

	srv.checkPricingScreen(t, ctx, perCall)
}

// checkPricingScreen: catalogue search, the cost explanation of the newest
// event (the lines the API has, and the exact cost), and overrides created,
// edited and deleted in the UI.
func (s *server) checkPricingScreen(t *testing.T, ctx context.Context, perCall int64) {
	var catalogue struct {
		PricingCatalogue []struct {
			Model string
			Rates []struct{ Class, PerMillion string }
		}
	}
	s.gql(t, `{pricingCatalogue(search:"gpt-4o-mini",provider:"openai",first:5){model rates{class perMillion}}}`, nil, &catalogue)
	if len(catalogue.PricingCatalogue) == 0 || catalogue.PricingCatalogue[0].Model != "gpt-4o-mini" {
		t.Fatalf("catalogue %+v", catalogue)
	}
	var events struct {
		UsageEvents struct {
			Edges []struct {
				Node struct {
					ID, TenantCost string
					CostLines      []struct {
						Class    string
						Quantity int64
						Amount   string
					}
				}
			}
		}
	}
	now := time.Now().UTC()
	s.gql(t, `query($t:ID!,$f:Time!,$to:Time!){usageEvents(tenantId:$t,from:$f,to:$to,first:1){edges{node{id tenantCost costLines{class quantity amount}}}}}`,
		map[string]any{"t": s.TenantID, "f": now.Add(-24 * time.Hour).Format(time.RFC3339), "to": now.Add(time.Minute).Format(time.RFC3339)}, &events)
	newest := events.UsageEvents.Edges[0].Node
	if newest.TenantCost != money.FormatNano(perCall) || len(newest.CostLines) != 2 {
		t.Fatalf("newest event %+v", newest)
	}

	var catRow, lines, tenantCost string
	run(t, ctx, "pricing",
		goTo("pricing", "pricing-h"),
		chromedp.SendKeys(chromedp.CSS(`#cat-q`), "gpt-4o-mini"),
		fill(`#cat-p`, "openai"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Search the pricing catalogue"] button[type=submit]`)),
		// The catalogue lists models before any search: wait for the search's
		// answer, not just for a row.
		waitJS(`(document.querySelector('[data-testid=catalogue] tbody tr')?.textContent || '').startsWith('openaigpt-4o-mini')`, 30*time.Second),
		into(&catRow, textOf(`[data-testid=catalogue] tbody tr`)),
		waitJS(`document.querySelectorAll('[data-testid=events] tbody tr').length === 4`, 30*time.Second),
		chromedp.Click(chromedp.CSS(`button[aria-label="Explain event `+newest.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=cost-lines]`)),
		into(&lines, textOf(`[data-testid=cost-lines] tbody`)),
		into(&tenantCost, chromedp.Evaluate[string](`document.querySelector('[data-testid=tenant-cost]').dataset.value`)),
		chromedp.ScrollIntoView(chromedp.CSS(`[data-testid=explanation]`)),
		shots(t, "09-pricing-explanation"),
	)
	for _, r := range catalogue.PricingCatalogue[0].Rates {
		if !strings.Contains(catRow, r.Class+" "+usd(t, r.PerMillion)) {
			t.Errorf("catalogue row %q lacks %s %s", catRow, r.Class, r.PerMillion)
		}
	}
	if tenantCost != newest.TenantCost {
		t.Fatalf("explanation says %s, the event cost %s", tenantCost, newest.TenantCost)
	}
	for _, l := range newest.CostLines {
		if !strings.Contains(lines, fmt.Sprintf("%s%s", l.Class, withCommas(l.Quantity))) || !strings.Contains(lines, usd(t, l.Amount)) {
			t.Errorf("cost lines %q lack %+v", lines, l)
		}
	}

	// Overrides: create, edit, delete.
	var table string
	run(t, ctx, "create override",
		chromedp.Click(`//button[text()="New override"]`),
		chromedp.WaitVisible(chromedp.CSS(`#o-model`)),
		chromedp.Click(chromedp.CSS(`form[aria-label="Create pricing override"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#o-model-err`)),
		chromedp.SendKeys(chromedp.CSS(`#o-prov`), "openai"),
		chromedp.SendKeys(chromedp.CSS(`#o-model`), "gpt-4o-mini"),
		chromedp.SendKeys(chromedp.CSS(`#o-rate-0`), "0.1"),
		chromedp.SendKeys(chromedp.CSS(`#o-note`), "negotiated"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Create pricing override"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=overrides] tbody tr`)),
		chromedp.Click(chromedp.CSS(`button[aria-label="Edit override for gpt-4o-mini"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[aria-label="Edit pricing override"]`)),
		fill(`#o-pct`, "-10"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Edit pricing override"] button[type=submit]`)),
		waitJS(`document.querySelector('[data-testid=overrides] tbody tr')?.textContent.includes('-10%')`, 30*time.Second),
		into(&table, textOf(`[data-testid=overrides] tbody`)),
		shots(t, "10-pricing-override"),
	)
	if !strings.Contains(table, "input $0.10") || !strings.Contains(table, "negotiated") {
		t.Fatalf("overrides table %q", table)
	}
	var saved struct {
		PricingOverrides struct {
			Edges []struct {
				Node struct {
					Provider, Model, PercentAdjustment, Note string
					Rates                                    []struct{ Class, PerMillion string }
				}
			}
		}
	}
	s.gql(t, `query($t:ID!){pricingOverrides(tenantId:$t){edges{node{provider model percentAdjustment note rates{class perMillion}}}}}`, map[string]any{"t": s.TenantID}, &saved)
	if e := saved.PricingOverrides.Edges; len(e) != 1 || e[0].Node.Provider != "openai" || e[0].Node.PercentAdjustment != "-10" ||
		len(e[0].Node.Rates) != 1 || e[0].Node.Rates[0].PerMillion != "0.1" {
		t.Fatalf("saved overrides %+v", saved)
	}
	run(t, ctx, "delete override",
		chromedp.Click(chromedp.CSS(`button[aria-label="Delete override for gpt-4o-mini"]`)),
		waitJS(`document.querySelector('.card .empty')?.textContent.includes('No overrides')`, 30*time.Second),
	)
	s.gql(t, `query($t:ID!){pricingOverrides(tenantId:$t){edges{node{provider model percentAdjustment note rates{class perMillion}}}}}`, map[string]any{"t": s.TenantID}, &saved)
	if len(saved.PricingOverrides.Edges) != 0 {
		t.Fatalf("override still there: %+v", saved)
	}
}

func withCommas(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// get fetches a path of the API as the demo owner.
func (s *server) get(t testing.TB, path string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+path, nil)
	testenv.Must(t, err, "request")
	req.Header.Set("Authorization", "Bearer "+s.Token)
	res, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, "GET "+path)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d: %s", path, res.StatusCode, b)
	}
	return string(b)
}

// TestPortalAdminScreens covers the rest of the screens on their own server:
// sign-in errors, empty states, key rotation and revocation (checked at the
// policy endpoint), users and roles, the audit log, the tenant switcher and
// a viewer's read-only view.
func TestPortalAdminScreens(t *testing.T) {
	ctx := newBrowser(t)
	srv := startServer(t)

	var errText string
	run(t, ctx, "wrong password",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), srv.DemoEmail),
		chromedp.SendKeys(chromedp.CSS(`#password`), "not-the-password"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Sign in"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.error[role=alert]`)),
		into(&errText, textOf(`.error[role=alert]`)),
		shots(t, "20-signin-error"),
	)
	if !strings.Contains(errText, "UNAUTHENTICATED") {
		t.Fatalf("sign-in error %q lacks the code", errText)
	}
	signIn(t, ctx, srv.URL, srv.DemoEmail, srv.DemoPassword)
	var empty string
	run(t, ctx, "empty states",
		waitJS(`document.querySelector('section[aria-labelledby="dash-h"] .empty')`, 60*time.Second),
		into(&empty, textOf(`section[aria-labelledby="dash-h"] .empty`)),
		goTo("alerts", "alerts-h"),
		waitJS(`document.querySelector('section[aria-labelledby="alerts-h"] .empty')`, 30*time.Second),
		goTo("pricing", "pricing-h"),
		waitJS(`document.querySelector('[aria-labelledby="explain-h"] .empty')`, 30*time.Second),
		shots(t, "21-pricing-empty"),
	)
	if !strings.Contains(empty, "No calls in this range yet") {
		t.Fatalf("empty dashboard says %q", empty)
	}

	// Keys: validation, creation, rotation (the old secret stops working),
	// revocation.
	var secret, rotated string
	run(t, ctx, "create and rotate key",
		goTo("keys", "keys-h"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Create API key"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#key-name-err`)),
		chromedp.SendKeys(chromedp.CSS(`#key-name`), "batch jobs"),
		chromedp.SendKeys(chromedp.CSS(`#key-defaults`), "team"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Create API key"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#key-defaults-err`)),
		fill(`#key-defaults`, "team=batch"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Create API key"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=secret]`)),
		into(&secret, textOf(`[data-testid=secret]`)),
		chromedp.Click(`//button[text()="I saved it"]`),
		chromedp.WaitVisible(chromedp.CSS(`button[aria-label="Rotate batch jobs"]`)),
		chromedp.Click(chromedp.CSS(`button[aria-label="Rotate batch jobs"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=secret]`)),
		into(&rotated, textOf(`[data-testid=secret]`)),
		chromedp.Click(`//button[text()="I saved it"]`),
		waitJS(`document.querySelectorAll('section[aria-labelledby="keys-h"] .badge.revoked').length === 1`, 30*time.Second),
		shots(t, "22-keys-rotated"),
	)
	if rotated == secret || !srv.policyFor(t, rotated).Valid {
		t.Fatalf("rotated secret %q is not a new valid key", rotated)
	}
	if srv.policyFor(t, secret).Valid {
		t.Fatal("the old secret still works after rotation")
	}
	run(t, ctx, "revoke key",
		chromedp.Click(chromedp.CSS(`button[aria-label="Revoke batch jobs"]`)),
		waitJS(`document.querySelectorAll('section[aria-labelledby="keys-h"] .badge.revoked').length === 2`, 30*time.Second),
		fill(`select[aria-label="Show keys"]`, "ACTIVE"),
		waitJS(`[...document.querySelectorAll('section[aria-labelledby="keys-h"] tbody tr')].every(r => !r.textContent.includes('batch jobs'))`, 30*time.Second),
	)
	if srv.policyFor(t, rotated).Valid {
		t.Fatal("the revoked key still works")
	}

	// Users and roles, then the audit log of all of it.
	var members, audit string
	run(t, ctx, "members",
		goTo("members", "members-h"),
		chromedp.WaitVisible(chromedp.CSS(`#m-email`)),
		chromedp.SendKeys(chromedp.CSS(`#m-email`), "viewer@e2e.example"),
		chromedp.SendKeys(chromedp.CSS(`#m-name`), "Vera Viewer"),
		chromedp.SendKeys(chromedp.CSS(`#m-pass`), "viewer-password-1"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Add member"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`select[aria-label="Role of viewer@e2e.example"]`)),
		into(&members, textOf(`section[aria-labelledby="members-h"] table`)),
		shots(t, "23-members"),
		goTo("audit", "audit-h"),
		chromedp.WaitVisible(chromedp.CSS(`section[aria-labelledby="audit-h"] table`)),
		into(&audit, textOf(`section[aria-labelledby="audit-h"] table`)),
		shots(t, "24-audit"),
	)
	if !strings.Contains(members, "Vera Viewer") {
		t.Fatalf("members: %q", members)
	}
	for _, want := range []string{srv.DemoEmail, "api_key.create", "api_key.rotate", "api_key.revoke", "member.add"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %q: %.600s", want, audit)
		}
	}

	// The tenant switcher: a second tenant has its own (empty) keys.
	var second struct{ CreateTenant struct{ ID string } }
	srv.gql(t, `mutation{createTenant(name:"Second Co",slug:"second-co"){id}}`, nil, &second)
	var options []string
	run(t, ctx, "switch tenant",
		chromedp.Reload(),
		acceptConfirms,
		waitJS(`document.querySelectorAll('select[aria-label="Tenant"] option').length === 2`, 30*time.Second),
		into(&options, chromedp.Evaluate[[]string](`[...document.querySelectorAll('select[aria-label="Tenant"] option')].map(o => o.text).sort()`)),
		fill(`select[aria-label="Tenant"]`, second.CreateTenant.ID),
		goTo("keys", "keys-h"),
		waitJS(`document.querySelector('section[aria-labelledby="keys-h"] .empty')?.textContent.includes('No API keys yet')`, 30*time.Second),
		shots(t, "25-second-tenant"),
	)
	if strings.Join(options, "|") != "Demo (owner)|Second Co (owner)" {
		t.Fatalf("tenant switcher offers %q", options)
	}

	// A viewer sees the data but no management controls.
	vctx := newBrowser(t)
	signIn(t, vctx, srv.URL, "viewer@e2e.example", "viewer-password-1")
	var controls int
	run(t, vctx, "viewer",
		chromedp.Navigate(srv.URL+"/#/keys"),
		chromedp.WaitVisible(chromedp.CSS(`section[aria-labelledby="keys-h"] table`)),
		into(&controls, chromedp.Evaluate[int](`document.querySelectorAll('form[aria-label="Create API key"], button[aria-label^="Revoke"], button[aria-label^="Rotate"]').length`)),
		shots(t, "26-viewer-keys"),
	)
	if controls != 0 {
		t.Fatalf("a viewer sees %d key management controls", controls)
	}
}
