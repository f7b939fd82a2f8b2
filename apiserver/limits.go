package apiserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/spendgate/spendgate/apierr"
)

// Limits bound what one request or connection can make the API do. Every
// limit is checked before the work it bounds: body size before parsing, the
// query's tokens, fields, depth and aliases before validation (whose field
// merging check grows with the square of the fields), complexity before
// execution. docs/security.md lists them with their defaults.
type Limits struct {
	// MaxBodyBytes bounds a POST /query body (413 above it).
	MaxBodyBytes int64
	// MaxTokens bounds the lexer tokens of a query document.
	MaxTokens int
	// MaxFields bounds the fields of a query, fragments expanded.
	MaxFields int
	// MaxDepth bounds how deep selections nest, fragments expanded.
	MaxDepth int
	// MaxAliases bounds the aliased fields of a query, fragments expanded.
	MaxAliases int
	// RequestTimeout ends a query or mutation's work (websockets excepted).
	RequestTimeout time.Duration
	// MaxSubscriptionsPerConnection and MaxSubscriptionsPerUser bound the
	// live subscriptions of one websocket and of one signed-in user.
	MaxSubscriptionsPerConnection int
	MaxSubscriptionsPerUser       int
}

// DefaultLimits fit the portal's largest query (the dashboard: 8 analytics
// fields, 6 aliases, ~120 fields, depth 5) and GraphQL tools' introspection
// query with a wide margin, and refuse a query built to exhaust the parser or
// validator within milliseconds.
func DefaultLimits() Limits {
	return Limits{
		MaxBodyBytes:                  1 << 20,
		MaxTokens:                     10_000,
		MaxFields:                     1_000,
		MaxDepth:                      15,
		MaxAliases:                    50,
		RequestTimeout:                60 * time.Second,
		MaxSubscriptionsPerConnection: 20,
		MaxSubscriptionsPerUser:       100,
	}
}

// Validate refuses limits that would make the API unusable or unbounded.
func (l Limits) Validate() error {
	var errs []error
	if l.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("max body bytes must be at least 1024, got %d", l.MaxBodyBytes))
	}
	if l.RequestTimeout < time.Second {
		errs = append(errs, fmt.Errorf("request timeout must be at least 1s, got %s", l.RequestTimeout))
	}
	if l.MaxSubscriptionsPerConnection < 1 || l.MaxSubscriptionsPerUser < 1 {
		errs = append(errs, errors.New("subscription limits must be at least 1"))
	}
	if l.MaxTokens < 1 || l.MaxFields < 1 || l.MaxDepth < 1 || l.MaxAliases < 0 {
		errs = append(errs, errors.New("query limits (tokens, fields, depth) must be at least 1"))
	}
	return errors.Join(errs...)
}

// withDefaults fills zero limits with the defaults.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBodyBytes == 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	if l.MaxTokens == 0 {
		l.MaxTokens = d.MaxTokens
	}
	if l.MaxFields == 0 {
		l.MaxFields = d.MaxFields
	}
	if l.MaxDepth == 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxAliases == 0 {
		l.MaxAliases = d.MaxAliases
	}
	if l.RequestTimeout == 0 {
		l.RequestTimeout = d.RequestTimeout
	}
	if l.MaxSubscriptionsPerConnection == 0 {
		l.MaxSubscriptionsPerConnection = d.MaxSubscriptionsPerConnection
	}
	if l.MaxSubscriptionsPerUser == 0 {
		l.MaxSubscriptionsPerUser = d.MaxSubscriptionsPerUser
	}
	return l
}

// queryShape is an extension that parses a query (with the token limit) and
// measures it before gqlgen validates it, for every transport. Queries
// already in the cache passed before and are not measured again.
type queryShape struct {
	limits Limits
	cache  graphql.Cache[*ast.QueryDocument]
}

var (
	_ graphql.HandlerExtension          = queryShape{}
	_ graphql.OperationParameterMutator = queryShape{}
)

func (queryShape) ExtensionName() string                   { return "QueryShapeLimits" }
func (queryShape) Validate(graphql.ExecutableSchema) error { return nil }

// tooBig is a refusal of the query's size or shape.
func tooBig(format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	// Reported as a parse failure: the query is refused before validation.
	errcode.Set(err, errcode.ParseFailed)
	return err
}

