package graph

import (
	"bytes"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// The plain path's leaf writers write what gqlgen's marshalers write.
func FuzzPlainLeavesMatchGqlgen(f *testing.F) {
	f.Add("plain", int64(0), int64(1_700_000_000_123_456_789), 0, true)
	f.Add("tab\tnl\n\"q\" \\ <&> \x00\x1f ünï \xff\xfe \u2028", int64(-42), int64(1), 3600*5+1800, false)
	f.Add("", int64(1<<62), int64(-62135596800_000_000), -3600*11, true)
	f.Fuzz(func(t *testing.T, s string, n int64, unixNano int64, offset int, flag bool) {
		gqlgen := func(m graphql.Marshaler) string {
			var b bytes.Buffer
			m.MarshalGQL(&b)
			return b.String()
		}
		var b bytes.Buffer
		plainString(&b, s)
		if want := gqlgen(graphql.MarshalString(s)); b.String() != want {
			t.Fatalf("string %q: %s, gqlgen %s", s, b.String(), want)
		}
		b.Reset()
		plainStrings(&b, []string{s, "x", s})
		if want := gqlgen(graphql.Array{graphql.MarshalString(s), graphql.MarshalString("x"), graphql.MarshalString(s)}); b.String() != want {
			t.Fatalf("strings: %s, gqlgen %s", b.String(), want)
		}
		b.Reset()
		plainInt(&b, int(n))
		if want := gqlgen(graphql.MarshalInt(int(n))); b.String() != want {
			t.Fatalf("int %d: %s, gqlgen %s", n, b.String(), want)
		}
		b.Reset()
		plainBool(&b, flag)
		if want := gqlgen(graphql.MarshalBoolean(flag)); b.String() != want {
			t.Fatalf("bool: %s, gqlgen %s", b.String(), want)
		}
		for _, at := range []time.Time{time.Unix(0, unixNano).In(time.FixedZone("z", offset%(18*3600))), {}, time.Unix(0, unixNano).UTC()} {
			b.Reset()
			wrote := plainTime(&b, at)
			m := graphql.MarshalTime(at)
			if !wrote != (m == graphql.Null) || wrote && b.String() != gqlgen(m) {
				t.Fatalf("time %v: %v %s, gqlgen %s", at, wrote, b.String(), gqlgen(m))
			}
		}
	})
}
