package apiserver

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/controlplane"
)

// One operation checks one password at most: aliases, repeats and
// fragments of signIn or changePassword are refused before any runs.
func TestOnePasswordCheckPerOperation(t *testing.T) {
	h := newHarness(t)
	token, _ := h.owner("ann@example.com", "acme")
	refused := map[string]string{
		"two aliased sign-ins": `mutation{a:signIn(email:"ann@example.com",password:"guess-1"){accessToken} b:signIn(email:"ann@example.com",password:"guess-2"){accessToken}}`,
		"one field repeated":   `mutation{signIn(email:"ann@example.com",password:"guess-1"){accessToken} signIn(email:"ann@example.com",password:"guess-1"){refreshToken}}`,
		"through fragments":    `mutation{...F ...G} fragment F on Mutation{a:signIn(email:"ann@example.com",password:"guess-1"){accessToken}} fragment G on Mutation{b:signIn(email:"ann@example.com",password:"guess-2"){accessToken}}`,
		"inline fragment":      `mutation{... on Mutation{a:signIn(email:"ann@example.com",password:"guess-1"){accessToken}} b:signIn(email:"ann@example.com",password:"guess-2"){accessToken}}`,
		"sign-in and change":   `mutation{signIn(email:"ann@example.com",password:"guess-1"){accessToken} changePassword(currentPassword:"guess-2",newPassword:"password-456")}`,
		"two password changes": `mutation{a:changePassword(currentPassword:"guess-1",newPassword:"password-456") b:changePassword(currentPassword:"guess-2",newPassword:"password-456")}`,
	}
	for name, q := range refused {
		r := h.gql(token, q, nil)
		if r.code() != apierr.CodeInvalidArgument || !strings.Contains(r.Errors[0].Message, "once") || r.Data["signIn"] != nil {
			t.Errorf("%s: %+v", name, r)
		}
	}
	// Nothing ran: no failure was counted, so the account is not locked.
	if strings.Contains(h.logs.String(), "password check failed") {
		t.Fatalf("a refused operation checked a password:\n%s", h.logs.String())
	}
	h.must("", `mutation{signIn(email:"ann@example.com",password:"password-123"){accessToken}}`, nil)
	// One password check beside other fields is fine.
	d := h.must("", `mutation{signIn(email:"ann@example.com",password:"password-123"){accessToken} signOut(refreshToken:"spent")}`, nil)
	if get(d, "signIn", "accessToken") == nil || d["signOut"] != true {
		t.Fatalf("signIn beside signOut: %+v", d)
	}
}

// Guessing one account's password over HTTP locks it: RATE_LIMITED, also
// for the right password, and every failure is logged with the email and
// the client address, never the password.
func TestSignInBruteForceLocks(t *testing.T) {
	h := newHarness(t)
	h.owner("ann@example.com", "acme")
	cfg := controlplane.DefaultThrottle()
	cfg.BaseLock = time.Minute // longer than the test, however slow bcrypt runs here
	h.cp.SetThrottle(cfg)
	q := `mutation($p:String!){signIn(email:"ann@example.com",password:$p){accessToken}}`
	codes := []string{}
	for i := 0; i < cfg.AccountFree+2; i++ {
		codes = append(codes, h.gql("", q, map[string]any{"p": "guess-number-" + string(rune('a'+i))}).code())
	}
	want := strings.Repeat("UNAUTHENTICATED ", cfg.AccountFree+1) + "RATE_LIMITED "
	if got := strings.Join(codes, " ") + " "; got != want {
		t.Fatalf("codes of %d guesses: %s, want %s", len(codes), got, want)
	}
	r := h.gql("", q, map[string]any{"p": "password-123"})
	if r.code() != "RATE_LIMITED" || !strings.Contains(r.Errors[0].Message, "try again in") {
		t.Fatalf("right password while locked: %+v", r)
	}
	logs := h.logs.String()
	if n := strings.Count(logs, "password check failed"); n != cfg.AccountFree+1 {
		t.Errorf("%d failures logged, want %d", n, cfg.AccountFree+1)
	}
	for _, want := range []string{"email=ann@example.com", "client_addr=127.0.0.1", "too many failures"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(logs, "guess-number") || strings.Contains(logs, "password-123") {
		t.Error("a password is in the log")
	}
}

func TestClientAddr(t *testing.T) {
	for name, c := range map[string]struct {
		header, remote string
		values         []string
		want           string
	}{
		"peer address":                     {"", "192.0.2.1:5555", []string{"198.51.100.1"}, "192.0.2.1"},
		"proxy header, last address":       {"X-Forwarded-For", "10.0.0.1:5555", []string{"1.2.3.4, 198.51.100.9"}, "198.51.100.9"},
		"proxy header, last of two values": {"X-Forwarded-For", "10.0.0.1:5555", []string{"1.2.3.4", "198.51.100.9"}, "198.51.100.9"},
		"proxy header missing":             {"X-Forwarded-For", "10.0.0.1:5555", nil, "10.0.0.1"},
		"proxy header garbage":             {"X-Real-IP", "10.0.0.1:5555", []string{"not an ip"}, "10.0.0.1"},
		"ipv6 peer":                        {"", "[2001:db8::1]:5555", nil, "2001:db8::1"},
	} {
		s := &Server{cfg: Config{ClientIPHeader: c.header}}
		r := httptest.NewRequest("POST", "/query", nil)
		r.RemoteAddr = c.remote
		for _, v := range c.values {
			r.Header.Add("X-Forwarded-For", v)
			r.Header.Add("X-Real-IP", v)
		}
		if got := s.clientAddr(r); got != c.want {
			t.Errorf("%s: %s, want %s", name, got, c.want)
		}
	}
}
