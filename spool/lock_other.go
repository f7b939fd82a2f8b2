//go:build !unix

package spool

import (
	"io"
	"os"
)

// lockDir only creates the lock file where flock is missing: one process
// per spool directory is then the operator's to ensure.
func lockDir(path string) (io.Closer, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}
