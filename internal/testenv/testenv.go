// Package testenv gives tests real, isolated services: a fresh Postgres
// database, a JetStream server of their own, a fresh ClickHouse database. Each
// test gets its own, so tests run in parallel and never see each other's data.
//
// JetStream runs inside the test process (a nats-server per test, storing
// under t.TempDir()), so tests that need only NATS need nothing on the
// machine. The other services' addresses come from the environment with
// machine defaults:
//
//	SPENDGATE_TEST_POSTGRES    postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
//	SPENDGATE_TEST_CLICKHOUSE  127.0.0.1:9000
//	SPENDGATE_TEST_CLICKHOUSE_HTTP  127.0.0.1:8123
//	SPENDGATE_TEST_NATS        unset: an embedded server per test; set: that server instead
//	                           (NATSServer, for load tests: that or 127.0.0.1:4222)
//
// Tests come in two tiers. `make test` runs every test, and a missing service
// fails the test with a message saying how to start it; it never skips.
// `make test-unit` sets SPENDGATE_TEST_TIER=unit and runs only what needs no
// outside service: a test skips where it asks for one (Postgres, ClickHouse,
// Require).
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"

	"github.com/spendgate/spendgate/natsembed"
)

// TierEnv selects the test tier: "unit" skips tests that need an outside
// service; unset (or anything else) runs them all.
const TierEnv = "SPENDGATE_TEST_TIER"

// Unit reports whether this is the unit tier (make test-unit).
func Unit() bool { return os.Getenv(TierEnv) == "unit" }

// Require marks a test as needing outside services (postgres, clickhouse,
// chromium, node, the spendgate binary...): in the unit tier it skips the
// test; in the full tier it does nothing, and the service helpers fail the
// test when a service is missing. Postgres, ClickHouse, Binary and StartServe
// call it themselves.
func Require(t testing.TB, services ...string) {
	t.Helper()
	if Unit() {
		t.Skipf("needs %s: not in the unit tier (make test runs it)", strings.Join(services, ", "))
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// UniqueName returns prefix_<random hex>, safe as a database or stream name.
func UniqueName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// PostgresAdminDSN is the DSN of the server's maintenance database.
func PostgresAdminDSN() string {
	return env("SPENDGATE_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
}

// Postgres creates an empty database for this test and returns its DSN. The
// database is dropped when the test ends.
func Postgres(t testing.TB) string {
	t.Helper()
	Require(t, "postgres")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	admin := PostgresAdminDSN()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("testenv: Postgres not reachable at %s: %v (start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)", admin, err)
	}
	defer conn.Close(ctx)
	name := UniqueName("sgtest")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("testenv: drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("testenv: drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("testenv: parse %s: %v", admin, err)
	}
	u.Path = "/" + name
	return u.String()
}

// JetStream returns the URL of a NATS server with JetStream for this test:
// by default one started inside the test process on a random port, storing
// under t.TempDir() and shut down when the test ends, as nats-server's own
// tests do; with SPENDGATE_TEST_NATS set, that server (shared: use a
// unique prefix, as NATS does).
func JetStream(t testing.TB) string {
	t.Helper()
	if url := os.Getenv("SPENDGATE_TEST_NATS"); url != "" {
		return url
	}
	ns, url, err := natsembed.Start(t.TempDir())
	if err != nil {
		t.Fatalf("testenv: embedded NATS: %v", err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return url
}

// NATS connects to a JetStream server for this test (JetStream) and returns
// the connection and a unique prefix the test must use for its stream,
// consumer and subject names. The server's URL, for other clients or a
// command under test, is nc.ConnectedUrl().
func NATS(t testing.TB) (*nats.Conn, string) {
	t.Helper()
	return connectNATS(t, JetStream(t))
}

// NATSServer is NATS on the machine's nats-server, in a process of its own
// as deployed (SPENDGATE_TEST_NATS, or 127.0.0.1:4222; make services starts
// it), for load tests whose deadlines an in-process server sharing the
// test's cores would miss. Not in the unit tier.
func NATSServer(t testing.TB) (*nats.Conn, string) {
	t.Helper()
	Require(t, "nats-server")
	return connectNATS(t, env("SPENDGATE_TEST_NATS", nats.DefaultURL))
}

// connectNATS connects to url for the test. Streams whose names start with
// the returned prefix are deleted when the test ends (on a shared server).
func connectNATS(t testing.TB, url string) (*nats.Conn, string) {
	t.Helper()
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("testenv: NATS not reachable at %s: %v (start it: make services)", url, err)
	}
	prefix := strings.ToUpper(UniqueName("SGT"))
	t.Cleanup(func() {
		defer nc.Close()
		js, err := nc.JetStream()
		if err != nil {
			return
		}
		for name := range js.StreamNames() {
			if strings.HasPrefix(name, prefix) {
				_ = js.DeleteStream(name)
			}
		}
	})
	return nc, prefix
}

// ClickHouseAddr is the native-protocol address of the test ClickHouse server.
func ClickHouseAddr() string { return env("SPENDGATE_TEST_CLICKHOUSE", "127.0.0.1:9000") }

// ClickHouse creates an empty database for this test and returns the server
// address and the database name. The database is dropped when the test ends.
func ClickHouse(t testing.TB) (addr, database string) {
	t.Helper()
	Require(t, "clickhouse")
	addr = ClickHouseAddr()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, DialTimeout: 5 * time.Second})
	if err == nil {
		err = conn.Ping(ctx)
	}
	if err != nil {
		t.Fatalf("testenv: ClickHouse not reachable at %s: %v (start it: make clickhouse)", addr, err)
	}
	database = UniqueName("sgtest")
	if err := conn.Exec(ctx, "CREATE DATABASE "+database); err != nil {
		t.Fatalf("testenv: create ClickHouse database %s: %v", database, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+database); err != nil {
			t.Logf("testenv: drop ClickHouse database %s: %v", database, err)
		}
		_ = conn.Close()
	})
	return addr, database
}

// WaitFor polls cond every 20ms until it returns true or the timeout passes.
// Tests use it instead of sleeping.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Must fails the test on a non-nil error.
func Must(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatal(fmt.Errorf("%s: %w", what, err))
	}
}

// ClickHouseHTTPAddr is the HTTP address of the same test ClickHouse server
// (SPENDGATE_TEST_CLICKHOUSE_HTTP, default 127.0.0.1:8123).
func ClickHouseHTTPAddr() string { return env("SPENDGATE_TEST_CLICKHOUSE_HTTP", "127.0.0.1:8123") }
