package graph

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"time"

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

// The leaf writers below write what gqlgen's MarshalString (and MarshalID),
// MarshalBoolean, MarshalInt and MarshalTime write, without a marshaler per
// value; graph/gen uses them only where gqlgen would call those.

// encodeHex is gqlgen's, for \u00XX escapes.
const encodeHex = "0123456789ABCDEF"

// plainString quotes s as gqlgen's writeQuotedString does: only control
// characters, backslash and the quote are escaped.
func plainString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		b.WriteString(s[start:i])
		switch c {
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\n':
			b.WriteString(`\n`)
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(encodeHex[c>>4])
			b.WriteByte(encodeHex[c&0xf])
		}
		start = i + 1
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}

func plainStrings(b *bytes.Buffer, list []string) {
	b.WriteByte('[')
	for i, s := range list {
		if i > 0 {
			b.WriteByte(',')
		}
		plainString(b, s)
	}
	b.WriteByte(']')
}

func plainBool(b *bytes.Buffer, v bool) {
	b.WriteString(strconv.FormatBool(v))
}

func plainInt(b *bytes.Buffer, v int) {
	var digits [20]byte
	b.Write(strconv.AppendInt(digits[:0], int64(v), 10))
}

// plainTime writes t as RFC 3339 with nanoseconds, quoted; false for the
// zero time, which gqlgen writes as null.
func plainTime(b *bytes.Buffer, t time.Time) bool {
	if t.IsZero() {
		return false
	}
	var text [64]byte
	b.WriteByte('"')
	b.Write(t.AppendFormat(text[:0], time.RFC3339Nano))
	b.WriteByte('"')
	return true
}
