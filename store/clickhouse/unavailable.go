package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/spendgate/spendgate/spend"
)

// queryErr wraps a failed analytics query; an error that means ClickHouse
// could not answer also wraps spend.ErrUnavailable, so callers above the
// store tell "retry later" from a bad query without knowing the driver.
func queryErr(what string, err error) error {
	if Unavailable(err) {
		return fmt.Errorf("clickhouse: %s: %w: %w", what, spend.ErrUnavailable, err)
	}
	return fmt.Errorf("clickhouse: %s: %w", what, err)
}

// Unavailable reports whether err means ClickHouse could not be reached or
// did not answer in time (refused or reset connection, dial or pool
// timeout, a query timeout), as opposed to an error ClickHouse answered
// with. The same request may succeed when retried later.
func Unavailable(err error) bool {
	var ex *clickhouse.Exception
	var netErr net.Error
	var status *httpStatusError
	switch {
	case errors.As(err, &status):
		// A proxy or load balancer answered for a server it could not reach.
		return status.Status == 502 || status.Status == 503 || status.Status == 504
	case err == nil, errors.As(err, &ex), errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, clickhouse.ErrAcquireConnTimeout), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &netErr):
		return true
	}
	return false
}