func (q queryShape) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if _, ok := q.cache.Get(ctx, p.Query); ok {
		return nil
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, q.limits.MaxTokens)
	if err != nil {
		var gerr *gqlerror.Error
		if errors.As(err, &gerr) && gerr.Message == fmt.Sprintf("exceeded token limit of %d", q.limits.MaxTokens) {
			return tooBig("query is too large: more than %d tokens", q.limits.MaxTokens)
		}
		return nil // a syntax error: gqlgen reports it with its position
	}
	s := measure(doc)
	switch {
	case s.fields > q.limits.MaxFields:
		return tooBig("query selects too many fields: %s, at most %d (fragments counted where they are spread)", count(s.fields), q.limits.MaxFields)
	case s.depth > q.limits.MaxDepth:
		return tooBig("query nests too deep: %s levels, at most %d", count(s.depth), q.limits.MaxDepth)
	case s.aliases > q.limits.MaxAliases:
		return tooBig("query uses too many aliases: %s, at most %d", count(s.aliases), q.limits.MaxAliases)
	}
	return nil
}

// count prints a saturated measure as "more than N".
func count(n int) string {
	if n >= saturated {
		return "more than " + strconv.Itoa(saturated)
	}
	return strconv.Itoa(n)
}

// saturated caps measures: fragments spread inside fragments multiply.
const saturated = 1 << 30

type shape struct{ fields, depth, aliases int }

func add(a, b int) int { return min(a+b, saturated) }

// measure counts a document's fields and aliases over all its operations and
// its deepest nesting, with every fragment spread counted in full where it is
// spread (that is what validation and execution walk). A fragment that
// spreads itself counts once; validation refuses it.
func measure(doc *ast.QueryDocument) shape {
	memo := map[string]*shape{}
	var set func(ast.SelectionSet) shape
	frag := func(name string) shape {
		if s, ok := memo[name]; ok {
			if s == nil {
				return shape{} // a cycle
			}
			return *s
		}
		memo[name] = nil
		def := doc.Fragments.ForName(name)
		var s shape
		if def != nil {
			s = set(def.SelectionSet)
		}
		memo[name] = &s
		return s
	}
	set = func(sel ast.SelectionSet) shape {
		var out shape
		for _, x := range sel {
			var s shape
			switch x := x.(type) {
			case *ast.Field:
				s = set(x.SelectionSet)
				s.fields = add(s.fields, 1)
				s.depth = add(s.depth, 1)
				if x.Alias != "" && x.Alias != x.Name {
					s.aliases = add(s.aliases, 1)
				}
			case *ast.InlineFragment:
				s = set(x.SelectionSet)
			case *ast.FragmentSpread:
				s = frag(x.Name)
			}
			out.fields, out.aliases = add(out.fields, s.fields), add(out.aliases, s.aliases)
			out.depth = max(out.depth, s.depth)
		}
		return out
	}
	var total shape
	for _, op := range doc.Operations {
		s := set(op.SelectionSet)
		total.fields, total.aliases = add(total.fields, s.fields), add(total.aliases, s.aliases)
		total.depth = max(total.depth, s.depth)
	}
	return total
}

// limitBody reads a POST body up to max bytes and answers 413 above it, so
// no handler reads an unbounded body into memory.
func limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tooLarge := func() {
			writeGraphQLError(w, http.StatusRequestEntityTooLarge, apierr.CodeInvalidArgument,
				fmt.Sprintf("request body is larger than %d bytes; send a smaller query or fewer variables", max))
		}
		if r.ContentLength > max {
			tooLarge()
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			tooLarge()
			return
		case err != nil:
			writeGraphQLError(w, http.StatusBadRequest, apierr.CodeInvalidArgument, "request body could not be read")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// withTimeout bounds a query or mutation's work; a websocket upgrade lives
// as long as its subscriptions.
func withTimeout(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// stopWhenDone skips a root field whose request has ended (client gone,
// timeout, server shutting down): its work would be thrown away.
func stopWhenDone(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	if err := ctx.Err(); err != nil {
		graphql.AddError(ctx, apierr.New(apierr.CodeUnavailable, "the request ended before this field was resolved (%v)", err))
		return graphql.Null
	}
	return next(ctx)
}
