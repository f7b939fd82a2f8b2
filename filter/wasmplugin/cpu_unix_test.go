//go:build unix

package wasmplugin

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used (user and system, every
// thread): benchmarks report it per request beside wall time, which on a
// loaded machine counts time spent waiting for a core.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
