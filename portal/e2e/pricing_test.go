package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing/revision"
	"github.com/spendgate/spendgate/store/postgres"
)

// TestPortalPricingRevisions: the catalogue lists models before any search,
// per-unit classes read per unit; a proposed revision's diff reads old → new;
// the pricing admin applies it in the portal and the running server prices
// with it at once (no restart).
func TestPortalPricingRevisions(t *testing.T) {
	ctx := newBrowser(t)
	srv := startServer(t)
	bg := context.Background()
	pool, err := postgres.Open(bg, srv.PostgresDSN)
	testenv.Must(t, err, "postgres")
	t.Cleanup(pool.Close)
	revs := revision.New(pool, nil)
	rev, err := revs.ProposeLiteLLM(bg, revision.ProposeInput{
		LiteLLM: []byte(`{"gpt-4o":{"litellm_provider":"openai","mode":"chat","input_cost_per_token":3e-06,"output_cost_per_token":1e-05,"cache_read_input_token_cost":1.25e-06},
			"tts-2-hd":{"litellm_provider":"openai","mode":"audio_speech","input_cost_per_character":3e-05}}`),
		Source: "e2e file", EffectiveFrom: time.Now().Add(-time.Minute).UTC().Truncate(time.Second), By: "e2e", Providers: []string{"openai"}})
	testenv.Must(t, err, "propose")
	id := strconv.FormatInt(rev.ID, 10)

	signIn(t, ctx, srv.URL, srv.DemoEmail, srv.DemoPassword)
	var firstRows, ttsRow, diff, status string
	run(t, ctx, "catalogue without a search",
		goTo("pricing", "pricing-h"),
		waitJS(`document.querySelectorAll('[data-testid=catalogue] tbody tr').length >= 50`, 30*time.Second),
		into(&firstRows, textOf(`[data-testid=catalogue] tbody`)),
		fill(`#cat-p`, "openai"),
		chromedp.SendKeys(chromedp.CSS(`#cat-q`), "tts-1"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Search the pricing catalogue"] button[type=submit]`)),
		waitJS(`[...document.querySelectorAll('[data-testid=catalogue] tbody tr')].some(r => r.cells[1].textContent.startsWith('tts-1'))`, 30*time.Second),
		into(&ttsRow, textOf(`[data-testid=catalogue] tbody tr`)),
		shots(t, "30-pricing-catalogue"),
	)
	if !strings.Contains(firstRows, "anthropic") || !strings.Contains(firstRows, "/ 1M tokens") {
		t.Errorf("catalogue before a search: %.300s", firstRows)
	}
	if !strings.Contains(ttsRow, "characters $0.000015 / character") || strings.Contains(ttsRow, "1M characters") {
		t.Errorf("tts-1 is not priced per character: %q", ttsRow)
	}

	run(t, ctx, "review and apply the revision",
		waitJS(`!!document.querySelector('[data-testid=revision-diff]')`, 30*time.Second),
		chromedp.Click(chromedp.CSS(`button[aria-label="Review revision `+id+`"]`)),
		waitJS(`document.querySelector('[data-testid=revision-diff]').textContent.includes('Revision `+id+`')`, 10*time.Second),
		into(&diff, textOf(`[data-testid=revision-diff]`)),
		chromedp.ScrollIntoView(chromedp.CSS(`[data-testid=revision-diff]`)),
		shots(t, "31-pricing-revision-diff"),
		chromedp.Click(chromedp.CSS(`[data-testid=revision-diff] button:not(.secondary)`)),
		waitJS(`[...document.querySelectorAll('[data-testid=revisions] tbody tr')].some(r => r.cells[0].textContent === '`+id+`' && r.cells[1].textContent === 'applied')`, 30*time.Second),
		into(&status, textOf(`[data-testid=revisions] tbody tr`)),
		shots(t, "32-pricing-revision-applied"),
	)
	for _, want := range []string{"gpt-4o", "input: $2.50 → $3.00 / 1M tokens", "tts-2-hd", "characters: — → $0.00003 / character"} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff lacks %q: %.600s", want, diff)
		}
	}
	if !strings.Contains(status, "applied by "+srv.DemoEmail) {
		t.Errorf("revision row after apply: %q", status)
	}
	// The running server prices with the applied revision (LISTEN/NOTIFY).
	testenv.WaitFor(t, 20*time.Second, "the server follows the applied revision", func() bool {
		var c struct {
			PricingCatalogue []struct {
				Model string
				Rates []struct{ Class, PerMillion string }
			}
		}
		srv.gql(t, `{pricingCatalogue(search:"gpt-4o",provider:"openai",first:1){model rates{class perMillion}}}`, nil, &c)
		return len(c.PricingCatalogue) == 1 && c.PricingCatalogue[0].Model == "gpt-4o" && len(c.PricingCatalogue[0].Rates) > 0 &&
			c.PricingCatalogue[0].Rates[0].Class == "input" && c.PricingCatalogue[0].Rates[0].PerMillion == "3"
	})
}
