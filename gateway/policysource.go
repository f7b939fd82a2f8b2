package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/spendgate/spendgate/dataplane/contract"
	"github.com/spendgate/spendgate/internal/svcclient"
	"github.com/spendgate/spendgate/policy"
)

// PolicySource answers what a spendgate key may do.
type PolicySource interface {
	Lookup(ctx context.Context, key string) (policy.Answer, error)
}

// ErrPolicyUnavailable wraps failures to reach the policy service.
var ErrPolicyUnavailable = errors.New("policy service unavailable")

// HTTPPolicySource asks the control plane's policy endpoint.
type HTTPPolicySource struct {
	URL          string // e.g. http://127.0.0.1:8080 + contract.PolicyPath
	ServiceToken string
	Client       *http.Client
}

// Lookup implements PolicySource.
func (s *HTTPPolicySource) Lookup(ctx context.Context, key string) (policy.Answer, error) {
	c := svcclient.Client{Token: s.ServiceToken, HTTP: s.Client}
	body, err := c.Expect(ctx, http.StatusOK, http.MethodGet, s.URL, nil, [2]string{contract.KeyHeader, key})
	if err != nil {
		return policy.Answer{}, fmt.Errorf("%w: %w", ErrPolicyUnavailable, err)
	}
	a, err := policy.ParseAnswer(body)
	if err != nil {
		return policy.Answer{}, fmt.Errorf("%w: %w", ErrPolicyUnavailable, err)
	}
	return a, nil
}

// CachedPolicySource caches answers (positive and negative) for their TTL and
// collapses concurrent lookups of one key into a single call.
type CachedPolicySource struct {
	Source      PolicySource
	TTL         time.Duration // cap for positive answers
	NegativeTTL time.Duration
	Now         func() time.Time

	cache *answerCache[[32]byte, policy.Answer]
}

// maxCachedPolicies bounds the policy cache under key-spraying.
const maxCachedPolicies = 100_000

// NewCachedPolicySource wraps src with a cache.
func NewCachedPolicySource(src PolicySource, ttl, negativeTTL time.Duration) *CachedPolicySource {
	return &CachedPolicySource{Source: src, TTL: ttl, NegativeTTL: negativeTTL, Now: time.Now,
		cache: newAnswerCache[[32]byte, policy.Answer](maxCachedPolicies)}
}

// Lookup implements PolicySource. Keys are cached by their SHA-256, so the
// cache never holds a secret.
func (c *CachedPolicySource) Lookup(ctx context.Context, key string) (policy.Answer, error) {
	return c.cache.get(ctx, sha256.Sum256([]byte(key)), c.Now(), func(ctx context.Context) (policy.Answer, time.Duration, error) {
		a, err := c.Source.Lookup(ctx, key)
		ttl := c.TTL
		if !a.Valid {
			ttl = c.NegativeTTL
		}
		return a, reuseFor(ttl, a.CacheTTLSeconds), err
	})
}
