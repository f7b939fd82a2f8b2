package pgstore_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/budget/pgstore"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/store/postgres"
)

type fixture struct {
	db     *pgxpool.Pool
	st     *pgstore.Store
	tenant string
	key    string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	testenv.Must(t, postgres.Migrate(ctx, dsn), "migrate")
	cfg, err := pgxpool.ParseConfig(dsn)
	testenv.Must(t, err, "parse dsn")
	cfg.MaxConns = 16
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	testenv.Must(t, err, "pool")
	t.Cleanup(db.Close)
	f := &fixture{db: db, st: pgstore.New(db)}
	f.tenant = f.newTenant(t)
	f.key = f.newKey(t, f.tenant)
	return f
}

func (f *fixture) newTenant(t *testing.T) string {
	t.Helper()
	var id string
	slug := "t-" + uuid.NewString()[:8]
	testenv.Must(t, f.db.QueryRow(context.Background(), `INSERT INTO tenants (name, slug) VALUES ($1, $1) RETURNING id::text`, slug).Scan(&id), "tenant")
	return id
}

func (f *fixture) newKey(t *testing.T, tenant string) string {
	t.Helper()
	var id string
	testenv.Must(t, f.db.QueryRow(context.Background(), `INSERT INTO api_keys (tenant_id, name, prefix, secret_hash)
		VALUES ($1, 'k', $2, '\x00') RETURNING id::text`, tenant, "sk_"+uuid.NewString()[:12]).Scan(&id), "key")
	return id
}

// budgetSpec creates a budget row; zero fields take defaults.
type budgetSpec struct {
	tenant, scope, key, dimName, dimValue, period, webhook string
	amount                                                 int64
	hard                                                   bool
	thresholds                                             []int32
}

func (f *fixture) newBudget(t *testing.T, s budgetSpec) string {
	t.Helper()
	if s.tenant == "" {
		s.tenant = f.tenant
	}
	if s.scope == "" {
		s.scope = "tenant"
	}
	if s.period == "" {
		s.period = "month"
	}
	if s.thresholds == nil {
		s.thresholds = []int32{50, 80, 100}
	}
	var id string
	testenv.Must(t, f.db.QueryRow(context.Background(), `INSERT INTO budgets (tenant_id, name, scope, key_id, dimension_name, dimension_value,
		period, amount_nano_usd, thresholds, hard, webhook_url)
		VALUES ($1, $2, $3, nullif($4, '')::uuid, nullif($5, ''), nullif($6, ''), $7, $8, $9, $10, nullif($11, '')) RETURNING id::text`,
		s.tenant, "b-"+s.scope, s.scope, s.key, s.dimName, s.dimValue, s.period, s.amount, s.thresholds, s.hard, s.webhook).Scan(&id), "budget")
	return id
}

func spend(f *fixture, cost int64, at time.Time) budget.Spend {
	return budget.Spend{EventID: uuid.NewString(), Time: at, CostNanoUSD: cost,
		Subject: budget.Subject{TenantID: f.tenant, KeyID: f.key, Dimensions: map[string]string{"team": "ml"}}}
}

func counter(t *testing.T, f *fixture, id string, p budget.Period, at time.Time) (int64, int64) {
	t.Helper()
	s, r, err := f.st.Counter(context.Background(), id, p, at)
	testenv.Must(t, err, "counter")
	return s, r
}

