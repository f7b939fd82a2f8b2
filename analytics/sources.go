package analytics

import (
	"context"
	"sort"
	"sync"

	"github.com/spendgate/spendgate/spend"
)

// Source says what answered one analytics query: "rollup", "raw" or
// "rollup+raw" (rollups for the aligned part of the range, raw events for
// its ragged ends), and the tables read.
type Source struct {
	Field  string   `json:"field"`
	Source string   `json:"source"`
	Tables []string `json:"tables"`
}

// Sources collects the Source of every analytics query answered for one
// API request; the API reports them in the response's extensions.
type Sources struct {
	mu   sync.Mutex
	list []Source
}

type sourcesKey struct{}

type fieldKey struct{}

// WithSources returns a context whose analytics queries are recorded in
// the returned Sources.
func WithSources(ctx context.Context) (context.Context, *Sources) {
	s := &Sources{}
	return context.WithValue(ctx, sourcesKey{}, s), s
}

// WithField names the query answered under ctx (a GraphQL field's alias).
func WithField(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, fieldKey{}, name)
}

// List returns the recorded sources by field name (root fields are
// answered concurrently, so the order they finished in means nothing).
func (s *Sources) List() []Source {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]Source(nil), s.list...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

func record(ctx context.Context, source string, tables []string) {
	s, _ := ctx.Value(sourcesKey{}).(*Sources)
	if s == nil {
		return
	}
	field, _ := ctx.Value(fieldKey{}).(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, Source{Field: field, Source: source, Tables: tables})
}

func recordSums(ctx context.Context, store Sums, spec spend.Spec) {
	if ctx.Value(sourcesKey{}) == nil {
		return
	}
	source, tables := store.SumsSource(spec)
	record(ctx, source, tables)
}
