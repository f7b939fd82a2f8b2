//go:build !linux

package supervise

import "os/exec"

// startAndWait needs Linux: a per-thread niceness to fork from and
// Pdeathsig.
func startAndWait(cmd *exec.Cmd, nice int, started, waited chan<- error) {
	started <- errUnsupported
}
