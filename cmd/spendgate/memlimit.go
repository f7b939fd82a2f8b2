package main

import (
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/spendgate/spendgate/config"
)

// applyMemoryLimit sets --memory-limit (config.MemoryLimit): the Go
// runtime's soft memory limit (debug.SetMemoryLimit), the GOMEMLIMIT setting
// under a flag. The garbage collector works harder as the heap nears it
// instead of letting it grow with the traffic — with NATS embedded,
// JetStream's dedup index is on the same heap.
//
// Precedence: the flag (or SPENDGATE_MEMORY_LIMIT); else GOMEMLIMIT, which
// the runtime has applied already; else 90 % of the cgroup's memory.max
// when the process runs in a memory-limited container; else none. It
// returns what it set (math.MaxInt64: none).
func applyMemoryLimit(m *config.MemoryLimit, log *slog.Logger) int64 {
	source := "--memory-limit"
	limit, _ := config.ParseBytes(m.Value) // validated by Set
	switch {
	case m.Value != "":
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
