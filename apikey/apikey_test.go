package apikey

import (
	"errors"
	"strings"
	"testing"
)

func TestGenerateParseVerify(t *testing.T) {
	pepper := []byte("pepper")
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		g, err := Generate(pepper)
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Key) != KeyLen || seen[g.Prefix] {
			t.Fatalf("bad or repeated key %q", g.Key)
		}
		seen[g.Prefix] = true
		p, err := Parse(g.Key)
		if err != nil || p != g.Prefix {
			t.Fatalf("parse %q: %q %v", g.Key, p, err)
		}
		tampered := g.Key[:len(g.Key)-1] + "x"
		if g.Key[len(g.Key)-1] == 'x' {
			tampered = g.Key[:len(g.Key)-1] + "y"
		}
		if !Verify(pepper, g.Key, g.Hash) || Verify([]byte("other"), g.Key, g.Hash) || Verify(pepper, tampered, g.Hash) {
			t.Fatal("verify")
		}
		if strings.Contains(Redact(g.Key), g.Key[4+PrefixLen:]) {
			t.Fatal("redaction leaks the secret")
		}
	}
	for _, bad := range []string{"", "sk-abc", "sg_short_x", "sg_ABCDEFGHIJ_" + strings.Repeat("a", 40), "sg_abcdefghij-" + strings.Repeat("a", 40), "sg_abcdefghij_" + strings.Repeat("!", 40)} {
		if _, err := Parse(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func BenchmarkHash(b *testing.B) {
	g, _ := Generate([]byte("pepper"))
	b.ReportAllocs()
	for b.Loop() {
		Hash([]byte("pepper"), g.Key)
	}
}

// FuzzParse: Parse never panics, accepts only well-formed keys, and the prefix
// it returns is the one in the key; Redact never shows the secret.
func FuzzParse(f *testing.F) {
	g, _ := Generate([]byte("pepper"))
	for _, s := range []string{g.Key, "", "sg_", "sg_abcdefghij_", "sk-proj-abc", g.Key + "x", strings.ToUpper(g.Key)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		r := Redact(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || p != "" || r != "(malformed key)" {
				t.Fatalf("%q: %q %v %q", s, p, err, r)
			}
			return
		}
		if len(s) != KeyLen || s[3:3+PrefixLen] != p || !strings.HasPrefix(s, "sg_") {
			t.Fatalf("%q accepted with prefix %q", s, p)
		}
		if strings.Contains(r, s[4+PrefixLen:]) {
			t.Fatalf("Redact(%q) = %q shows the secret", s, r)
		}
	})
}
