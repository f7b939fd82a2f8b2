package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/store/postgres"
)

// syncBuffer collects log output from concurrent goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type harness struct {
	t    *testing.T
	srv  *httptest.Server
	cp   *controlplane.Service
	logs *syncBuffer
}

const serviceToken = "test-service-token"

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	testenv.Must(t, postgres.Migrate(ctx, dsn), "migrate")
	pool, err := postgres.Open(ctx, dsn)
	testenv.Must(t, err, "open")
	t.Cleanup(pool.Close)
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tokens, err := auth.NewTokens([]byte(strings.Repeat("j", 32)))
	testenv.Must(t, err, "tokens")
	cp, err := controlplane.New(pool, []byte("pepper-pepper-pepper"), tokens, log)
	testenv.Must(t, err, "controlplane")
	srv := httptest.NewServer(New(Config{ServiceToken: serviceToken}, cp, log).Handler())
	t.Cleanup(srv.Close)
	return &harness{t: t, srv: srv, cp: cp, logs: logs}
}

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

type gqlResponse struct {
	Data   map[string]any `json:"data"`
	Errors []gqlError     `json:"errors"`
}

func (r gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

func (h *harness) gql(token, query string, vars map[string]any) gqlResponse {
	h.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", h.srv.URL+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out gqlResponse
	if err := json.Unmarshal(b, &out); err != nil {
		h.t.Fatalf("response is not JSON: %s", b)
	}
	return out
}

// must runs a query that has to succeed and returns its data.
func (h *harness) must(token, query string, vars map[string]any) map[string]any {
	h.t.Helper()
	r := h.gql(token, query, vars)
	if len(r.Errors) > 0 {
		h.t.Fatalf("query failed: %+v\n%s", r.Errors, query)
	}
	return r.Data
}

// owner bootstraps a tenant with its owner and returns an access token and
// the tenant id.
func (h *harness) owner(email, slug string) (token, tenantID string) {
	h.t.Helper()
	_, tn, err := h.cp.CreateOwner(context.Background(), email, "password-123", "Tenant "+slug, slug)
	testenv.Must(h.t, err, "create owner")
	d := h.must("", `mutation($e:String!,$p:String!){signIn(email:$e,password:$p){accessToken refreshToken user{email}}}`,
		map[string]any{"e": email, "p": "password-123"})
	return d["signIn"].(map[string]any)["accessToken"].(string), tn.ID
}

func (h *harness) signIn(email, password string) string {
	h.t.Helper()
	d := h.must("", `mutation($e:String!,$p:String!){signIn(email:$e,password:$p){accessToken}}`, map[string]any{"e": email, "p": password})
	return d["signIn"].(map[string]any)["accessToken"].(string)
}

func (h *harness) policy(key string) (int, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.srv.URL+"/internal/v1/policy", nil)
	req.Header.Set("Authorization", "Bearer "+serviceToken)
	if key != "" {
		req.Header.Set("X-Spendgate-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func get(m any, path ...string) any {
	for _, p := range path {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[p]
	}
	return m
}
