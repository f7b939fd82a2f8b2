// Package pgtest gives a test a Postgres database of its own with
// spendgate's schema (store/postgres's migrations) applied.
package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/store/postgres"
)

// Migrated creates a database for the test (testenv.Postgres, dropped when
// the test ends), migrates it and returns a pool closed when the test ends.
func Migrated(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	testenv.Must(t, postgres.Migrate(ctx, dsn), "migrate")
	pool, err := postgres.Open(ctx, dsn)
	testenv.Must(t, err, "open")
	t.Cleanup(pool.Close)
	return pool
}
