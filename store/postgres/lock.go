package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Advisory lock ids spendgate takes, listed in one place so two never
// collide. (goose's migration lock uses its own id.)
const (
	// LockClickHouseMigrations serializes ClickHouse migrations across the
	// spendgate processes sharing a control-plane database ("SGCH").
	LockClickHouseMigrations int64 = 0x5347_4348
)

// WithAdvisoryLock runs f while holding the session-level advisory lock id
// on one connection of pool, waiting for it as long as ctx allows. It lets
// processes that start together (api and ingest) do once what a store with
// no locks of its own (ClickHouse) cannot serialize. The lock is released
// when f returns, even when ctx was cancelled meanwhile.
func WithAdvisoryLock(ctx context.Context, pool *pgxpool.Pool, id int64, f func(context.Context) error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: advisory lock %#x: %w", id, err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", id); err != nil {
		return fmt.Errorf("postgres: advisory lock %#x: %w", id, err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", id) //nolint:errcheck // the session ends with the conn anyway
	return f(ctx)
}
