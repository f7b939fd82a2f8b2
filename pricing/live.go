package pricing

import (
	"sort"
	"sync/atomic"
	"time"
)

// Source gives the catalogue in force at a time. A *Catalogue is a source
// of itself at every time; a *Live follows the revisions an admin applies,
// so running services price with a new revision without a restart.
type Source interface {
	CatalogueAt(t time.Time) *Catalogue
}

// CatalogueAt returns c: a fixed catalogue is in force at every time.
func (c *Catalogue) CatalogueAt(time.Time) *Catalogue { return c }

// Revision is an applied catalogue revision: in force from EffectiveFrom
// until the next revision's EffectiveFrom.
type Revision struct {
	ID            int64
	EffectiveFrom time.Time
	Catalogue     *Catalogue
}

// Live holds the applied catalogue revisions and answers with the one in
// force at an event's time, so re-pricing an event reproduces the price it
// had: an event is priced by the revision in force at its time. Safe for
// concurrent use; Set swaps the whole set atomically.
type Live struct {
	set atomic.Pointer[liveSet]
}

type liveSet struct {
	revs    []Revision // by EffectiveFrom, then ID
	version int64      // highest revision id
}

// NewLive starts with one catalogue in force at every time (the embedded
// one until the store's revisions are loaded).
func NewLive(initial *Catalogue) *Live {
	l := &Live{}
	l.set.Store(&liveSet{revs: []Revision{{Catalogue: initial}}})
	return l
}

// Set replaces the revisions (at least one; the earliest is in force before
// its EffectiveFrom too, so events older than every revision stay priced by
// the first catalogue).
func (l *Live) Set(revs []Revision) {
	if len(revs) == 0 {
		return
	}
	s := &liveSet{revs: append([]Revision(nil), revs...)}
	sort.Slice(s.revs, func(i, j int) bool {
		a, b := s.revs[i], s.revs[j]
		if !a.EffectiveFrom.Equal(b.EffectiveFrom) {
			return a.EffectiveFrom.Before(b.EffectiveFrom)
		}
		return a.ID < b.ID
	})
	for _, r := range s.revs {
		s.version = max(s.version, r.ID)
	}
	l.set.Store(s)
}

// Version is the highest applied revision id loaded (0: none yet).
func (l *Live) Version() int64 { return l.set.Load().version }

// CatalogueAt returns the catalogue of the revision in force at t: the
// latest applied revision effective at or before t (ties: the later
// revision). A zero t means now.
func (l *Live) CatalogueAt(t time.Time) *Catalogue {
	return l.RevisionAt(t).Catalogue
}

// RevisionAt returns the revision in force at t (zero: now).
func (l *Live) RevisionAt(t time.Time) Revision {
	if t.IsZero() {
		t = time.Now()
	}
	revs := l.set.Load().revs
	i := sort.Search(len(revs), func(i int) bool { return revs[i].EffectiveFrom.After(t) })
	if i == 0 {
		return revs[0]
	}
	return revs[i-1]
}
