package clickhouse

import "sync"

// kept holds idle objects for reuse: a free list, not a sync.Pool, which
// every other garbage collection empties (and buffers of megabytes made
// anew cost their page faults again). It holds at most what was in use at
// once (one per lane).
type kept[T any] struct {
	mu    sync.Mutex
	items []*T
}

// take returns an idle object, or a new one from fresh.
func (k *kept[T]) take(fresh func() *T) *T {
	k.mu.Lock()
	defer k.mu.Unlock()
	if n := len(k.items); n > 0 {
		x := k.items[n-1]
		k.items = k.items[:n-1]
		return x
	}
	return fresh()
}

// put keeps x for the next take.
func (k *kept[T]) put(x *T) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.items = append(k.items, x)
}
