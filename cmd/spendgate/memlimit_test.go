package main

import (
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "1": 1, "512MiB": 512 << 20, "2GiB": 2 << 30, "10KiB": 10 << 10, "7B": 7, "1TiB": 1 << 40, "3 GiB": 3 << 30} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "-1MiB", "1.5GiB", "12MB", "GiB", "lots", "9999999999TiB"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) accepted", in)
		}
	}
}

// --memory-limit sets the runtime's soft limit; a bad value is refused by
// the flag with the accepted forms named.
func TestMemoryLimitFlag(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)
	fs := newFlagSet("test")
	var m memoryLimit
	fs.Var(&m, "memory-limit", "")
	if err := fs.Parse([]string{"--memory-limit", "1.5G"}); err == nil || !strings.Contains(err.Error(), "GiB") {
		t.Fatalf("bad size: %v", err)
	}
	if err := fs.Parse([]string{"--memory-limit", "300MiB"}); err != nil {
		t.Fatal(err)
	}
	if got := m.apply(slog.New(slog.NewTextHandler(io.Discard, nil))); got != 300<<20 || debug.SetMemoryLimit(-1) != 300<<20 {
		t.Fatalf("limit %d, runtime %d", got, debug.SetMemoryLimit(-1))
	}
	t.Setenv("GOMEMLIMIT", "")
	none := memoryLimit{}
	if got := none.apply(slog.New(slog.NewTextHandler(io.Discard, nil))); got <= 0 { // a cgroup share or math.MaxInt64 (none)
		t.Fatalf("default limit %d", got)
	}
}
