// Package e2e runs the product as users do: the real `spendgate serve`
// binary (Postgres, embedded NATS JetStream, ClickHouse, gateway, fake AI
// provider), driven through GraphQL, the official OpenAI SDK and a
// graphql-ws subscription client.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/money"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/usage"
)

type alert struct {
	ID, BudgetID, BudgetName string
	Threshold                int
	Spent, Amount, Message   string
	Hard                     bool
}

// subscribeAlerts runs the graphql-ws npm client (portal/e2e/subscribe.mjs)
// against the API and returns the alerts it receives, once it is connected.
func subscribeAlerts(t *testing.T, apiURL, token, tenantID string) <-chan alert {
	t.Helper()
	testenv.Require(t, "node")
	root, err := testenv.ModuleRoot()
	testenv.Must(t, err, "module root")
	if _, err := os.Stat(filepath.Join(root, "portal", "node_modules", "graphql-ws")); err != nil {
		t.Fatalf("portal/node_modules/graphql-ws is missing: run 'cd portal && npm ci' (.ci/run does)")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", "--experimental-websocket", "--no-warnings", filepath.Join(root, "portal", "e2e", "subscribe.mjs"),
		"ws"+strings.TrimPrefix(apiURL, "http")+"/query", token, tenantID)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	testenv.Must(t, err, "subscriber stdout")
	testenv.Must(t, cmd.Start(), "start graphql-ws subscriber")
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	connected := make(chan struct{})
	alerts := make(chan alert, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var line struct {
				Connected bool `json:"connected"`
				Data      struct {
					BudgetAlerts alert `json:"budgetAlerts"`
				} `json:"data"`
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				continue
			}
			if line.Connected {
				close(connected)
				continue
			}
			if line.Data.BudgetAlerts.ID == "" {
				t.Errorf("subscription sent %s", sc.Bytes())
				continue
			}
			alerts <- line.Data.BudgetAlerts
		}
		close(alerts)
	}()
	select {
	case <-connected:
	case <-time.After(30 * time.Second):
		t.Fatalf("graphql-ws subscriber did not connect: %s", stderr.String())
	}
	return alerts
}

// TestSpendEndToEnd runs with the consumer in serve's process and in a
// child process (--pipeline-process): spend, alerts and the hard budget's
// block must not depend on which process settles the budgets.
func TestSpendEndToEnd(t *testing.T) {
	for name, args := range map[string][]string{"in-process": nil, "pipeline-process": {"--pipeline-process"}} {
		t.Run(name, func(t *testing.T) { spendEndToEnd(t, args...) })
	}
}

