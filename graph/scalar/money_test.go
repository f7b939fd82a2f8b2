package scalar

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

func TestMoneyUnmarshal(t *testing.T) {
	t.Parallel()
	good := []struct {
		in   string
		want Money
	}{
		{"0", 0},
		{"12.5", 12_500_000_000},
		{"12.50", 12_500_000_000},
		{"0.000000001", 1},
		{"1000000", 1_000_000_000_000_000},
	}
	for _, c := range good {
		var m Money
		if err := m.UnmarshalGQL(c.in); err != nil || m != c.want {
			t.Errorf("%q: got %d, %v; want %d", c.in, m, err, c.want)
		}
	}
	bad := []any{
		"", "abc", "-1", "+1", "1e3", ".5", "5.", "\"12\"", "0.0000000001", "1.2.3", " 1", "1,5", "NaN", "Infinity",
		"99999999999999999999", // overflows int64 nano-USD
		12.5, 12, json.Number("12.5"), nil, true,
	}
	for _, in := range bad {
		var m Money
		if err := m.UnmarshalGQL(in); err == nil {
			t.Errorf("%#v accepted as %d", in, m)
		} else if !strings.Contains(err.Error(), "Money") {
			t.Errorf("%#v: error %q does not name the scalar", in, err)
		}
	}
}

func TestMoneyMarshal(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   Money
		want string
	}{
		{0, `"0"`},
		{1, `"0.000000001"`},
		{12_500_000_000, `"12.5"`},
		{-3_000_000_000, `"-3"`},
	} {
		var b bytes.Buffer
		c.in.MarshalGQL(&b)
		if b.String() != c.want {
			t.Errorf("%d: got %s, want %s", c.in, b.String(), c.want)
		}
	}
}

// FuzzMoney: whatever is accepted round-trips exactly through the wire form.
func FuzzMoney(f *testing.F) {
	for _, s := range []string{"0", "12.5", "0.000000001", "-1", "1e3", "999999999.999999999", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var m Money
		if err := m.UnmarshalGQL(s); err != nil {
			return
		}
		if m < 0 {
			t.Fatalf("%q parsed to a negative amount %d", s, m)
		}
		var b bytes.Buffer
		m.MarshalGQL(&b)
		out, err := strconv.Unquote(b.String())
		if err != nil {
			t.Fatalf("marshal of %d is not a JSON string: %s", m, b.String())
		}
		var back Money
		if err := back.UnmarshalGQL(out); err != nil || back != m {
			t.Fatalf("%q -> %d -> %q -> %d, %v", s, m, out, back, err)
		}
	})
}
