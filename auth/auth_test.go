package auth

import (
	"strings"
	"testing"
	"time"
)

func TestPasswords(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil || !CheckPassword(h, "correct horse") || CheckPassword(h, "wrong horse!") {
		t.Fatalf("%v", err)
	}
	if _, err := HashPassword("short"); err == nil {
		t.Fatal("short password accepted")
	}
	if _, err := HashPassword(strings.Repeat("x", 73)); err == nil {
		t.Fatal("overlong password accepted")
	}
}

func TestTokens(t *testing.T) {
	tk, err := NewTokens([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	tok, exp, err := tk.Issue("u1", "a@b.c", 7)
	if err != nil || time.Until(exp) > AccessTTL {
		t.Fatal(err)
	}
	p, err := tk.Verify("Bearer " + tok)
	if err != nil || p.UserID != "u1" || p.Email != "a@b.c" || p.TokenVersion != 7 || !p.ExpiresAt.Equal(exp.Truncate(time.Second)) {
		t.Fatalf("%+v %v (expiry %s)", p, err, exp)
	}
	other, _ := NewTokens([]byte(strings.Repeat("o", 32)))
	if _, err := other.Verify(tok); err == nil {
		t.Fatal("token verified with another secret")
	}
	tk.now = func() time.Time { return time.Now().Add(AccessTTL + time.Minute) }
	if _, err := tk.Verify(tok); err == nil {
		t.Fatal("expired token accepted")
	}
	if _, err := NewTokens([]byte("short")); err == nil {
		t.Fatal("short secret accepted")
	}
	if _, err := tk.Verify("garbage"); err == nil {
		t.Fatal("garbage accepted")
	}
}
