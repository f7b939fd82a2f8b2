package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"runtime/pprof"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/store/postgres"
)

// benchTenant is a control plane on a scratch Postgres database with one
// tenant and its signed-in owner, for the load benchmarks.
type benchTenant struct {
	name     string // scratch database name, also usable for ClickHouse
	pool     *pgxpool.Pool
	cp       *controlplane.Service
	tenantID string
	token    string          // the owner's access token
	actx     context.Context // ctx with the owner as principal
	quiet    *slog.Logger
	reused   bool // a kept database from an earlier run (openBenchTenant)
}

// newBenchTenant creates and migrates a scratch database through adminDSN;
// the returned function closes and drops it.
func newBenchTenant(ctx context.Context, adminDSN string) (*benchTenant, func(), error) {
	return openBenchTenant(ctx, adminDSN, "")
}

// openBenchTenant is newBenchTenant, or with keep set, the database called
// keep, kept when the bench ends: created with its tenant the first time,
// reused (migrated, owner signed in again) after. reused says which.
func openBenchTenant(ctx context.Context, adminDSN, keep string) (*benchTenant, func(), error) {
	b := &benchTenant{name: fmt.Sprintf("sgbench_%d", time.Now().UnixNano()), quiet: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if keep != "" {
		b.name = keep
	}
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return nil, nil, err
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", b.name).Scan(&exists); err != nil {
		conn.Close(ctx)
		return nil, nil, err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+b.name); err != nil {
			conn.Close(ctx)
			return nil, nil, err
		}
	}
	b.reused = exists
	cleanup := func() {
		if b.pool != nil {
			b.pool.Close()
		}
		if keep == "" {
			_, _ = conn.Exec(context.Background(), "DROP DATABASE "+b.name+" WITH (FORCE)")
		}
		conn.Close(context.Background())
	}
	fail := func(err error) (*benchTenant, func(), error) { cleanup(); return nil, nil, err }
	u, _ := url.Parse(adminDSN)
	u.Path = "/" + b.name
	dsn := u.String()
	if err := postgres.Migrate(ctx, dsn); err != nil {
		return fail(err)
	}
	if b.pool, err = postgres.Open(ctx, dsn); err != nil {
		return fail(err)
	}
	tokens, _ := auth.NewTokens([]byte(benchSecret))
	if b.cp, err = controlplane.New(b.pool, []byte(benchSecret), tokens, b.quiet); err != nil {
		return fail(err)
	}
	if !b.reused {
		if _, _, err := b.cp.CreateOwner(ctx, "bench@example.com", "password-123", "Bench", "bench"); err != nil {
			return fail(err)
		}
	}
	if err := b.pool.QueryRow(ctx, "SELECT id::text FROM tenants WHERE slug = 'bench'").Scan(&b.tenantID); err != nil {
		return fail(fmt.Errorf("the bench tenant in %s: %w", b.name, err))
	}
	if err := b.signIn(ctx); err != nil {
		return fail(err)
	}
	return b, cleanup, nil
}

// signIn signs the owner in (again: an access token lives 15 minutes, less
// than generating a large dataset takes).
func (b *benchTenant) signIn(ctx context.Context) error {
	sess, err := b.cp.SignIn(ctx, "bench@example.com", "password-123")
	if err != nil {
		return err
	}
	b.token = sess.AccessToken
	b.actx = auth.WithPrincipal(ctx, auth.Principal{UserID: sess.User.ID, Email: sess.User.Email})
	return nil
}

// latencies runs f warmup times untimed, then runs times, and returns the
// sorted durations.
func latencies(warmup, runs int, f func() error) ([]time.Duration, error) {
	return timedParts(warmup, runs, func() (time.Duration, error) {
		t0 := time.Now()
		err := f()
		return time.Since(t0), err
	})
}

// timedParts runs f warmup times, then runs times, and returns the sorted
// durations f reports: the part of its work it timed (a request up to its
// last byte, say, without the checks of the answer that follow).
func timedParts(warmup, runs int, f func() (time.Duration, error)) ([]time.Duration, error) {
	for range warmup {
		if _, err := f(); err != nil {
			return nil, err
		}
	}
	out := make([]time.Duration, 0, runs)
	for range runs {
		d, err := f()
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// pct is the q-th percentile of sorted durations.
func pct(d []time.Duration, q int) time.Duration { return d[min(len(d)-1, len(d)*q/100)] }

// startCPUProfile profiles the whole bench run into path; an empty path
// profiles nothing. The returned stop is always safe to call.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// benchSecret signs the scratch tenant's tokens and peppers its keys; the
// scratch database is dropped at the end of the run.
const benchSecret = "spendgate-bench-scratch-secret-0123456789"
