package main

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/store/postgres"
)

// missingDatabase returns the DSN of a database that does not exist yet and
// drops it when the test ends.
func missingDatabase(t *testing.T) string {
	t.Helper()
	testenv.Require(t, "postgres")
	name := testenv.UniqueName("sgtest")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, testenv.PostgresAdminDSN()); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = c.Close(ctx)
		}
	})
	u, err := url.Parse(testenv.PostgresAdminDSN())
	testenv.Must(t, err, "admin DSN")
	u.Path = "/" + name
	return u.String()
}

// TestMigrateCommandCreatesAndMigrates: `spendgate migrate` on a fresh server
// creates the database, applies every migration, and can run again.
func TestMigrateCommandCreatesAndMigrates(t *testing.T) {
	dsn := missingDatabase(t)
	ctx := context.Background()
	t.Setenv("SPENDGATE_POSTGRES_DSN", dsn) // configuration from the environment
	testenv.Must(t, runMigrate(ctx, nil), "migrate")
	testenv.Must(t, runMigrate(ctx, []string{"--postgres-dsn", dsn}), "migrate again")
	pool, err := postgres.Open(ctx, dsn)
	testenv.Must(t, err, "open")
	defer pool.Close()
	for _, table := range []string{"tenants", "users", "memberships", "api_keys", "budgets", "pricing_overrides", "audit_log"} {
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Errorf("table %s after spendgate migrate: %v", table, err)
		}
	}
}

// TestUsersCreateOwnerCommand: the bootstrap command creates the database,
// the tenant and its owner, who can then sign in and manage the tenant.
func TestUsersCreateOwnerCommand(t *testing.T) {
	dsn := missingDatabase(t)
	ctx := context.Background()
	t.Setenv("SPENDGATE_PASSWORD", "first-owner-pw") // keeps the password out of the process list
	t.Setenv("SPENDGATE_JWT_SECRET", strings.Repeat("j", 32))
	t.Setenv("SPENDGATE_KEY_PEPPER", strings.Repeat("p", 16))
	testenv.Must(t, runUsers(ctx, []string{"create-owner", "--postgres-dsn", dsn, "--email", "Owner@Example.com", "--tenant-name", "Acme Corp"}), "create-owner")

	pool, err := postgres.Open(ctx, dsn)
	testenv.Must(t, err, "open")
	defer pool.Close()
	tokens, err := auth.NewTokens([]byte(strings.Repeat("j", 32)))
	testenv.Must(t, err, "tokens")
	cp, err := controlplane.New(pool, []byte(strings.Repeat("p", 16)), tokens, slog.New(slog.NewTextHandler(io.Discard, nil)))
	testenv.Must(t, err, "controlplane")
	sess, err := cp.SignIn(ctx, "owner@example.com", "first-owner-pw")
	testenv.Must(t, err, "sign in as the new owner")
	actx := auth.WithPrincipal(ctx, auth.Principal{UserID: sess.User.ID, Email: sess.User.Email})
	ts, err := cp.Tenants(actx)
	testenv.Must(t, err, "tenants")
	if len(ts) != 1 || ts[0].Name != "Acme Corp" || ts[0].Slug != "acme-corp" || ts[0].Role != controlplane.RoleOwner {
		t.Fatalf("tenants of the new owner: %+v", ts)
	}
	if _, err := cp.CreateAPIKey(actx, ts[0].ID, "first key", controlplane.KeyPolicy{}, nil, nil); err != nil {
		t.Fatalf("the owner cannot manage the tenant: %v", err)
	}

	// Bad invocations say what is wrong.
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"no subcommand":   {nil, "usage: spendgate users create-owner"},
		"unknown sub":     {[]string{"delete"}, "usage: spendgate users create-owner"},
		"missing email":   {[]string{"create-owner", "--postgres-dsn", dsn, "--tenant-name", "X"}, "--email, --password and --tenant-name are required"},
		"malformed email": {[]string{"create-owner", "--postgres-dsn", dsn, "--email", "owner.example.com", "--tenant-name", "X"}, "not a valid email"},
		"taken slug":      {[]string{"create-owner", "--postgres-dsn", dsn, "--email", "two@example.com", "--tenant-name", "Acme Corp"}, "already exists"},
	} {
		err := runUsers(ctx, c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, c.want)
		}
	}
}
