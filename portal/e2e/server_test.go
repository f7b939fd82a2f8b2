package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spendgate/spendgate/apiserver"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/gateway"
	"github.com/spendgate/spendgate/internal/fakeprovider"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/policy"
	"github.com/spendgate/spendgate/portal"
	"github.com/spendgate/spendgate/store/postgres"
)

const (
	ownerEmail    = "owner@e2e.example"
	ownerPassword = "e2e-password-123"
	serviceToken  = "e2e-service-token"
)

// server is a running spendgate with the portal mounted at /, and the
// gateway in front of a fake AI provider.
type server struct {
	URL        string // API + portal
	GatewayURL string
	cp         *controlplane.Service
	events     *eventLog
}

// eventLog is the gateway's event sink here; with `spendgate serve` events go
// through ingest to ClickHouse and the dashboard instead.
type eventLog struct {
	mu  sync.Mutex
	evs []event.Event
}

func (l *eventLog) Publish(_ context.Context, evs []event.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, evs...)
	return nil
}

func (l *eventLog) all() []event.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]event.Event(nil), l.evs...)
}

type cpPolicy struct{ cp *controlplane.Service }

func (c cpPolicy) Lookup(ctx context.Context, key string) (policy.Answer, error) {
	return c.cp.PolicyAnswer(ctx, key)
}

// startServer runs the real API (GraphQL, policy endpoint) on a fresh Postgres
// database with the embedded portal at /, and creates an owner with a tenant.
// It is the one place to change when the e2e moves to `spendgate serve`
// (gateway, ingest, analytics and the budgetAlerts subscription).
func startServer(t testing.TB) *server {
	t.Helper()
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	testenv.Must(t, postgres.Migrate(ctx, dsn), "migrate")
	pool, err := postgres.Open(ctx, dsn)
	testenv.Must(t, err, "open postgres")
	t.Cleanup(pool.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tokens, err := auth.NewTokens([]byte(strings.Repeat("e", 32)))
	testenv.Must(t, err, "tokens")
	cp, err := controlplane.New(pool, []byte("e2e-pepper-e2e-pepper"), tokens, log)
	testenv.Must(t, err, "controlplane")
	api := apiserver.New(apiserver.Config{ServiceToken: serviceToken}, cp, log)
	api.Mount("GET /", portal.Handler())
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	if _, _, err := cp.CreateOwner(ctx, ownerEmail, ownerPassword, "Acme E2E", "acme-e2e"); err != nil {
		t.Fatalf("create owner: %v", err)
	}

	fake := httptest.NewServer(fakeprovider.New(fakeprovider.Config{}))
	t.Cleanup(fake.Close)
	events := &eventLog{}
	batcher := gateway.NewBatcher(events, 100, 10_000, 20*time.Millisecond, log)
	t.Cleanup(batcher.Close)
	gw := gateway.New(gateway.Config{
		Upstreams:           map[string]string{"openai": fake.URL + "/v1", "anthropic": fake.URL, "gemini": fake.URL},
		MaxRequestBodyBytes: 1 << 20, DialTimeout: 5 * time.Second, ResponseHeaderTimeout: 30 * time.Second, MaxIdleConnsPerHost: 4,
	}, gateway.NewCachedPolicySource(cpPolicy{cp}, time.Second, time.Second), batcher, log)
	gsrv := httptest.NewServer(gw)
	t.Cleanup(gsrv.Close)
	return &server{URL: srv.URL, GatewayURL: gsrv.URL, cp: cp, events: events}
}

// policyFor asks the data-plane policy endpoint about a key, as the gateway does.
func (s *server) policyFor(t testing.TB, key string) policy.Answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+"/internal/v1/policy", nil)
	testenv.Must(t, err, "policy request")
	req.Header.Set("Authorization", "Bearer "+serviceToken)
	req.Header.Set("X-Spendgate-Key", key)
	res, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, "policy endpoint")
	defer res.Body.Close()
	var a policy.Answer
	if res.StatusCode != http.StatusOK {
		t.Fatalf("policy endpoint: HTTP %d", res.StatusCode)
	}
	testenv.Must(t, json.NewDecoder(res.Body).Decode(&a), "decode policy answer")
	return a
}

// chat sends one OpenAI chat completion through the gateway with a spendgate key.
func (s *server) chat(t testing.TB, key, model string) int {
	t.Helper()
	body := `{"model":"` + model + `","messages":[{"role":"user","content":"hello"}]}`
	req, err := http.NewRequest(http.MethodPost, s.GatewayURL+"/v1/openai/chat/completions", strings.NewReader(body))
	testenv.Must(t, err, "gateway request")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-test")
	req.Header.Set("X-Spendgate-Key", key)
	res, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, "gateway")
	io.Copy(io.Discard, res.Body) //nolint:errcheck // draining
	res.Body.Close()
	return res.StatusCode
}
