package ingest

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/spendgate/spendgate/requestid"
)

// The receiver's error answers carry the request id its listener gave the
// request, as the X-Request-Id header does.
func TestReceiverErrorsCarryTheRequestID(t *testing.T) {
	t.Parallel()
	r := NewReceiver(Config{ServiceToken: "svc", MaxBodyBytes: 1 << 20, MaxEvents: 10}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(requestid.Middleware(r))
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(`{"events":[]}`))
	req.Header.Set(requestid.Header, "batch-7")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 401 || res.Header.Get(requestid.Header) != "batch-7" || !strings.Contains(string(body), `"request_id":"batch-7"`) {
		t.Fatalf("%d %q %s", res.StatusCode, res.Header.Get(requestid.Header), body)
	}
	// Without one (or with an unusable one) a fresh id is made.
	req, _ = http.NewRequest("POST", srv.URL, strings.NewReader(`{}`))
	req.Header.Set(requestid.Header, "has spaces")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if id := res.Header.Get(requestid.Header); len(id) != 32 || id == "has spaces" {
		t.Fatalf("generated id %q", id)
	}
}
