package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/openai/openai-go/v3"

	"github.com/spendgate/spendgate/apiserver"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/dataplane/contract"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/ingest"
	"github.com/spendgate/spendgate/internal/pgtest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/store/postgres"
)

const apiServiceToken = "svc-priced"

// controlPlane is the real control plane over its own Postgres database,
// served by the real API server (policy and priced endpoints), which counts
// the priced endpoint's hits.
type controlPlane struct {
	t          *testing.T
	cp         *controlplane.Service
	pool       *pgxpool.Pool
	api        *httptest.Server
	pricedHits atomic.Int64
	// pricedGate, when set, holds priced requests until it is closed.
	pricedGate atomic.Pointer[chan struct{}]
}

func newControlPlane(t *testing.T) *controlPlane {
	t.Helper()
	pool := pgtest.Migrated(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tokens, err := auth.NewTokens([]byte(strings.Repeat("j", 32)))
	testenv.Must(t, err, "tokens")
	cp, err := controlplane.New(pool, []byte("pepper-pepper-pepper"), tokens, log)
	testenv.Must(t, err, "controlplane")
	c := &controlPlane{t: t, cp: cp, pool: pool}
	api := apiserver.New(apiserver.Config{ServiceToken: apiServiceToken}, cp, log).Handler()
	c.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == contract.PricedPath {
			c.pricedHits.Add(1)
			if gate := c.pricedGate.Load(); gate != nil {
				<-*gate
			}
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(c.api.Close)
	return c
}

// tenant creates a tenant with its owner and returns a context signed in as
// the owner, the tenant id and the secret of a key requiring priced models.
func (c *controlPlane) tenant(slug string) (actx context.Context, tenantID, key string) {
	c.t.Helper()
	u, tn, err := c.cp.CreateOwner(context.Background(), slug+"@example.com", "password-123", "Tenant "+slug, slug)
	testenv.Must(c.t, err, "create owner")
	actx = auth.WithPrincipal(context.Background(), auth.Principal{UserID: u.ID, Email: u.Email})
	k, err := c.cp.CreateAPIKey(actx, tn.ID, "priced only", controlplane.KeyPolicy{RequirePricedModels: true}, nil, nil)
	testenv.Must(c.t, err, "create key")
	return actx, tn.ID, k.Secret
}

// priceModel adds a tenant pricing override with rates for openai's acme-*
// models.
func (c *controlPlane) priceModel(actx context.Context, tenantID string) {
	c.t.Helper()
	_, err := c.cp.CreatePricingOverride(actx, tenantID, controlplane.OverrideInput{Provider: "openai", Model: "acme-*",
		EffectiveFrom: time.Now().Add(-time.Hour), Rates: map[string]int64{"input": 1_000_000_000, "output": 4_000_000_000}})
	testenv.Must(c.t, err, "create pricing override")
}

// policies is the gateway's policy source: the real policy endpoint.
func (c *controlPlane) policies() PolicySource {
	return NewCachedPolicySource(&HTTPPolicySource{URL: c.api.URL + "/internal/v1/policy", ServiceToken: apiServiceToken}, time.Minute, 10*time.Second)
}

// chat is a chat completion of model.
func chat(model string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{Model: openai.ChatModel(model), Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
}

// wantAPIError checks the OpenAI SDK's error for a gateway denial.
func wantAPIError(t *testing.T, what string, err error, status int, code, msg, retry string) {
	t.Helper()
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != status || apiErr.Code != code || !strings.Contains(apiErr.Message, msg) ||
		apiErr.Response.Header.Get("X-Should-Retry") != retry || apiErr.Response.Header.Get("X-Spendgate-Denial") != code {
		t.Fatalf("%s: want %d %s %q (x-should-retry %s), got %v", what, status, code, msg, retry, err)
	}
}

// lastEvent waits for the n-th event and returns it.
func (e *env) lastEvent(t *testing.T, n int) event.Event {
	t.Helper()
	evs := e.sink.wait(t, n)
	if len(evs) != n {
		t.Fatalf("%d events, want %d: %+v", len(evs), n, evs)
	}
	return evs[n-1]
}

// TestRequirePricedModels: a key that requires priced models, calling
// through the gateway with the OpenAI SDK, with the tenant's prices from the
// in-process source (`spendgate serve`) or the control plane's priced
// endpoint (`spendgate gateway`): a catalogue model passes; an unknown model
// is refused with 403 unpriced_model and a denial event, without reaching
// the provider; once the tenant has a pricing override for it, it passes, for
// that tenant only; a request naming no model is refused without asking.
func TestRequirePricedModels(t *testing.T) {
	t.Parallel()
	c := newControlPlane(t)
	sources := []struct {
		name string
		// source builds the priced source, reading its cache's clock.
		source func(clock *testClock) PricedSource
		asks   bool // whether the priced endpoint is asked
	}{
		{"in-process", func(clock *testClock) PricedSource {
			// serve's cache is the pipeline's (30 s); 0 re-reads each call, so
			// the override counts at once.
			return &CataloguePricedSource{Catalogue: pricing.Default(),
				Overrides: ingest.NewCachedOverrides(controlplane.OverrideReader{DB: c.pool}, 0), Now: clock.Now}
		}, false},
		{"priced endpoint", func(clock *testClock) PricedSource {
			s := NewHTTPPricedSource(c.api.URL+contract.PricedPath, apiServiceToken, time.Minute, 10*time.Second)
			s.Now = clock.Now
			return s
		}, true},
	}
	for i, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			slug := []string{"inproc", "endpoint"}[i]
			actx, tenant, key := c.tenant(slug)
			_, _, otherKey := c.tenant(slug + "-other")
			clock := newTestClock(time.Now())
			e := setupWith(t, func(cfg *Config) { cfg.Priced = src.source(clock) }, c.policies())
			ctx := context.Background()
			client, other := e.openai(key), e.openai(otherKey)
			hits := c.pricedHits.Load()

			if _, err := client.Chat.Completions.New(ctx, chat("gpt-4o-mini")); err != nil {
				t.Fatalf("catalogue model: %v", err)
			}
			if ev := e.lastEvent(t, 1); ev.Type != event.TypeUsage || ev.TenantID != tenant || ev.ModelRequested != "gpt-4o-mini" {
				t.Fatalf("catalogue model event %+v", ev)
			}

			_, err := client.Chat.Completions.New(ctx, chat("acme-llm"))
			wantAPIError(t, "unknown model", err, 403, event.DenialUnpricedModel,
				"model acme-llm has no known price and this key only allows priced models", "false")
			if ev := e.lastEvent(t, 2); ev.Type != event.TypeDenial || ev.DenialReason != event.DenialUnpricedModel || ev.ModelRequested != "acme-llm" {
				t.Fatalf("unpriced denial event %+v", ev)
			}
			if n := len(e.fake.Requests()); n != 1 {
				t.Fatalf("%d calls reached the provider, want only the priced one", n)
			}

			c.priceModel(actx, tenant)
			clock.Set(clock.Now().Add(11 * time.Second)) // past the cached "not priced" answer
			if _, err := client.Chat.Completions.New(ctx, chat("acme-llm")); err != nil {
				t.Fatalf("model priced by the tenant's override: %v", err)
			}
			if ev := e.lastEvent(t, 3); ev.Type != event.TypeUsage || ev.ModelRequested != "acme-llm" || ev.StatusCode != 200 {
				t.Fatalf("overridden model event %+v", ev)
			}
			_, err = other.Chat.Completions.New(ctx, chat("acme-llm"))
			wantAPIError(t, "another tenant's override", err, 403, event.DenialUnpricedModel, "model acme-llm has no known price", "false")

			// No model named: refused without a question to the source.
			before := c.pricedHits.Load()
			req, _ := http.NewRequest("POST", e.gw.URL+"/v1/openai/chat/completions", strings.NewReader(`{"messages":[]}`))
			req.Header.Set("x-spendgate-key", key)
			resp, err := http.DefaultClient.Do(req)
			testenv.Must(t, err, "call without a model")
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 403 || !strings.Contains(string(body), "the request names no model and this key only allows priced models") {
				t.Fatalf("no model: %d %s", resp.StatusCode, body)
			}
			if after := c.pricedHits.Load(); after != before {
				t.Fatalf("a call naming no model asked the priced endpoint")
			}
			if asked := c.pricedHits.Load() > hits; asked != src.asks {
				t.Fatalf("priced endpoint asked: %v, want %v", asked, src.asks)
			}
		})
	}
}

