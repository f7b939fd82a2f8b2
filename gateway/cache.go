package gateway

import (
	"context"
	"sync"
	"time"
)

// answerCache keeps the control plane's answers (policy answers by key
// digest, priced answers by question) for as long as each may be reused, and
// collapses concurrent misses of one key into a single fetch, so a burst of
// calls on a cold cache asks once. Errors are never cached. Callers spray
// keys (API keys, model names), so the cache holds at most maxEntries.
type answerCache[K comparable, V any] struct {
	maxEntries int

	mu       sync.Mutex
	entries  map[K]cachedAnswer[V]
	inflight map[K]*flight[V]
}

type cachedAnswer[V any] struct {
	value   V
	expires time.Time
}

type flight[V any] struct {
	waiters int // callers waiting on this fetch (guarded by mu)
	done    chan struct{}
	value   V
	err     error
}

// fetchTimeout bounds one fetch, which outlives the caller that started it.
const fetchTimeout = 5 * time.Second

func newAnswerCache[K comparable, V any](maxEntries int) *answerCache[K, V] {
	return &answerCache[K, V]{maxEntries: maxEntries, entries: map[K]cachedAnswer[V]{}, inflight: map[K]*flight[V]{}}
}

// get returns k's answer at now: cached, from a fetch already running, or
// from fetch, which also says how long its answer may be reused (0: not at
// all).
func (c *answerCache[K, V]) get(ctx context.Context, k K, now time.Time, fetch func(context.Context) (V, time.Duration, error)) (V, error) {
	c.mu.Lock()
	if e, ok := c.entries[k]; ok && now.Before(e.expires) {
		c.mu.Unlock()
		return e.value, nil
	}
	if f, ok := c.inflight[k]; ok {
		f.waiters++
		c.mu.Unlock()
		select {
		case <-f.done:
			return f.value, f.err
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		}
	}
	f := &flight[V]{done: make(chan struct{})}
	c.inflight[k] = f
	c.mu.Unlock()

	// The fetch outlives a cancelled caller so the others waiting on it get
	// an answer; it is bounded by its own timeout.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	var ttl time.Duration
	f.value, ttl, f.err = fetch(fctx)
	cancel()

	c.mu.Lock()
	delete(c.inflight, k)
	if f.err == nil && ttl > 0 {
		if len(c.entries) >= c.maxEntries {
			c.makeRoom(now)
		}
		c.entries[k] = cachedAnswer[V]{value: f.value, expires: now.Add(ttl)}
	}
	c.mu.Unlock()
	close(f.done)
	return f.value, f.err
}

// makeRoom drops the expired entries, and all of them when that leaves the
// cache full (a flood of distinct keys must not grow it). Called with mu held.
func (c *answerCache[K, V]) makeRoom(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	if len(c.entries) >= c.maxEntries {
		clear(c.entries)
	}
}

// reuseFor is how long an answer may be reused: ttl, shortened by the
// answer's own hint (cache_ttl_seconds; 0: none), as the filter does.
func reuseFor(ttl time.Duration, hintSeconds int) time.Duration {
	if hint := time.Duration(hintSeconds) * time.Second; hint > 0 && hint < ttl {
		return hint
	}
	return ttl
}