func spendEndToEnd(t *testing.T, args ...string) {
	// Policy answers are cached by the gateway; a short TTL lets the budget
	// change below take effect quickly.
	s := testenv.StartServe(t, append([]string{"--policy-cache-ttl", "1s"}, args...)...)
	q := s.APIURL + "/query"
	token, tenant := s.SignInDemo(t)

	// A key with a policy, created through GraphQL: its secret is shown once.
	var created struct {
		CreateAPIKey struct {
			Secret string
			Key    struct{ ID, Name string }
		}
	}
	testenv.MustGraphQL(t, q, token, `mutation($t:ID!){createAPIKey(tenantId:$t,name:"search backend",
		policy:{allowedProviders:["openai"],requiredDimensions:["team"]}){secret key{id name}}}`, map[string]any{"t": tenant}, &created)
	key := created.CreateAPIKey.Secret

	// A monthly budget over the tenant, created before any traffic, with a
	// webhook-free soft cap and three thresholds.
	const budgetAmount = "0.1"
	var budget struct{ CreateBudget struct{ ID string } }
	testenv.MustGraphQL(t, q, token, `mutation($t:ID!,$a:Money!){createBudget(tenantId:$t,input:{name:"tenant monthly",scope:TENANT,
		period:MONTH,amount:$a,thresholds:[50,80,100]}){id}}`, map[string]any{"t": tenant, "a": budgetAmount}, &budget)
	budgetID := budget.CreateBudget.ID
	alerts := subscribeAlerts(t, s.APIURL, token, tenant)

	// Calls as users make them: the official OpenAI SDK, base URL at the
	// gateway. The fake provider reports the token counts asked for.
	const promptTokens, completionTokens = 100_000, 10_000
	client := openai.NewClient(option.WithBaseURL(s.GatewayURL+"/v1/openai"), option.WithAPIKey("sk-provider"),
		option.WithHeader("x-spendgate-key", key), option.WithHeader("x-spendgate-dim-team", "search"), option.WithMaxRetries(0),
		option.WithHeader("x-fake-prompt-tokens", fmt.Sprint(promptTokens)), option.WithHeader("x-fake-completion-tokens", fmt.Sprint(completionTokens)))
	params := openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}}
	ctx := context.Background()
	perCall := pricing.Default().Cost(pricing.Request{Provider: "openai", Model: "gpt-4o-mini"},
		usage.Tokens{Input: promptTokens, Output: completionTokens}, nil)
	if !perCall.Priced || perCall.TenantNanoUSD <= 0 {
		t.Fatalf("the catalogue does not price gpt-4o-mini: %+v", perCall)
	}

	spend := func() (requests int64, tenantCost int64) {
		var out struct {
			SpendSummary struct {
				Requests   int64
				TenantCost string
			}
		}
		testenv.MustGraphQL(t, q, token, `query($t:ID!,$f:Time!,$to:Time!){spendSummary(tenantId:$t,from:$f,to:$to){requests tenantCost}}`,
			map[string]any{"t": tenant, "f": time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339), "to": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, &out)
		n, err := money.ParseUSD(out.SpendSummary.TenantCost)
		testenv.Must(t, err, "tenant cost")
		return out.SpendSummary.Requests, n
	}
	waitRequests := func(n int64) int64 {
		var cost int64
		testenv.WaitFor(t, 60*time.Second, fmt.Sprintf("%d requests in ClickHouse", n), func() bool {
			var got int64
			got, cost = spend()
			if got > n {
				t.Fatalf("%d requests counted, only %d made", got, n)
			}
			return got == n
		})
		return cost
	}

	resp, err := client.Chat.Completions.New(ctx, params)
	testenv.Must(t, err, "chat completion through the gateway")
	if resp.Usage.PromptTokens != promptTokens || resp.Usage.CompletionTokens != completionTokens {
		t.Fatalf("usage %+v", resp.Usage)
	}
	if got := waitRequests(1); got != perCall.TenantNanoUSD {
		t.Fatalf("spend after one call: %d nano-USD, want exactly %d", got, perCall.TenantNanoUSD)
	}

	// Streaming: the gateway asks for the usage chunk; the SDK sees it too.
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var streamed openai.CompletionUsage
	for stream.Next() {
		if c := stream.Current(); c.Usage.TotalTokens > 0 {
			streamed = c.Usage
		}
	}
	testenv.Must(t, stream.Err(), "stream")
	if streamed.PromptTokens != promptTokens || streamed.CompletionTokens != completionTokens {
		t.Fatalf("streamed usage %+v", streamed)
	}
	if got := waitRequests(2); got != 2*perCall.TenantNanoUSD {
		t.Fatalf("spend after two calls: %d, want %d", got, 2*perCall.TenantNanoUSD)
	}

	// The breakdown labels the key by name and attributes the dimension.
	var bd struct {
		SpendBreakdown struct {
			Groups []struct {
				Keys, Labels []string
				Totals       struct {
					Requests   int64
					TenantCost string
				}
			}
			Other *struct{ Requests int64 }
		}
	}
	testenv.MustGraphQL(t, q, token, `query($t:ID!,$f:Time!,$to:Time!){spendBreakdown(tenantId:$t,from:$f,to:$to,
		groupBy:[{field:KEY},{field:DIMENSION,dimension:"team"}]){groups{keys labels totals{requests tenantCost}} other{requests}}}`,
		map[string]any{"t": tenant, "f": time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339), "to": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, &bd)
	g := bd.SpendBreakdown.Groups
	if len(g) != 1 || g[0].Keys[0] != created.CreateAPIKey.Key.ID || g[0].Labels[0] != "search backend" || g[0].Keys[1] != "search" ||
		g[0].Totals.Requests != 2 || g[0].Totals.TenantCost != money.FormatNano(2*perCall.TenantNanoUSD) || bd.SpendBreakdown.Other != nil {
		t.Fatalf("breakdown %+v", bd.SpendBreakdown)
	}

	// Spend until the budget is used up: every threshold alert arrives once,
	// live, on the subscription.
	amount, err := money.ParseUSD(budgetAmount)
	testenv.Must(t, err, "amount")
	calls := int64(2)
	for calls*perCall.TenantNanoUSD < amount {
		_, err := client.Chat.Completions.New(ctx, params)
		testenv.Must(t, err, "chat completion")
		calls++
	}
	waitRequests(calls)
	for _, want := range []int{50, 80, 100} {
		select {
		case a, ok := <-alerts:
			if !ok {
				t.Fatalf("subscription ended\n%s", s.LogTail())
			}
			spent, err := money.ParseUSD(a.Spent)
			testenv.Must(t, err, "alert spent "+a.Spent)
			if a.Threshold != want || a.BudgetID != budgetID || a.BudgetName != "tenant monthly" || a.Amount != budgetAmount ||
				spent*100 < int64(want)*amount || !strings.Contains(a.Message, fmt.Sprintf("reached %d%%", want)) {
				t.Fatalf("alert %+v, want threshold %d of budget %s", a, want, budgetID)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("no %d%% alert on the subscription\n%s", want, s.LogTail())
		}
	}
	select {
	case a := <-alerts:
		t.Fatalf("an extra alert: %+v", a)
	case <-time.After(time.Second):
	}

	// Budget status agrees with the analytics to the nano-dollar.
	var st struct {
		BudgetStatuses []struct {
			Spent, Remaining string
			PercentUsed      float64
			Blocked          bool
		}
	}
	testenv.MustGraphQL(t, q, token, `query($t:ID!){budgetStatuses(tenantId:$t){spent remaining percentUsed blocked}}`, map[string]any{"t": tenant}, &st)
	if len(st.BudgetStatuses) != 1 || st.BudgetStatuses[0].Spent != money.FormatNano(calls*perCall.TenantNanoUSD) ||
		st.BudgetStatuses[0].Remaining != "0" || st.BudgetStatuses[0].PercentUsed < 100 || st.BudgetStatuses[0].Blocked {
		t.Fatalf("budget status %+v after %d calls of %d", st.BudgetStatuses, calls, perCall.TenantNanoUSD)
	}

	// The CSV export has the same figures.
	req, err := http.NewRequest(http.MethodGet, s.APIURL+"/export/spend.csv?groupBy=key&tenantId="+tenant+
		"&from="+time.Now().Add(-24*time.Hour).UTC().Format(time.RFC3339)+"&to="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339), nil)
	testenv.Must(t, err, "export request")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, "export")
	csv, _ := io.ReadAll(res.Body)
	res.Body.Close()
	wantRow := fmt.Sprintf("%s,search backend,%d,0,%s,%s,", created.CreateAPIKey.Key.ID, calls, money.FormatNano(calls*perCall.ListNanoUSD),
		money.FormatNano(calls*perCall.TenantNanoUSD))
	if res.StatusCode != http.StatusOK || !strings.Contains(string(csv), wantRow) {
		t.Fatalf("export: HTTP %d\n%s\nwant a row starting %q", res.StatusCode, csv, wantRow)
	}

	// Made hard, the exhausted budget blocks the key once the gateway's
	// cached policy answer expires: the SDK gets the provider-shaped error
	// with spendgate's reason.
	testenv.MustGraphQL(t, q, token, `mutation($t:ID!,$id:ID!,$a:Money!){updateBudget(tenantId:$t,id:$id,input:{name:"tenant monthly",
		scope:TENANT,period:MONTH,amount:$a,thresholds:[50,80,100],hard:true}){id}}`, map[string]any{"t": tenant, "id": budgetID, "a": budgetAmount}, nil)
	var apiErr *openai.Error
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, err = client.Chat.Completions.New(ctx, params)
		if err != nil || time.Now().After(deadline) {
			break
		}
		calls++ // still answered from the cached policy
		time.Sleep(200 * time.Millisecond)
	}
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests || !strings.Contains(strings.ToLower(apiErr.Message), "budget") {
		t.Fatalf("call over a hard budget: %v", err)
	}
	waitRequests(calls)
	var denials struct {
		Denials []struct {
			Keys     []string
			Requests int64
		}
	}
	testenv.WaitFor(t, 60*time.Second, "the denial in ClickHouse", func() bool {
		testenv.MustGraphQL(t, q, token, `query($t:ID!,$f:Time!,$to:Time!){denials(tenantId:$t,from:$f,to:$to){keys requests}}`,
			map[string]any{"t": tenant, "f": time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339), "to": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, &denials)
		return len(denials.Denials) == 1 && denials.Denials[0].Requests == 1
	})
	if denials.Denials[0].Keys[0] != "budget_exceeded" {
		t.Fatalf("denials %+v", denials.Denials)
	}
	if n, _ := spend(); n != calls {
		t.Fatalf("%d requests after the denial, want %d", n, calls)
	}
}