// TestRequirePricedModelsSourceDown: when the priced source cannot answer
// (the endpoint unreachable or refusing the service token, the overrides
// unreadable), a key requiring priced models is refused with the retryable
// 503 auth_unavailable and a denial event, or, with fail-open, let through
// unchecked but metered; keys without the rule never ask.
func TestRequirePricedModelsSourceDown(t *testing.T) {
	t.Parallel()
	c := newControlPlane(t)
	actx, tenant, key := c.tenant("down")
	plain, err := c.cp.CreateAPIKey(actx, tenant, "any model", controlplane.KeyPolicy{}, nil, nil)
	testenv.Must(t, err, "create key")
	closedPool, err := postgres.Open(context.Background(), testenv.Postgres(t))
	testenv.Must(t, err, "open")
	closedPool.Close()
	down := []struct {
		name   string
		source PricedSource
	}{
		{"endpoint unreachable", NewHTTPPricedSource("http://127.0.0.1:1"+contract.PricedPath, apiServiceToken, time.Minute, time.Minute)},
		{"wrong service token", NewHTTPPricedSource(c.api.URL+contract.PricedPath, "wrong-token", time.Minute, time.Minute)},
		{"overrides unreadable", &CataloguePricedSource{Catalogue: pricing.Default(),
			Overrides: ingest.NewCachedOverrides(controlplane.OverrideReader{DB: closedPool}, time.Minute)}},
	}
	for _, d := range down {
		t.Run(d.name, func(t *testing.T) {
			e := setupWith(t, func(cfg *Config) { cfg.Priced = d.source }, c.policies())
			client := e.openai(key)
			_, err := client.Chat.Completions.New(context.Background(), chat("gpt-4o-mini"))
			wantAPIError(t, "fail closed", err, 503, event.DenialAuthUnavailable,
				"could not say whether model gpt-4o-mini has a price, which this key requires; try again shortly", "true")
			if ev := e.lastEvent(t, 1); ev.Type != event.TypeDenial || ev.DenialReason != event.DenialAuthUnavailable || ev.TenantID != tenant {
				t.Fatalf("denial event %+v", ev)
			}
			if n := len(e.fake.Requests()); n != 0 {
				t.Fatalf("%d calls reached the provider", n)
			}
			plainClient := e.openai(plain.Secret)
			if _, err := plainClient.Chat.Completions.New(context.Background(), chat("acme-llm")); err != nil {
				t.Fatalf("a key without the rule: %v", err)
			}

			open := setupWith(t, func(cfg *Config) { cfg.Priced = d.source; cfg.FailOpen = true }, c.policies())
			openClient := open.openai(key)
			if _, err := openClient.Chat.Completions.New(context.Background(), chat("acme-llm")); err != nil {
				t.Fatalf("fail open: %v", err)
			}
			if ev := open.lastEvent(t, 1); ev.Type != event.TypeUsage || ev.ModelRequested != "acme-llm" || ev.TenantID != tenant {
				t.Fatalf("fail-open call not metered: %+v", ev)
			}
		})
	}
}

