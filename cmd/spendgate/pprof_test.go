package main

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/spendgate/spendgate/internal/testenv"
)

// Every command's flag set has --pprof-addr, off unless given; given, the
// profiling endpoints answer there (and only there: not on
// http.DefaultServeMux, which the product's listeners never use either).
func TestPprofFlagOnEveryCommand(t *testing.T) {
	t.Parallel()
	for name := range commands() {
		fs := newFlagSet(name)
		f := fs.Lookup(pprofFlag)
		if f == nil || f.DefValue != "" {
			t.Fatalf("spendgate %s: --pprof-addr missing or on by default", name)
		}
	}
	addr, err := startPprof("127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	testenv.Must(t, err, "pprof")
	res, err := http.Get("http://" + addr.String() + "/debug/pprof/goroutine?debug=1")
	testenv.Must(t, err, "GET goroutine profile")
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "goroutine profile:") {
		t.Fatalf("goroutine profile: %d %.200s", res.StatusCode, body)
	}
	if _, err := startPprof("not-an-address", slog.Default()); err == nil {
		t.Fatal("a bad --pprof-addr was accepted")
	}
}
