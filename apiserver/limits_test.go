package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/spendgate/spendgate/analytics"
	"github.com/spendgate/spendgate/budget/pgstore"
)

// postQuery sends a GraphQL body and returns the status and decoded answer.
// The client gives up after 20 s: a query that kept the server busy longer
// fails the test instead of hanging it.
func postQuery(t *testing.T, url, token string, body io.Reader, contentLength int64) (int, gqlResponse) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/query", body)
	req.ContentLength = contentLength
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out gqlResponse
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%d answer is not JSON: %.300s", resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

func jsonQuery(query string) []byte {
	b, _ := json.Marshal(map[string]any{"query": query})
	return b
}

// Queries built to exhaust the parser or the validator are refused, signed
// in or not, before validation, with a message that says which limit.
func TestQueryShapeLimits(t *testing.T) {
	h := buildHarness(t, false, withoutClickHouse)
	tok, tenant := h.owner("alice@example.com", "acme")
	fragmentBomb := `query{me{...F5}} fragment F0 on User{id email name}` // each level spreads the one below 10 times
	for i := 1; i <= 5; i++ {
		fragmentBomb += fmt.Sprintf(" fragment F%d on User{%s}", i, strings.Repeat(fmt.Sprintf("...F%d ", i-1), 10))
	}
	deep := "{__schema{types{fields{type" + strings.Repeat("{ofType", 14) + "{name}" + strings.Repeat("}", 14) + "}}}}"
	aliases := "{"
	for i := range 60 {
		aliases += fmt.Sprintf(" a%d:me{id}", i)
	}
	aliases += "}"
	for name, c := range map[string]struct {
		query, want string
	}{
		// The query: 120 KB, 40,000 fields, once kept the API busy for minutes.
		"40,000 repeats of one field": {"{me{" + strings.Repeat("id ", 40_000) + "}}", "query is too large: more than 10000 tokens"},
		"2,000 repeats of one field":  {"{me{" + strings.Repeat("id ", 2_000) + "}}", "query selects too many fields: 2001, at most 1000"},
		"fragments spread 10^5 times": {fragmentBomb, "query selects too many fields"},
		"nesting 19 deep":             {deep, "query nests too deep: 19 levels, at most 15"},
		"60 aliases":                  {aliases, "query uses too many aliases: 60, at most 50"},
	} {
		for _, token := range []string{"", tok} {
			body := jsonQuery(c.query)
			start := time.Now()
			_, r := postQuery(t, h.srv.URL, token, bytes.NewReader(body), int64(len(body)))
			if r.code() != "INVALID_ARGUMENT" || !strings.Contains(r.Errors[0].Message, c.want) {
				t.Fatalf("%s (signed in: %v): %+v, want INVALID_ARGUMENT %q", name, token != "", r.Errors, c.want)
			}
			t.Logf("%s refused in %s", name, time.Since(start))
		}
	}
	// The portal's largest query (the dashboard) and tools' introspection pass.
	// (Without ClickHouse its fields answer "not available", after the limits.)
	r := h.gql(tok, dashboardQuery, map[string]any{"t": tenant, "from": "2026-01-01T00:00:00Z",
		"to": "2026-03-31T00:00:00Z", "bucket": "HOUR", "top": 20})
	for _, e := range r.Errors {
		if !strings.Contains(e.Message, "not available") {
			t.Fatalf("the dashboard query: %+v", r.Errors)
		}
	}
	if len(r.Errors) != 8 {
		t.Fatalf("the dashboard query: %d errors, want the 8 analytics fields' 'not available': %+v", len(r.Errors), r.Errors)
	}
	h.must(tok, introspectionQuery, nil)
}

// measure counts fields, depth and aliases with fragments expanded.
func TestMeasure(t *testing.T) {
	for name, c := range map[string]struct {
		query string
		want  shape
	}{
		"flat":                  {`{me{id email}}`, shape{fields: 3, depth: 2}},
		"aliases":               {`{a:me{id} b:me{x:id}}`, shape{fields: 4, depth: 2, aliases: 3}},
		"alias equal to name":   {`{me:me{id:id}}`, shape{fields: 2, depth: 2}},
		"fragment spread twice": {`{me{...F} x:me{...F}} fragment F on User{id tenants{id}}`, shape{fields: 8, depth: 3, aliases: 1}},
		"inline fragment":       {`{me{... on User{id}}}`, shape{fields: 2, depth: 2}},
		"self-spreading":        {`{me{...F}} fragment F on User{id ...F}`, shape{fields: 2, depth: 2}},
		"two operations":        {`query A{me{id}} query B{me{id}}`, shape{fields: 4, depth: 2}},
		"unknown fragment":      {`{me{...Nope}}`, shape{fields: 1, depth: 1}},
		"exponential fragments": {bomb(40), shape{fields: saturated, depth: 2}},
	} {
		doc, err := parser.ParseQuery(&ast.Source{Input: c.query})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := measure(doc); got != c.want {
			t.Errorf("%s: %+v, want %+v", name, got, c.want)
		}
	}
}

// bomb is n fragments each spreading the one below twice: 2^n fields.
func bomb(n int) string {
	q := `{me{...F` + fmt.Sprint(n) + `}} fragment F0 on User{id}`
	for i := 1; i <= n; i++ {
		q += fmt.Sprintf(" fragment F%d on User{...F%d ...F%d}", i, i-1, i-1)
	}
	return q
}

