package pgstore_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/budget/pgstore"
	"github.com/spendgate/spendgate/internal/testenv"
)

// reportedBudget creates a budget counting provider-reported spend
// (provider "" : a tenant budget).
func (f *fixture) reportedBudget(t *testing.T, tenant, provider string, amount int64, hard bool, thresholds []int32) string {
	t.Helper()
	scope := "tenant"
	if thresholds == nil {
		thresholds = []int32{50, 80, 100}
	}
	if provider != "" {
		scope = "provider"
	}
	var id string
	testenv.Must(t, f.db.QueryRow(context.Background(), `INSERT INTO budgets (tenant_id, name, scope, provider, period, amount_nano_usd,
		thresholds, hard, spend_basis) VALUES ($1, $2, $3, nullif($4, ''), 'month', $5, $6, $7, 'max_metered_reported') RETURNING id::text`,
		tenant, "reported-"+uuid.NewString()[:6], scope, provider, amount, thresholds, hard).Scan(&id), "budget")
	return id
}

// report stores a provider-reported row as reconciliation does (one
// connection per tenant and provider).
func (f *fixture) report(t *testing.T, tenant, provider string, day time.Time, model string, cost int64) {
	t.Helper()
	ctx := context.Background()
	var conn string
	err := f.db.QueryRow(ctx, `SELECT id::text FROM provider_connections WHERE tenant_id = $1 AND provider = $2`, tenant, provider).Scan(&conn)
	if err != nil {
		testenv.Must(t, f.db.QueryRow(ctx, `INSERT INTO provider_connections (id, tenant_id, provider, name) VALUES (gen_random_uuid(), $1, $2, $2)
			RETURNING id::text`, tenant, provider).Scan(&conn), "connection")
	}
	testenv.Must(t, exec(f, `INSERT INTO provider_reported (connection_id, tenant_id, provider, day, model, cost_nano_usd, has_cost)
		VALUES ($1, $2, $3, $4::date, $5, $6, true) ON CONFLICT (connection_id, day, model) DO UPDATE SET cost_nano_usd = EXCLUDED.cost_nano_usd`,
		conn, tenant, provider, day.Format(time.DateOnly), model, cost), "reported row")
}

// thisMonth is now (UTC) and the bounds of its monthly budget period.
func thisMonth(t *testing.T) (now, start, end time.Time) {
	now = time.Now().UTC()
	start, end, err := budget.Bounds(budget.Month, now)
	testenv.Must(t, err, "bounds")
	return now, start, end
}

func exec(f *fixture, sql string, args ...any) error {
	_, err := f.db.Exec(context.Background(), sql, args...)
	return err
}

func totals(t *testing.T, f *fixture, id string, now time.Time) budget.Status {
	t.Helper()
	rows, err := f.st.ScopeBudgets(context.Background(), f.tenant, "", "")
	testenv.Must(t, err, "budgets")
	for _, b := range rows {
		if b.ID == id {
			m, err := f.st.PeriodTotals(context.Background(), []*budget.Budget{b}, now)
			testenv.Must(t, err, "totals")
			return m[id]
		}
	}
	t.Fatalf("budget %s not found", id)
	return budget.Status{}
}

