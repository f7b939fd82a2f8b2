package graph

import (
	"bytes"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// appendQuoted writes strings as gqlgen's graphql.MarshalString does, byte
// for byte (the whole answers are compared in apiserver's
// TestLargeAnswersAreGqlgensBytes).
func TestAppendQuotedIsGqlgens(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", `quote " backslash \ `, "tab\tcr\rnl\n", "\x00\x01\x1f\x7f", "ünïcode ✓ \u2028\u2029",
		"invalid \xff\xfe utf-8 \xc3", "</script>&amp;"} {
		if got, want := appendQuoted(nil, s), gqlgenQuoted(s); !bytes.Equal(got, want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

func FuzzAppendQuoted(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\x01\xff", "ü\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := appendQuoted([]byte("x"), s), append([]byte("x"), gqlgenQuoted(s)...); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}

func gqlgenQuoted(s string) []byte {
	var b bytes.Buffer
	graphql.MarshalString(s).MarshalGQL(&b)
	return b.Bytes()
}
