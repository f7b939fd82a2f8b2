package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // RFC 6238's default, what every authenticator app computes
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"image/png"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp"
)

// TOTP (RFC 6238) as authenticator apps compute it: HMAC-SHA-1, 6 digits,
// 30-second steps. Codes of the step before and after the current one are
// accepted too (clocks drift); the caller refuses a step at or below the
// last one used, so a code works once.
const (
	TOTPPeriod = 30 * time.Second
	TOTPDigits = 6
	totpSkew   = 1
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTPSecret returns a random 160-bit seed, base32 as apps expect it.
func NewTOTPSecret() (string, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("totp secret: %w", err)
	}
	return b32.EncodeToString(b), nil
}

// TOTPStep is the step number of t.
func TOTPStep(t time.Time) int64 { return t.Unix() / int64(TOTPPeriod/time.Second) }

// HOTP is RFC 4226's code of counter for key, with digits digits.
func HOTP(key []byte, counter int64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// TOTPCode is the 6-digit code of secret (base32) at t.
func TOTPCode(secret string, t time.Time) (string, error) {
	key, err := decodeTOTPSecret(secret)
	if err != nil {
		return "", err
	}
	return HOTP(key, TOTPStep(t), TOTPDigits), nil
}

// MatchTOTP returns the step whose code is code, among the steps around t,
// and whether one matched. Comparisons take constant time.
func MatchTOTP(secret, code string, t time.Time) (int64, bool) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	key, err := decodeTOTPSecret(secret)
	if err != nil || len(code) != TOTPDigits {
		return 0, false
	}
	now := TOTPStep(t)
	var found int64
	ok := false
	for d := -totpSkew; d <= totpSkew; d++ {
		want := HOTP(key, now+int64(d), TOTPDigits)
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && !ok {
			found, ok = now+int64(d), true
		}
	}
	return found, ok
}

func decodeTOTPSecret(s string) ([]byte, error) {
	key, err := b32.DecodeString(strings.ToUpper(strings.TrimRight(s, "=")))
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("totp secret is not base32")
	}
	return key, nil
}

// TOTPURI is the otpauth:// URI authenticator apps scan: issuer and the
// account (email) label the entry.
func TOTPURI(issuer, account, secret string) string {
	v := url.Values{}
	v.Set("secret", secret)
	v.Set("issuer", issuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", fmt.Sprint(TOTPDigits))
	v.Set("period", fmt.Sprint(int(TOTPPeriod/time.Second)))
	return "otpauth://totp/" + url.PathEscape(issuer+":"+account) + "?" + v.Encode()
}

// TOTPQRCode renders an otpauth URI as a PNG QR code in a data: URL, for an
// <img> of the portal.
func TOTPQRCode(uri string) (string, error) {
	k, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return "", fmt.Errorf("totp qr: %w", err)
	}
	img, err := k.Image(240, 240)
	if err != nil {
		return "", fmt.Errorf("totp qr: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", fmt.Errorf("totp qr: %w", err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// NewRecoveryCodes returns n single-use recovery codes (xxxxx-xxxxx, 50
// random bits each) and their stored hashes. The codes carry enough entropy
// that a plain SHA-256 is the right stored form (no slow hash needed).
func NewRecoveryCodes(n int) (codes []string, hashes [][]byte, err error) {
	enc := base32.NewEncoding("abcdefghijkmnpqrstuvwxyz23456789").WithPadding(base32.NoPadding)
	for range n {
		b := make([]byte, 7)
		if _, err := rand.Read(b); err != nil {
			return nil, nil, fmt.Errorf("recovery codes: %w", err)
		}
		s := enc.EncodeToString(b)[:10]
		code := s[:5] + "-" + s[5:]
		codes = append(codes, code)
		hashes = append(hashes, HashRecoveryCode(code))
	}
	return codes, hashes, nil
}

// HashRecoveryCode is a recovery code's stored form; case, spaces and the
// dash are ignored so a code typed from paper matches.
func HashRecoveryCode(code string) []byte {
	c := strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(code)))
	s := sha256.Sum256([]byte("spendgate-recovery\x00" + c))
	return s[:]
}