func TestApplySpendIdempotentAndScoped(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	now := time.Now().UTC()
	tenantB := f.newBudget(t, budgetSpec{amount: 1e12})
	keyB := f.newBudget(t, budgetSpec{scope: "key", key: f.key, period: "day", amount: 1e12})
	otherKeyB := f.newBudget(t, budgetSpec{scope: "key", key: f.newKey(t, f.tenant), amount: 1e12})
	dimB := f.newBudget(t, budgetSpec{scope: "dimension", dimName: "team", dimValue: "ml", period: "week", amount: 1e12})
	otherDimB := f.newBudget(t, budgetSpec{scope: "dimension", dimName: "team", dimValue: "web", amount: 1e12})
	otherTenant := f.newTenant(t)
	otherTenantB := f.newBudget(t, budgetSpec{tenant: otherTenant, amount: 1e12})

	lastMonth := time.Date(now.Year(), now.Month(), 1, 12, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	events := []budget.Spend{spend(f, 100, now), spend(f, 250, now), spend(f, 7, lastMonth)}
	noDims := spend(f, 1000, now)
	noDims.Dimensions = nil
	events = append(events, noDims)
	for range 2 { // the second apply must change nothing
		_, err := f.st.ApplySpend(ctx, events)
		testenv.Must(t, err, "apply")
		for _, c := range []struct {
			id   string
			p    budget.Period
			at   time.Time
			want int64
		}{
			{tenantB, budget.Month, now, 1350},
			{tenantB, budget.Month, lastMonth, 7},
			{keyB, budget.Day, now, 1350},
			{otherKeyB, budget.Month, now, 0},
			{dimB, budget.Week, now, 350},
			{otherDimB, budget.Month, now, 0},
			{otherTenantB, budget.Month, now, 0},
		} {
			if got, _ := counter(t, f, c.id, c.p, c.at); got != c.want {
				t.Errorf("budget %s at %s: spent %d, want %d", c.id, c.at, got, c.want)
			}
		}
	}
	// A batch repeating an id inside itself counts it once.
	e := spend(f, 5, now)
	_, err := f.st.ApplySpend(ctx, []budget.Spend{e, e})
	testenv.Must(t, err, "apply dup")
	if got, _ := counter(t, f, tenantB, budget.Month, now); got != 1355 {
		t.Errorf("duplicate in batch: spent %d, want 1355", got)
	}
	bad := spend(f, -1, now)
	if _, err := f.st.ApplySpend(ctx, []budget.Spend{bad}); !errors.Is(err, budget.ErrInvalid) {
		t.Errorf("negative cost: %v", err)
	}
}

func TestThresholdAlertOnceUnderConcurrency(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	id := f.newBudget(t, budgetSpec{amount: 1000, thresholds: []int32{80}})
	now := time.Now()
	var wg sync.WaitGroup
	var alerts atomic.Int64
	for g := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// every goroutine applies 30 (3 %) twice, once as a retry
			e := spend(f, 30, now)
			for range 2 {
				n, err := f.st.ApplySpend(ctx, []budget.Spend{e})
				if err != nil {
					t.Errorf("goroutine %d: %v", g, err)
					return
				}
				alerts.Add(int64(n))
			}
		}()
	}
	wg.Wait()
	if got, _ := counter(t, f, id, budget.Month, now); got != 1200 {
		t.Fatalf("spent %d, want 1200", got)
	}
	var rows, outbox int
	testenv.Must(t, f.db.QueryRow(ctx, `SELECT count(*) FROM budget_alerts WHERE budget_id = $1 AND threshold_percent = 80`, id).Scan(&rows), "count")
	testenv.Must(t, f.db.QueryRow(ctx, `SELECT count(*) FROM budget_alert_outbox WHERE budget_id = $1`, id).Scan(&outbox), "count")
	if rows != 1 || alerts.Load() != 1 || outbox != 1 {
		t.Fatalf("alert rows %d, reported %d, outbox %d; want exactly 1 each", rows, alerts.Load(), outbox)
	}
	list, err := f.st.Alerts(ctx, f.tenant, 10)
	testenv.Must(t, err, "alerts")
	if len(list) != 1 || list[0].Threshold != 80 || list[0].SpentNanoUSD < 800 || list[0].AmountNanoUSD != 1000 {
		t.Fatalf("alerts = %+v", list)
	}
}

