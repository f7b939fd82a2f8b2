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
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	gqlparser "github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/graph"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/usage"
)

// plainWorld is a tenant with several of everything a list can hold: keys
// (one with default dimensions, one rotated, one revoked), budgets,
// overrides, members, audit entries, and usage and denial events.
func plainWorld(t *testing.T, h *harness) (token, tenantID string) {
	t.Helper()
	token, tenantID = h.owner("plain@example.com", "plain")
	v := map[string]any{"t": tenantID}
	var keys []string
	for i, p := range []map[string]any{
		{"allowedProviders": []string{"openai", "anthropic"}, "allowedModels": []string{"gpt-4o*"}, "requiredDimensions": []string{"team"}},
		{"defaultDimensions": []map[string]string{{"name": "team", "value": "search \"quoted\" <tag> & ünïcode"}}, "requestsPerMinute": 60},
		{},
	} {
		d := h.must(token, `mutation($t:ID!,$n:String!,$p:KeyPolicyInput){createAPIKey(tenantId:$t,name:$n,policy:$p){key{id}}}`,
			map[string]any{"t": tenantID, "n": fmt.Sprintf("key %d\twith\ttabs", i), "p": p})
		keys = append(keys, get(d, "createAPIKey", "key", "id").(string))
	}
	h.must(token, `mutation($t:ID!,$k:ID!){rotateAPIKey(tenantId:$t,id:$k){key{id}}}`, map[string]any{"t": tenantID, "k": keys[0]})
	h.must(token, `mutation($t:ID!,$k:ID!){revokeAPIKey(tenantId:$t,id:$k){id}}`, map[string]any{"t": tenantID, "k": keys[2]})
	h.must(token, `mutation($t:ID!){a:createBudget(tenantId:$t,input:{name:"tenant month",scope:TENANT,period:MONTH,amount:"500",thresholds:[50,80,100]}){id}
		b:createBudget(tenantId:$t,input:{name:"search team",scope:DIMENSION,dimensionName:"team",dimensionValue:"search",period:DAY,amount:"5",hard:true}){id}}`, v)
	h.must(token, `mutation($t:ID!,$k:ID!){createBudget(tenantId:$t,input:{name:"key cap",scope:KEY,keyId:$k,period:WEEK,amount:"1.5"}){id}}`,
		map[string]any{"t": tenantID, "k": keys[1]})
	h.must(token, `mutation($t:ID!){a:createPricingOverride(tenantId:$t,input:{model:"gpt-4o",effectiveFrom:"2026-01-01T00:00:00Z",percentAdjustment:"-10"}){id}
		b:createPricingOverride(tenantId:$t,input:{model:"claude-*",provider:"anthropic",effectiveFrom:"2026-01-01T00:00:00Z",percentAdjustment:"5"}){id}}`, v)
	h.must(token, `mutation($t:ID!){a:addMember(tenantId:$t,email:"viewer@example.com",name:"Vi",password:"viewer-password-1",role:VIEWER){role}
		b:addMember(tenantId:$t,email:"admin@example.com",password:"admin-password-1",role:ADMIN){role}}`, v)

	var events []spend.PricedEvent
	for i := range 12 {
		e := event.Event{SchemaVersion: event.SchemaVersion, Type: event.TypeUsage, EventID: uuid.NewString(),
			Time: time.Date(2026, 1, 10+i%5, 8+i, 0, 0, 0, time.UTC), Source: event.SourceGateway, TenantID: tenantID, KeyID: keys[i%2],
			Provider: "openai", Operation: "chat.completions", ModelRequested: []string{"gpt-4o-mini", "gpt-4o", "mystery-model"}[i%3],
			StatusCode: 200, Complete: true, LatencyMs: int64(100 + i), Dimensions: map[string]string{"team": []string{"search", "ads"}[i%2], "env": "prod"},
			Usage: usage.Tokens{Input: int64(1000 * (i + 1)), Output: int64(20 * (i + 1)), CachedInput: int64(i)}}
		cost := pricing.Cost{Priced: i%3 != 2, Model: e.ModelRequested, ListNanoUSD: int64(27_000 * (i + 1)), TenantNanoUSD: int64(24_300 * (i + 1))}
		if i%4 == 0 {
			e.Type, e.DenialReason, e.DenialMessage = event.TypeDenial, "model_not_allowed", "model not allowed"
			cost = pricing.Cost{}
		}
		events = append(events, spend.PricedEvent{Event: e, Cost: cost})
	}
	if _, err := h.events.Write(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	return token, tenantID
}

// withGenericLists serves h's API with the plain list path switched off:
// every list is written by gqlgen's executor.
func withGenericLists(t *testing.T, h *harness) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.srv.Config.Handler.ServeHTTP(w, r.WithContext(graph.WithGenericLists(r.Context())))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func rawGraphQL(t *testing.T, url, token, query string, vars map[string]any) []byte {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", url+"/query", bytes.NewReader(body))
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

// TestPlainListsMatchGqlgen asks every list and connection of the Query
// type, each with every field it has down to five levels (built from
// schema.graphqls, so a new type or field is covered the day it is added),
// of both the API and the API with the plain path switched off, and wants
// the same bytes. Hand-written queries add aliases, fragments, @include and
// @skip, __typename, and a resolver field (which sends a list back to
// gqlgen).
func TestPlainListsMatchGqlgen(t *testing.T) {
	h := newFullHarness(t)
	token, tenantID := plainWorld(t, h)
	generic := withGenericLists(t, h)

	src, err := os.ReadFile("../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	schema, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphqls", Input: string(src)})
	if gerr != nil {
		t.Fatal(gerr)
	}
	queries := map[string]string{}
	for _, f := range schema.Query.Fields {
		if strings.HasPrefix(f.Name, "__") || !returnsList(schema, f.Type) {
			continue
		}
		args, ok := plainArgs(f.Arguments)
		if !ok {
			continue
		}
		decl := ""
		if strings.Contains(args, "$t") {
			decl = "($t:ID!)"
		}
		queries[f.Name] = fmt.Sprintf("query%s{%s%s%s}", decl, f.Name, args, selection(schema, f.Type.Name(), 5))
	}
	queries["fragments and directives"] = `query($t:ID!,$yes:Boolean!){apiKeys(tenantId:$t){edges{...E node{__typename k:id id
		...on APIKey{name prefix @include(if:$yes) status @skip(if:$yes)} policy{a:allowedProviders b:allowedProviders}}}}}
		fragment E on APIKeyEdge{cursor node{createdAt}}`
	queries["resolver field in the list"] = `query($t:ID!){apiKeys(tenantId:$t){edges{node{id budgets{id name amount}}}}}`
	for _, name := range []string{"apiKeys", "budgets", "auditLog", "members", "pricingOverrides", "usageEvents", "spendTimeSeries"} {
		if queries[name] == "" {
			t.Fatalf("no generated query for %s: the schema walk missed it", name)
		}
	}

	vars := map[string]any{"t": tenantID, "yes": true}
	names := make([]string, 0, len(queries))
	for name := range queries {
		names = append(names, name)
	}
	sort.Strings(names)
	nonEmpty := 0
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			q := queries[name]
			plain := rawGraphQL(t, h.srv.URL, token, q, vars)
			slow := rawGraphQL(t, generic.URL, token, q, vars)
			var out gqlResponse
			if err := json.Unmarshal(plain, &out); err != nil || len(out.Errors) > 0 {
				t.Fatalf("query failed: %v %s\n%s", err, plain, q)
			}
			if !bytes.Equal(plain, slow) {
				t.Fatalf("plain path and gqlgen differ\nplain:  %s\ngqlgen: %s\nquery: %s", plain, slow, q)
			}
			if bytes.Count(plain, []byte(`"__typename"`)) > 2 {
				nonEmpty++
			}
		})
	}
	if nonEmpty < 8 {
		t.Fatalf("only %d answers held lists of objects: the world is too thin to compare the paths", nonEmpty)
	}
}

