package main

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimit is --memory-limit: the Go runtime's soft memory limit
// (debug.SetMemoryLimit), the GOMEMLIMIT setting under a flag. The garbage
// collector works harder as the heap nears it instead of letting it grow
// with the traffic — with NATS embedded, JetStream's dedup index is on the
// same heap.
//
// Precedence: the flag (or SPENDGATE_MEMORY_LIMIT); else GOMEMLIMIT, which
// the runtime has applied already; else 90 % of the cgroup's memory.max
// when the process runs in a memory-limited container; else none.
type memoryLimit struct{ value string }

func (m *memoryLimit) String() string     { return m.value }
func (m *memoryLimit) Set(v string) error { _, err := parseBytes(v); m.value = v; return err }

// apply sets the limit and returns what it set (math.MaxInt64: none).
func (m *memoryLimit) apply(log *slog.Logger) int64 {
	source := "--memory-limit"
	limit, _ := parseBytes(m.value) // validated by Set
	switch {
	case m.value != "":
	case os.Getenv("GOMEMLIMIT") != "":
		limit, source = debug.SetMemoryLimit(-1), "GOMEMLIMIT"
	default:
		if cg, ok := cgroupMemoryMax(); ok {
			limit, source = cg/10*9, "90% of the cgroup's memory.max"
		} else {
			limit = math.MaxInt64
		}
	}
	debug.SetMemoryLimit(limit)
	if limit != math.MaxInt64 {
		log.Info("memory limit", "bytes", limit, "from", source)
	}
	return limit
}

// cgroupMemoryMax reads cgroup v2's memory.max ("max" is no limit).
func cgroupMemoryMax() (int64, bool) {
	b, err := os.ReadFile("/sys/fs/cgroup/memory.max")
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil && n > 0
}

// parseBytes reads a size as GOMEMLIMIT writes it: a number of bytes with
// an optional B, KiB, MiB, GiB or TiB suffix; "" is no value.
func parseBytes(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	num, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size: a positive number of bytes with an optional B, KiB, MiB, GiB or TiB suffix", s)
	}
	if n > math.MaxInt64/mult {
		return 0, errors.New("size too large")
	}
	return n * mult, nil
}