// The reported spend of a monthly budget is the sum of the reported days
// inside the month (UTC), exact to the nano-dollar: the day before the
// month and the first day of the next do not count, nor another tenant's
// reports, nor (for a provider budget) another provider's; the period's
// spent is max(metered, reported).
func TestReportedSpendOverPeriodBoundaries(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	now, start, end := thisMonth(t)
	tenantB := f.reportedBudget(t, f.tenant, "", 1e15, false, nil)
	openaiB := f.reportedBudget(t, f.tenant, "openai", 1e15, false, nil)
	metered := f.newBudget(t, budgetSpec{amount: 1e15}) // metered basis: reports never count
	other := f.newTenant(t)
	otherB := f.reportedBudget(t, other, "", 1e15, false, nil)

	f.report(t, f.tenant, "openai", start.AddDate(0, 0, -1), "gpt-4o", 500_000_000_000) // last month
	f.report(t, f.tenant, "openai", start, "gpt-4o", 1_000_000_001)
	f.report(t, f.tenant, "openai", start, "gpt-4o-mini", 333)
	f.report(t, f.tenant, "openai", end.AddDate(0, 0, -1), "gpt-4o", 2_000_000_000)
	f.report(t, f.tenant, "anthropic", start, "claude-sonnet-4", 7_000_000_007)
	f.report(t, f.tenant, "openai", end, "gpt-4o", 900_000_000_000) // next month
	f.report(t, other, "openai", start, "gpt-4o", 800_000_000_000)  // another tenant
	_, err := f.st.ApplySpend(ctx, []budget.Spend{spend(f, 5_000_000_000, now)})
	testenv.Must(t, err, "metered")

	for range 2 { // applying the same reports again changes nothing
		_, err := f.st.ApplyReported(ctx, f.tenant, start.AddDate(0, 0, -3), end.AddDate(0, 0, 2))
		testenv.Must(t, err, "apply reported")
		for name, c := range map[string]struct {
			id                                string
			wantMetered, wantReported, wantSp int64
		}{
			"tenant budget: all providers, reported above metered": {tenantB, 5_000_000_000, 10_000_000_341, 10_000_000_341},
			"openai budget: openai reports only, nothing metered":  {openaiB, 0, 3_000_000_334, 3_000_000_334},
			"metered budget: reports ignored":                      {metered, 5_000_000_000, 0, 5_000_000_000},
		} {
			st := totals(t, f, c.id, now)
			if st.MeteredNanoUSD != c.wantMetered || st.ReportedNanoUSD != c.wantReported || st.SpentNanoUSD != c.wantSp {
				t.Fatalf("%s: metered %d reported %d spent %d, want %d %d %d", name, st.MeteredNanoUSD, st.ReportedNanoUSD,
					st.SpentNanoUSD, c.wantMetered, c.wantReported, c.wantSp)
			}
		}
	}
	// The metered event had no provider: the openai budget metered nothing
	// and counts its reports; the tenant budget counts the larger.
	var otherReported int64
	testenv.Must(t, f.db.QueryRow(ctx, `SELECT coalesce(sum(reported_nano_usd), 0) FROM budget_spend WHERE budget_id = $1`, otherB).
		Scan(&otherReported), "other tenant")
	if otherReported != 0 {
		t.Fatalf("the other tenant's budget was re-evaluated with %d by this tenant's reports", otherReported)
	}
	// Revised buckets replace: a lower report lowers the figure.
	f.report(t, f.tenant, "anthropic", start, "claude-sonnet-4", 7)
	_, err = f.st.ApplyReported(ctx, f.tenant, start, start.AddDate(0, 0, 1))
	testenv.Must(t, err, "apply revised")
	if st := totals(t, f, tenantB, now); st.ReportedNanoUSD != 3_000_000_341 || st.SpentNanoUSD != 5_000_000_000 {
		t.Fatalf("after a downward revision: reported %d spent %d", st.ReportedNanoUSD, st.SpentNanoUSD)
	}
}