// POST bodies are bounded: 413 with a JSON error, whether the client says
// the length or streams it.
func TestBodyLimit(t *testing.T) {
	h := newHarness(t)
	big := jsonQuery("{me{id}}" + strings.Repeat(" ", 2<<20))
	for name, length := range map[string]int64{"with Content-Length": int64(len(big)), "chunked": -1} {
		status, r := postQuery(t, h.srv.URL, "", bytes.NewReader(big), length)
		if status != http.StatusRequestEntityTooLarge || r.code() != "INVALID_ARGUMENT" ||
			!strings.Contains(r.Errors[0].Message, "request body is larger than 1048576 bytes") {
			t.Fatalf("%s: %d %+v", name, status, r.Errors)
		}
	}
	// Just under the limit is an ordinary request.
	small := jsonQuery("{__typename}" + strings.Repeat(" ", 1<<20-100))
	if status, r := postQuery(t, h.srv.URL, "", bytes.NewReader(small), -1); status != http.StatusOK || r.Data["__typename"] != "Query" {
		t.Fatalf("a body under the limit: %d %+v", status, r)
	}
}

// Fields answered by their own ClickHouse query cost what a query costs:
// aliases cannot multiply them past the complexity limit.
func TestAnalyticsFieldsCostTheirQueries(t *testing.T) {
	h := buildHarness(t, false, withoutClickHouse)
	tok, tenant := h.owner("alice@example.com", "acme")
	breakdowns := func(n int) string {
		q := `query($t:ID!){`
		for i := range n {
			q += fmt.Sprintf(` b%d:spendBreakdown(tenantId:$t,from:"2026-01-01T00:00:00Z",to:"2026-02-01T00:00:00Z",groupBy:[{field:MODEL}]){groups{keys}}`, i)
		}
		return q + "}"
	}
	tv := map[string]any{"t": tenant}
	for _, n := range []int{500, 30} {
		body, _ := json.Marshal(map[string]any{"query": breakdowns(n), "variables": tv})
		_, r := postQuery(t, h.srv.URL, tok, bytes.NewReader(body), int64(len(body)))
		if r.code() != "INVALID_ARGUMENT" || r.Data != nil {
			t.Fatalf("%d aliased spendBreakdowns: %+v", n, r)
		}
		if n == 30 && !strings.Contains(r.Errors[0].Message, "complexity") {
			t.Fatalf("30 aliased spendBreakdowns (within the alias limit): %+v, want the complexity limit", r.Errors)
		}
	}
	// One breakdown is not refused for its cost (without ClickHouse it
	// answers "not available").
	if r := h.gql(tok, breakdowns(1), tv); len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, "not available") {
		t.Fatalf("one breakdown: %+v", r)
	}
}

// withoutClickHouse serves analytics as `spendgate api --clickhouse-addr ”`
// does: every analytics field answers "not available".
func withoutClickHouse(h *harness, cfg *Config) {
	cfg.Analytics = analytics.New(h.cp, nil, pgstore.New(h.pool), analytics.DefaultLimits())
}

// dashboardQuery is the portal's dashboard query (portal/src/gql.ts), its
// largest: the limits must admit it.
const dashboardQuery = `query($t:ID!,$from:Time!,$to:Time!,$bucket:TimeBucket!,$top:Int!){
  summary:spendSummary(tenantId:$t,from:$from,to:$to){` + totals + `}
  series:spendTimeSeries(tenantId:$t,from:$from,to:$to,bucket:$bucket){start totals{requests tenantCost}}
  byProvider:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:PROVIDER}],top:$top){` + breakdown + `}
  byModel:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:MODEL}],top:$top){` + breakdown + `}
  byKey:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:KEY}],top:$top){` + breakdown + `}
  unknownModels(tenantId:$t,from:$from,to:$to){provider model requests inputTokens outputTokens firstSeen lastSeen}
  denials(tenantId:$t,from:$from,to:$to){keys labels requests}
  deniedKeys:denials(tenantId:$t,from:$from,to:$to,groupBy:[{field:KEY}]){keys labels requests}
}`

const (
	totals    = `requests unpricedRequests listCost tenantCost inputTokens outputTokens`
	breakdown = `groupBy groups{keys labels totals{` + totals + `}} other{` + totals + `} total{` + totals + `}`
)

// introspectionQuery is what GraphQL tools (GraphiQL, codegen) send.
const introspectionQuery = `query IntrospectionQuery{__schema{queryType{name} mutationType{name} subscriptionType{name}
  types{...FullType} directives{name description locations args{...InputValue}}}}
fragment FullType on __Type{kind name description fields(includeDeprecated:true){name description args{...InputValue}
  type{...TypeRef} isDeprecated deprecationReason} inputFields{...InputValue} interfaces{...TypeRef}
  enumValues(includeDeprecated:true){name description isDeprecated deprecationReason} possibleTypes{...TypeRef}}
fragment InputValue on __InputValue{name description type{...TypeRef} defaultValue}
fragment TypeRef on __Type{kind name ofType{kind name ofType{kind name ofType{kind name ofType{kind name ofType{kind name
  ofType{kind name ofType{kind name}}}}}}}}`
