package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/spendgate/spendgate/internal/testenv"
)

// docs/configuration.md is what `spendgate config docs` writes from the
// commands' flag sets (go generate ./... keeps it so; check-generated fails
// otherwise).
func TestConfigurationPageIsFresh(t *testing.T) {
	var out bytes.Buffer
	testenv.Must(t, configDocs(nil, &out), "config docs")
	page, err := os.ReadFile("../../docs/configuration.md")
	testenv.Must(t, err, "read the page")
	if !bytes.Equal(out.Bytes(), page) {
		t.Fatal("docs/configuration.md is stale: run go generate ./cmd/spendgate")
	}
	// Every flag of every long-running command is on the page, with its variable.
	for name, build := range configurable() {
		fs, _ := build()
		if !strings.Contains(out.String(), "## spendgate "+name+"\n") {
			t.Errorf("no section for %s", name)
		}
		n := 0
		fs.VisitAll(func(f *flag.Flag) {
			n++
			if !strings.Contains(out.String(), "| `--"+f.Name+"`") {
				t.Errorf("%s --%s is not on the page", name, f.Name)
			}
		})
		if n < 2 {
			t.Errorf("%s has %d flags", name, n)
		}
	}
}

// config check reads the flags and the environment as the command does and
// lists every problem; --connect names the service it cannot reach.
func TestConfigCheck(t *testing.T) {
	t.Setenv("SPENDGATE_SERVICE_TOKEN", "")
	ctx := context.Background()
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
		want []string // lines of the output; none: valid
	}{
		"valid gateway from the environment": {args: []string{"gateway"}, env: map[string]string{"SPENDGATE_SERVICE_TOKEN": "svc"}},
		"gateway without a token":            {args: []string{"gateway"}, want: []string{"gateway: 1 problem(s):", "--service-token (or SPENDGATE_SERVICE_TOKEN) is required"}},
		"a bad environment value names the variable": {args: []string{"ingest", "--service-token", "s"}, env: map[string]string{"SPENDGATE_PARTITIONS": "many"},
			want: []string{`SPENDGATE_PARTITIONS="many"`}},
		"every problem of ingest is listed": {args: []string{"ingest", "--service-token", "s", "--stream-replicas", "2", "--partitions", "2", "--consume-partitions", "7"},
			want: []string{"2 problem(s)", "--stream-replicas must be 1, 3 or 5", "--consume-partitions"}},
		"an unknown flag":                        {args: []string{"api", "--no-such-flag"}, want: []string{"flag provided but not defined: -no-such-flag"}},
		"api on every interface without secrets": {args: []string{"api", "--listen", ":8080"}, want: []string{"refusing to listen on :8080", "SPENDGATE_JWT_SECRET"}},
		"serve's defaults":                       {args: []string{"serve"}},
	} {
		t.Run(name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var out bytes.Buffer
			err := configCheck(ctx, tc.args, &out)
			if len(tc.want) == 0 {
				if err != nil || !strings.Contains(out.String(), "flags and environment are valid") {
					t.Fatalf("%v\n%s", err, out.String())
				}
				return
			}
			if !errors.Is(err, errConfigInvalid) {
				t.Fatalf("err %v, want errConfigInvalid\n%s", err, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
	if err := configCheck(ctx, []string{"users"}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "not a long-running command") {
		t.Errorf("users: %v", err)
	}
}

func TestConfigCheckConnect(t *testing.T) {
	dsn := testenv.Postgres(t)
	chAddr, chDB := testenv.ClickHouse(t)
	nc, _ := testenv.NATS(t)
	ctx := context.Background()
	base := []string{"--connect", "ingest", "--service-token", "s", "--postgres-dsn", dsn, "--nats-url", nc.ConnectedUrl(), "--clickhouse-database", chDB}

	var out bytes.Buffer
	if err := configCheck(ctx, append(base, "--clickhouse-addr", chAddr), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, w := range []string{"ok   postgres", "ok   nats       --nats-url", "JetStream enabled", "ok   clickhouse", "database " + chDB + " present, UTC",
		"ok   http       --clickhouse-http-addr http://127.0.0.1:8123/ping"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0") // a port nothing answers on once closed
	testenv.Must(t, err, "listen")
	dead := ln.Addr().String()
	ln.Close()
	out.Reset()
	err = configCheck(ctx, append([]string{"--timeout", "3s"}, append(base, "--clickhouse-addr", dead)...), &out)
	if err == nil || !strings.Contains(err.Error(), "cannot reach --clickhouse-addr") || !strings.Contains(out.String(), "FAIL clickhouse") ||
		!strings.Contains(out.String(), "ok   postgres") {
		t.Fatalf("ClickHouse down: %v\n%s", err, out.String())
	}

	// The writer's HTTP interface is checked too: ingest refuses to start without it.
	out.Reset()
	err = configCheck(ctx, append([]string{"--timeout", "3s"}, append(base, "--clickhouse-addr", chAddr, "--clickhouse-http-addr", dead)...), &out)
	if err == nil || !strings.Contains(err.Error(), "cannot reach --clickhouse-http-addr") || !strings.Contains(out.String(), "ok   clickhouse") {
		t.Fatalf("ClickHouse's HTTP interface down: %v\n%s", err, out.String())
	}

	// A password in the DSN is not printed; a database still to be created is fine.
	out.Reset()
	err = configCheck(ctx, []string{"--connect", "migrate", "--postgres-dsn", "postgres://postgres:hunter2@127.0.0.1:5432/sg_not_yet_created?sslmode=disable"}, &out)
	if err != nil || strings.Contains(out.String(), "hunter2") || !strings.Contains(out.String(), "will be created") {
		t.Fatalf("%v\n%s", err, out.String())
	}
}
