package graph

import (
	"bytes"
	"context"
	"io"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// The plain list path.
//
// gqlgen executes every field of every list element on its own: a field
// context, a context value, closures, the middleware chain and a marshaler
// per field, and a goroutine per element. For a list of 1,000 API keys that
// is ~190,000 allocations and most of the response time, for fields that
// only copy a struct member. The plain path writes such lists straight to
// JSON: the selection is resolved once per list (graphql.CollectFields, so
// aliases, fragments, @skip and @include behave as in gqlgen), each element
// is then written field by field with gqlgen's own scalar and enum
// marshalers, so the bytes are the ones gqlgen would write.
//
// graph/gen generates, from the schema and gqlgen's bindings, a plan and a
// writer per object type and a hook at the top of each list marshaller in
// generated.go. The path steps aside, and gqlgen writes the list as usual,
// when a selected field has a resolver, arguments, directives or a context
// (APIKey.budgets, for instance), when a selection is deferred, and when a
// non-null field holds a nil (gqlgen's null propagation and error). Field
// middleware (handler.AroundFields) does not run for the fields it writes;
// the API registers none. TestPlainListsMatchGqlgen holds both paths to the
// same bytes.

// plainMinLength is the shortest list the plain path takes: below it
// gqlgen's overhead is too small to matter.
const plainMinLength = 2

// plainTypename marks the __typename field in a plan.
const plainTypename = -1

// plainPlan is a selection set on one object type resolved for the plain
// path: its fields in response order.
type plainPlan struct {
	fields []plainField
}

type plainField struct {
	key   []byte // the quoted response key and the colon
	index int    // the field's position in its object type, or plainTypename
	sel   ast.SelectionSet
	child *plainPlan // object fields: the child's plan
}

// plainKey is a response key as gqlgen writes it.
func plainKey(alias string) []byte {
	var b bytes.Buffer
	graphql.MarshalString(alias).MarshalGQL(&b)
	b.WriteByte(':')
	return b.Bytes()
}

// plainBuffer sizes a list's buffer for a typical element.
func plainBuffer(n int) *bytes.Buffer {
	return bytes.NewBuffer(make([]byte, 0, 256*n))
}

// plainJSON writes bytes the plain path produced.
type plainJSON []byte

func (j plainJSON) MarshalGQL(w io.Writer) { _, _ = w.Write(j) }

type genericListsKey struct{}

// WithGenericLists makes the requests under ctx marshal every list with
// gqlgen's executor, bypassing the plain path (for tests that compare the
// two).
func WithGenericLists(ctx context.Context) context.Context {
	return context.WithValue(ctx, genericListsKey{}, true)
}

func genericLists(ctx context.Context) bool {
	v, _ := ctx.Value(genericListsKey{}).(bool)
	return v
}
