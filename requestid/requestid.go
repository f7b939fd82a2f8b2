// Package requestid gives every HTTP request spendgate serves an id: the
// caller's X-Request-Id when it sends a usable one, else a new one. The id
// is returned in the response's X-Request-Id, kept in the request's context
// for logs and error bodies, and, on the gateway, forwarded to the provider
// with the rest of the request's headers.
package requestid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// Header is the request and response header carrying the id.
const Header = "X-Request-Id"

// MaxLen bounds an accepted id: a longer one, or one with characters other
// than printable ASCII without spaces, is replaced (it would otherwise reach
// logs and headers verbatim).
const MaxLen = 128

type ctxKey struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// From returns the request id in ctx ("" when none).
func From(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// New returns a fresh id: 16 random bytes in hex.
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Valid reports whether a caller's id is kept: 1..MaxLen bytes of
// printable ASCII without spaces.
func Valid(id string) bool {
	if id == "" || len(id) > MaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// Middleware takes the caller's X-Request-Id (or makes one), sets it on the
// request (so a proxy forwards it) and on the response, and puts it in the
// request's context.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(Header)
		if !Valid(id) {
			id = New()
			r.Header.Set(Header, id)
		}
		w.Header().Set(Header, id)
		next.ServeHTTP(w, r.WithContext(With(r.Context(), id)))
	})
}
