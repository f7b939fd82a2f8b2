// Package postgres opens the control plane's Postgres database and owns its
// schema: the connection pool, the embedded goose migrations (every area's,
// in migrations/) and the advisory locks processes sharing the database take
// (lock.go). The queries live with the packages that run them
// (controlplane, budget/pgstore, budget/service, reprice).
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects a pool and checks the connection.
func Open(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: bad DSN: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: cannot reach %s: %w", cfg.ConnConfig.Host, err)
	}
	return pool, nil
}

// Migrate applies every embedded migration not yet applied. Concurrent callers
// (two processes starting at once) serialise on a Postgres advisory lock.
//
// Each area numbers its migrations in its own range (control plane 00001+,
// budgets 00100+), so a lower-numbered file can land after a higher one was
// applied; goose is told to apply such out-of-order files instead of refusing
// to start.
func Migrate(ctx context.Context, dsn string) error {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("postgres: bad DSN: %w", err)
	}
	db := stdlib.OpenDB(*cfg.ConnConfig)
	defer db.Close()
	return migrateDB(ctx, db)
}

func migrateDB(ctx context.Context, db *sql.DB, opts ...goose.ProviderOption) error {
	sub, err := migrationFS()
	if err != nil {
		return err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	opts = append([]goose.ProviderOption{goose.WithSessionLocker(locker), goose.WithAllowOutofOrder(true)}, opts...)
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, opts...)
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

func migrationFS() (fs.FS, error) { return fs.Sub(migrations, "migrations") }
