package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spendgate/spendgate/money"
)

// TestPortalOrganisationTree builds workspace → team → project in the
// Organisation page, puts a key in the project, sends real calls through the
// gateway and checks that the page shows the same spend on the project, its
// team and its workspace (attributed by ingest from the key), then adds a
// budget to the project from the page and sees its status on the node.
func TestPortalOrganisationTree(t *testing.T) {
	ctx := newBrowser(t)
	srv := startServer(t)
	perCall := perCallNano(t)
	signIn(t, ctx, srv.URL, srv.DemoEmail, srv.DemoPassword)
	run(t, ctx, "empty tree, then a workspace, a team and a project",
		goTo("org", "org-h"),
		waitJS(`document.querySelector('section[aria-labelledby="org-h"] .empty')`, 30*time.Second),
		chromedp.Click(`//button[text()="New workspace"]`),
		chromedp.WaitVisible(chromedp.CSS(`#n-name`)),
		chromedp.SendKeys(chromedp.CSS(`#n-name`), "Production"),
		chromedp.Click(chromedp.CSS(`form[aria-label="New workspace"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[aria-label="Add a team to Production"]`)),
		chromedp.Click(chromedp.CSS(`button[aria-label="Add a team to Production"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[aria-label="New team"] #n-name`)),
		chromedp.SendKeys(chromedp.CSS(`#n-name`), "Payments"),
		chromedp.Click(chromedp.CSS(`form[aria-label="New team"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[aria-label="Add a project to Payments"]`)),
		chromedp.Click(chromedp.CSS(`button[aria-label="Add a project to Payments"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[aria-label="New project"] #n-name`)),
		chromedp.SendKeys(chromedp.CSS(`#n-name`), "Checkout"),
		chromedp.Click(chromedp.CSS(`form[aria-label="New project"] button[type=submit]`)),
		waitJS(`document.querySelectorAll('[data-testid=org-node]').length === 3`, 30*time.Second),
		shots(t, "40-org-tree"),
	)
	var tree struct {
		OrgTree []struct{ ID, Kind, Name string }
	}
	srv.gql(t, `query($t:ID!){orgTree(tenantId:$t){id kind name}}`, map[string]any{"t": srv.TenantID}, &tree)
	project := ""
	for _, n := range tree.OrgTree {
		if n.Kind == "PROJECT" && n.Name == "Checkout" {
			project = n.ID
		}
	}
	if len(tree.OrgTree) != 3 || project == "" {
		t.Fatalf("the tree the page built: %+v", tree.OrgTree)
	}
	var key struct{ CreateAPIKey struct{ Secret string } }
	srv.gql(t, `mutation($t:ID!,$p:ID!){createAPIKey(tenantId:$t,name:"checkout",projectId:$p){secret}}`, map[string]any{"t": srv.TenantID, "p": project}, &key)
	c := srv.openAI(key.CreateAPIKey.Secret)
	chat(t, c)
	chat(t, c)
	srv.waitRequests(t, 2)
	want := cents(t, money.FormatNano(2*perCall))
	var spends []string
	run(t, ctx, "spend at every level",
		refreshUntil(`[...document.querySelectorAll('[data-testid=org-spend]')].every(e => e.textContent.includes('2 requests'))`, 60*time.Second),
		into(&spends, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid=org-node]')].map(n => n.dataset.kind + ' ' + n.querySelector('[data-testid=org-spend]').textContent)`)),
		shots(t, "41-org-spend"),
	)
	if len(spends) != 3 {
		t.Fatalf("nodes shown: %q", spends)
	}
	for _, s := range spends {
		if !strings.Contains(s, want) {
			t.Errorf("node spend %q, want %s on the project, its team and its workspace", s, want)
		}
	}
	// A hard budget on the project, created from the page, below what was spent.
	var budgetLine string
	run(t, ctx, "budget on the project",
		chromedp.Click(chromedp.CSS(`button[aria-label="Add a budget to Checkout"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#nb-amount`)),
		chromedp.SendKeys(chromedp.CSS(`#nb-amount`), "1000"),
		fill(`#nb-period`, "QUARTER"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Budget for Checkout"] button[type=submit]`)),
		waitJS(`document.querySelector('[data-node="Checkout"] [data-testid=org-budget]')`, 30*time.Second),
		into(&budgetLine, textOf(`[data-node="Checkout"] [data-testid=org-budget]`)),
		shots(t, "42-org-budget"),
	)
	// A budget counts spend from its creation on (docs/budgets.md): the
	// calls before it are not in it, the next one is.
	if !strings.Contains(budgetLine, "Checkout budget") || !strings.Contains(budgetLine, "$0.00 of $1,000.00") || !strings.Contains(budgetLine, "quarterly") {
		t.Fatalf("the new project budget's line %q, want $0.00 of $1,000.00 quarterly", budgetLine)
	}
	chat(t, c)
	srv.waitRequests(t, 3)
	one := cents(t, money.FormatNano(perCall))
	run(t, ctx, "the budget counts the next call",
		refreshUntil(fmt.Sprintf(`document.querySelector('[data-node="Checkout"] [data-testid=org-budget]')?.textContent.includes(%s)`, jsString(one+" of $1,000.00")), 60*time.Second),
		into(&budgetLine, textOf(`[data-node="Checkout"] [data-testid=org-budget]`)),
	)
	if !strings.Contains(budgetLine, one+" of $1,000.00") {
		t.Fatalf("the project's budget line %q, want %s of $1,000.00", budgetLine, one)
	}
}
