package main

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// The gateway answers its liveness probe itself and hands every other
// request, /healthz posted or odd paths included, to the proxy unchanged.
func TestWithHealth(t *testing.T) {
	var got []string
	h := withHealth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path)
		w.WriteHeader(http.StatusTeapot)
	}))
	for req, want := range map[[2]string]int{
		{"GET", "/healthz"}: 200, {"HEAD", "/healthz"}: 200, {"POST", "/healthz"}: http.StatusTeapot,
		{"POST", "/v1/openai//chat/completions"}: http.StatusTeapot, {"GET", "/healthz/x"}: http.StatusTeapot,
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(req[0], req[1], http.NoBody))
		if rec.Code != want {
			t.Errorf("%s %s: %d, want %d", req[0], req[1], rec.Code, want)
		}
		if want == 200 && rec.Body.String() != `{"status":"ok"}` && req[0] == "GET" {
			t.Errorf("%s %s: body %q", req[0], req[1], rec.Body)
		}
	}
	if len(got) != 3 || !slices.Contains(got, "POST /v1/openai//chat/completions") {
		t.Errorf("passed through: %v", got)
	}
}

// spendgate health exits non-zero unless the endpoint answers 200.
func TestHealthCommand(t *testing.T) {
	ok := httptest.NewServer(withHealth(http.NotFoundHandler()))
	defer ok.Close()
	ctx := t.Context()
	if err := runHealth(ctx, []string{"--url", ok.URL + "/healthz"}); err != nil {
		t.Errorf("healthy: %v", err)
	}
	if err := runHealth(ctx, []string{"--url", ok.URL + "/nothing"}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: %v", err)
	}
	ok.Close()
	if err := runHealth(ctx, []string{"--url", ok.URL + "/healthz", "--timeout", "1s"}); err == nil {
		t.Error("a closed server was healthy")
	}
}
