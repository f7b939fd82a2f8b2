package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/org"
)

// TreeSource gives a tenant's organisation tree for attribution
// (orgstore.Reader over Postgres).
type TreeSource interface {
	TenantTree(ctx context.Context, tenantID string) (*org.Tree, error)
}

// CachedTrees keeps each tenant's tree for TTL, like CachedOverrides: a
// stale copy is used while the source fails, and a tenant never read yet
// gets the error (the consumer then waits rather than store an event
// attributed to nothing). A key moved to another project, or a new
// mapping, is therefore seen by ingest within TTL.
type CachedTrees struct {
	Source TreeSource
	TTL    time.Duration

	mu    sync.Mutex
	cache map[string]cachedTree
	now   func() time.Time
}

type cachedTree struct {
	tree    *org.Tree
	fetched time.Time
}

// NewCachedTrees wraps src.
func NewCachedTrees(src TreeSource, ttl time.Duration) *CachedTrees {
	return &CachedTrees{Source: src, TTL: ttl, cache: map[string]cachedTree{}, now: time.Now}
}

// TenantTree implements TreeSource.
func (c *CachedTrees) TenantTree(ctx context.Context, tenantID string) (*org.Tree, error) {
	if c == nil || c.Source == nil {
		return nil, nil
	}
	c.mu.Lock()
	e, ok := c.cache[tenantID]
	c.mu.Unlock()
	if ok && c.now().Sub(e.fetched) < c.TTL {
		return e.tree, nil
	}
	t, err := c.Source.TenantTree(ctx, tenantID)
	if err != nil {
		if ok {
			return e.tree, nil
		}
		return nil, err
	}
	c.mu.Lock()
	if len(c.cache) > 100_000 {
		c.cache = map[string]cachedTree{}
	}
	c.cache[tenantID] = cachedTree{tree: t, fetched: c.now()}
	c.mu.Unlock()
	return t, nil
}

// SetTrees makes the consumer attribute every event it stores to the
// workspace, team and project of its key (or of a dimension mapping),
// read from src (cached for the consumer's OverridesTTL unless src is a
// *CachedTrees already). Without it events are attributed to nothing.
// Call before Run.
func (c *Consumer) SetTrees(src TreeSource) {
	if _, cached := src.(*CachedTrees); !cached && src != nil {
		src = NewCachedTrees(src, c.ccfg.OverridesTTL)
	}
	c.trees = src
}

// Attribute sets e's place in its tenant's tree from t (org.Attribute),
// overwriting whatever the data plane sent: attribution is the control
// plane's, fixed when the event is stored.
func Attribute(e *event.Event, t *org.Tree) {
	p := t.Attribute(e.KeyID, e.Dimensions)
	e.WorkspaceID, e.TeamID, e.ProjectID = p.WorkspaceID, p.TeamID, p.ProjectID
}
