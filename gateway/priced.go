package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/spendgate/spendgate/internal/svcclient"
	"github.com/spendgate/spendgate/policy"
	"github.com/spendgate/spendgate/pricing"
)

// PricedSource tells whether a model has a price for a tenant now, from the
// pricing catalogue or one of the tenant's pricing overrides
// (pricing.Catalogue.Priced). The gateway asks it for keys whose policy
// requires priced models; an error means it could not say.
type PricedSource interface {
	Priced(ctx context.Context, tenantID, provider, model string) (bool, error)
}

// ErrPricedUnavailable wraps failures to learn whether a model is priced.
var ErrPricedUnavailable = errors.New("priced source unavailable")

// OverrideSource gives a tenant's pricing overrides: in `spendgate serve` the
// pipeline's ingest.CachedOverrides, which consumer pricing and budgets share.
type OverrideSource interface {
	TenantOverrides(ctx context.Context, tenantID string) ([]pricing.Override, error)
}

// CataloguePricedSource answers in-process: Catalogue's prices with the
// tenant's overrides from Overrides, in force at Now.
type CataloguePricedSource struct {
	Catalogue pricing.Source
	Overrides OverrideSource
	Now       func() time.Time // nil: time.Now
}

// Priced implements PricedSource.
func (s *CataloguePricedSource) Priced(ctx context.Context, tenantID, provider, model string) (bool, error) {
	overrides, err := s.Overrides.TenantOverrides(ctx, tenantID)
	if err != nil {
		return false, fmt.Errorf("%w: reading the pricing overrides of tenant %s: %w", ErrPricedUnavailable, tenantID, err)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	at := now()
	return s.Catalogue.CatalogueAt(at).Priced(pricing.Request{Provider: provider, Model: model, Time: at}, overrides), nil
}

// HTTPPricedSource asks the control plane's priced endpoint (the contract is
// in policy/priced.go), as the Envoy filter does, and keeps its answers,
// positive and negative, for as long as the answer's cache_ttl_seconds
// allows, at most TTL or NegativeTTL. Concurrent questions of one model are
// asked once. Build it with NewHTTPPricedSource.
type HTTPPricedSource struct {
	URL          string // e.g. http://127.0.0.1:8080 + contract.PricedPath
	ServiceToken string
	Client       *http.Client     // nil: http.DefaultClient
	TTL          time.Duration    // cap for "priced" answers
	NegativeTTL  time.Duration    // cap for "not priced" answers
	Now          func() time.Time // the cache's clock

	cache *answerCache[pricedQuestion, bool]
}

type pricedQuestion struct{ tenantID, provider, model string }

// maxCachedPriced bounds the priced cache: callers choose model names, so a
// key requiring priced models could otherwise fill memory with questions.
const maxCachedPriced = 10_000

// NewHTTPPricedSource asks the priced endpoint at url with the service token,
// reusing answers for at most ttl ("priced") or negativeTTL ("not priced").
func NewHTTPPricedSource(url, serviceToken string, ttl, negativeTTL time.Duration) *HTTPPricedSource {
	return &HTTPPricedSource{URL: url, ServiceToken: serviceToken, TTL: ttl, NegativeTTL: negativeTTL, Now: time.Now,
		cache: newAnswerCache[pricedQuestion, bool](maxCachedPriced)}
}

// Priced implements PricedSource.
func (s *HTTPPricedSource) Priced(ctx context.Context, tenantID, provider, model string) (bool, error) {
	q := pricedQuestion{tenantID: tenantID, provider: provider, model: model}
	return s.cache.get(ctx, q, s.Now(), func(ctx context.Context) (bool, time.Duration, error) {
		a, err := s.ask(ctx, q)
		ttl := s.TTL
		if !a.Priced {
			ttl = s.NegativeTTL
		}
		return a.Priced, reuseFor(ttl, a.CacheTTLSeconds), err
	})
}

// ask calls the priced endpoint once.
func (s *HTTPPricedSource) ask(ctx context.Context, q pricedQuestion) (policy.PricedAnswer, error) {
	c := svcclient.Client{Token: s.ServiceToken, HTTP: s.Client, MaxAnswerBytes: 64 << 10}
	body, err := c.Expect(ctx, http.StatusOK, http.MethodGet, s.URL+"?"+policy.PricedQuery(q.tenantID, q.provider, q.model), nil)
	if err != nil {
		return policy.PricedAnswer{}, fmt.Errorf("%w: %w", ErrPricedUnavailable, err)
	}
	a, err := policy.ParsePricedAnswer(body)
	if err != nil {
		return policy.PricedAnswer{}, fmt.Errorf("%w: %w", ErrPricedUnavailable, err)
	}
	return a, nil
}
