package postgres

import (
	"context"
	"sync"
	"testing"

	"github.com/spendgate/spendgate/internal/testenv"
)

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
	for _, table := range []string{"tenants", "users", "memberships", "api_keys", "budgets", "pricing_overrides", "audit_log", "refresh_tokens"} {
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Errorf("table %s: %v", table, err)
		}
	}
}