// TestHTTPPricedSource asks the real priced endpoint and counts its hits:
// answers, positive and negative, are reused for the answer's
// cache_ttl_seconds (30 s) capped by the source's TTLs (60 s, 10 s), per
// tenant, provider and model; a tenant's new override counts once the cached
// "not priced" expires; concurrent questions of one model ask once; errors
// are not cached.
func TestHTTPPricedSource(t *testing.T) {
	t.Parallel()
	c := newControlPlane(t)
	actx, tenant, _ := c.tenant("http-source")
	_, other, _ := c.tenant("http-source-other")
	clock := newTestClock(time.Now())
	src := NewHTTPPricedSource(c.api.URL+contract.PricedPath, apiServiceToken, time.Minute, 10*time.Second)
	src.Now = clock.Now
	ctx := context.Background()
	steps := []struct {
		advance                 time.Duration
		tenant, provider, model string
		priced                  bool
		hits                    int64
	}{
		{0, tenant, "openai", "gpt-4o-mini", true, 1},
		{0, tenant, "openai", "gpt-4o-mini", true, 1},
		{0, tenant, "anthropic", "claude-haiku-4-5", true, 2},
		{0, tenant, "openai", "acme-llm", false, 3},
		{0, tenant, "openai", "acme-llm", false, 3},
		{0, other, "openai", "gpt-4o-mini", true, 4}, // another tenant: another question
		{0, tenant, "groq", "acme-llm", false, 5},
		{9 * time.Second, tenant, "openai", "acme-llm", false, 5},    // the negative TTL (10 s) beats the 30 s hint
		{2 * time.Second, tenant, "openai", "acme-llm", false, 6},    // expired: asked again
		{18 * time.Second, tenant, "openai", "gpt-4o-mini", true, 6}, // 29 s: within the answer's 30 s
		{2 * time.Second, tenant, "openai", "gpt-4o-mini", true, 7},  // the hint caps the 60 s TTL
	}
	for i, s := range steps {
		clock.Set(clock.Now().Add(s.advance))
		priced, err := src.Priced(ctx, s.tenant, s.provider, s.model)
		if err != nil || priced != s.priced || c.pricedHits.Load() != s.hits {
			t.Fatalf("step %d (%s/%s): priced %v err %v after %d hits, want %v after %d", i, s.provider, s.model, priced, err, c.pricedHits.Load(), s.priced, s.hits)
		}
	}

	if priced, err := src.Priced(ctx, tenant, "openai", "acme-llm"); err != nil || priced || c.pricedHits.Load() != 8 {
		t.Fatalf("acme-llm after its answer expired: %v %v after %d hits", priced, err, c.pricedHits.Load())
	}
	c.priceModel(actx, tenant)
	if priced, _ := src.Priced(ctx, tenant, "openai", "acme-llm"); priced || c.pricedHits.Load() != 8 {
		t.Fatal("a cached \"not priced\" answer was not reused")
	}
	clock.Set(clock.Now().Add(11 * time.Second))
	if priced, err := src.Priced(ctx, tenant, "openai", "acme-llm"); err != nil || !priced {
		t.Fatalf("model priced by an override after the negative TTL: %v %v", priced, err)
	}
	if priced, err := src.Priced(ctx, other, "openai", "acme-llm"); err != nil || priced {
		t.Fatalf("another tenant's model priced by the override: %v %v", priced, err)
	}

	// Concurrent questions of one model: one call.
	gate := make(chan struct{})
	c.pricedGate.Store(&gate)
	release := sync.OnceFunc(func() { c.pricedGate.Store(nil); close(gate) })
	t.Cleanup(release) // before the API server closes, should the test stop early
	hits := c.pricedHits.Load()
	const callers = 20
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			if priced, err := src.Priced(ctx, tenant, "openai", "gpt-4o"); err != nil || !priced {
				t.Errorf("concurrent question: %v %v", priced, err)
			}
		})
	}
	testenv.WaitFor(t, 10*time.Second, "callers joining one question", func() bool { return src.cache.joined() == callers-1 })
	release()
	wg.Wait()
	if n := c.pricedHits.Load() - hits; n != 1 {
		t.Fatalf("%d priced calls for one question", n)
	}

	// Errors are returned as ErrPricedUnavailable and never cached.
	bad := NewHTTPPricedSource(c.api.URL+contract.PricedPath, "wrong-token", time.Minute, time.Minute)
	hits = c.pricedHits.Load()
	for range 2 {
		if _, err := bad.Priced(ctx, tenant, "openai", "gpt-4o-mini"); !errors.Is(err, ErrPricedUnavailable) || !strings.Contains(err.Error(), "HTTP 401") {
			t.Fatalf("wrong service token: %v", err)
		}
	}
	if _, err := src.Priced(ctx, "not-a-uuid", "openai", "gpt-4o-mini"); !errors.Is(err, ErrPricedUnavailable) || !strings.Contains(err.Error(), "tenant_id must be a UUID") {
		t.Fatalf("a question the endpoint refuses: %v", err)
	}
	if n := c.pricedHits.Load() - hits; n != 3 {
		t.Fatalf("%d calls for 3 failing questions (errors cached?)", n)
	}
}

