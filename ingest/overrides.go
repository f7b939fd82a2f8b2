package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/spendgate/spendgate/pricing"
)

// OverrideSource gives a tenant's pricing overrides (the control plane's
// controlplane.OverrideReader over Postgres).
type OverrideSource interface {
	TenantOverrides(ctx context.Context, tenantID string) ([]pricing.Override, error)
}

// CachedOverrides keeps each tenant's overrides for TTL, then reads them
// again on the next use. When the source fails, a stale copy is used (a
// Postgres blip must not stop ingest); a tenant never read yet gets the
// error, so the caller waits rather than pricing without the overrides.
// Safe for concurrent use; the budget service shares it for estimates.
type CachedOverrides struct {
	Source OverrideSource
	TTL    time.Duration

	mu    sync.Mutex
	cache map[string]cachedOverrides
	now   func() time.Time
}

type cachedOverrides struct {
	list    []pricing.Override
	fetched time.Time
}

// NewCachedOverrides wraps src; a nil src has no overrides.
func NewCachedOverrides(src OverrideSource, ttl time.Duration) *CachedOverrides {
	return &CachedOverrides{Source: src, TTL: ttl, cache: map[string]cachedOverrides{}, now: time.Now}
}

// TenantOverrides implements OverrideSource.
func (c *CachedOverrides) TenantOverrides(ctx context.Context, tenantID string) ([]pricing.Override, error) {
	if c == nil || c.Source == nil {
		return nil, nil
	}
	c.mu.Lock()
	e, ok := c.cache[tenantID]
	c.mu.Unlock()
	if ok && c.now().Sub(e.fetched) < c.TTL {
		return e.list, nil
	}
	list, err := c.Source.TenantOverrides(ctx, tenantID)
	if err != nil {
		if ok {
			return e.list, nil // stale beats none while the control plane blips
		}
		return nil, err
	}
	c.mu.Lock()
	c.cache[tenantID] = cachedOverrides{list: list, fetched: c.now()}
	c.mu.Unlock()
	return list, nil
}
