package e2e

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/recommend"
	recommendpg "github.com/spendgate/spendgate/recommend/pgstore"
	recommendsvc "github.com/spendgate/spendgate/recommend/service"
	"github.com/spendgate/spendgate/spend"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
	"github.com/spendgate/spendgate/store/postgres"
	"github.com/spendgate/spendgate/usage"
)

// TestPortalInsights stores 30 days of a batch-like gpt-4o workload of the
// demo key in the server's ClickHouse, refreshes recommendations as the
// hourly job does, and checks what a person sees: the Savings & anomalies
// page lists the savings to the cent, marking one applied records the
// owner, and the Budgets page says the day a small budget will be passed.
func TestPortalInsights(t *testing.T) {
	ctx := newBrowser(t)
	srv := startServer(t)
	var keys struct {
		APIKeys struct {
			Edges []struct{ Node struct{ ID, Name string } }
		}
	}
	srv.gql(t, `query($t:ID!){apiKeys(tenantId:$t){edges{node{id name}}}}`, map[string]any{"t": srv.TenantID}, &keys)
	if len(keys.APIKeys.Edges) == 0 {
		t.Fatal("the demo tenant has no key")
	}
	key := keys.APIKeys.Edges[0].Node

	bg := context.Background()
	conn, err := chstore.Open(bg, testenv.ClickHouseAddr(), srv.ClickHouseDatabase)
	testenv.Must(t, err, "clickhouse")
	defer conn.Close()
	base := time.Now().UTC().Truncate(time.Hour)
	var evs []spend.PricedEvent
	for i := range 1000 {
		e := event.Event{SchemaVersion: event.SchemaVersion, Type: event.TypeUsage, EventID: uuid.NewString(), Time: base.Add(-time.Duration(i+1) * 30 * time.Minute),
			Source: event.SourceGateway, TenantID: srv.TenantID, KeyID: key.ID, Provider: "openai", Operation: "chat.completions", ModelRequested: "gpt-4o",
			StatusCode: 200, Complete: true, Usage: usage.Tokens{Input: 3000, Output: 100}}
		evs = append(evs, spend.PricedEvent{Event: e, Cost: pricing.Default().Cost(pricing.Request{Provider: "openai", Model: "gpt-4o", Time: e.Time}, e.Usage, nil)})
	}
	_, err = chstore.NewWriter(conn, srv.ClickHouseDatabase).Write(bg, evs)
	testenv.Must(t, err, "store usage")
	pool, err := postgres.Open(bg, srv.PostgresDSN)
	testenv.Must(t, err, "postgres")
	defer pool.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	rec := recommendsvc.New(recommend.DefaultConfig(), pricing.Default(), chstore.Analytics{Conn: conn, Database: srv.ClickHouseDatabase},
		controlplane.OverrideReader{DB: pool}, recommendpg.New(pool), nil, quiet)
	testenv.Must(t, rec.Refresh(bg, srv.TenantID), "refresh recommendations")

	signIn(t, ctx, srv.URL, srv.DemoEmail, srv.DemoPassword)
	var cards []string
	run(t, ctx, "recommendations with their savings",
		goTo("insights", "insights-h"),
		waitJS(`document.querySelectorAll('[data-testid=recommendation]').length === 3`, 30*time.Second),
		into(&cards, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid=recommendation]')].map(c => c.dataset.kind + ': ' + c.textContent)`)),
		shots(t, "60-insights"),
	)
	want := []string{"CHEAPER_MODEL: Move low-output calls of gpt-4o to gpt-4o-mini", "BATCH_API:", "PROMPT_CACHING:"}
	saves := []string{"Saves $7.99 a month of $8.50", "Saves $4.25 a month", "Saves $1.875 a month"}
	for i, c := range cards {
		if !strings.HasPrefix(c, want[i]) || !strings.Contains(c, saves[i]) || !strings.Contains(c, "key "+key.Name) {
			t.Errorf("card %d: %q, want %q … %q", i, c, want[i], saves[i])
		}
	}
	run(t, ctx, "mark the cheaper model applied",
		chromedp.Click(chromedp.CSS(`[data-kind=CHEAPER_MODEL] button[aria-label^="Mark applied"]`)),
		waitJS(`document.querySelector('[data-kind=CHEAPER_MODEL]').dataset.state === 'APPLIED'`, 30*time.Second),
		waitJS(`document.querySelector('[data-testid=open-savings]').textContent.includes('$6.125')`, 30*time.Second),
		shots(t, "61-insights-applied"),
	)
	var recs struct {
		Recommendations []struct{ Kind, State, StateChangedBy string }
	}
	srv.gql(t, `query($t:ID!){recommendations(tenantId:$t,state:APPLIED){kind state stateChangedBy}}`, map[string]any{"t": srv.TenantID}, &recs)
	if len(recs.Recommendations) != 1 || recs.Recommendations[0].Kind != "CHEAPER_MODEL" || recs.Recommendations[0].StateChangedBy != srv.DemoEmail {
		t.Fatalf("applied: %+v", recs.Recommendations)
	}

	// A budget far below the workload's daily spend: it will be passed today.
	srv.gql(t, `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"tiny",scope:TENANT,period:MONTH,amount:"0.01"}){id}}`, map[string]any{"t": srv.TenantID}, nil)
	var line string
	run(t, ctx, "the budget's exceed day",
		goTo("budgets", "budgets-h"),
		waitJS(`[...document.querySelectorAll('[data-testid=budget-forecast]')].some(e => e.textContent.includes('will exceed on'))`, 30*time.Second),
		into(&line, chromedp.Evaluate[string](`document.querySelector('[data-budget=tiny] [data-testid=budget-forecast]').textContent`)),
		shots(t, "62-budget-exceeds"),
	)
	if today := base.Format("2006-01-02"); !strings.Contains(line, "will exceed on "+today) {
		t.Fatalf("budget forecast %q, want it to say it will exceed on %s", line, today)
	}
}
