package reprice

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/budget"
	budgetservice "github.com/spendgate/spendgate/budget/service"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/pgtest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/store/clickhouse"
	"github.com/spendgate/spendgate/usage"
)

type fixture struct {
	pool    *pgxpool.Pool
	cp      *controlplane.Service
	ctx     context.Context // the owner signed in
	tenant  string
	key     string
	store   *clickhouse.Analytics
	writer  *clickhouse.Writer
	budgets *budgetservice.Service
	svc     *Service
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.Migrated(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tokens, _ := auth.NewTokens([]byte(strings.Repeat("r", 32)))
	cp, err := controlplane.New(pool, []byte("reprice-pepper-123"), tokens, quiet)
	testenv.Must(t, err, "controlplane")
	u, tn, err := cp.CreateOwner(ctx, "owner@reprice.example", "password-123", "Reprice", "reprice")
	testenv.Must(t, err, "owner")
	actx := auth.WithPrincipal(ctx, auth.Principal{UserID: u.ID, Email: u.Email})
	k, err := cp.CreateAPIKey(actx, tn.ID, "k", controlplane.KeyPolicy{}, nil, nil)
	testenv.Must(t, err, "key")
	addr, db := testenv.ClickHouse(t)
	conn, err := clickhouse.Open(ctx, addr, db)
	testenv.Must(t, err, "clickhouse")
	t.Cleanup(func() { _ = conn.Close() })
	testenv.Must(t, clickhouse.Migrate(ctx, conn, db), "clickhouse migrate")
	f := &fixture{pool: pool, cp: cp, ctx: actx, tenant: tn.ID, key: k.Key.ID, store: &clickhouse.Analytics{Conn: conn, Database: db},
		writer: clickhouse.NewWriter(conn, db), budgets: budgetservice.New(pool, nil, "sgr", budgetservice.DefaultConfig("sgr"), quiet)}
	f.svc = New(cp, pool, f.store, f.writer, pricing.Default(), f.budgets)
	return f
}

// store ingests events as the consumer does: priced with the catalogue and
// no overrides, counted against budgets.
func (f *fixture) store1(t *testing.T, evs ...event.Event) {
	t.Helper()
	var pe []spend.PricedEvent
	for _, e := range evs {
		pe = append(pe, spend.PricedEvent{Event: e, Cost: pricing.Default().Cost(pricing.Request{Provider: e.Provider, Model: e.ModelRequested, Time: e.Time}, e.Usage, nil)})
	}
	if _, err := f.writer.Write(context.Background(), pe); err != nil {
		t.Fatal(err)
	}
	testenv.Must(t, f.budgets.ApplySpend(context.Background(), pe), "budgets")
}

func (f *fixture) usageEvent(id, model, team string, at time.Time, in, out int64) event.Event {
	return event.Event{SchemaVersion: event.SchemaVersion, Type: event.TypeUsage, EventID: id, Time: at, Source: event.SourceGateway,
		TenantID: f.tenant, KeyID: f.key, Provider: "openai", Operation: "chat.completions", ModelRequested: model, StatusCode: 200,
		Complete: true, Dimensions: map[string]string{"team": team}, Usage: usage.Tokens{Input: in, Output: out}}
}

func TestRepriceAfterAnOverridePricesTheModel(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := f.ctx
	now := time.Now().UTC()
	dayStart := now.Truncate(24 * time.Hour)
	at := dayStart.Add(time.Minute) // inside today's budget period and an aligned range
	// A tenant budget exists before the traffic.
	b, err := f.cp.CreateBudget(ctx, f.tenant, controlplane.BudgetInput{Name: "day", Scope: "tenant", Period: "day",
		AmountNanoUSD: 1_000_000_000_000, Thresholds: []int{50}})
	testenv.Must(t, err, "budget")
	f.store1(t,
		f.usageEvent("u1", "acme-llm", "search", at, 1_000_000, 100_000),
		f.usageEvent("u2", "acme-llm", "ads", at.Add(time.Second), 2_000_000, 0),
		f.usageEvent("u3", "gpt-4o-mini", "search", at.Add(2*time.Second), 1000, 1000),
		f.usageEvent("u4", "mystery-llm", "search", at.Add(3*time.Second), 10, 10),
	)
	known := pricing.Default().Cost(pricing.Request{Provider: "openai", Model: "gpt-4o-mini", Time: at}, usage.Tokens{Input: 1000, Output: 1000}, nil)
	day := spend.Spec{Tenant: f.tenant, From: dayStart, To: dayStart.Add(24 * time.Hour)}
	before, err := f.store.TotalSpend(context.Background(), day)
	testenv.Must(t, err, "total")
	if before.UnpricedEvents != 3 || before.TenantNanoUSD != known.TenantNanoUSD {
		t.Fatalf("before: %+v", before)
	}

	// The admin prices acme-llm: $2 / $8 per million, less 10 %.
	_, err = f.cp.CreatePricingOverride(ctx, f.tenant, controlplane.OverrideInput{Provider: "openai", Model: "acme-llm",
		EffectiveFrom: dayStart.Add(-24 * time.Hour), Rates: map[string]int64{"input": 2_000_000_000, "output": 8_000_000_000}, PercentAdjustmentBP: -1000})
	testenv.Must(t, err, "override")
	res, err := f.svc.Unpriced(ctx, f.tenant, dayStart, dayStart.Add(24*time.Hour))
	testenv.Must(t, err, "reprice")
	// u1: 1M × $2 + 0.1M × $8 = $2.80 list; u2: 2M × $2 = $4; tenant −10 %.
	const list, tenant = 6_800_000_000, 6_120_000_000
	if res != (Result{Examined: 3, Repriced: 2, StillUnpriced: 1, ListNanoUSD: list, TenantNanoUSD: tenant}) {
		t.Fatalf("result %+v", res)
	}

	// Every analytics path sees the new cost: raw, rollup and dimension rollup.
	for name, s := range map[string]spend.Spec{"daily rollup": day, "raw": {Tenant: f.tenant, From: dayStart.Add(-time.Second), To: dayStart.Add(24 * time.Hour)}} {
		after, err := f.store.TotalSpend(context.Background(), s)
		testenv.Must(t, err, "total")
		if after.Events != 4 || after.UnpricedEvents != 1 || after.TenantNanoUSD != known.TenantNanoUSD+tenant || after.ListNanoUSD != known.ListNanoUSD+list {
			t.Fatalf("%s after: %+v", name, after)
		}
	}
	byTeam, total, err := f.store.Breakdown(context.Background(), spend.Spec{Tenant: f.tenant, From: day.From, To: day.To, GroupBy: []string{"dim:team"}}, 0)
	testenv.Must(t, err, "by team")
	if len(byTeam) != 2 || byTeam[0].Keys[0] != "ads" || byTeam[0].TenantNanoUSD != 3_600_000_000 || byTeam[0].UnpricedEvents != 0 ||
		total.TenantNanoUSD != known.TenantNanoUSD+tenant {
		t.Fatalf("by team %+v total %+v", byTeam, total)
	}
	unknown, err := f.store.UnknownModels(context.Background(), day, 10)
	testenv.Must(t, err, "unknown")
	if len(unknown) != 1 || unknown[0].Model != "mystery-llm" {
		t.Fatalf("unknown models %+v", unknown)
	}
	e, err := f.store.Event(context.Background(), f.tenant, "u1")
	testenv.Must(t, err, "event")
	if !e.Priced || !e.Repriced || e.TenantNanoUSD != 2_520_000_000 || !strings.Contains(e.CostLines, `"class":"output"`) || e.OverrideID == "" {
		t.Fatalf("event u1 %+v", e)
	}

	// The budget counted the new cost once.
	st, err := f.budgets.Store.PeriodTotals(context.Background(), []*budget.Budget{{ID: b.ID, Period: budget.Day, AmountNanoUSD: b.AmountNanoUSD}}, now)
	testenv.Must(t, err, "budget totals")
	if st[b.ID].SpentNanoUSD != known.TenantNanoUSD+tenant {
		t.Fatalf("budget spent %d, want %d", st[b.ID].SpentNanoUSD, known.TenantNanoUSD+tenant)
	}

	// Running again finds nothing new and changes nothing.
	again, err := f.svc.Unpriced(ctx, f.tenant, dayStart, dayStart.Add(24*time.Hour))
	testenv.Must(t, err, "reprice again")
	if again != (Result{Examined: 1, StillUnpriced: 1}) {
		t.Fatalf("second run %+v", again)
	}
	after, err := f.store.TotalSpend(context.Background(), day)
	testenv.Must(t, err, "total")
	st, err = f.budgets.Store.PeriodTotals(context.Background(), []*budget.Budget{{ID: b.ID, Period: budget.Day, AmountNanoUSD: b.AmountNanoUSD}}, now)
	testenv.Must(t, err, "budget totals")
	if after.TenantNanoUSD != known.TenantNanoUSD+tenant || st[b.ID].SpentNanoUSD != known.TenantNanoUSD+tenant {
		t.Fatalf("after a second run: total %+v, budget %d", after, st[b.ID].SpentNanoUSD)
	}
}

// A run that stored budgets but died before the corrections is completed by
// the next run without counting the budget twice.
func TestInterruptedRunCompletesOnce(t *testing.T) {
	t.Parallel()
	f := setup(t)
	dayStart := time.Now().UTC().Truncate(24 * time.Hour)
	b, err := f.cp.CreateBudget(f.ctx, f.tenant, controlplane.BudgetInput{Name: "day", Scope: "tenant", Period: "day",
		AmountNanoUSD: 1_000_000_000_000, Thresholds: []int{50}})
	testenv.Must(t, err, "budget")
	f.store1(t, f.usageEvent("u1", "acme-llm", "x", dayStart.Add(time.Minute), 1_000_000, 0))
	_, err = f.cp.CreatePricingOverride(f.ctx, f.tenant, controlplane.OverrideInput{Model: "acme-llm", EffectiveFrom: dayStart.Add(-time.Hour),
		Rates: map[string]int64{"input": 1_000_000_000}})
	testenv.Must(t, err, "override")
	// The first run applies budgets, then its ClickHouse writes fail.
	broken := *f.svc
	broken.writer = clickhouse.NewWriter(f.store.Conn, "no_such_database")
	if _, err := broken.Unpriced(f.ctx, f.tenant, dayStart, dayStart.Add(24*time.Hour)); err == nil {
		t.Fatal("run with a broken writer succeeded")
	}
	res, err := f.svc.Unpriced(f.ctx, f.tenant, dayStart, dayStart.Add(24*time.Hour))
	testenv.Must(t, err, "second run")
	if res.Repriced != 1 || res.TenantNanoUSD != 1_000_000_000 {
		t.Fatalf("second run %+v", res)
	}
	st, err := f.budgets.Store.PeriodTotals(context.Background(), []*budget.Budget{{ID: b.ID, Period: budget.Day, AmountNanoUSD: b.AmountNanoUSD}}, time.Now())
	testenv.Must(t, err, "totals")
	if st[b.ID].SpentNanoUSD != 1_000_000_000 {
		t.Fatalf("budget spent %d after an interrupted and a full run", st[b.ID].SpentNanoUSD)
	}
}

func TestRepriceNeedsAdminAndOneRunAtATime(t *testing.T) {
	t.Parallel()
	f := setup(t)
	dayStart := time.Now().UTC().Truncate(24 * time.Hour)
	// A viewer may not.
	_, err := f.cp.AddMember(f.ctx, f.tenant, "viewer@reprice.example", "", "password-123", controlplane.RoleViewer)
	testenv.Must(t, err, "viewer")
	sess, err := f.cp.SignIn(context.Background(), "viewer@reprice.example", "password-123")
	testenv.Must(t, err, "sign in")
	vctx := auth.WithPrincipal(context.Background(), auth.Principal{UserID: sess.User.ID, Email: sess.User.Email})
	if _, err := f.svc.Unpriced(vctx, f.tenant, dayStart, dayStart.Add(time.Hour)); apierr.CodeOf(err) != apierr.CodeForbidden {
		t.Fatalf("viewer: %v", err)
	}
	if _, err := f.svc.Unpriced(f.ctx, f.tenant, dayStart, dayStart); apierr.CodeOf(err) != apierr.CodeInvalidArgument {
		t.Fatalf("empty range: %v", err)
	}
	// While one run holds the tenant's lock, another is refused.
	unlock, err := f.svc.lock(context.Background(), f.tenant)
	testenv.Must(t, err, "lock")
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := f.svc.Unpriced(f.ctx, f.tenant, dayStart, dayStart.Add(time.Hour)); !IsBusy(err) || apierr.CodeOf(err) != apierr.CodeConflict {
			t.Errorf("overlapping run: %v", err)
		}
	})
	wg.Wait()
	unlock()
	if _, err := f.svc.Unpriced(f.ctx, f.tenant, dayStart, dayStart.Add(time.Hour)); err != nil {
		t.Fatalf("after the lock: %v", err)
	}
}