func TestReservationsNeverExceedCap(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	const limit, each = 50_000, 73
	id := f.newBudget(t, budgetSpec{amount: limit, hard: true})
	// A second, looser hard budget on the key: both must hold the amount.
	keyB := f.newBudget(t, budgetSpec{scope: "key", key: f.key, amount: 1e12, hard: true})
	_, err := f.st.ApplySpend(ctx, []budget.Spend{spend(f, 1000, time.Now())})
	testenv.Must(t, err, "apply")
	var granted, denied atomic.Int64
	var wg sync.WaitGroup
	var idsMu sync.Mutex
	var ids []string
	for range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			now := time.Now()
			r, err := f.st.Reserve(ctx, pgstore.ReserveInput{TenantID: f.tenant, KeyID: f.key, AmountNanoUSD: each, Now: now, ExpiresAt: now.Add(time.Minute)})
			var d *budget.DeniedError
			switch {
			case err == nil:
				granted.Add(each)
				idsMu.Lock()
				ids = append(ids, r.ID)
				idsMu.Unlock()
			case errors.As(err, &d):
				if d.BudgetID != id {
					t.Errorf("denied by %s, want %s", d.BudgetID, id)
				}
				denied.Add(1)
			default:
				t.Errorf("reserve: %v", err)
			}
		}()
	}
	wg.Wait()
	spent, reserved := counter(t, f, id, budget.Month, time.Now())
	t.Logf("granted %d of %d room in %d reservations, %d denied", granted.Load(), limit-1000, granted.Load()/each, denied.Load())
	if spent+granted.Load() > limit || reserved != granted.Load() {
		t.Fatalf("cap exceeded or counter off: spent %d + granted %d (reserved %d) vs cap %d", spent, granted.Load(), reserved, limit)
	}
	if limit-spent-granted.Load() >= each {
		t.Fatalf("room left %d could hold another reservation of %d", limit-spent-granted.Load(), each)
	}
	if _, kr := counter(t, f, keyB, budget.Month, time.Now()); kr != granted.Load() {
		t.Fatalf("key budget reserved %d, want %d", kr, granted.Load())
	}
	blocked, _, err := f.st.KeyBlocked(ctx, f.tenant, f.key)
	testenv.Must(t, err, "blocked")
	if blocked {
		t.Fatalf("blocked with %d room left", limit-spent-granted.Load())
	}
	// Every granted call costs what it reserved (the worst case) and settles
	// concurrently: the spend ends within the cap and nothing stays held.
	var settle sync.WaitGroup
	for _, id := range ids {
		settle.Go(func() {
			sp := spend(f, each, time.Now())
			sp.ReservationID = id
			if _, err := f.st.ApplySpend(ctx, []budget.Spend{sp}); err != nil {
				t.Errorf("settle: %v", err)
			}
		})
	}
	settle.Wait()
	spent, reserved = counter(t, f, id, budget.Month, time.Now())
	if spent != 1000+granted.Load() || spent > limit || reserved != 0 {
		t.Fatalf("after settlement: spent %d reserved %d, cap %d", spent, reserved, limit)
	}
}

