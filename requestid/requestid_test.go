package requestid

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{
		"abc-123":                          true,
		"0af7651916cd43dd8448eb211c80319c": true,
		"":                                 false,
		"has space":                        false,
		"tab\tinside":                      false,
		"non-ascii-é":                      false,
		strings.Repeat("a", MaxLen):        true,
		strings.Repeat("a", MaxLen+1):      false,
	} {
		if Valid(id) != want {
			t.Errorf("Valid(%q) = %v", id, !want)
		}
	}
}

// The middleware keeps a usable id, replaces an unusable one, and puts the
// id on the request (for a proxy to forward), the response and the context.
func TestMiddleware(t *testing.T) {
	t.Parallel()
	var seenHeader, seenCtx string
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenHeader, seenCtx = r.Header.Get(Header), From(r.Context())
	}))
	for sent, keep := range map[string]bool{"caller-1": true, "": false, strings.Repeat("x", 200): false} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/", nil)
		if sent != "" {
			req.Header.Set(Header, sent)
		}
		h.ServeHTTP(rec, req)
		got := rec.Header().Get(Header)
		if (got == sent) != keep || !Valid(got) || seenHeader != got || seenCtx != got {
			t.Errorf("sent %q: answered %q, request header %q, context %q", sent, got, seenHeader, seenCtx)
		}
	}
}