// TestPlainListsSkipFieldExecution shows which path wrote a list: field
// middleware runs for each field gqlgen executes, not for fields the plain
// path writes. A list of keys with plain fields only is written without
// executing its elements' fields; one that selects a resolver field
// (APIKey.budgets) is executed field by field.
func TestPlainListsSkipFieldExecution(t *testing.T) {
	h := newHarness(t)
	token, tenantID := h.owner("fields@example.com", "fields")
	for i := range 20 {
		h.must(token, `mutation($t:ID!,$n:String!){createAPIKey(tenantId:$t,name:$n){key{id}}}`, map[string]any{"t": tenantID, "n": fmt.Sprint("k", i)})
	}
	s := New(Config{ServiceToken: serviceToken}, h.cp, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var executed atomic.Int64
	s.GraphQL().AroundFields(func(ctx context.Context, next graphql.Resolver) (any, error) {
		executed.Add(1)
		return next(ctx)
	})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	count := func(url, query string) int64 {
		executed.Store(0)
		var out gqlResponse
		if err := json.Unmarshal(rawGraphQL(t, url, token, query, map[string]any{"t": tenantID}), &out); err != nil || len(out.Errors) > 0 {
			t.Fatalf("%v %+v", err, out.Errors)
		}
		return executed.Load()
	}
	plainOnly := `query($t:ID!){apiKeys(tenantId:$t){edges{node{id name status policy{allowedProviders}}}}}`
	withResolver := `query($t:ID!){apiKeys(tenantId:$t){edges{node{id name status budgets{id}}}}}`
	// apiKeys and edges are executed; the 20 elements are not.
	if n := count(srv.URL, plainOnly); n != 2 {
		t.Errorf("plain fields only: %d fields executed, want 2 (apiKeys, edges)", n)
	}
	// 2 + 20 × (edge.node, id, name, status, budgets).
	if n := count(srv.URL, withResolver); n != 2+20*5 {
		t.Errorf("with a resolver field: %d fields executed, want %d", n, 2+20*5)
	}
}

// returnsList reports whether a field's type is a list or a connection.
func returnsList(s *ast.Schema, t *ast.Type) bool {
	return t.Elem != nil || strings.HasSuffix(t.Name(), "Connection") || s.Types[t.Name()].Kind == ast.Object && hasListField(s, t.Name())
}

func hasListField(s *ast.Schema, name string) bool {
	for _, f := range s.Types[name].Fields {
		if f.Type.Elem != nil && s.Types[f.Type.Name()].Kind == ast.Object {
			return true
		}
	}
	return false
}

// plainArgs fills a root field's arguments: the tenant, January 2026, a day
// bucket, a group by model; false when a required one is not among them.
func plainArgs(defs ast.ArgumentDefinitionList) (string, bool) {
	var args []string
	for _, a := range defs {
		switch a.Name {
		case "tenantId":
			args = append(args, "tenantId:$t")
		case "from":
			args = append(args, `from:"2026-01-01T00:00:00Z"`)
		case "to":
			args = append(args, `to:"2026-02-01T00:00:00Z"`)
		case "bucket":
			args = append(args, "bucket:DAY")
		case "groupBy":
			args = append(args, "groupBy:[{field:MODEL}]")
		default:
			if a.Type.NonNull && a.DefaultValue == nil {
				return "", false
			}
		}
	}
	if len(args) == 0 {
		return "", true
	}
	return "(" + strings.Join(args, ",") + ")", true
}

// selection selects every field of type name that needs no argument, with
// __typename, to depth levels; objects deeper than that are left out.
func selection(s *ast.Schema, name string, depth int) string {
	def := s.Types[name]
	if def.Kind == ast.Scalar || def.Kind == ast.Enum {
		return ""
	}
	var b strings.Builder
	b.WriteString("{__typename")
	if def.Kind != ast.Object {
		return b.String() + "}"
	}
	for _, f := range def.Fields {
		if strings.HasPrefix(f.Name, "__") {
			continue
		}
		if _, ok := plainArgs(f.Arguments); !ok || len(f.Arguments) > 0 && f.Arguments.ForName("tenantId") != nil {
			continue
		}
		child := s.Types[f.Type.Name()]
		if child.Kind == ast.Scalar || child.Kind == ast.Enum {
			b.WriteString(" " + f.Name)
			continue
		}
		if depth > 1 {
			b.WriteString(" " + f.Name + selection(s, f.Type.Name(), depth-1))
		}
	}
	return b.String() + "}"
}