func TestSettleReleaseExpire(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	id := f.newBudget(t, budgetSpec{amount: 1000, hard: true, scope: "key", key: f.key})
	now := time.Now()
	reserve := func(amount int64, ttl time.Duration) (budget.Reservation, error) {
		return f.st.Reserve(ctx, pgstore.ReserveInput{TenantID: f.tenant, KeyID: f.key, AmountNanoUSD: amount, Now: now, ExpiresAt: now.Add(ttl)})
	}
	blocked := func() bool {
		b, _, err := f.st.KeyBlocked(ctx, f.tenant, f.key)
		testenv.Must(t, err, "blocked")
		return b
	}

	// Settle: the real cost replaces the estimate, once.
	r, err := reserve(600, time.Hour)
	testenv.Must(t, err, "reserve")
	if len(r.BudgetIDs) != 1 || r.BudgetIDs[0] != id {
		t.Fatalf("budgets %v", r.BudgetIDs)
	}
	if _, err := reserve(401, time.Hour); err == nil {
		t.Fatal("reservation over the cap granted")
	}
	e := spend(f, 250, now)
	e.ReservationID = r.ID
	for range 2 {
		_, err = f.st.ApplySpend(ctx, []budget.Spend{e})
		testenv.Must(t, err, "settle")
		if s, res := counter(t, f, id, budget.Month, now); s != 250 || res != 0 {
			t.Fatalf("after settle: spent %d reserved %d, want 250, 0", s, res)
		}
	}
	testenv.Must(t, f.st.Release(ctx, r.ID), "release after settle is a no-op")
	if s, res := counter(t, f, id, budget.Month, now); s != 250 || res != 0 {
		t.Fatalf("after late release: spent %d reserved %d", s, res)
	}

	// Release gives the amount back.
	r2, err := reserve(750, time.Hour)
	testenv.Must(t, err, "reserve")
	if !blocked() {
		t.Fatal("not blocked with spent+reserved at the cap")
	}
	testenv.Must(t, f.st.Release(ctx, r2.ID), "release")
	if _, res := counter(t, f, id, budget.Month, now); res != 0 || blocked() {
		t.Fatalf("after release: reserved %d blocked %v", res, blocked())
	}
	if err := f.st.Release(ctx, uuid.NewString()); !errors.Is(err, pgstore.ErrNotFound) {
		t.Fatalf("unknown reservation: %v", err)
	}

	// A leaked reservation blocks until it expires, then the sweep frees it.
	leak, err := reserve(750, time.Minute)
	testenv.Must(t, err, "reserve")
	if !blocked() {
		t.Fatal("leak does not block")
	}
	n, err := f.st.ExpireReservations(ctx, now.Add(30*time.Second))
	testenv.Must(t, err, "sweep")
	if n != 0 || !blocked() {
		t.Fatalf("swept %d before expiry", n)
	}
	n, err = f.st.ExpireReservations(ctx, now.Add(2*time.Minute))
	testenv.Must(t, err, "sweep")
	if n != 1 || blocked() {
		t.Fatalf("swept %d, blocked %v after expiry", n, blocked())
	}
	// Settling an expired reservation counts the spend but gives back nothing twice.
	e2 := spend(f, 100, now)
	e2.ReservationID = leak.ID
	_, err = f.st.ApplySpend(ctx, []budget.Spend{e2})
	testenv.Must(t, err, "late settle")
	if s, res := counter(t, f, id, budget.Month, now); s != 350 || res != 0 {
		t.Fatalf("late settle: spent %d reserved %d, want 350, 0", s, res)
	}
}

func TestKeyBlockedAtCap(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.newBudget(t, budgetSpec{amount: 500, hard: true})
	f.newBudget(t, budgetSpec{amount: 10, hard: false, scope: "key", key: f.key}) // soft: never blocks
	other := f.newKey(t, f.tenant)
	f.newBudget(t, budgetSpec{amount: 1, hard: true, scope: "key", key: other})
	f.newBudget(t, budgetSpec{amount: 1, hard: true, scope: "dimension", dimName: "team", dimValue: "ml"})
	check := func(key string, want bool) {
		t.Helper()
		b, reason, err := f.st.KeyBlocked(ctx, f.tenant, key)
		testenv.Must(t, err, "blocked")
		if b != want || (b && reason != "budget_exceeded") {
			t.Fatalf("key %s: blocked %v (%s), want %v", key, b, reason, want)
		}
	}
	_, err := f.st.ApplySpend(ctx, []budget.Spend{spend(f, 499, time.Now())})
	testenv.Must(t, err, "apply")
	check(f.key, false)
	_, err = f.st.ApplySpend(ctx, []budget.Spend{spend(f, 1, time.Now())})
	testenv.Must(t, err, "apply")
	check(f.key, true) // exactly at the cap
	_, err = f.st.ApplySpend(ctx, []budget.Spend{spend(f, 50, time.Now())})
	testenv.Must(t, err, "apply")
	check(f.key, true) // over it
	// Spend of last month does not block this month.
	g := setup(t)
	g.newBudget(t, budgetSpec{amount: 500, hard: true, period: "day"})
	_, err = g.st.ApplySpend(ctx, []budget.Spend{spend(g, 900, time.Now().AddDate(0, 0, -1))})
	testenv.Must(t, err, "apply")
	if b, _, err := g.st.KeyBlocked(ctx, g.tenant, g.key); err != nil || b {
		t.Fatalf("yesterday's spend blocks today: %v %v", b, err)
	}
	if _, _, err := f.st.KeyBlocked(ctx, "not-a-uuid", f.key); !errors.Is(err, budget.ErrInvalid) {
		t.Fatalf("bad tenant: %v", err)
	}
}

