package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/graph"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/usage"
)

// countedWrites wraps graph.WriteLargeAnswers and counts the answers it
// wrote itself (a graphql.WriterFunc; gqlgen's own are arrays and field
// sets), so the comparison below cannot pass by never taking that path.
type countedWrites struct{ n *atomic.Int64 }

func (countedWrites) ExtensionName() string                   { return "countedWrites" }
func (countedWrites) Validate(graphql.ExecutableSchema) error { return nil }
func (c countedWrites) InterceptRootField(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	m := graph.WriteLargeAnswers(ctx, next)
	if _, ok := m.(graphql.WriterFunc); ok {
		c.n.Add(1)
	}
	return m
}

// Series and breakdowns written by graph.WriteLargeAnswers are the bytes
// gqlgen's executor writes, for real answers from ClickHouse with labels
// from Postgres: every field, aliases, fragments, @skip/@include, strings
// that need escaping, empty answers, "other" null and not, several root
// fields with their spendSources, and errors (which stay gqlgen's).
func TestLargeAnswersAreGqlgensBytes(t *testing.T) {
	t.Parallel()
	var cfg Config
	h := buildHarness(t, true, func(_ *harness, c *Config) { cfg = *c })
	token, tenant := h.owner("large@example.com", "large")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	plainCfg := cfg
	plainCfg.gqlgenAnswers = true
	plain := httptest.NewServer(New(plainCfg, h.cp, log).Handler())
	t.Cleanup(plain.Close)
	var wrote atomic.Int64
	countedCfg := plainCfg
	countedCfg.Extensions = append(append([]graphql.HandlerExtension(nil), cfg.Extensions...), countedWrites{&wrote})
	counted := httptest.NewServer(New(countedCfg, h.cp, log).Handler())
	t.Cleanup(counted.Close)

	// Keys and a team whose names need escaping; events over two days
	// with dimension values that do too.
	var keys []string
	for _, name := range []string{`plain key`, `quote " and \ backslash`, "ünïcode ✓ </script> \u2028 &amp;"} {
		d := h.must(token, createKey, map[string]any{"t": tenant, "n": name})
		keys = append(keys, get(d, "createAPIKey", "key", "id").(string))
	}
	d := h.must(token, `mutation($t:ID!){createOrgNode(tenantId:$t,kind:WORKSPACE,name:"ws"){id}}`, map[string]any{"t": tenant})
	ws := get(d, "createOrgNode", "id").(string)
	d = h.must(token, `mutation($t:ID!,$p:ID){createOrgNode(tenantId:$t,kind:TEAM,parentId:$p,name:"Team \"Ω\"\\x"){id}}`, map[string]any{"t": tenant, "p": ws})
	team := get(d, "createOrgNode", "id").(string)
	start := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	apps := []string{"web", `a"pp\`, "ctl\x1f\u2028", "émoji 🚀"}
	models := []string{"gpt-4o", "claude-sonnet-4-5", "gpt-4o-mini"}
	var events []spend.PricedEvent
	for i := range 600 {
		e := event.Event{SchemaVersion: event.SchemaVersion, Type: event.TypeUsage, EventID: fmt.Sprintf("large-%d", i),
			Time: start.Add(time.Duration(i) * 4 * time.Minute), Source: event.SourceGateway, TenantID: tenant, KeyID: keys[i%len(keys)],
			Provider: "openai", Operation: "chat.completions", ModelRequested: models[i%len(models)], StatusCode: []int{200, 429}[i%7/6],
			Complete: true, Dimensions: map[string]string{"team": []string{"search", "legal"}[i%2], "app": apps[i%len(apps)]},
			Usage: usage.Tokens{Input: int64(100 + i), Output: int64(i % 50)}}
		if i%3 == 0 {
			e.WorkspaceID, e.TeamID = ws, team
		}
		c := pricing.Cost{Priced: i%11 != 0, Model: e.ModelRequested, ListNanoUSD: int64(i) * 1_234_567, TenantNanoUSD: int64(i) * 1_000_001}
		if !c.Priced {
			c.ListNanoUSD, c.TenantNanoUSD = 0, 0
		}
		events = append(events, spend.PricedEvent{Event: e, Cost: c})
	}
	_, err := h.events.Write(context.Background(), events)
	testenv.Must(t, err, "write events")

	const all = `start keys labels totals{requests unpricedRequests listCost tenantCost inputTokens outputTokens}`
	const days = `from:"2026-01-10T00:00:00Z",to:"2026-01-12T00:00:00Z"`
	four := `[{field:KEY},{field:MODEL},{field:DIMENSION,dimension:"team"},{field:DIMENSION,dimension:"app"}]`
	cases := map[string]struct {
		query  string
		vars   map[string]any
		writes int64 // answers WriteLargeAnswers must have written
	}{
		"hourly series by key, every field": {`query($t:ID!){spendTimeSeries(tenantId:$t,` + days + `,bucket:HOUR,groupBy:[{field:KEY}]){` + all + `}}`, nil, 1},
		"hourly series by app × team node, aliases and __typename": {`query($t:ID!){s:spendTimeSeries(tenantId:$t,` + days + `,bucket:HOUR,
			groupBy:[{field:DIMENSION,dimension:"app"},{field:TEAM}]){__typename at:start k:keys labels labels t:totals{__typename cost:tenantCost requests c2:tenantCost} keys}}`, nil, 1},
		"daily series without groups, fragments": {`query($t:ID!){spendTimeSeries(tenantId:$t,` + days + `,bucket:DAY){...P ... on SpendPoint{totals{...T}} start}}
			fragment P on SpendPoint{keys totals{requests}} fragment T on SpendTotals{listCost requests}`, nil, 1},
		"skip and include": {`query($t:ID!,$y:Boolean!,$n:Boolean!){spendTimeSeries(tenantId:$t,` + days + `,bucket:HOUR,groupBy:[{field:MODEL}]){
			start @skip(if:$y) keys @include(if:$y) labels @include(if:$n) totals{requests @skip(if:$n) tenantCost}}}`, map[string]any{"y": true, "n": false}, 1},
		"empty series": {`query($t:ID!){spendTimeSeries(tenantId:$t,from:"2025-01-10T00:00:00Z",to:"2025-01-12T00:00:00Z",bucket:HOUR,groupBy:[{field:KEY}]){` + all + `}}`, nil, 1},
		"four group-bys, every group": {`query($t:ID!){spendBreakdown(tenantId:$t,` + days + `,groupBy:` + four + `,top:1000){__typename groupBy groups{__typename keys labels totals{` +
			`requests unpricedRequests listCost tenantCost inputTokens outputTokens}} other{requests} total{requests tenantCost}}}`, nil, 1},
		"four group-bys, top 5 and other": {`query($t:ID!){b:spendBreakdown(tenantId:$t,` + days + `,groupBy:` + four + `,top:5){other{requests listCost} groups{labels totals{tenantCost}} total{tenantCost}}}`, nil, 1},
		"several root fields and their sources": {`query($t:ID!){a:spendTimeSeries(tenantId:$t,` + days + `,bucket:HOUR,groupBy:[{field:STATUS}]){start keys totals{requests}}
			b:spendBreakdown(tenantId:$t,` + days + `,groupBy:[{field:KEY}]){groups{labels totals{requests}} other{requests} total{requests}}
			spendSummary(tenantId:$t,` + days + `){requests tenantCost}}`, nil, 2},
		"an error answer": {`query($t:ID!){spendTimeSeries(tenantId:$t,from:"2025-01-01T00:00:00Z",to:"2026-01-01T00:00:00Z",bucket:HOUR){start}}`, nil, 0},
		"an error beside an answer": {`query($t:ID!){ok:spendTimeSeries(tenantId:$t,` + days + `,bucket:DAY){start}
			bad:spendBreakdown(tenantId:$t,` + days + `,groupBy:[{field:MODEL}],top:0){total{requests}}}`, nil, 1},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			vars := map[string]any{"t": tenant}
			for k, v := range c.vars {
				vars[k] = v
			}
			want := postRaw(t, plain.URL, token, c.query, vars)
			before := wrote.Load()
			got := postRaw(t, counted.URL, token, c.query, vars)
			if n := wrote.Load() - before; n != c.writes {
				t.Errorf("WriteLargeAnswers wrote %d answers, want %d", n, c.writes)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("written:\n%s\ngqlgen's:\n%s", got, want)
			}
			if served := postRaw(t, h.srv.URL, token, c.query, vars); !bytes.Equal(served, want) {
				t.Fatalf("the server as configured:\n%s\ngqlgen's:\n%s", served, want)
			}
			if !json.Valid(want) {
				t.Fatalf("not JSON: %s", want)
			}
		})
	}
}

// postRaw posts a GraphQL query and returns the response body as sent.
func postRaw(t testing.TB, url, token, query string, vars map[string]any) []byte {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, url+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BenchmarkLargeAnswers (package level: in-process server, real Postgres
// and ClickHouse, the HTTP client included) times the same answers
// written by gqlgen and by graph.WriteLargeAnswers: an hourly series of
// ~5.7 K points (48 hours × 120 app × team groups) and a four-group-by
// breakdown of the top 1,000 groups.
func BenchmarkLargeAnswers(b *testing.B) {
	var cfg Config
	h := buildHarness(b, true, func(_ *harness, c *Config) { cfg = *c })
	token, tenant := h.owner("bench-large@example.com", "bench-large")
	plainCfg := cfg
	plainCfg.gqlgenAnswers = true
	plain := httptest.NewServer(New(plainCfg, h.cp, slog.New(slog.NewTextHandler(io.Discard, nil))).Handler())
	b.Cleanup(plain.Close)
	var keys []string
	for i := range 3 {
		d := h.must(token, createKey, map[string]any{"t": tenant, "n": fmt.Sprintf("key %d", i)})
		keys = append(keys, get(d, "createAPIKey", "key", "id").(string))
	}
	start := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	models := []string{"gpt-4o", "claude-sonnet-4-5", "gpt-4o-mini"}
	var events []spend.PricedEvent
	for i := range 30_000 {
		e := event.Event{SchemaVersion: event.SchemaVersion, Type: event.TypeUsage, EventID: fmt.Sprintf("bench-%d", i),
			Time: start.Add(time.Duration(i) * 48 * time.Hour / 30_000), Source: event.SourceGateway, TenantID: tenant, KeyID: keys[i%3],
			Provider: "openai", Operation: "chat.completions", ModelRequested: models[i/3%3], StatusCode: 200, Complete: true,
			Dimensions: map[string]string{"team": []string{"search", "legal"}[i/9%2], "app": fmt.Sprintf("app-%d", i/18%60)},
			Usage:      usage.Tokens{Input: int64(100 + i%1000), Output: int64(i % 50)}}
		events = append(events, spend.PricedEvent{Event: e, Cost: pricing.Cost{Priced: true, Model: e.ModelRequested,
			ListNanoUSD: int64(i%977) * 1_234_567, TenantNanoUSD: int64(i%977) * 1_000_001}})
	}
	_, err := h.events.Write(context.Background(), events)
	testenv.Must(b, err, "write events")
	const days = `from:"2026-01-10T00:00:00Z",to:"2026-01-12T00:00:00Z"`
	queries := map[string]string{
		"hourly series by app × team": `query($t:ID!){spendTimeSeries(tenantId:$t,` + days + `,bucket:HOUR,groupBy:[{field:DIMENSION,dimension:"app"},` +
			`{field:DIMENSION,dimension:"team"}]){start keys labels totals{requests tenantCost listCost}}}`,
		"breakdown by key × model × team × app, top 1000": `query($t:ID!){spendBreakdown(tenantId:$t,` + days + `,groupBy:[{field:KEY},{field:MODEL},` +
			`{field:DIMENSION,dimension:"team"},{field:DIMENSION,dimension:"app"}],top:1000){groups{keys labels totals{requests tenantCost}} other{requests} total{tenantCost}}}`,
	}
	vars := map[string]any{"t": tenant}
	for name, q := range queries {
		want := postRaw(b, plain.URL, token, q, vars)
		if got := postRaw(b, h.srv.URL, token, q, vars); !bytes.Equal(got, want) || len(want) < 50_000 {
			b.Fatalf("%s: answers differ or are small (%d bytes)", name, len(want))
		}
		for _, side := range []struct{ name, url string }{{"gqlgen", plain.URL}, {"written", h.srv.URL}} {
			b.Run(name+"/"+side.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(want)))
				for b.Loop() {
					postRaw(b, side.url, token, q, vars)
				}
			})
		}
	}
}
