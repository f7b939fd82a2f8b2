package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/ingest"
	"github.com/spendgate/spendgate/policy"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/recordapi"
	"github.com/spendgate/spendgate/recordapi/pgstore"
)

// Stubs for what the handler's own rules need no real services for; the
// whole path runs against the real serve in serve_test.go.
type keys map[string]policy.Answer

func (k keys) PolicyAnswer(_ context.Context, key string) (policy.Answer, error) {
	if a, ok := k[key]; ok {
		return a, nil
	}
	return policy.Answer{Valid: false}, nil
}

type failingStore struct{}

func (failingStore) Claim(context.Context, []pgstore.Claim) ([]pgstore.Claimed, error) {
	return nil, errors.New("postgres is down")
}

type noPublisher struct{}

func (noPublisher) Publish(context.Context, []event.Event) (ingest.Result, error) {
	return ingest.Result{}, errors.New("unused")
}

type unavailableReserver struct{}

func (unavailableReserver) Reserve(context.Context, budget.ReserveRequest) (budget.Reservation, error) {
	return budget.Reservation{}, budget.ErrUnavailable
}

func (unavailableReserver) Release(context.Context, string) error { return budget.ErrUnavailable }

const testKey = "sg_abcdefghij_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

func stubHandler(now *time.Time) http.Handler {
	a := policy.Answer{Valid: true, TenantID: "0193a1c2-7b3e-7c4d-8e9f-0a1b2c3d4e5f", KeyID: "0193a1c2-7b3e-7c4d-8e9f-0a1b2c3d4e60"}
	return Handler(Config{Keys: keys{testKey: a}, Reserver: unavailableReserver{}, Publisher: noPublisher{}, Idempotency: failingStore{},
		Catalogue: pricing.Default(), RequestsPerMinute: 3, Now: func() time.Time { return *now }})
}

func post(h http.Handler, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("X-Spendgate-Key", testKey)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestRateLimitPerKey(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 10, 0, time.UTC)
	h := stubHandler(&now)
	for i := range 3 {
		if w := post(h, recordapi.PreflightPath, `{}`); w.Code != http.StatusBadRequest {
			t.Fatalf("request %d: HTTP %d %s", i, w.Code, w.Body)
		}
	}
	w := post(h, recordapi.UsagePath, `{}`)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "50" || !strings.Contains(w.Body.String(), `"code":"rate_limited"`) {
		t.Fatalf("4th request: HTTP %d %s %v", w.Code, w.Body, w.Header())
	}
	now = now.Add(50 * time.Second) // the next minute
	if w := post(h, recordapi.PreflightPath, `{}`); w.Code != http.StatusBadRequest {
		t.Fatalf("next minute: HTTP %d %s", w.Code, w.Body)
	}
}

func TestStoresDownAreRetryable(t *testing.T) {
	now := time.Now()
	h := stubHandler(&now)
	w := post(h, recordapi.UsagePath, `{"idempotency_key":"k","provider":"openai","model":"tts-1","usage":{"characters":3}}`)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), `"code":"unavailable"`) {
		t.Errorf("idempotency store down: HTTP %d %s", w.Code, w.Body)
	}
	w = post(h, recordapi.PreflightPath, `{"provider":"openai","model":"tts-1"}`)
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), `"code":"budget_unavailable"`) {
		t.Errorf("budget store down: HTTP %d %s", w.Code, w.Body)
	}
}

func TestUnknownRoutesAnswerJSON(t *testing.T) {
	now := time.Now()
	w := post(stubHandler(&now), "/v1/usages", `{}`)
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), `"code":"not_found"`) {
		t.Errorf("HTTP %d %s", w.Code, w.Body)
	}
}
