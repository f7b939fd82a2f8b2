package observability_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/budget/service"
	"github.com/spendgate/spendgate/egress"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/metricstest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/observability"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/store/postgres"
)

// The budget engine over real Postgres, observed: reservations granted,
// refused and expired, and webhook alert deliveries that fail once and
// then succeed, all on /metrics.
func TestBudgetMetrics(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dsn := testenv.Postgres(t)
	testenv.Must(t, postgres.Migrate(ctx, dsn), "migrate")
	db, err := pgxpool.New(ctx, dsn)
	testenv.Must(t, err, "pool")
	defer db.Close()
	var tenant, key string
	testenv.Must(t, db.QueryRow(ctx, `INSERT INTO tenants (name, slug) VALUES ('t', $1) RETURNING id::text`, "t-"+uuid.NewString()[:8]).Scan(&tenant), "tenant")
	testenv.Must(t, db.QueryRow(ctx, `INSERT INTO api_keys (tenant_id, name, prefix, secret_hash) VALUES ($1, 'k', $2, '\x00') RETURNING id::text`,
		tenant, "sk_"+uuid.NewString()[:12]).Scan(&key), "key")
	var hits atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if hits.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer hook.Close()
	// A soft budget with a webhook (alerts), and a hard one with room for one reservation.
	_, err = db.Exec(ctx, `INSERT INTO budgets (tenant_id, name, scope, period, amount_nano_usd, thresholds, hard, webhook_url)
		VALUES ($1, 'soft', 'tenant', 'month', 1000, '{50}', false, $2)`, tenant, hook.URL)
	testenv.Must(t, err, "soft budget")
	_, err = db.Exec(ctx, `INSERT INTO budgets (tenant_id, name, scope, period, amount_nano_usd, thresholds, hard)
		VALUES ($1, 'hard', 'tenant', 'month', 1500000000, '{100}', true)`, tenant)
	testenv.Must(t, err, "hard budget")

	cfg := service.DefaultConfig("SGX")
	cfg.Alerts.Poll, cfg.Alerts.BackoffBase, cfg.WebhookDebounce = 20*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond
	cfg.SweepInterval, cfg.ReservationTTL = 50*time.Millisecond, 300*time.Millisecond
	cfg.UnpricedReserveNanoUSD = 1_000_000_000
	cfg.Alerts.Egress = egress.MustAllow("127.0.0.1")
	svc := service.New(db, nil, "SGX", cfg, nil)
	m, err := observability.New(prometheus.NewRegistry())
	testenv.Must(t, err, "metrics")
	svc.SetObserver(m)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	go func() { _ = svc.Run(ctx) }()

	req := budget.ReserveRequest{TenantID: tenant, KeyID: key, Provider: "openai", Model: "no-such-model"}
	_, err = svc.Reserve(ctx, req)
	testenv.Must(t, err, "first reservation")
	var denied *budget.DeniedError
	if _, err := svc.Reserve(ctx, req); !errors.As(err, &denied) {
		t.Fatalf("second reservation: %v", err)
	}
	testenv.Must(t, svc.ApplySpend(ctx, []spend.PricedEvent{{Event: event.Event{SchemaVersion: 1, Type: event.TypeUsage,
		EventID: uuid.NewString(), Time: time.Now().UTC(), TenantID: tenant, KeyID: key, Provider: "openai", ModelRequested: "m"},
		Cost: pricing.Cost{Priced: true, TenantNanoUSD: 600}}}), "apply spend")

	url := srv.URL + "/metrics"
	testenv.WaitFor(t, 20*time.Second, "the expiry and the webhook's retry", func() bool {
		f := metricstest.Scrape(t, url)
		return metricstest.Value(f, "spendgate_budget_reservations_expired_total", nil) == 1 &&
			metricstest.Value(f, "spendgate_budget_alert_deliveries_total", map[string]string{"channel": "webhook", "result": "delivered"}) == 1
	})
	f := metricstest.Scrape(t, url)
	for labels, want := range map[string]float64{"granted": 1, "refused": 1, "error": 0} {
		if got := metricstest.Value(f, "spendgate_budget_reservations_total", map[string]string{"result": labels}); got != want {
			t.Errorf("reservations %s = %v, want %v", labels, got, want)
		}
	}
	if got := metricstest.Value(f, "spendgate_budget_alert_deliveries_total", map[string]string{"channel": "webhook", "result": "failed"}); got != 1 {
		t.Errorf("failed webhook deliveries = %v, want 1", got)
	}
}
