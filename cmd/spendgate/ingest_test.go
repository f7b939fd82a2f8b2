package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/budget/httpapi"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/metricstest"
	"github.com/spendgate/spendgate/internal/testenv"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
	"github.com/spendgate/spendgate/usage"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testenv.Must(t, err, "listen")
	defer ln.Close()
	return ln.Addr().String()
}

// `spendgate ingest` with an embedded NATS server: events posted to the
// receiver reach ClickHouse priced and the budget's counter; reservations
// are served on the same listener; cancelling stops everything cleanly.
func TestIngestCommandWithEmbeddedNATS(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dsn := testenv.Postgres(t)
	chAddr, chDB := testenv.ClickHouse(t)
	addr := freeAddr(t)
	_, prefix := testenv.NATS(t) // only for a unique stream prefix
	done := make(chan error, 1)
	go func() {
		done <- runIngest(ctx, []string{"--listen", addr, "--nats-url", "", "--data-dir", t.TempDir(), "--service-token", "svc",
			"--stream-prefix", prefix, "--clickhouse-addr", chAddr, "--clickhouse-database", chDB, "--postgres-dsn", dsn,
			"--batch-wait", "50ms"})
	}()
	base := "http://" + addr
	testenv.WaitFor(t, 60*time.Second, "the receiver to listen", func() bool {
		select {
		case err := <-done:
			t.Fatalf("ingest stopped: %v", err)
		default:
		}
		resp, err := http.Post(base+"/internal/v1/events", "application/json", strings.NewReader(`{}`))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusUnauthorized
	})

	pool, err := pgxpool.New(ctx, dsn)
	testenv.Must(t, err, "pool")
	defer pool.Close()
	var tenant, key, budgetID string
	testenv.Must(t, pool.QueryRow(ctx, `INSERT INTO tenants (name, slug) VALUES ('t', $1) RETURNING id::text`, "t-"+uuid.NewString()[:8]).Scan(&tenant), "tenant")
	testenv.Must(t, pool.QueryRow(ctx, `INSERT INTO api_keys (tenant_id, name, prefix, secret_hash) VALUES ($1, 'k', $2, '\x00') RETURNING id::text`,
		tenant, "sk_"+uuid.NewString()[:12]).Scan(&key), "key")
	testenv.Must(t, pool.QueryRow(ctx, `INSERT INTO budgets (tenant_id, name, scope, period, amount_nano_usd, thresholds, hard)
		VALUES ($1, 'cap', 'tenant', 'month', 1000000000, '{50}', true) RETURNING id::text`, tenant).Scan(&budgetID), "budget")

	evs := make([]event.Event, 3)
	for i := range evs {
		evs[i] = event.Event{SchemaVersion: 1, Type: event.TypeUsage, EventID: uuid.NewString(), Time: time.Now().UTC(), Source: event.SourceGateway,
			TenantID: tenant, KeyID: key, Provider: "openai", Operation: "chat.completions", ModelRequested: "gpt-4o-mini", StatusCode: 200,
			Complete: true, Usage: usage.Tokens{Input: 100, Output: 50}}
	}
	for range 2 { // a retried batch counts once
		req, _ := http.NewRequest(http.MethodPost, base+"/internal/v1/events", bytes.NewReader(event.AppendBatch(nil, evs)))
		req.Header.Set("Authorization", "Bearer svc")
		resp, err := http.DefaultClient.Do(req)
		testenv.Must(t, err, "post events")
		var res struct{ Accepted, Duplicates int }
		_ = json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		if resp.StatusCode != 200 || res.Accepted+res.Duplicates != 3 {
			t.Fatalf("post: %d %+v", resp.StatusCode, res)
		}
	}
	conn, err := chstore.Open(ctx, chAddr, chDB)
	testenv.Must(t, err, "clickhouse")
	defer conn.Close()
	w := chstore.NewWriter(conn, chDB)
	var spent int64
	testenv.WaitFor(t, 30*time.Second, "events in ClickHouse and the budget", func() bool {
		tot, err := w.TenantTotals(ctx, tenant, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		if err != nil || tot.Events != 3 {
			return false
		}
		_ = pool.QueryRow(ctx, `SELECT coalesce(sum(spent_nano_usd), 0) FROM budget_spend WHERE budget_id = $1`, budgetID).Scan(&spent)
		return spent == 3*45_000 && tot.TenantNanoUSD == spent
	})

	c := &httpapi.Client{BaseURL: base, ServiceToken: "svc"}
	r, err := c.Reserve(ctx, budget.ReserveRequest{TenantID: tenant, KeyID: key, Provider: "openai", Model: "gpt-4o-mini", MaxTokens: 100})
	testenv.Must(t, err, "reserve")
	if r.ID == "" || len(r.BudgetIDs) != 1 || r.BudgetIDs[0] != budgetID {
		t.Fatalf("reservation %+v", r)
	}
	testenv.Must(t, c.Release(ctx, r.ID), "release")

	// The same listener serves the metrics of what just happened.
	fams := metricstest.Scrape(t, base+"/metrics")
	for _, m := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"spendgate_ingest_events_received_total", map[string]string{"result": "accepted"}, 3},
		{"spendgate_ingest_events_received_total", map[string]string{"result": "duplicate"}, 3},
		{"spendgate_ingest_events_stored_total", nil, 3},
		{"spendgate_ingest_pending_messages", nil, 0},
		{"spendgate_ingest_backlog_up", nil, 1},
		{"spendgate_budget_reservations_total", map[string]string{"result": "granted"}, 1},
	} {
		if got := metricstest.Value(fams, m.name, m.labels); got != m.want {
			t.Errorf("%s%v = %v, want %v", m.name, m.labels, got, m.want)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ingest returned %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("ingest did not stop")
	}
}
