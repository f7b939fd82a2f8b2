package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/spendgate/spendgate/meter"
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
	URL          string // e.g. http://127.0.0.1:8080/internal/v1/policy
	ServiceToken string
	Client       *http.Client
}

// Lookup implements PolicySource.
func (s *HTTPPolicySource) Lookup(ctx context.Context, key string) (policy.Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if err != nil {
		return policy.Answer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+s.ServiceToken)
	req.Header.Set(meter.KeyHeader, key)
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return policy.Answer{}, fmt.Errorf("%w: %v", ErrPolicyUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return policy.Answer{}, fmt.Errorf("%w: %v", ErrPolicyUnavailable, err)
	}
	if resp.StatusCode != http.StatusOK {
		return policy.Answer{}, fmt.Errorf("%w: HTTP %d", ErrPolicyUnavailable, resp.StatusCode)
	}
	a, err := policy.ParseAnswer(body)
	if err != nil {
		return policy.Answer{}, fmt.Errorf("%w: %v", ErrPolicyUnavailable, err)
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

	mu       sync.Mutex
	entries  map[[32]byte]cacheEntry
	inflight map[[32]byte]*flight
}

type cacheEntry struct {
	answer  policy.Answer
	expires time.Time
}

type flight struct {
	waiters int // callers waiting on this lookup (guarded by mu)
	done    chan struct{}
	answer  policy.Answer
	err     error
}

// NewCachedPolicySource wraps src with a cache.
func NewCachedPolicySource(src PolicySource, ttl, negativeTTL time.Duration) *CachedPolicySource {
	return &CachedPolicySource{Source: src, TTL: ttl, NegativeTTL: negativeTTL, Now: time.Now,
		entries: map[[32]byte]cacheEntry{}, inflight: map[[32]byte]*flight{}}
}

// Lookup implements PolicySource. Keys are cached by their SHA-256, so the
// cache never holds a secret.
func (c *CachedPolicySource) Lookup(ctx context.Context, key string) (policy.Answer, error) {
	h := sha256.Sum256([]byte(key))
	now := c.Now()
	c.mu.Lock()
	if e, ok := c.entries[h]; ok && now.Before(e.expires) {
		c.mu.Unlock()
		return e.answer, nil
	}
	if f, ok := c.inflight[h]; ok {
		f.waiters++
		c.mu.Unlock()
		select {
		case <-f.done:
			return f.answer, f.err
		case <-ctx.Done():
			return policy.Answer{}, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	c.inflight[h] = f
	c.mu.Unlock()

	// The lookup outlives a cancelled caller so the others waiting on it get
	// an answer; it is bounded by its own timeout.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	f.answer, f.err = c.Source.Lookup(lctx, key)
	cancel()

	c.mu.Lock()
	delete(c.inflight, h)
	if f.err == nil {
		ttl := c.TTL
		if !f.answer.Valid {
			ttl = c.NegativeTTL
		}
		if hint := time.Duration(f.answer.CacheTTLSeconds) * time.Second; hint > 0 && hint < ttl {
			ttl = hint
		}
		if len(c.entries) > 100_000 { // bound memory under key-spraying
			c.entries = map[[32]byte]cacheEntry{}
		}
		c.entries[h] = cacheEntry{answer: f.answer, expires: now.Add(ttl)}
	}
	c.mu.Unlock()
	close(f.done)
	return f.answer, f.err
}
