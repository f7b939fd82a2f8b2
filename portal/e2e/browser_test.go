package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/spendgate/spendgate/internal/testenv"
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

// newBrowser starts headless Chromium with a fresh profile and returns a tab context.
func newBrowser(t testing.TB, width, height int) context.Context {
	t.Helper()
	exe := chromiumPath()
	if exe == "" {
		t.Skip("no Chromium found (set SPENDGATE_CHROMIUM); the portal e2e needs a browser")
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
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser; no timeout on this first call
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// artifactDir is test-artifacts/portal at the repository root (gitignored).
func artifactDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "test-artifacts", "portal"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func screenshot(t testing.TB, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		buf, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return err
		}
		p := filepath.Join(artifactDir(t), name+".png")
		t.Logf("screenshot %s", p)
		return os.WriteFile(p, buf, 0o644)
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

// stepTimeout bounds one step; waits poll the page, they never sleep blindly.
const stepTimeout = 30 * time.Second

func run(t testing.TB, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		fctx, fcancel := context.WithTimeout(ctx, 10*time.Second)
		shot, _ := chromedp.Run(fctx, chromedp.FullScreenshot(100))
		fcancel()
		if len(shot) > 0 {
			_ = os.WriteFile(filepath.Join(artifactDir(t), "failure.png"), shot, 0o644)
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

func TestPortalAdminFlow(t *testing.T) {
	srv := startServer(t)
	ctx := newBrowser(t, 1280, 900)

	// A wrong password shows the server's message and code.
	var errText string
	run(t, ctx, "wrong password",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), ownerEmail),
		chromedp.SendKeys(chromedp.CSS(`#password`), "not-the-password"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Sign in"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.error[role=alert]`)),
		into(&errText, chromedp.Text(chromedp.CSS(`.error[role=alert]`))),
		screenshot(t, "01-signin-error"),
	)
	if !strings.Contains(errText, "UNAUTHENTICATED") {
		t.Fatalf("sign-in error %q lacks the code", errText)
	}
	signIn(t, ctx, srv.URL, ownerEmail, ownerPassword)

	var tenant string
	run(t, ctx, "dashboard",
		chromedp.WaitVisible(chromedp.CSS(`#dash-h`)),
		into(&tenant, chromedp.Evaluate[string](`document.querySelector('select[aria-label="Tenant"]').selectedOptions[0].text`)),
		chromedp.WaitVisible(chromedp.CSS(`section[aria-labelledby="dash-h"] .empty, [data-testid=total]`)),
		screenshot(t, "02-dashboard"),
	)
	if !strings.Contains(tenant, "Acme E2E") {
		t.Fatalf("tenant switcher shows %q", tenant)
	}

	// Create a key with a policy; the secret is shown once and works at the policy endpoint.
	var secret string
	run(t, ctx, "create key",
		chromedp.Click(chromedp.CSS(`nav a[href="#/keys"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#key-name`)),
		chromedp.WaitVisible(chromedp.CSS(`section[aria-labelledby="keys-h"] .empty`)),
		chromedp.Click(chromedp.CSS(`form[aria-label="Create API key"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.field-error`)), // no name
		chromedp.SendKeys(chromedp.CSS(`#key-name`), "e2e search"),
		chromedp.SendKeys(chromedp.CSS(`#key-providers`), "openai, anthropic"),
		chromedp.SendKeys(chromedp.CSS(`#key-defaults`), "env=e2e"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Create API key"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=secret]`)),
		into(&secret, chromedp.Text(chromedp.CSS(`[data-testid=secret]`))),
		screenshot(t, "03-key-secret"),
	)
	secret = strings.TrimSpace(secret)
	if !strings.HasPrefix(secret, "sg_") {
		t.Fatalf("secret %q", secret)
	}
	a := srv.policyFor(t, secret)
	if !a.Valid {
		t.Fatalf("the secret shown in the portal is not a valid key: %+v", a)
	}
	// Traffic through the gateway with the new key is metered and attributed to
	// it, with the key's default dimension from the policy set in the form.
	if code := srv.chat(t, secret, "gpt-4o-mini"); code != http.StatusOK {
		t.Fatalf("gateway call with the portal's key: HTTP %d", code)
	}
	testenv.WaitFor(t, 10*time.Second, "usage event from the gateway", func() bool {
		for _, e := range srv.events.all() {
			if e.ModelRequested == "gpt-4o-mini" && e.Dimensions["env"] == "e2e" && e.Usage.Input > 0 {
				return true
			}
		}
		return false
	})
	var table string
	run(t, ctx, "key list",
		chromedp.Click(`//button[text()="I saved it"]`),
		chromedp.WaitVisible(chromedp.CSS(`section[aria-labelledby="keys-h"] table`)),
		into(&table, chromedp.Text(chromedp.CSS(`section[aria-labelledby="keys-h"] table`))),
	)
	if !strings.Contains(table, "e2e search") || !strings.Contains(table, "providers: openai, anthropic") || !strings.Contains(table, "env=e2e") {
		t.Fatalf("key table: %q", table)
	}
	// The gateway's use of the key shows as "Last used" after a reload.
	testenv.WaitFor(t, 10*time.Second, "last used in the key list", func() bool {
		var lastUsed string
		run(t, ctx, "reload keys",
			chromedp.Reload(),
			chromedp.WaitVisible(chromedp.CSS(`section[aria-labelledby="keys-h"] table`)),
			acceptConfirms,
			into(&lastUsed, chromedp.Text(chromedp.CSS(`section[aria-labelledby="keys-h"] tbody tr td:nth-child(6)`))),
		)
		return strings.HasSuffix(strings.TrimSpace(lastUsed), "UTC")
	})

	// Rotate: a new secret, the old one stops working.
	var rotated string
	run(t, ctx, "rotate key",
		chromedp.Click(chromedp.CSS(`button[aria-label="Rotate e2e search"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=secret]`)),
		into(&rotated, chromedp.Text(chromedp.CSS(`[data-testid=secret]`))),
		chromedp.Click(`//button[text()="I saved it"]`),
		chromedp.WaitVisible(chromedp.CSS(`button[aria-label="Revoke e2e search"]`)),
		screenshot(t, "04-keys-after-rotate"),
	)
	rotated = strings.TrimSpace(rotated)
	if rotated == secret || !srv.policyFor(t, rotated).Valid {
		t.Fatalf("rotated secret %q is not a new valid key", rotated)
	}
	if srv.policyFor(t, secret).Valid {
		t.Fatal("the old secret still works after rotation")
	}

	// Budgets: validation, then create.
	var fieldErr, budgets string
	run(t, ctx, "create budget",
		chromedp.Click(chromedp.CSS(`nav a[href="#/budgets"]`)),
		chromedp.WaitVisible(`//button[text()="New budget"]`),
		chromedp.Click(`//button[text()="New budget"]`),
		chromedp.SendKeys(chromedp.CSS(`#b-name`), "Monthly cap"),
		chromedp.SendKeys(chromedp.CSS(`#b-amount`), "12,5"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Create budget"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#b-amount-err`)),
		into(&fieldErr, chromedp.Text(chromedp.CSS(`#b-amount-err`))),
		chromedp.SendKeys(chromedp.CSS(`#b-amount`), kb.Backspace+kb.Backspace+kb.Backspace+kb.Backspace+"250.75"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Create budget"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`ul.budgets li`)),
		into(&budgets, chromedp.Text(chromedp.CSS(`ul.budgets`))),
		screenshot(t, "05-budgets"),
	)
	if !strings.Contains(fieldErr, "plain decimal") {
		t.Fatalf("amount error %q", fieldErr)
	}
	if !strings.Contains(budgets, "Monthly cap") || !strings.Contains(budgets, "$250.75") || !strings.Contains(budgets, "50, 80, 100%") {
		t.Fatalf("budget list: %q", budgets)
	}

	// Members and the audit log record what happened.
	var members, audit string
	run(t, ctx, "members",
		chromedp.Click(chromedp.CSS(`nav a[href="#/members"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#m-email`)),
		chromedp.SendKeys(chromedp.CSS(`#m-email`), "viewer@e2e.example"),
		chromedp.SendKeys(chromedp.CSS(`#m-name`), "Vera Viewer"),
		chromedp.SendKeys(chromedp.CSS(`#m-pass`), "viewer-password-1"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Add member"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`select[aria-label="Role of viewer@e2e.example"]`)),
		into(&members, chromedp.Text(chromedp.CSS(`section[aria-labelledby="members-h"] table`))),
		screenshot(t, "06-members"),
		chromedp.Click(chromedp.CSS(`nav a[href="#/audit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`section[aria-labelledby="audit-h"] table`)),
		into(&audit, chromedp.Text(chromedp.CSS(`section[aria-labelledby="audit-h"] table`))),
		screenshot(t, "07-audit"),
	)
	if !strings.Contains(members, "Vera Viewer") {
		t.Fatalf("members: %q", members)
	}
	for _, want := range []string{ownerEmail, "api_key", "budget"} {
		if !strings.Contains(strings.ToLower(audit), want) {
			t.Errorf("audit log lacks %q: %.400s", want, audit)
		}
	}

	// The alerts page says whether the budgetAlerts subscription is live.
	var live string
	run(t, ctx, "alerts",
		chromedp.Click(chromedp.CSS(`nav a[href="#/alerts"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=live]`)),
		into(&live, chromedp.Text(chromedp.CSS(`[data-testid=live]`))),
		screenshot(t, "07b-alerts"),
	)
	t.Logf("alerts subscription state: %s", live)
	if live == "" {
		t.Error("the alerts page does not show the subscription state")
	}

	// Phone width: the layout still works.
	var scrollW int
	run(t, ctx, "phone",
		chromedp.EmulateViewport(390, 844),
		chromedp.Click(chromedp.CSS(`nav a[href="#/keys"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#key-name`)),
		into(&scrollW, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)),
		screenshot(t, "08-keys-phone"),
	)
	if scrollW > 390 {
		var wide string
		run(t, ctx, "find wide elements", into(&wide, chromedp.Evaluate[string](`[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391 && !e.closest('.table-wrap, nav')).slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).join(', ')`)))
		t.Logf("elements past the right edge: %s", wide)
		t.Errorf("at phone width the page is %d px wide (horizontal scrolling)", scrollW)
	}

	// A viewer sees the data but no management controls.
	vctx := newBrowser(t, 1280, 900)
	signIn(t, vctx, srv.URL, "viewer@e2e.example", "viewer-password-1")
	var n int
	run(t, vctx, "viewer keys",
		chromedp.Navigate(srv.URL+"/#/keys"),
		chromedp.WaitVisible(chromedp.CSS(`section[aria-labelledby="keys-h"] table`)),
		into(&n, chromedp.Evaluate[int](`document.querySelectorAll('form[aria-label="Create API key"], button[aria-label^="Revoke"]').length`)),
		screenshot(t, "09-viewer-keys"),
	)
	if n != 0 {
		t.Fatalf("viewer sees %d management controls", n)
	}
}
