package auth

import (
	"encoding/base32"
	"strings"
	"testing"
	"time"
)

// RFC 6238 appendix B, SHA-1 rows (seed "12345678901234567890", 8 digits).
func TestTOTPRFC6238Vectors(t *testing.T) {
	key := []byte("12345678901234567890")
	for unix, want := range map[int64]string{
		59: "94287082", 1111111109: "07081804", 1111111111: "14050471",
		1234567890: "89005924", 2000000000: "69279037", 20000000000: "65353130",
	} {
		if got := HOTP(key, TOTPStep(time.Unix(unix, 0)), 8); got != want {
			t.Errorf("T=%d: %s, want %s", unix, got, want)
		}
	}
	// RFC 4226 appendix D: HOTP values of counters 0..3, 6 digits.
	for c, want := range []string{"755224", "287082", "359152", "969429"} {
		if got := HOTP(key, int64(c), 6); got != want {
			t.Errorf("HOTP(%d) = %s, want %s", c, got, want)
		}
	}
}

func TestMatchTOTP(t *testing.T) {
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))
	at := time.Unix(1111111109, 0)
	code, err := TOTPCode(secret, at)
	if err != nil || code != "081804" {
		t.Fatalf("code %q %v", code, err)
	}
	for name, c := range map[string]struct {
		code string
		at   time.Time
		ok   bool
		step int64
	}{
		"current step":           {code, at, true, TOTPStep(at)},
		"with spaces":            {"081 804", at, true, TOTPStep(at)},
		"one step late":          {code, at.Add(30 * time.Second), true, TOTPStep(at)},
		"one step early":         {code, at.Add(-30 * time.Second), true, TOTPStep(at)},
		"two steps late refused": {code, at.Add(61 * time.Second), false, 0},
		"wrong code":             {"000000", at, false, 0},
		"too short":              {"08180", at, false, 0},
	} {
		step, ok := MatchTOTP(secret, c.code, c.at)
		if ok != c.ok || (ok && step != c.step) {
			t.Errorf("%s: step %d ok %v, want %d %v", name, step, ok, c.step, c.ok)
		}
	}
}

func TestTOTPURIAndQR(t *testing.T) {
	s, err := NewTOTPSecret()
	if err != nil || len(s) != 32 {
		t.Fatalf("secret %q %v", s, err)
	}
	uri := TOTPURI("spendgate", "ann@example.com", s)
	if !strings.HasPrefix(uri, "otpauth://totp/spendgate:ann@example.com?") || !strings.Contains(uri, "secret="+s) {
		t.Fatalf("uri %s", uri)
	}
	qr, err := TOTPQRCode(uri)
	if err != nil || !strings.HasPrefix(qr, "data:image/png;base64,") {
		t.Fatalf("qr %.40s %v", qr, err)
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes, hashes, err := NewRecoveryCodes(10)
	if err != nil || len(codes) != 10 || len(hashes) != 10 {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if len(c) != 11 || c[5] != '-' || seen[c] {
			t.Fatalf("code %q", c)
		}
		seen[c] = true
		if string(HashRecoveryCode(strings.ToUpper(strings.ReplaceAll(c, "-", " ")))) != string(hashes[i]) {
			t.Fatalf("code %q typed differently does not match", c)
		}
	}
}
