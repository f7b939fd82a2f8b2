package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"

	"github.com/spendgate/spendgate/billing"
	billingstore "github.com/spendgate/spendgate/billing/pgstore"
	budgetservice "github.com/spendgate/spendgate/budget/service"
	"github.com/spendgate/spendgate/config"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/egress"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/reconcile"
	"github.com/spendgate/spendgate/reconcile/notify"
	"github.com/spendgate/spendgate/reconcile/pgstore"
	"github.com/spendgate/spendgate/reconcile/pull"
	"github.com/spendgate/spendgate/schedule"
	"github.com/spendgate/spendgate/secrets"
	"github.com/spendgate/spendgate/usage"
)

// reconcileDeps is what the provider reconciliation is built from.
type reconcileDeps struct {
	cfg        *config.Reconcile
	secretsKey string
	cp         *controlplane.Service
	pool       *pgxpool.Pool
	metered    reconcile.MeteredSpend // nil: no ClickHouse
	nc         *nats.Conn             // nil: webhooks only
	prefix     string
	egress     *egress.Policy
	// budgets counts stored reports toward the budgets that opted in
	// (nil: --budgets=false).
	budgets reconcile.Budgets
}

// startReconcile builds the reconciliation service and runs its scheduled
// syncs (package schedule: a job per connection, one replica per run,
// retried with backoff) until ctx ends; stop waits for them.
func startReconcile(ctx context.Context, d reconcileDeps, log *slog.Logger) (_ *reconcile.Service, stop func(), err error) {
	var ring *secrets.Keyring
	if d.secretsKey != "" {
		if ring, err = secrets.Parse(d.secretsKey); err != nil {
			return nil, nil, err
		}
	}
	urls, err := d.cfg.AdminURLMap()
	if err != nil {
		return nil, nil, err
	}
	base := map[reconcile.Provider]string{}
	for p, u := range urls {
		base[reconcile.Provider(p)] = u
	}
	svc := reconcile.New(d.cp, pgstore.New(d.pool), d.metered, pull.New(nil), notify.New(d.prefix, d.nc, d.egress), ring,
		reconcile.Config{BaseURLs: base, Retention: d.cfg.Retention}, log)
	runner := schedule.New(d.pool, log)
	svc.SetScheduler(runner)
	if d.budgets != nil {
		svc.SetBudgets(d.budgets)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A job per enabled connection, listed afresh every tick.
		if err := runner.RunSource(ctx, svc.Jobs(d.cfg.Every)); err != nil {
			log.Error("scheduled provider report sync not started", "err", err)
		}
	}()
	return svc, func() { cancel(); <-done }, nil
}

// reportBudgets is the pipeline's budget engine as reconciliation's view
// (nil when budgets are off: a nil *Service would be a non-nil interface).
func reportBudgets(b *budgetservice.Service) reconcile.Budgets {
	if b == nil {
		return nil
	}
	return b
}

// demoPrice prices what the demo's fake provider served at list price, so
// its admin endpoints report costs (make run).
func demoPrice(src pricing.Source) func(provider, model string, in, out int64) int64 {
	return func(provider, model string, in, out int64) int64 {
		c := src.CatalogueAt(time.Now()).Cost(pricing.Request{Provider: provider, Model: model, Time: time.Now()},
			usage.Tokens{Input: in, Output: out}, nil)
		return c.ListNanoUSD
	}
}

// billingReports gives invoices the cost each provider reported for the
// tenant (the reconciliation's pulled and imported reports).
type billingReports struct{ recon *reconcile.Service }

func (b billingReports) ProviderReported(ctx context.Context, tenantID string, from, to time.Time) ([]billing.ProviderReport, error) {
	totals, err := b.recon.ReportedTotals(ctx, tenantID, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]billing.ProviderReport, 0, len(totals))
	for _, t := range totals {
		out = append(out, billing.ProviderReport{Provider: string(t.Provider), Covers: t.Covers, CostNanoUSD: t.CostNanoUSD})
	}
	return out, nil
}

// newBilling is the invoices service, with the reconciliation's provider
// figures when it runs.
func newBilling(cp *controlplane.Service, pool *pgxpool.Pool, usage billing.Usage, recon *reconcile.Service) *billing.Service {
	svc := billing.New(cp, billingstore.New(pool), usage)
	if recon != nil {
		svc.Reports = billingReports{recon}
	}
	return svc
}
