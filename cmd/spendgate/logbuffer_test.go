package main

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/internal/testenv"
)

// Info lines wait for the flush timer (or an explicit flush); a warning
// goes out at once and takes the lines before it along, in order.
func TestLogBuffer(t *testing.T) {
	var out testenv.LogBuffer
	buf := newLogBuffer(&out, time.Hour) // the timer never fires within the test
	log := slog.New(flushHandler{slog.NewTextHandler(buf, nil), buf}).With("svc", "t")
	log.Info("access one")
	log.Info("access two")
	if got := out.String(); got != "" {
		t.Fatalf("info lines written before a flush: %q", got)
	}
	log.Warn("something is wrong")
	got := out.String()
	one, two, warn := strings.Index(got, "access one"), strings.Index(got, "access two"), strings.Index(got, "something is wrong")
	if one < 0 || two < one || warn < two || !strings.Contains(got, "svc=t") {
		t.Fatalf("after a warning: %q", got)
	}
	log.Info("access three")
	if err := (flushHandler{nil, buf}).Flush(); err != nil || !strings.Contains(out.String(), "access three") {
		t.Fatalf("explicit flush: %v %q", err, out.String())
	}

	var timed testenv.LogBuffer
	tb := newLogBuffer(&timed, 10*time.Millisecond)
	slog.New(flushHandler{slog.NewTextHandler(tb, nil), tb}).Info("late line")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(timed.String(), "late line") {
		if time.Now().After(deadline) {
			t.Fatal("the flush timer did not write the line")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
