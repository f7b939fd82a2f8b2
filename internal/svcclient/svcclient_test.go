package svcclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/spendgate/spendgate/internal/svcclient"
	"github.com/spendgate/spendgate/requestid"
)

func TestClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer svc" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"bad token"}`))
			return
		}
		if r.Header.Get("X-Spendgate-Key") != "" {
			_, _ = w.Write([]byte(r.Header.Get("X-Spendgate-Key")))
			return
		}
		_, _ = w.Write([]byte(strings.Repeat("x", 5000)))
	}))
	defer srv.Close()
	ctx := context.Background()

	c := svcclient.Client{Token: "svc", MaxAnswerBytes: 100}
	body, err := c.Expect(ctx, http.StatusOK, http.MethodGet, srv.URL, nil, [2]string{"x-spendgate-key", "k1"})
	if err != nil || string(body) != "k1" {
		t.Fatalf("header not sent: %q %v", body, err)
	}
	if body, err := c.Expect(ctx, http.StatusOK, http.MethodGet, srv.URL, nil); err != nil || len(body) != 100 {
		t.Fatalf("answer not bounded: %d bytes, %v", len(body), err)
	}

	wrong := svcclient.Client{Token: "nope"}
	_, err = wrong.Expect(ctx, http.StatusOK, http.MethodGet, srv.URL, nil)
	var se *svcclient.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusUnauthorized || !strings.Contains(err.Error(), "bad token") {
		t.Fatalf("wrong token: %v", err)
	}

	down := svcclient.Client{Token: "svc"}
	if _, err := down.Do(ctx, http.MethodGet, "http://127.0.0.1:1/", nil); err == nil {
		t.Fatal("no error from a closed port")
	}
}

// A request made while serving a call carries that call's request id, so the
// policy, priced and reservation look-ups show under it in the service's logs.
func TestClientForwardsTheRequestID(t *testing.T) {
	got := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get(requestid.Header)
	}))
	defer srv.Close()
	c := svcclient.Client{Token: "svc"}
	if _, err := c.Expect(requestid.With(context.Background(), "call-42"), http.StatusOK, http.MethodGet, srv.URL, nil); err != nil {
		t.Fatal(err)
	}
	if id := <-got; id != "call-42" {
		t.Errorf("request id %q, want call-42", id)
	}
	if _, err := c.Expect(context.Background(), http.StatusOK, http.MethodGet, srv.URL, nil); err != nil {
		t.Fatal(err)
	}
	if id := <-got; id != "" {
		t.Errorf("a request outside any call sent request id %q", id)
	}
}
