// Package auth signs people in: bcrypt password hashes, short-lived JWT access
// tokens (HS256) and opaque refresh tokens (stored hashed, rotated on use).
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// AccessTTL is how long an access token lives; RefreshTTL a refresh token.
const (
	AccessTTL  = 15 * time.Minute
	RefreshTTL = 30 * 24 * time.Hour
)

// ErrInvalidToken covers every way a token can be unusable.
var ErrInvalidToken = errors.New("invalid or expired token")

// HashPassword hashes a password with bcrypt. Passwords must be 8..72 bytes
// (bcrypt ignores bytes past 72, so longer ones are refused, not truncated).
func HashPassword(pw string) (string, error) {
	if len(pw) < 8 || len(pw) > 72 {
		return "", errors.New("password must be 8 to 72 bytes long")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	return string(h), err
}

// CheckPassword compares a password with its hash.
func CheckPassword(hash, pw string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// Claims of an access token. Version is the user's token version when the
// token was issued: changing the password bumps it, and a token of an older
// version is refused (by the control plane, which reads the current one).
type Claims struct {
	Email   string `json:"email"`
	Version int64  `json:"ver"`
	// SSOTenant is set on sessions opened through a tenant's identity
	// provider: such a session reaches that tenant only.
	SSOTenant string `json:"sso,omitempty"`
	jwt.RegisteredClaims
}

// Tokens issues and verifies access tokens.
type Tokens struct {
	secret []byte
	now    func() time.Time
	ttl    time.Duration
}

// NewTokens returns a token issuer; the secret must be at least 32 bytes.
func NewTokens(secret []byte) (*Tokens, error) {
	if len(secret) < 32 {
		return nil, errors.New("JWT secret must be at least 32 bytes")
	}
	return &Tokens{secret: secret, now: time.Now, ttl: AccessTTL}, nil
}

// SetAccessTTL changes how long access tokens issued from now on live
// (AccessTTL by default); tests of expiry use it.
func (t *Tokens) SetAccessTTL(d time.Duration) { t.ttl = d }

// Issue returns a signed access token for a user at token version version,
// and its expiry.
func (t *Tokens) Issue(userID, email string, version int64) (string, time.Time, error) {
	return t.IssueSSO(userID, email, version, "")
}

// IssueSSO is Issue for a session opened through ssoTenant's identity
// provider ("" for a password session).
func (t *Tokens) IssueSSO(userID, email string, version int64, ssoTenant string) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(t.ttl)
	c := Claims{Email: email, Version: version, SSOTenant: ssoTenant, RegisteredClaims: jwt.RegisteredClaims{
		Subject: userID, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp), Issuer: "spendgate",
	}}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	return s, exp, err
}

// Verify checks an access token's signature and expiry and returns whom it
// names. Whether its version is still current is the caller's check.
func (t *Tokens) Verify(token string) (Principal, error) {
	token = strings.TrimSpace(strings.TrimPrefix(token, "Bearer "))
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer("spendgate"), jwt.WithExpirationRequired(), jwt.WithTimeFunc(t.now))
	if err != nil || c.Subject == "" || c.ExpiresAt == nil {
		return Principal{}, ErrInvalidToken
	}
	return Principal{UserID: c.Subject, Email: c.Email, TokenVersion: c.Version, ExpiresAt: c.ExpiresAt.Time, SSOTenant: c.SSOTenant}, nil
}

// NewRefreshToken returns a random opaque refresh token and its stored hash.
func NewRefreshToken() (token string, hash []byte, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("refresh token: %w", err)
	}
	token = "sgr_" + base64.RawURLEncoding.EncodeToString(b)
	return token, HashRefreshToken(token), nil
}

// HashRefreshToken is the stored form of a refresh token.
func HashRefreshToken(token string) []byte {
	s := sha256.Sum256([]byte(token))
	return s[:]
}

type ctxKey struct{}

// Principal is the signed-in user of a request.
type Principal struct {
	UserID, Email string
	// TokenVersion and ExpiresAt come from the access token; a principal
	// made in-process (CLI, bootstrap) has neither: version 0, no expiry.
	TokenVersion int64
	ExpiresAt    time.Time
	// SSOTenant is the tenant whose identity provider opened the session
	// ("" for a password session); the session reaches that tenant only.
	SSOTenant string
}

// WithPrincipal stores the signed-in user in a context.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// PrincipalFrom returns the signed-in user, if any.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

type clientAddrKey struct{}

// WithClientAddr stores the client's network address (an IP, as the HTTP
// server determined it) in a context, for throttling and logs.
func WithClientAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

// ClientAddrFrom returns the client's address, "" for in-process callers.
func ClientAddrFrom(ctx context.Context) string {
	a, _ := ctx.Value(clientAddrKey{}).(string)
	return a
}