func TestUnreachableStoreErrors(t *testing.T) {
	t.Parallel()
	db, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2")
	testenv.Must(t, err, "pool")
	defer db.Close()
	st := pgstore.New(db)
	ctx := context.Background()
	now := time.Now()
	tenant := uuid.NewString()
	if _, err := st.Reserve(ctx, pgstore.ReserveInput{TenantID: tenant, AmountNanoUSD: 1, Now: now, ExpiresAt: now.Add(time.Minute)}); err == nil {
		t.Error("Reserve succeeded without a database")
	}
	if _, _, err := st.KeyBlocked(ctx, tenant, "k"); err == nil {
		t.Error("KeyBlocked succeeded without a database")
	}
	if _, err := st.ApplySpend(ctx, []budget.Spend{{EventID: "e", Subject: budget.Subject{TenantID: tenant}, Time: now, CostNanoUSD: 1}}); err == nil {
		t.Error("ApplySpend succeeded without a database")
	}
}

func TestPrune(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.newBudget(t, budgetSpec{amount: 1000, hard: true})
	now := time.Now()
	e := spend(f, 10, now)
	_, err := f.st.ApplySpend(ctx, []budget.Spend{e})
	testenv.Must(t, err, "apply")
	r, err := f.st.Reserve(ctx, pgstore.ReserveInput{TenantID: f.tenant, KeyID: f.key, AmountNanoUSD: 5, Now: now, ExpiresAt: now.Add(time.Minute)})
	testenv.Must(t, err, "reserve")
	open, err := f.st.Reserve(ctx, pgstore.ReserveInput{TenantID: f.tenant, KeyID: f.key, AmountNanoUSD: 5, Now: now, ExpiresAt: now.Add(time.Minute)})
	testenv.Must(t, err, "reserve")
	testenv.Must(t, f.st.Release(ctx, r.ID), "release")
	ev, res, err := f.st.Prune(ctx, now.Add(-time.Hour))
	testenv.Must(t, err, "prune")
	if ev != 0 || res != 0 {
		t.Fatalf("pruned recent rows: %d %d", ev, res)
	}
	ev, res, err = f.st.Prune(ctx, time.Now().Add(time.Hour))
	testenv.Must(t, err, "prune")
	if ev != 1 || res != 1 {
		t.Fatalf("pruned %d events %d reservations, want 1, 1", ev, res)
	}
	testenv.Must(t, f.st.Release(ctx, open.ID), "open reservation kept")
}