// A hard budget on reported spend refuses reservations that fit the
// metered spend but not the reported: available = limit − max(metered,
// reported) − reserved, and concurrent reservations still never overshoot.
func TestReservationRefusedByReportedSpend(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	now, start, end := thisMonth(t)
	capped := f.reportedBudget(t, f.tenant, "", 1_000_000, true, nil)
	_, err := f.st.ApplySpend(ctx, []budget.Spend{spend(f, 100_000, now)})
	testenv.Must(t, err, "metered")
	in := pgstore.ReserveInput{TenantID: f.tenant, KeyID: f.key, Provider: "openai", Model: "gpt-4o", AmountNanoUSD: 500_000, Now: now,
		ExpiresAt: now.Add(time.Minute)}
	r, err := f.st.Reserve(ctx, in) // metered 100k: 500k fits
	testenv.Must(t, err, "reserve before reports")
	testenv.Must(t, f.st.Release(ctx, r.ID), "release")

	f.report(t, f.tenant, "openai", start, "gpt-4o", 700_000)
	f.report(t, f.tenant, "anthropic", end.AddDate(0, 0, -1), "claude", 200_000)
	_, err = f.st.ApplyReported(ctx, f.tenant, start, end)
	testenv.Must(t, err, "apply reported")
	_, err = f.st.Reserve(ctx, in)
	var denied *budget.DeniedError
	if !errors.As(err, &denied) || denied.BudgetID != capped || denied.LeftNanoUSD != 100_000 {
		t.Fatalf("reserve over reported spend: %v (%+v), want denied with 100000 left", err, denied)
	}
	// What is left (cap − reported) is shared by concurrent callers: 10 of
	// 40 reservations of 10,000 fit, never more.
	in.AmountNanoUSD = 10_000
	var granted atomic.Int64
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			_, err := f.st.Reserve(ctx, in)
			switch {
			case err == nil:
				granted.Add(1)
			case !errors.As(err, new(*budget.DeniedError)):
				t.Errorf("reserve: %v", err)
			}
		})
	}
	wg.Wait()
	if granted.Load() != 10 {
		t.Fatalf("granted %d reservations of 10000 with 100000 left", granted.Load())
	}
	_, reserved := counter(t, f, capped, budget.Month, now)
	if reserved != 100_000 {
		t.Fatalf("reserved %d", reserved)
	}
	blocked, _, err := f.st.KeyBlocked(ctx, f.tenant, f.key)
	testenv.Must(t, err, "key blocked")
	if !blocked {
		t.Fatal("key not blocked with reported + reserved at the cap")
	}
}

// Reported spend crossing thresholds alerts once per threshold and records
// one breach of a hard cap, not again when revised buckets are pulled again.
func TestReportedCrossingAlertsAndBreachesOnce(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	_, start, end := thisMonth(t)
	id := f.reportedBudget(t, f.tenant, "", 1_000_000, true, []int32{50, 100})
	testenv.Must(t, exec(f, `UPDATE budgets SET breach_webhook_url = 'https://hooks.example.com/revoke' WHERE id = $1`, id), "webhook")
	f.report(t, f.tenant, "openai", start, "gpt-4o", 600_000)
	n, err := f.st.ApplyReported(ctx, f.tenant, start, end)
	testenv.Must(t, err, "apply")
	if n != 1 {
		t.Fatalf("%d alerts at 60%%, want 1 (50%%)", n)
	}
	f.report(t, f.tenant, "openai", start, "gpt-4o", 1_000_000)
	f.report(t, f.tenant, "openai", start.AddDate(0, 0, 1), "gpt-4o", 1)
	for i := range 3 { // re-pulls of revised buckets
		if i == 2 {
			f.report(t, f.tenant, "openai", start, "gpt-4o", 1_200_000)
		}
		n, err = f.st.ApplyReported(ctx, f.tenant, start, end)
		testenv.Must(t, err, "apply again")
		if want := map[int]int{0: 1}[i]; n != want {
			t.Fatalf("pull %d: %d new alerts, want %d", i, n, want)
		}
	}
	var breaches, outbox, audits int
	var counted, reported int64
	testenv.Must(t, f.db.QueryRow(ctx, `SELECT count(*), max(counted_nano_usd), max(reported_nano_usd) FROM budget_breaches WHERE budget_id = $1`, id).
		Scan(&breaches, &counted, &reported), "breaches")
	testenv.Must(t, f.db.QueryRow(ctx, `SELECT count(*) FROM budget_alert_outbox WHERE budget_id = $1 AND kind = 'breach'`, id).Scan(&outbox), "outbox")
	testenv.Must(t, f.db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'budget.breach' AND target_id = $2`, f.tenant, id).
		Scan(&audits), "audit")
	if breaches != 1 || outbox != 1 || audits != 1 || counted != 1_000_001 || reported != 1_000_001 {
		t.Fatalf("breaches %d outbox %d audits %d counted %d reported %d", breaches, outbox, audits, counted, reported)
	}
	list, err := f.st.Breaches(ctx, f.tenant, 10)
	testenv.Must(t, err, "list")
	if len(list) != 1 || list[0].Budget.ID != id || list[0].LimitNanoUSD != 1_000_000 || !list[0].Webhook || list[0].EventID == "" ||
		list[0].SpendBasis != budget.BasisMaxMeteredReported || !list[0].PeriodStart.Equal(start) {
		t.Fatalf("breaches = %+v", list)
	}
}
