package controlplane

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/internal/testenv"
)

// Failed sign-ins lock the account and the client address with a window
// that doubles; a locked sign-in is refused even with the right password;
// failures are logged without the password.
func TestSignInThrottle(t *testing.T) {
	s, _ := newTestService(t)
	logs := &testenv.LogBuffer{}
	s.core.log = slog.New(slog.NewTextHandler(logs, nil))
	owner(t, s, "ann@example.com", "acme")
	owner(t, s, "bob@example.com", "bobs")
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	s.SetThrottle(ThrottleConfig{AccountFree: 3, AddressFree: 5, BaseLock: time.Second, MaxLock: 8 * time.Second, Forget: time.Hour, MaxEntries: 1000})
	s.AccountService.throttle.now = func() time.Time { return now }
	from := func(addr string) context.Context { return auth.WithClientAddr(context.Background(), addr) }
	try := func(addr, email, pw string) string {
		_, err := s.SignIn(from(addr), email, pw)
		if err == nil {
			return "ok"
		}
		return apierr.CodeOf(err)
	}

	// Three free failures, then each failure locks the account: 1 s, 2 s, 4 s, 8 s (the cap), 8 s.
	for i := 0; i < 3; i++ {
		if got := try("203.0.113.1", "ann@example.com", "guess-"+string(rune('a'+i))); got != apierr.CodeUnauthenticated {
			t.Fatalf("free failure %d: %s", i, got)
		}
	}
	for _, lock := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
		if got := try("203.0.113.1", "ann@example.com", "guess-x"); got != apierr.CodeUnauthenticated {
			t.Fatalf("failure before a %s lock: %s", lock, got)
		}
		now = now.Add(lock - time.Millisecond)
		if got := try("198.51.100.7", "ann@example.com", "password-123"); got != apierr.CodeRateLimited {
			t.Fatalf("right password, other address, %s into a %s lock: %s", lock-time.Millisecond, lock, got)
		}
		now = now.Add(time.Millisecond)
	}
	if got := try("198.51.100.7", "bob@example.com", "password-123"); got != "ok" {
		t.Fatalf("another account from another address during ann's lock: %s", got)
	}
	// The lock has passed: the right password works and clears the account's count.
	if got := try("203.0.113.1", "ann@example.com", "password-123"); got != "ok" {
		t.Fatalf("after the lock: %s", got)
	}
	if got := try("203.0.113.1", "ann@example.com", "guess-y"); got != apierr.CodeUnauthenticated {
		t.Fatalf("first failure after a success: %s", got)
	}

	// One address guessing many accounts locks the address (5 free, the
	// sixth failure locks), whatever the account.
	for i := 0; i < 6; i++ {
		if got := try("192.0.2.9", "nobody"+string(rune('a'+i))+"@example.com", "guess"); got != apierr.CodeUnauthenticated {
			t.Fatalf("address failure %d: %s", i, got)
		}
	}
	if got := try("192.0.2.9", "bob@example.com", "password-123"); got != apierr.CodeRateLimited {
		t.Fatalf("locked address, right password of another account: %s", got)
	}
	// An IPv6 client is counted by its /64.
	for i := 0; i < 6; i++ {
		try("2001:db8:1:2::"+string(rune('a'+i)), "v6-"+strconv.Itoa(i)+"@example.com", "guess")
	}
	if got := try("2001:db8:1:2:ffff::1", "bob@example.com", "password-123"); got != apierr.CodeRateLimited {
		t.Fatalf("same /64: %s", got)
	}
	if got := try("2001:db8:1:3::1", "bob@example.com", "password-123"); got != "ok" {
		t.Fatalf("another /64: %s", got)
	}

	// changePassword's current password counts against the account too.
	bob, err := s.SignIn(from("198.51.100.8"), "bob@example.com", "password-123")
	testenv.Must(t, err, "bob")
	p, err := s.Authenticate(context.Background(), bob.AccessToken)
	testenv.Must(t, err, "bob principal")
	bobCtx := auth.WithPrincipal(from("198.51.100.8"), p)
	for i := 0; i < 4; i++ {
		wantCode(t, "wrong current password", s.ChangePassword(bobCtx, "guess", "password-789"), apierr.CodeUnauthenticated)
	}
	wantCode(t, "locked change", s.ChangePassword(bobCtx, "password-123", "password-789"), apierr.CodeRateLimited)

	out := logs.String()
	for _, want := range []string{"password check failed", "email=ann@example.com", "client_addr=203.0.113.1", "reason=\"wrong password\"",
		"reason=\"unknown email\"", "too many failures", "what=change-password"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	for _, secret := range []string{"guess-a", "guess-x", "password-123"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains a password %q", secret)
		}
	}
}

// The throttle's memory stays bounded when many addresses fail once each.
func TestSignInThrottleBounded(t *testing.T) {
	th := newSignInThrottle(ThrottleConfig{AccountFree: 5, AddressFree: 5, BaseLock: time.Second, MaxLock: time.Minute, Forget: time.Hour, MaxEntries: 100})
	for i := 0; i < 1000; i++ {
		th.fail("a"+itoaTest(i)+"@example.com", "10.0."+itoaTest(i/250)+"."+itoaTest(i%250))
	}
	if n := len(th.entries); n > 101 {
		t.Fatalf("%d entries tracked, bound 100", n)
	}
}

func itoaTest(i int) string { return strconv.Itoa(i) }
