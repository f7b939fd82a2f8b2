package postgres

import (
	"context"
	"io/fs"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/spendgate/spendgate/internal/testenv"
)

var tables = []string{"tenants", "users", "memberships", "api_keys", "budgets", "pricing_overrides", "audit_log", "refresh_tokens", "budget_spend"}

func assertTables(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	for _, table := range tables {
		var n int
		if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Errorf("table %s: %v", table, err)
		}
	}
}

func TestMigrateFromEmptyTwiceAndConcurrently(t *testing.T) {
	dsn := testenv.Postgres(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = Migrate(ctx, dsn)
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := Migrate(ctx, dsn); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	pool, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	assertTables(t, pool)
	// Every embedded migration is recorded as applied, once.
	files, err := migrations.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var applied int
	if err := pool.QueryRow(ctx, `SELECT count(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0 AND is_applied`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != len(files) {
		t.Fatalf("%d migrations recorded, %d embedded", applied, len(files))
	}
}

// TestMigrateOutOfOrder: a migration numbered below one already applied (each
// area numbers its own range) is applied, not refused.
func TestMigrateOutOfOrder(t *testing.T) {
	dsn := testenv.Postgres(t)
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(dsn)
	testenv.Must(t, err, "dsn")
	db := stdlib.OpenDB(*cfg.ConnConfig)
	defer db.Close()
	// As if 00300 had landed after the later ones were deployed (one that
	// no later migration depends on: 00002's refresh_tokens is altered by
	// the SSO migration), together with the one later migration that alters
	// its table.
	testenv.Must(t, migrateDB(ctx, db, goose.WithExcludeVersions([]int64{300, 20261205005000})), "migrate without 00300")
	pool, err := Open(ctx, dsn)
	testenv.Must(t, err, "open")
	defer pool.Close()
	var exists bool
	testenv.Must(t, pool.QueryRow(ctx, `SELECT to_regclass('scheduled_jobs') IS NOT NULL`).Scan(&exists), "regclass")
	if exists {
		t.Fatal("the excluded migration ran")
	}
	testenv.Must(t, Migrate(ctx, dsn), "migrate with the late file")
	assertTables(t, pool)
}

// TestMigrateDownAndUpAgain: every Down section undoes its Up, so an operator
// can roll back a release.
func TestMigrateDownAndUpAgain(t *testing.T) {
	dsn := testenv.Postgres(t)
	ctx := context.Background()
	testenv.Must(t, Migrate(ctx, dsn), "up")
	cfg, err := pgxpool.ParseConfig(dsn)
	testenv.Must(t, err, "dsn")
	db := stdlib.OpenDB(*cfg.ConnConfig)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, mustSub(t))
	testenv.Must(t, err, "provider")
	_, err = p.DownTo(ctx, 0)
	testenv.Must(t, err, "down to 0")
	pool, err := Open(ctx, dsn)
	testenv.Must(t, err, "open")
	defer pool.Close()
	var left int
	testenv.Must(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'goose_db_version'`).Scan(&left), "count tables")
	if left != 0 {
		t.Fatalf("%d tables left after migrating down", left)
	}
	testenv.Must(t, Migrate(ctx, dsn), "up again")
	assertTables(t, pool)
}

func mustSub(t *testing.T) fs.FS {
	t.Helper()
	sub, err := migrationFS()
	testenv.Must(t, err, "migrations")
	return sub
}
