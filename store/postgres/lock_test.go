package postgres

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spendgate/spendgate/internal/testenv"
)

func TestWithAdvisoryLockSerializesHolders(t *testing.T) {
	ctx := context.Background()
	pool, err := Open(ctx, testenv.Postgres(t))
	testenv.Must(t, err, "open")
	defer pool.Close()
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			err := WithAdvisoryLock(ctx, pool, LockClickHouseMigrations, func(context.Context) error {
				n := inside.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(20 * time.Millisecond) // long enough for the others to try to get in
				inside.Add(-1)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("%d holders at once, want 1", most.Load())
	}
	// Released: taken again at once, and f's error is returned as is.
	sentinel := errors.New("f failed")
	if err := WithAdvisoryLock(ctx, pool, LockClickHouseMigrations, func(context.Context) error { return sentinel }); !errors.Is(err, sentinel) {
		t.Errorf("err = %v, want f's own error", err)
	}
}
