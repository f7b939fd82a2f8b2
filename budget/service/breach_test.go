package service_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/budget/service"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/secrets"
)

// Provider reports arriving for a tenant with an opted-in hard budget raise
// the threshold alert once and call the breach webhook once, signed with
// the budget's secret; pulling revised buckets again calls nothing more.
func TestReportedSpendBreachWebhook(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	key, err := secrets.NewKey("test")
	testenv.Must(t, err, "key")
	ring, err := secrets.Parse(key)
	testenv.Must(t, err, "keyring")
	const secret = "whsec-0123456789abcdef"

	type call struct {
		breach budget.Breach
		signed time.Time
		err    error
	}
	var mu sync.Mutex
	var calls []call
	var hooks []budget.WebhookBody
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == "/alerts" {
			var h budget.WebhookBody
			_ = json.Unmarshal(body, &h)
			hooks = append(hooks, h)
			return
		}
		var c call
		c.signed, c.err = budget.VerifySignature([]byte(secret), r.Header.Get(budget.SignatureHeader), body)
		if err := json.Unmarshal(body, &c.breach); err != nil {
			c.err = err
		}
		if r.Header.Get("Spendgate-Event-Id") != c.breach.EventID {
			t.Errorf("event id header %q, body %q", r.Header.Get("Spendgate-Event-Id"), c.breach.EventID)
		}
		calls = append(calls, c)
	}))
	defer srv.Close()

	var id string
	testenv.Must(t, f.db.QueryRow(ctx, `INSERT INTO budgets (id, tenant_id, name, scope, period, amount_nano_usd, thresholds, hard, webhook_url,
			spend_basis, breach_webhook_url) VALUES (gen_random_uuid(), $1, 'company cap', 'tenant', 'month', 1000000, '{80}', true, $2,
			'max_metered_reported', $3) RETURNING id::text`, f.tenant, srv.URL+"/alerts", srv.URL+"/revoke").Scan(&id), "budget")
	sealed, err := ring.SealString(secret, budget.BreachSecretAAD(id))
	testenv.Must(t, err, "seal")
	_, err = f.db.Exec(ctx, `UPDATE budgets SET breach_webhook_secret_sealed = $2 WHERE id = $1`, id, sealed)
	testenv.Must(t, err, "secret")

	cfg := loopbackWebhooks(testConfig("SGB"))
	cfg.Alerts.Secrets = ring
	svc := service.New(f.db, nil, "SGB", cfg, nil)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = svc.Run(runCtx) }()

	start, end, err := budget.Bounds(budget.Month, time.Now())
	testenv.Must(t, err, "bounds")
	var conn string
	testenv.Must(t, f.db.QueryRow(ctx, `INSERT INTO provider_connections (id, tenant_id, provider, name) VALUES (gen_random_uuid(), $1, 'openai', 'org')
		RETURNING id::text`, f.tenant).Scan(&conn), "connection")
	report := func(cost int64) {
		_, err := f.db.Exec(ctx, `INSERT INTO provider_reported (connection_id, tenant_id, provider, day, model, cost_nano_usd, has_cost)
			VALUES ($1, $2, 'openai', $3::date, 'gpt-4o', $4, true)
			ON CONFLICT (connection_id, day, model) DO UPDATE SET cost_nano_usd = EXCLUDED.cost_nano_usd`, conn, f.tenant, start.Format(time.DateOnly), cost)
		testenv.Must(t, err, "report")
		testenv.Must(t, svc.ReportedChanged(ctx, f.tenant, start, end), "reported changed")
	}
	report(1_000_000) // bypassing traffic: nothing metered, the cap reached by reports
	testenv.WaitFor(t, 10*time.Second, "breach webhook and alert webhook called", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(calls) >= 1 && len(hooks) >= 1
	})
	report(1_250_000) // the provider revised the day upward
	report(1_250_000) // and the hourly pull sees the same again
	blocked, _, err := svc.KeyBlocked(ctx, f.tenant, f.key)
	testenv.Must(t, err, "blocked")
	if !blocked {
		t.Fatal("the key is not blocked with reported spend over the hard cap")
	}
	// Let further passes run: nothing more may be sent.
	var pending int
	testenv.WaitFor(t, 10*time.Second, "outbox drained", func() bool {
		testenv.Must(t, f.db.QueryRow(ctx, `SELECT count(*) FROM budget_alert_outbox WHERE delivered_at IS NULL AND kind <> 'nats'`).Scan(&pending), "outbox")
		return pending == 0
	})
	time.Sleep(200 * time.Millisecond) // several dispatcher polls
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 1 || len(hooks) != 1 {
		t.Fatalf("%d breach calls and %d alert webhooks, want 1 and 1", len(calls), len(hooks))
	}
	c := calls[0]
	if c.err != nil || time.Since(c.signed) > time.Minute {
		t.Fatalf("signature: %v (signed %v)", c.err, c.signed)
	}
	b := c.breach
	if b.Type != budget.BreachType || b.TenantID != f.tenant || b.Budget.ID != id || b.Budget.Name != "company cap" ||
		b.Budget.Scope != budget.ScopeTenant || b.LimitNanoUSD != 1_000_000 || b.MeteredNanoUSD != 0 || b.ReportedNanoUSD != 1_000_000 ||
		b.CountedNanoUSD != 1_000_000 || b.SpendBasis != budget.BasisMaxMeteredReported || !b.PeriodStart.Equal(start) || b.EventID == "" {
		t.Fatalf("breach = %+v", b)
	}
	if len(hooks[0].Alerts) != 1 || hooks[0].Alerts[0].Threshold != 80 || hooks[0].Alerts[0].SpentNanoUSD != 1_000_000 {
		t.Fatalf("alert webhook = %+v", hooks[0])
	}
	// A wrong secret does not verify.
	if _, err := budget.VerifySignature([]byte("another-secret-0000"), budget.Sign([]byte(secret), time.Now(), []byte("{}")), []byte("{}")); err == nil {
		t.Fatal("a signature verified with another secret")
	}
}