func BenchmarkReserve(b *testing.B) {
	ctx := context.Background()
	dsn := testenv.Postgres(b)
	testenv.Must(b, postgres.Migrate(ctx, dsn), "migrate")
	db, err := pgxpool.New(ctx, dsn)
	testenv.Must(b, err, "pool")
	defer db.Close()
	f := &fixture{db: db, st: pgstore.New(db)}
	var tenant, key string
	testenv.Must(b, db.QueryRow(ctx, `INSERT INTO tenants (name, slug) VALUES ('b', 'bench') RETURNING id::text`).Scan(&tenant), "tenant")
	testenv.Must(b, db.QueryRow(ctx, `INSERT INTO api_keys (tenant_id, name, prefix, secret_hash) VALUES ($1, 'k', 'sk_bench', '\x00') RETURNING id::text`, tenant).Scan(&key), "key")
	_, err = db.Exec(ctx, `INSERT INTO budgets (tenant_id, name, scope, period, amount_nano_usd, hard) VALUES ($1, 'cap', 'tenant', 'month', 9000000000000000000, true)`, tenant)
	testenv.Must(b, err, "budget")
	_ = f
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now()
		if _, err := f.st.Reserve(ctx, pgstore.ReserveInput{TenantID: tenant, KeyID: key, AmountNanoUSD: 1000, Now: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestLateEventAlertsInItsOwnPeriod(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	id := f.newBudget(t, budgetSpec{amount: 100, period: "day", thresholds: []int32{50}, webhook: "http://127.0.0.1:1/hook"})
	yesterday := time.Now().UTC().AddDate(0, 0, -1)
	n, err := f.st.ApplySpend(ctx, []budget.Spend{spend(f, 60, yesterday)})
	testenv.Must(t, err, "apply")
	n2, err := f.st.ApplySpend(ctx, []budget.Spend{spend(f, 60, time.Now())})
	testenv.Must(t, err, "apply")
	if n != 1 || n2 != 1 {
		t.Fatalf("alerts %d, %d; want one per day", n, n2)
	}
	list, err := f.st.Alerts(ctx, f.tenant, 10)
	testenv.Must(t, err, "alerts")
	starts := map[string]bool{}
	for _, a := range list {
		if a.BudgetID != id {
			t.Fatalf("alert of %s", a.BudgetID)
		}
		starts[a.PeriodStart.UTC().Format(time.DateOnly)] = true
	}
	if !starts[yesterday.Format(time.DateOnly)] || !starts[time.Now().UTC().Format(time.DateOnly)] {
		t.Fatalf("alert periods %v", starts)
	}
	var nats, hooks int
	testenv.Must(t, f.db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE kind = 'nats'), count(*) FILTER (WHERE kind = 'webhook') FROM budget_alert_outbox`).Scan(&nats, &hooks), "outbox")
	if nats != 2 || hooks != 2 {
		t.Fatalf("outbox nats %d webhook %d, want 2 and 2", nats, hooks)
	}
}

// An event settles only a reservation of its own tenant: one naming another
// tenant's reservation (a confused or hostile data plane) must not close it,
// or that tenant's held amount would never be given back.
func TestEventCannotSettleAnotherTenantsReservation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	id := f.newBudget(t, budgetSpec{amount: 1000, hard: true})
	now := time.Now()
	r, err := f.st.Reserve(ctx, pgstore.ReserveInput{TenantID: f.tenant, KeyID: f.key, AmountNanoUSD: 400, Now: now, ExpiresAt: now.Add(time.Hour)})
	testenv.Must(t, err, "reserve")
	other := f.newTenant(t)
	foreign := budget.Spend{EventID: uuid.NewString(), Subject: budget.Subject{TenantID: other, KeyID: uuid.NewString()}, Time: now, CostNanoUSD: 10, ReservationID: r.ID}
	_, err = f.st.ApplySpend(ctx, []budget.Spend{foreign})
	testenv.Must(t, err, "apply foreign")
	if s, res := counter(t, f, id, budget.Month, now); s != 0 || res != 400 {
		t.Fatalf("after a foreign settlement: spent %d reserved %d, want 0, 400", s, res)
	}
	own := spend(f, 250, now)
	own.ReservationID = r.ID
	_, err = f.st.ApplySpend(ctx, []budget.Spend{own})
	testenv.Must(t, err, "apply own")
	if s, res := counter(t, f, id, budget.Month, now); s != 250 || res != 0 {
		t.Fatalf("after settlement: spent %d reserved %d, want 250, 0", s, res)
	}
}
