package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/internal/testenv"
)

// `spendgate api` serves the management API, analytics from ClickHouse and
// dead letters from NATS; without them those answer "not available".
func TestAPICommand(t *testing.T) {
	dsn := missingDatabase(t)
	_, chDB := testenv.ClickHouse(t)
	nc, prefix := testenv.NATS(t)
	ctx := context.Background()
	testenv.Must(t, runUsers(ctx, []string{"create-owner", "--postgres-dsn", dsn, "--email", "api@example.com",
		"--password", "password-123", "--tenant-name", "API Co"}), "create owner")
	run := func(extra ...string) (url string, stop func()) {
		addr := freeAddr(t)
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- runAPI(ctx, append([]string{"--postgres-dsn", dsn, "--listen", addr}, extra...))
		}()
		url = "http://" + addr + "/query"
		testenv.WaitFor(t, 30*time.Second, "spendgate api listening", func() bool {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		return url, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("api stopped with %v", err)
			}
		}
	}
	signIn := func(url string) (token, tenant string) {
		var out struct {
			SignIn  struct{ AccessToken string }
			Tenants []struct{ ID string }
		}
		testenv.MustGraphQL(t, url, "", `mutation{signIn(email:"api@example.com",password:"password-123"){accessToken}}`, nil, &out)
		testenv.MustGraphQL(t, url, out.SignIn.AccessToken, `{tenants{id}}`, nil, &out)
		return out.SignIn.AccessToken, out.Tenants[0].ID
	}
	const q = `query($t:ID!){spendSummary(tenantId:$t,from:"2026-01-01T00:00:00Z",to:"2026-02-01T00:00:00Z"){requests}
		deadLetters(tenantId:$t){sequence}}`

	url, stop := run("--clickhouse-database", chDB, "--clickhouse-addr", testenv.ClickHouseAddr(), "--nats-url", nc.ConnectedUrl(), "--stream-prefix", prefix)
	token, tenant := signIn(url)
	var full struct {
		SpendSummary struct{ Requests int64 }
		DeadLetters  []struct{ Sequence string }
	}
	testenv.MustGraphQL(t, url, token, q, map[string]any{"t": tenant}, &full)
	if full.SpendSummary.Requests != 0 || full.DeadLetters == nil {
		t.Fatalf("answers %+v", full)
	}
	stop()

	url, stop = run("--clickhouse-addr", "", "--nats-url", "")
	defer stop()
	token, tenant = signIn(url)
	errs := testenv.GraphQL(t, url, token, q, map[string]any{"t": tenant}, nil)
	if len(errs) != 2 || !strings.Contains(errs[0].Message+errs[1].Message, "spend analytics are not available") {
		t.Fatalf("without ClickHouse and NATS: %+v", errs)
	}
	// Budgets live in Postgres: their status still answers.
	testenv.MustGraphQL(t, url, token, `query($t:ID!){budgetStatuses(tenantId:$t){spent}}`, map[string]any{"t": tenant}, nil)

	// /metrics is the metrics (not the portal's page), with the GraphQL
	// operations just made: the sign-in mutation, the queries, the errors.
	metrics := strings.TrimSuffix(url, "/query") + "/metrics"
	if n := scrapeValue(t, metrics, "spendgate_graphql_operation_duration_seconds", map[string]string{"type": "mutation", "result": "ok"}); n < 1 {
		t.Fatalf("signed-in mutations counted: %v", n)
	}
	if n := scrapeValue(t, metrics, "spendgate_graphql_operation_duration_seconds", map[string]string{"type": "query", "result": "error"}); n < 1 {
		t.Fatalf("failed queries counted: %v", n)
	}
}
