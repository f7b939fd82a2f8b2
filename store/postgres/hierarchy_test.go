package postgres

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/spendgate/spendgate/internal/testenv"
)

// hierarchyVersion is the migration that adds the organisation tree.
const hierarchyVersion = 20261204220000

// TestHierarchyMigrationKeepsExistingData migrates a database holding data of
// every kind the hierarchy touches (members, keys, budgets of the old scopes
// and periods, counters), then applies the hierarchy migration: every row
// stays as it was, keys have no project, budgets no rollover, and the new
// scopes, periods and the member role are accepted. Down undoes it.
func TestHierarchyMigrationKeepsExistingData(t *testing.T) {
	dsn := testenv.Postgres(t)
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(dsn)
	testenv.Must(t, err, "dsn")
	db := stdlib.OpenDB(*cfg.ConnConfig)
	defer db.Close()
	testenv.Must(t, migrateDB(ctx, db, goose.WithExcludeVersions(versionsFrom(t, hierarchyVersion))), "migrate to before the hierarchy")
	pool, err := Open(ctx, dsn)
	testenv.Must(t, err, "open")
	defer pool.Close()
	var tenant, user, key string
	testenv.Must(t, pool.QueryRow(ctx, `INSERT INTO tenants (name, slug) VALUES ('Acme', 'acme') RETURNING id::text`).Scan(&tenant), "tenant")
	testenv.Must(t, pool.QueryRow(ctx, `INSERT INTO users (email, password_hash) VALUES ('ann@example.com', 'x') RETURNING id::text`).Scan(&user), "user")
	_, err = pool.Exec(ctx, `INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, 'admin')`, tenant, user)
	testenv.Must(t, err, "membership")
	testenv.Must(t, pool.QueryRow(ctx, `INSERT INTO api_keys (tenant_id, name, prefix, secret_hash, default_dimensions) VALUES ($1, 'k', 'pfx1', '\x00', '{"team":"payments"}')
		RETURNING id::text`, tenant).Scan(&key), "key")
	_, err = pool.Exec(ctx, `INSERT INTO budgets (tenant_id, name, scope, key_id, dimension_name, dimension_value, period, amount_nano_usd, hard) VALUES
		($1, 'tenant', 'tenant', NULL, NULL, NULL, 'month', 100, true),
		($1, 'key', 'key', $2, NULL, NULL, 'day', 10, false),
		($1, 'team', 'dimension', NULL, 'team', 'payments', 'week', 50, true)`, tenant, key)
	testenv.Must(t, err, "budgets")
	_, err = pool.Exec(ctx, `INSERT INTO budget_spend (budget_id, period_start, period_end, spent_nano_usd)
		SELECT id, date_trunc('month', now()), date_trunc('month', now()) + interval '1 month', 42 FROM budgets WHERE name = 'tenant'`)
	testenv.Must(t, err, "counter")
	snapshot := func() string {
		var s string
		testenv.Must(t, pool.QueryRow(ctx, `SELECT string_agg(concat_ws('|', name, scope, key_id, dimension_name, dimension_value, period, amount_nano_usd, hard), ';' ORDER BY name)
			FROM budgets`).Scan(&s), "budgets snapshot")
		var k, m string
		testenv.Must(t, pool.QueryRow(ctx, `SELECT concat_ws('|', id, name, prefix, status, default_dimensions::text) FROM api_keys`).Scan(&k), "keys snapshot")
		testenv.Must(t, pool.QueryRow(ctx, `SELECT concat_ws('|', tenant_id, user_id, role) FROM memberships`).Scan(&m), "members snapshot")
		return s + "\n" + k + "\n" + m
	}
	before := snapshot()

	testenv.Must(t, Migrate(ctx, dsn), "apply the hierarchy migration")
	if after := snapshot(); after != before {
		t.Fatalf("existing rows changed:\n before %s\n after  %s", before, after)
	}
	var projects, rollovers, carried int
	testenv.Must(t, pool.QueryRow(ctx, `SELECT count(project_id) FROM api_keys`).Scan(&projects), "key projects")
	testenv.Must(t, pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE rollover) FROM budgets`).Scan(&rollovers), "rollovers")
	testenv.Must(t, pool.QueryRow(ctx, `SELECT sum(carried_nano_usd) FROM budget_spend`).Scan(&carried), "carried")
	if projects != 0 || rollovers != 0 || carried != 0 {
		t.Fatalf("defaults after migration: %d keys in projects, %d rollover budgets, %d carried", projects, rollovers, carried)
	}
	// What the migration allows now, and what it still refuses.
	var ws, team string
	testenv.Must(t, pool.QueryRow(ctx, `INSERT INTO workspaces (tenant_id, name) VALUES ($1, 'prod') RETURNING id::text`, tenant).Scan(&ws), "workspace")
	testenv.Must(t, pool.QueryRow(ctx, `INSERT INTO teams (tenant_id, workspace_id, name) VALUES ($1, $2, 'pay') RETURNING id::text`, tenant, ws).Scan(&team), "team")
	_, err = pool.Exec(ctx, `INSERT INTO budgets (tenant_id, name, scope, team_id, period, amount_nano_usd, rollover) VALUES ($1, 'q', 'team', $2, 'quarter', 1, true)`, tenant, team)
	testenv.Must(t, err, "a quarterly team budget")
	_, err = pool.Exec(ctx, `UPDATE memberships SET role = 'member'`)
	testenv.Must(t, err, "the member role")
	var other string
	testenv.Must(t, pool.QueryRow(ctx, `INSERT INTO tenants (name, slug) VALUES ('Other', 'other') RETURNING id::text`).Scan(&other), "other tenant")
	if _, err := pool.Exec(ctx, `INSERT INTO teams (tenant_id, workspace_id, name) VALUES ($1, $2, 'stolen')`, other, ws); err == nil {
		t.Fatal("a team under another tenant's workspace was accepted")
	}
	if _, err := pool.Exec(ctx, `INSERT INTO budgets (tenant_id, name, scope, period, amount_nano_usd) VALUES ($1, 'x', 'team', 'month', 1)`, tenant); err == nil {
		t.Fatal("a team budget without a team was accepted")
	}

	// Down: the new objects go (with budgets of the new scopes and members
	// whose only rights were grants), the old rows stay.
	p, err := goose.NewProvider(goose.DialectPostgres, db, mustSub(t), goose.WithAllowOutofOrder(true))
	testenv.Must(t, err, "provider")
	_, err = p.DownTo(ctx, hierarchyVersion-1)
	testenv.Must(t, err, "down")
	var n int
	testenv.Must(t, pool.QueryRow(ctx, `SELECT count(*) FROM budgets`).Scan(&n), "budgets after down")
	if n != 3 {
		t.Fatalf("%d budgets after down, want the 3 old ones", n)
	}
}

// versionsFrom lists the embedded migrations numbered v or later: the
// hierarchy's and those built on it (the IdP role grants alter its tables).
func versionsFrom(t *testing.T, v int64) []int64 {
	t.Helper()
	files, err := migrations.ReadDir("migrations")
	testenv.Must(t, err, "list migrations")
	var out []int64
	for _, f := range files {
		n, err := strconv.ParseInt(strings.SplitN(f.Name(), "_", 2)[0], 10, 64)
		testenv.Must(t, err, "migration number of "+f.Name())
		if n >= v {
			out = append(out, n)
		}
	}
	return out
}
