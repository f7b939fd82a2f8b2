package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/money"
	"github.com/spendgate/spendgate/policy"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/usage"
)

// serviceToken is the data-plane token given to `spendgate serve`, so the
// test can ask the policy endpoint whether a secret shown in the portal works.
const serviceToken = "portal-e2e-service-token"

// Token counts the fake provider reports for every call (x-fake-* headers),
// large enough that each call costs a few cents at list price.
const promptTokens, completionTokens = 100_000, 10_000

// server is a real `spendgate serve` (API, portal, gateway, ingest, budgets,
// embedded NATS, its own Postgres and ClickHouse databases, the fake AI
// provider behind the gateway), and the demo owner's session and tenant.
type server struct {
	*testenv.Serve
	URL      string // API and portal
	Token    string // the demo owner's access token
	TenantID string // the demo tenant
}

// startServer runs `spendgate serve` for this test, with extra flags. Policy
// answers are cached for a second only, so a revoked key or a budget change
// applies at once.
func startServer(t testing.TB, extra ...string) *server {
	t.Helper()
	s := testenv.StartServe(t, append([]string{"--policy-cache-ttl", "1s", "--policy-negative-cache-ttl", "1s", "--service-token", serviceToken,
		"--pricing-admins", "demo@spendgate.local"}, extra...)...)
	srv := &server{Serve: s, URL: s.APIURL}
	var signIn struct{ SignIn struct{ AccessToken string } }
	testenv.MustGraphQL(t, srv.URL+"/query", "", `mutation($e:String!,$p:String!){signIn(email:$e,password:$p){accessToken}}`,
		map[string]any{"e": s.DemoEmail, "p": s.DemoPassword}, &signIn)
	srv.Token = signIn.SignIn.AccessToken
	var tenants struct{ Tenants []struct{ ID, Name string } }
	srv.gql(t, `{tenants{id name}}`, nil, &tenants)
	if len(tenants.Tenants) != 1 {
		t.Fatalf("the demo owner has tenants %+v", tenants.Tenants)
	}
	srv.TenantID = tenants.Tenants[0].ID
	return srv
}

// gql asks the API as the demo owner and fails the test on any error.
func (s *server) gql(t testing.TB, query string, vars map[string]any, out any) {
	t.Helper()
	testenv.MustGraphQL(t, s.URL+"/query", s.Token, query, vars, out)
}

// policyFor asks the data-plane policy endpoint about a key, as a gateway does.
func (s *server) policyFor(t testing.TB, key string) policy.Answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+"/internal/v1/policy", nil)
	testenv.Must(t, err, "policy request")
	req.Header.Set("Authorization", "Bearer "+serviceToken)
	req.Header.Set("X-Spendgate-Key", key)
	res, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, "policy endpoint")
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("policy endpoint: HTTP %d: %s", res.StatusCode, b)
	}
	var a policy.Answer
	testenv.Must(t, json.NewDecoder(res.Body).Decode(&a), "decode policy answer")
	return a
}

// openAI is the official OpenAI SDK pointed at the gateway with a spendgate
// key; the fake provider behind it reports promptTokens/completionTokens.
func (s *server) openAI(key string, headers ...string) openai.Client {
	opts := []option.RequestOption{option.WithBaseURL(s.GatewayURL + "/v1/openai"), option.WithAPIKey("sk-provider"),
		option.WithHeader("x-spendgate-key", key), option.WithMaxRetries(0),
		option.WithHeader("x-fake-prompt-tokens", fmt.Sprint(promptTokens)), option.WithHeader("x-fake-completion-tokens", fmt.Sprint(completionTokens))}
	for i := 0; i+1 < len(headers); i += 2 {
		opts = append(opts, option.WithHeader(headers[i], headers[i+1]))
	}
	return openai.NewClient(opts...)
}

// chat makes one gpt-4o-mini completion through the gateway.
func chat(t testing.TB, c openai.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
	testenv.Must(t, err, "chat completion through the gateway")
	if res.Usage.PromptTokens != promptTokens || res.Usage.CompletionTokens != completionTokens {
		t.Fatalf("usage %+v", res.Usage)
	}
}

// perCallNano is what one chat costs at catalogue prices, computed with the
// pricing package the server uses: the figure the portal must show.
func perCallNano(t testing.TB) int64 {
	t.Helper()
	c := pricing.Default().Cost(pricing.Request{Provider: "openai", Model: "gpt-4o-mini"}, usage.Tokens{Input: promptTokens, Output: completionTokens}, nil)
	if !c.Priced || c.TenantNanoUSD <= 0 {
		t.Fatalf("the catalogue does not price gpt-4o-mini: %+v", c)
	}
	return c.TenantNanoUSD
}

