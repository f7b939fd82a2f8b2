package portal

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	t.Parallel()
	var asset string
	entries, err := fs.ReadDir(Assets(), "assets")
	if err != nil || len(entries) == 0 {
		t.Fatalf("no built assets embedded: %v", err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".js") {
			asset = "/assets/" + e.Name()
		}
	}
	if asset == "" {
		t.Fatal("no JS bundle in dist/assets")
	}
	h := Handler()
	tests := []struct {
		name, method, path string
		status             int
		cache, body        string
	}{
		{"root is index", "GET", "/", 200, "no-cache", `<div id="root">`},
		{"spa route falls back to index", "GET", "/keys/abc", 200, "no-cache", `<div id="root">`},
		{"index.html", "GET", "/index.html", 200, "no-cache", `<div id="root">`},
		{"hashed asset is immutable", "GET", asset, 200, "public, max-age=31536000, immutable", ""},
		{"missing asset is 404", "GET", "/assets/nope.js", 404, "", ""},
		{"missing file with extension is 404", "GET", "/favicon.ico", 404, "", ""},
		{"post refused", "POST", "/", 405, "", ""},
		{"traversal stays inside", "GET", "/../../etc/passwd", 200, "no-cache", `<div id="root">`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.status {
				t.Fatalf("%s %s: status %d, want %d", tc.method, tc.path, rec.Code, tc.status)
			}
			if got := rec.Header().Get("Cache-Control"); tc.cache != "" && got != tc.cache {
				t.Errorf("Cache-Control %q, want %q", got, tc.cache)
			}
			b, _ := io.ReadAll(rec.Body)
			if tc.body != "" && !strings.Contains(string(b), tc.body) {
				t.Errorf("body lacks %q: %.200s", tc.body, b)
			}
		})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/", nil))
	if rec.Code != 200 || rec.Body.Len() != 0 {
		t.Fatalf("HEAD /: %d with %d body bytes", rec.Code, rec.Body.Len())
	}
}
