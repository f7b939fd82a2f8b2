package apiserver

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// TestPostTransportMatchesGqlgen sends the same requests to the API and to
// the API served by gqlgen's own POST transport: answers, errors, status
// codes and content types must agree, for good queries and for every kind
// of bad request.
func TestPostTransportMatchesGqlgen(t *testing.T) {
	h := newHarness(t)
	token, tenantID := h.owner("post@example.com", "post")
	for _, name := range []string{`<script>&"x"`, "plain", "tab\tand\nnewline"} {
		h.must(token, `mutation($t:ID!,$n:String!){createAPIKey(tenantId:$t,name:$n){key{id}}}`, map[string]any{"t": tenantID, "n": name})
	}
	gq := httptest.NewServer(New(Config{ServiceToken: serviceToken, gqlgenPOST: true}, h.cp, slog.New(slog.NewTextHandler(io.Discard, nil))).Handler())
	defer gq.Close()

	vars := `{"t":"` + tenantID + `"}`
	cases := map[string]struct{ body, accept, token string }{
		"list":                                    {body: `{"query":"query($t:ID!){apiKeys(tenantId:$t){edges{node{name status}} pageInfo{hasNextPage}}}","variables":` + vars + `}`},
		"operation name":                          {body: `{"query":"query A{me{email}} query B{tenants{slug}}","operationName":"B"}`},
		"graphql-response+json":                   {body: `{"query":"{me{email}}"}`, accept: "application/graphql-response+json"},
		"accept list":                             {body: `{"query":"{me{email}}"}`, accept: "text/html, application/json;q=0.9"},
		"accept application/*":                    {body: `{"query":"{me{email}}"}`, accept: "application/*"},
		"accept anything":                         {body: `{"query":"{me{email}}"}`, accept: "*/*"},
		"accept nothing known":                    {body: `{"query":"{me{email}}"}`, accept: "text/html"},
		"resolver error":                          {body: `{"query":"{tenant(id:\"00000000-0000-0000-0000-000000000000\"){name}}"}`},
		"partial data and error":                  {body: `{"query":"query($t:ID!){me{email} apiKey(tenantId:$t,id:\"00000000-0000-0000-0000-000000000000\"){id}}","variables":` + vars + `}`},
		"bad input error":                         {body: `{"query":"query($t:ID!){apiKeys(tenantId:$t,first:-1){edges{node{id}}}}","variables":` + vars + `}`},
		"validation error":                        {body: `{"query":"{me{nope}}"}`},
		"validation error, graphql-response+json": {body: `{"query":"{me{nope}}"}`, accept: "application/graphql-response+json"},
		"parse error":                             {body: `{"query":"{me{email}"}`},
		"bad variables":                           {body: `{"query":"query($t:ID!){apiKeys(tenantId:$t){edges{node{id}}}}","variables":{"t":5}}`},
		"missing variables":                       {body: `{"query":"query($t:ID!){apiKeys(tenantId:$t){edges{node{id}}}}"}`},
		"unknown operation name":                  {body: `{"query":"{me{email}}","operationName":"Nope"}`},
		"body not JSON":                           {body: `{"query":`},
		"empty body":                              {body: ``},
		"mutation":                                {body: `{"query":"mutation($t:ID!){createAPIKey(tenantId:$t,name:\"via post\"){key{name}}}","variables":` + vars + `}`},
		"unauthenticated":                         {body: `{"query":"{me{email}}"}`, token: "-"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			send := func(url string) (int, string, any) {
				req, _ := http.NewRequest("POST", url+"/query", strings.NewReader(c.body))
				req.Header.Set("Content-Type", "application/json")
				if c.accept != "" {
					req.Header.Set("Accept", c.accept)
				}
				if c.token != "-" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				var v any
				if err := json.Unmarshal(b, &v); err != nil {
					t.Fatalf("answer is not JSON: %v: %s", err, b)
				}
				// Mutations answer with new keys; compare their shape only.
				if name == "mutation" {
					return resp.StatusCode, resp.Header.Get("Content-Type"), get(v, "data", "createAPIKey", "key", "name")
				}
				return resp.StatusCode, resp.Header.Get("Content-Type"), v
			}
			ourStatus, ourType, ours := send(h.srv.URL)
			gqStatus, gqType, theirs := send(gq.URL)
			if ourStatus != gqStatus || ourType != gqType || !reflect.DeepEqual(ours, theirs) {
				t.Fatalf("postTransport: %d %s %v\ngqlgen POST:   %d %s %v", ourStatus, ourType, ours, gqStatus, gqType, theirs)
			}
		})
	}
}
