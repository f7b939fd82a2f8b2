//go:build unix

package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// lockDir takes an exclusive advisory lock on path, so two processes never
// append to and delete from one spool. The kernel releases it when the
// process dies, so a crash leaves no stale lock.
func lockDir(path string) (io.Closer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("spool: %s is in use by another process (give each process its own spool directory)", path)
		}
		return nil, fmt.Errorf("spool: locking %s: %w", path, err)
	}
	return f, nil
}
