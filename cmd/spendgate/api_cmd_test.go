package main

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/internal/metricstest"
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
	// The public record API is served with NATS: records go to the ingest
	// streams, preflights through the budget engine.
	var created struct{ CreateAPIKey struct{ Secret string } }
	testenv.MustGraphQL(t, url, token, `mutation($t:ID!){createAPIKey(tenantId:$t,name:"jobs"){secret}}`, map[string]any{"t": tenant}, &created)
	base := strings.TrimSuffix(url, "/query")
	for path, body := range map[string]string{
		"/v1/usage":     `{"idempotency_key":"a1","provider":"openai","model":"tts-1","usage":{"characters":10}}`,
		"/v1/preflight": `{"provider":"openai","model":"tts-1","usage":{"characters":10}}`,
	} {
		if status := postKey(t, base+path, created.CreateAPIKey.Secret, body); status != 202 && status != 200 {
			t.Errorf("%s: HTTP %d", path, status)
		}
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
	fams := metricstest.Scrape(t, metrics)
	// !(n >= 1): a missing series (NaN) fails too.
	if n := metricstest.Value(fams, "spendgate_graphql_operation_duration_seconds", map[string]string{"type": "mutation", "result": "ok"}); !(n >= 1) {
		t.Fatalf("signed-in mutations counted: %v", n)
	}
	if n := metricstest.Value(fams, "spendgate_graphql_operation_duration_seconds", map[string]string{"type": "query", "result": "error"}); !(n >= 1) {
		t.Fatalf("failed queries counted: %v", n)
	}
	// Without NATS records have nowhere to go: the record API is not served.
	if status := postKey(t, strings.TrimSuffix(url, "/query")+"/v1/usage", created.CreateAPIKey.Secret, `{}`); status == 202 || status == 400 {
		t.Errorf("/v1/usage without NATS: HTTP %d", status)
	}
}

func postKey(t *testing.T, url, key, body string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	testenv.Must(t, err, "request")
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, "POST "+url)
	_ = res.Body.Close()
	return res.StatusCode

}