// TestAnswerCacheBounded: a flood of distinct questions never holds more than
// the bound; expired entries go first.
func TestAnswerCacheBounded(t *testing.T) {
	t.Parallel()
	c := newAnswerCache[int, bool](3)
	now := time.Unix(1_700_000_000, 0)
	fetch := func(ttl time.Duration) func(context.Context) (bool, time.Duration, error) {
		return func(context.Context) (bool, time.Duration, error) { return true, ttl, nil }
	}
	ctx := context.Background()
	_, _ = c.get(ctx, 1, now, fetch(time.Second))
	_, _ = c.get(ctx, 2, now, fetch(time.Minute))
	_, _ = c.get(ctx, 3, now, fetch(time.Minute))
	_, _ = c.get(ctx, 4, now.Add(2*time.Second), fetch(time.Minute)) // 1 expired: it makes room
	if _, ok := c.entries[1]; ok || len(c.entries) != 3 {
		t.Fatalf("entries after an expired one made room: %v", c.entries)
	}
	_, _ = c.get(ctx, 5, now.Add(3*time.Second), fetch(time.Minute)) // none expired: start over
	if _, ok := c.entries[5]; !ok || len(c.entries) != 1 {
		t.Fatalf("entries after a full cache: %v", c.entries)
	}
	_, _ = c.get(ctx, 6, now, fetch(0)) // not to be reused: not kept
	if _, ok := c.entries[6]; ok {
		t.Fatal("an answer with no TTL was cached")
	}
}

// joined is how many callers wait on a lookup in flight (one in flight at
// most in the tests that ask).
func (c *answerCache[K, V]) joined() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.inflight {
		return f.waiters
	}
	return 0
}