type totals struct {
	Requests   int64
	TenantCost string
	ListCost   string
}

// spend is the tenant's spend over the last day as the API reports it.
func (s *server) spend(t testing.TB) totals {
	t.Helper()
	now := time.Now().UTC()
	return s.spendOver(t, now.Add(-24*time.Hour), now.Add(time.Hour))
}

// spendOver is the tenant's spend in [from, to) as the API reports it.
func (s *server) spendOver(t testing.TB, from, to time.Time) totals {
	t.Helper()
	var out struct{ SpendSummary totals }
	s.gql(t, `query($t:ID!,$f:Time!,$to:Time!){spendSummary(tenantId:$t,from:$f,to:$to){requests tenantCost listCost}}`,
		map[string]any{"t": s.TenantID, "f": from.UTC().Format(time.RFC3339), "to": to.UTC().Format(time.RFC3339)}, &out)
	return out.SpendSummary
}

// waitRequests waits until ClickHouse holds exactly n requests of the tenant
// and returns the spend then.
func (s *server) waitRequests(t testing.TB, n int64) totals {
	t.Helper()
	var got totals
	testenv.WaitFor(t, 60*time.Second, fmt.Sprintf("%d requests in the analytics", n), func() bool {
		got = s.spend(t)
		if got.Requests > n {
			t.Fatalf("%d requests counted, only %d made", got.Requests, n)
		}
		return got.Requests == n
	})
	return got
}

// waitRange waits until every rollup the dashboard reads for [from, to)
// (RFC 3339, as the page shows them) counts n requests: the total, the
// breakdown by key and the breakdown by the team dimension.
func (s *server) waitRange(t testing.TB, from, to string, n int64) {
	t.Helper()
	testenv.WaitFor(t, 60*time.Second, fmt.Sprintf("%d requests in [%s, %s) in every rollup", n, from, to), func() bool {
		type breakdown struct {
			Groups []struct{ Totals struct{ Requests int64 } }
			Total  struct{ Requests int64 }
		}
		var out struct {
			SpendSummary  struct{ Requests int64 }
			ByKey, ByTeam breakdown
		}
		s.gql(t, `query($t:ID!,$f:Time!,$to:Time!){spendSummary(tenantId:$t,from:$f,to:$to){requests}
			byKey:spendBreakdown(tenantId:$t,from:$f,to:$to,groupBy:[{field:KEY}]){groups{totals{requests}} total{requests}}
			byTeam:spendBreakdown(tenantId:$t,from:$f,to:$to,groupBy:[{field:DIMENSION,dimension:"team"}]){groups{totals{requests}} total{requests}}}`,
			map[string]any{"t": s.TenantID, "f": from, "to": to}, &out)
		sum := func(b breakdown) (n int64) {
			for _, g := range b.Groups {
				n += g.Totals.Requests
			}
			return n
		}
		return out.SpendSummary.Requests == n && out.ByKey.Total.Requests == n && sum(out.ByKey) == n && sum(out.ByTeam) == n
	})
}

// usd formats a Money string as the portal does (src/money.ts formatUSD):
// thousands separators, at least two decimals, small amounts unrounded.
func usd(t testing.TB, m string) string {
	t.Helper()
	n, err := money.ParseUSD(m)
	testenv.Must(t, err, "money "+m)
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	whole := fmt.Sprint(n / 1_000_000_000)
	for i := len(whole) - 3; i > 0; i -= 3 {
		whole = whole[:i] + "," + whole[i:]
	}
	frac := strings.TrimRight(fmt.Sprintf("%09d", n%1_000_000_000), "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return sign + "$" + whole + "." + frac
}

// cents formats a Money string as the portal's headlines do (src/money.ts
// formatCents): rounded half away from zero to cents, amounts under half a
// cent with two significant digits, zero as $0.00.
func cents(t testing.TB, m string) string {
	t.Helper()
	n, err := money.ParseUSD(m)
	testenv.Must(t, err, "money "+m)
	sign := "$"
	if n < 0 {
		sign, n = "-$", -n
	}
	switch {
	case n == 0:
		return "$0.00"
	case n < 5_000_000:
		digits := len(fmt.Sprint(n))
		drop := int64(1)
		for range max(digits-2, 0) {
			drop *= 10
		}
		kept := (n + drop/2) / drop * drop
		return sign + "0." + strings.TrimRight(fmt.Sprintf("%09d", kept), "0")
	}
	c := (n + 5_000_000) / 10_000_000
	whole := fmt.Sprint(c / 100)
	for i := len(whole) - 3; i > 0; i -= 3 {
		whole = whole[:i] + "," + whole[i:]
	}
	return fmt.Sprintf("%s%s.%02d", sign, whole, c%100)
}
