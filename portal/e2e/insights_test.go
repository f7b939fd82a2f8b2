package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/schedule"
	"github.com/spendgate/spendgate/spend"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
	"github.com/spendgate/spendgate/store/postgres"
	"github.com/spendgate/spendgate/usage"
)

// TestPortalInsights stores 30 days of a batch-like gpt-4o workload of the
// demo key in the server's ClickHouse, with a runaway in the last complete
// hour, and lets the server's own hourly jobs (run now through the
// scheduler) find the anomaly and the savings. It checks what a person
// sees: the Savings & anomalies page lists the savings to the cent and the
// episode, the server delivered the anomaly's alert, marking a
// recommendation applied records the owner, and the Budgets page says the
// day a small budget will be passed.
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
	call := func(at time.Time) spend.PricedEvent {
		e := event.Event{SchemaVersion: event.SchemaVersion, Type: event.TypeUsage, EventID: uuid.NewString(), Time: at,
			Source: event.SourceGateway, TenantID: srv.TenantID, KeyID: key.ID, Provider: "openai", Operation: "chat.completions", ModelRequested: "gpt-4o",
			StatusCode: 200, Complete: true, Usage: usage.Tokens{Input: 3000, Output: 100}}
		return spend.PricedEvent{Event: e, Cost: pricing.Default().Cost(pricing.Request{Provider: "openai", Model: "gpt-4o", Time: e.Time}, e.Usage, nil)}
	}
	// Two calls an hour ($0.017) for 500 hours, and 200 more in the last
	// complete hour ($1.70): 1200 calls of 3000 input / 100 output tokens.
	var evs []spend.PricedEvent
	for i := range 1000 {
		evs = append(evs, call(base.Add(-time.Duration(i+1)*30*time.Minute)))
	}
	for i := range 200 {
		evs = append(evs, call(base.Add(-time.Hour+time.Duration(i)*10*time.Second)))
	}
	_, err = chstore.NewWriter(conn, srv.ClickHouseDatabase).Write(bg, evs)
	testenv.Must(t, err, "store usage")
	pool, err := postgres.Open(bg, srv.PostgresDSN)
	testenv.Must(t, err, "postgres")
	defer pool.Close()
	// The server judged the last complete hour when it started (no usage
	// then): judge it again, as a first run would, and run both jobs now.
	_, err = pool.Exec(bg, "DELETE FROM anomaly_cursors WHERE tenant_id = $1", srv.TenantID)
	testenv.Must(t, err, "reset the anomaly cursor")
	runner := schedule.New(pool, nil)
	testenv.Must(t, runner.Trigger(bg, "anomaly-detection"), "trigger detection")
	testenv.Must(t, runner.Trigger(bg, "recommendations-refresh"), "trigger recommendations")
	var found struct {
		Recommendations []struct{ Kind string }
		Anomalies       []struct{ Dimension, Severity string }
	}
	deadline := time.Now().Add(150 * time.Second) // the server's scheduler looks for due jobs every minute
	for {
		srv.gql(t, `query($t:ID!,$f:Time!,$to:Time!){recommendations(tenantId:$t){kind} anomalies(tenantId:$t,from:$f,to:$to){dimension severity}}`,
			map[string]any{"t": srv.TenantID, "f": base.Add(-24 * time.Hour).Format(time.RFC3339), "to": base.Add(time.Hour).Format(time.RFC3339)}, &found)
		if len(found.Recommendations) == 3 && len(found.Anomalies) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server's jobs found %+v\n%s", found, srv.LogTail())
		}
		time.Sleep(2 * time.Second)
	}
	// The server's dispatcher delivered each episode's alert on NATS.
	deadline = time.Now().Add(30 * time.Second)
	for {
		var pending, delivered int
		testenv.Must(t, pool.QueryRow(bg, `SELECT count(*) FILTER (WHERE delivered_at IS NULL), count(*) FILTER (WHERE delivered_at IS NOT NULL)
			FROM anomaly_alert_outbox WHERE kind = 'nats'`).Scan(&pending, &delivered), "outbox")
		if pending == 0 && delivered == len(found.Anomalies) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("anomaly alerts: %d pending, %d delivered", pending, delivered)
		}
		time.Sleep(500 * time.Millisecond)
	}

	signIn(t, ctx, srv.URL, srv.DemoEmail, srv.DemoPassword)
	var cards, episodes []string
	var exactSavings string
	run(t, ctx, "recommendations with their savings, and the runaway hour",
		goTo("insights", "insights-h"),
		waitJS(`document.querySelectorAll('[data-testid=recommendation]').length === 3`, 30*time.Second),
		into(&cards, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid=recommendation]')].map(c => c.dataset.kind + ': ' + c.textContent)`)),
		into(&episodes, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid=anomaly]')].map(r => r.dataset.severity + ': ' + r.textContent)`)),
		into(&exactSavings, chromedp.Evaluate[string](`document.querySelector('[data-kind=CHEAPER_MODEL] [data-testid=savings]').dataset.value`)),
		shots(t, "60-insights"),
	)
	want := []string{"CHEAPER_MODEL: Move low-output calls of gpt-4o to gpt-4o-mini", "BATCH_API:", "PROMPT_CACHING:"}
	// Headlines in cents; the exact figure is on the element (and its hover title).
	saves := []string{"Saves $9.59 a month of $10.20", "Saves $5.10 a month", "Saves $2.25 a month"}
	if !strings.HasPrefix(exactSavings, "9.588") {
		t.Errorf("the cheaper model's exact savings %q, want 9.588…", exactSavings)
	}
	for i, c := range cards {
		if !strings.HasPrefix(c, want[i]) || !strings.Contains(c, saves[i]) || !strings.Contains(c, "key "+key.Name) {
			t.Errorf("card %d: %q, want %q … %q", i, c, want[i], saves[i])
		}
	}
	// The runaway hour: 202 calls, $1.717 (shown as $1.72). Half of its baseline hours are
	// before the workload began (zero), so the usual is $0 and the episode
	// is minor: severity compares with at least the $1 volume guard.
	keyEpisode := false
	for _, e := range episodes {
		if strings.HasPrefix(e, "MINOR: ") && strings.Contains(e, "key "+key.Name) && strings.Contains(e, "$1.72 (new spend)") && strings.Contains(e, "ongoing") {
			keyEpisode = true
		}
	}
	if !keyEpisode {
		t.Errorf("no episode of key %q at $1.72 among %q", key.Name, episodes)
	}
	run(t, ctx, "mark the cheaper model applied",
		chromedp.Click(chromedp.CSS(`[data-kind=CHEAPER_MODEL] button[aria-label^="Mark applied"]`)),
		waitJS(`document.querySelector('[data-kind=CHEAPER_MODEL]').dataset.state === 'APPLIED'`, 30*time.Second),
		waitJS(`document.querySelector('[data-testid=open-savings]').textContent.includes('$7.35')`, 30*time.Second),
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
