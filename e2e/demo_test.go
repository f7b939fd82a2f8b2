package e2e

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/internal/testenv"
)

// The demo flow of the README: `spendgate serve` prints a demo key, `spendgate
// demo traffic` sends a mix of calls with it, and the spend shows up by
// provider, with the unpriced model surfaced.
func TestDemoTrafficFillsTheDashboards(t *testing.T) {
	s := testenv.StartServe(t)
	out, err := exec.Command(testenv.Binary(t), "demo", "traffic", "--gateway", s.GatewayURL, "--api", s.APIURL, "--budget=false", "--key", s.DemoKey,
		"--requests", "120", "--concurrency", "4").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "sent 120:") || strings.Contains(string(out), " 0 answered") {
		t.Fatalf("demo traffic: %v\n%s", err, out)
	}
	q := s.APIURL + "/query"
	token, tenant := s.SignInDemo(t)
	vars := map[string]any{"t": tenant, "f": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
		"to": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}
	var got struct {
		SpendBreakdown struct {
			Groups []struct {
				Keys   []string
				Totals struct{ Requests int64 }
			}
			Total struct{ Requests, UnpricedRequests int64 }
		}
		UnknownModels []struct {
			Model    string
			Requests int64
		}
	}
	// Provider errors (the fake's 429s) are metered too: every call that
	// reached a provider is an event.
	const query = `query($t:ID!,$f:Time!,$to:Time!){
		spendBreakdown(tenantId:$t,from:$f,to:$to,groupBy:[{field:PROVIDER}]){groups{keys totals{requests}} total{requests unpricedRequests}}
		unknownModels(tenantId:$t,from:$f,to:$to){model requests}}`
	testenv.WaitFor(t, 60*time.Second, "the demo traffic in ClickHouse", func() bool {
		testenv.MustGraphQL(t, q, token, query, vars, &got)
		return got.SpendBreakdown.Total.Requests == 120
	})
	// GraphQL resolves the two fields concurrently: read both again now that
	// every event is stored.
	testenv.MustGraphQL(t, q, token, query, vars, &got)
	providers := map[string]bool{}
	for _, g := range got.SpendBreakdown.Groups {
		providers[g.Keys[0]] = g.Totals.Requests > 0
	}
	if !providers["openai"] || !providers["anthropic"] || !providers["gemini"] {
		t.Fatalf("providers %+v", got.SpendBreakdown.Groups)
	}
	// The mix is random; the command says how many unpriced-model calls it sent.
	m := regexp.MustCompile(`(?m)^\s+unpriced model\s+(\d+)$`).FindStringSubmatch(string(out))
	unpriced := int64(0)
	if m != nil {
		unpriced, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if got.SpendBreakdown.Total.UnpricedRequests != unpriced {
		t.Fatalf("%d unpriced requests counted, %d sent\n%s", got.SpendBreakdown.Total.UnpricedRequests, unpriced, out)
	}
	if unpriced > 0 && (len(got.UnknownModels) != 1 || got.UnknownModels[0].Model != "acme-internal-llm" || got.UnknownModels[0].Requests != unpriced) {
		t.Fatalf("unknown models %+v, %d unpriced calls sent", got.UnknownModels, unpriced)
	}
}
