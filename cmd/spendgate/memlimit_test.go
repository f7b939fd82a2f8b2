package main

import (
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/spendgate/spendgate/config"
)

// --memory-limit sets the runtime's soft limit; a bad value is refused by
// the flag with the accepted forms named.
func TestMemoryLimitFlag(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)
	fs := newFlagSet("test")
	var m config.MemoryLimit
	fs.Var(&m, "memory-limit", "")
	if err := fs.Parse([]string{"--memory-limit", "1.5G"}); err == nil || !strings.Contains(err.Error(), "GiB") {
		t.Fatalf("bad size: %v", err)
	}
	if err := fs.Parse([]string{"--memory-limit", "300MiB"}); err != nil {
		t.Fatal(err)
	}
	if got := applyMemoryLimit(&m, slog.New(slog.NewTextHandler(io.Discard, nil))); got != 300<<20 || debug.SetMemoryLimit(-1) != 300<<20 {
		t.Fatalf("limit %d, runtime %d", got, debug.SetMemoryLimit(-1))
	}
	t.Setenv("GOMEMLIMIT", "")
	none := config.MemoryLimit{}
	if got := applyMemoryLimit(&none, slog.New(slog.NewTextHandler(io.Discard, nil))); got <= 0 { // a cgroup share or math.MaxInt64 (none)
		t.Fatalf("default limit %d", got)
	}
}
