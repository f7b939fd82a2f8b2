package pgstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/budget/pgstore"
	"github.com/spendgate/spendgate/internal/testenv"
)

// tree makes workspace → team → two projects in f's tenant and puts f.key in
// the first project; it returns the ids.
func (f *fixture) tree(t *testing.T) (ws, team, project, sibling string) {
	t.Helper()
	ctx := context.Background()
	testenv.Must(t, f.db.QueryRow(ctx, `INSERT INTO workspaces (tenant_id, name) VALUES ($1, 'ws') RETURNING id::text`, f.tenant).Scan(&ws), "workspace")
	testenv.Must(t, f.db.QueryRow(ctx, `INSERT INTO teams (tenant_id, workspace_id, name) VALUES ($1, $2, 'pay') RETURNING id::text`, f.tenant, ws).Scan(&team), "team")
	testenv.Must(t, f.db.QueryRow(ctx, `INSERT INTO projects (tenant_id, team_id, name) VALUES ($1, $2, 'api') RETURNING id::text`, f.tenant, team).Scan(&project), "project")
	testenv.Must(t, f.db.QueryRow(ctx, `INSERT INTO projects (tenant_id, team_id, name) VALUES ($1, $2, 'web') RETURNING id::text`, f.tenant, team).Scan(&sibling), "project")
	_, err := f.db.Exec(ctx, `UPDATE api_keys SET project_id = $2 WHERE id = $1`, f.key, project)
	testenv.Must(t, err, "key project")
	return ws, team, project, sibling
}

func (f *fixture) scoped(t *testing.T, scope, column, value string, amount int64, rollover bool) string {
	t.Helper()
	var id string
	testenv.Must(t, f.db.QueryRow(context.Background(), `INSERT INTO budgets (tenant_id, name, scope, `+column+`, period, amount_nano_usd, hard, rollover)
		VALUES ($1, $2, $3, $4, 'month', $5, true, $6) RETURNING id::text`, f.tenant, "b-"+scope, scope, value, amount, rollover).Scan(&id), scope+" budget")
	return id
}

// TestOverlappingBudgetsUnderConcurrency reserves 1,000 times at once for
// three kinds of call covered by different sets of eight overlapping hard
// budgets (tenant, workspace, team, project, key, provider, model,
// dimension) with different caps. A reservation holds every budget covering
// its call or none, so no budget is ever exceeded, each holds exactly the
// granted reservations of the calls it covers, and a kind of call was only
// refused when one of its budgets has no room left.
func TestOverlappingBudgetsUnderConcurrency(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	ws, team, project, sibling := f.tree(t)
	siblingKey, looseKey := f.newKey(t, f.tenant), f.newKey(t, f.tenant)
	_, err := f.db.Exec(ctx, `UPDATE api_keys SET project_id = $2 WHERE id = $1`, siblingKey, sibling)
	testenv.Must(t, err, "sibling key")
	const each = 97
	type b struct {
		id     string
		cap    int64
		covers string // the kinds of call it covers
	}
	budgets := map[string]b{
		"tenant":    {f.newBudget(t, budgetSpec{amount: 80_000, hard: true}), 80_000, "ABC"},
		"workspace": {f.scoped(t, "workspace", "workspace_id", ws, 60_000, false), 60_000, "AB"},
		"team":      {f.scoped(t, "team", "team_id", team, 50_000, false), 50_000, "AB"},
		"project":   {f.scoped(t, "project", "project_id", project, 30_000, false), 30_000, "A"},
		"key":       {f.scoped(t, "key", "key_id", f.key, 35_000, false), 35_000, "A"},
		"provider":  {f.scoped(t, "provider", "provider", "openai", 45_000, false), 45_000, "AB"},
		"model":     {f.scoped(t, "model", "model", "gpt-4o", 25_000, false), 25_000, "A"},
		"dimension": {f.newBudget(t, budgetSpec{scope: "dimension", dimName: "team", dimValue: "ml", amount: 28_000, hard: true}), 28_000, "A"},
	}
	calls := map[byte]pgstore.ReserveInput{
		'A': {TenantID: f.tenant, KeyID: f.key, Provider: "openai", Model: "gpt-4o", Dimensions: map[string]string{"team": "ml"}},
		'B': {TenantID: f.tenant, KeyID: siblingKey, Provider: "openai", Model: "gpt-4o-mini"},
		'C': {TenantID: f.tenant, KeyID: looseKey, Provider: "anthropic", Model: "claude-sonnet-4"},
	}
	var mu sync.Mutex
	granted, denied := map[byte]int64{}, map[byte]int{}
	var wg sync.WaitGroup
	for i := range 1000 {
		kind := "ABC"[i%3]
		wg.Go(func() {
			in := calls[kind]
			in.AmountNanoUSD, in.Now = each, time.Now()
			in.ExpiresAt = in.Now.Add(time.Minute)
			r, err := f.st.Reserve(ctx, in)
			var d *budget.DeniedError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				granted[kind] += each
				if want := map[byte]int{'A': 8, 'B': 4, 'C': 1}[kind]; len(r.BudgetIDs) != want {
					t.Errorf("call %c held %d budgets, want %d", kind, len(r.BudgetIDs), want)
				}
			case errors.As(err, &d):
				denied[kind]++
			default:
				t.Errorf("reserve: %v", err)
			}
		})
	}
	wg.Wait()
	t.Logf("granted %v, denied %v", granted, denied)
	room := map[string]int64{}
	for name, bd := range budgets {
		spent, reserved := counter(t, f, bd.id, budget.Month, time.Now())
		var want int64
		for _, k := range []byte(bd.covers) {
			want += granted[k]
		}
		if reserved != want || spent != 0 {
			t.Errorf("%s budget holds %d (spent %d), want the %d granted to calls %s", name, reserved, spent, want, bd.covers)
		}
		if reserved > bd.cap {
			t.Errorf("%s budget exceeded: %d > %d", name, reserved, bd.cap)
		}
		room[name] = bd.cap - reserved
	}
	for _, kind := range []byte("ABC") {
		if denied[kind] == 0 {
			continue
		}
		full := false
		for name, bd := range budgets {
			full = full || (bytesContain(bd.covers, kind) && room[name] < each)
		}
		if !full {
			t.Errorf("calls %c were refused although every budget covering them has room: %v", kind, room)
		}
	}
	if denied['A'] == 0 || granted['C'] == 0 {
		t.Fatalf("the caps were meant to refuse some calls of A and let C through: granted %v denied %v", granted, denied)
	}
}

func bytesContain(s string, b byte) bool {
	for i := range len(s) {
		if s[i] == b {
			return true
		}
	}
	return false
}

// TestSpendCountsTowardEveryCoveringScope applies spend attributed to a
// project and checks every budget whose scope covers it counted it, and no
// other (a sibling project's budget stays at zero).
func TestSpendCountsTowardEveryCoveringScope(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	ws, team, project, sibling := f.tree(t)
	covering := []string{
		f.scoped(t, "workspace", "workspace_id", ws, 1e12, false),
		f.scoped(t, "team", "team_id", team, 1e12, false),
		f.scoped(t, "project", "project_id", project, 1e12, false),
		f.scoped(t, "provider", "provider", "openai", 1e12, false),
		f.scoped(t, "model", "model", "gpt-4o", 1e12, false),
	}
	other := []string{
		f.scoped(t, "project", "project_id", sibling, 1e12, false),
		f.scoped(t, "provider", "provider", "anthropic", 1e12, false),
	}
	sp := spend(f, 500, time.Now())
	sp.WorkspaceID, sp.TeamID, sp.ProjectID, sp.Provider, sp.Model = ws, team, project, "openai", "gpt-4o"
	_, err := f.st.ApplySpend(ctx, []budget.Spend{sp})
	testenv.Must(t, err, "apply")
	for _, id := range covering {
		if s, _ := counter(t, f, id, budget.Month, time.Now()); s != 500 {
			t.Errorf("covering budget %s counted %d, want 500", id, s)
		}
	}
	for _, id := range other {
		if s, _ := counter(t, f, id, budget.Month, time.Now()); s != 0 {
			t.Errorf("budget %s does not cover the spend but counted %d", id, s)
		}
	}
	// The key's project budget blocks the key once exhausted.
	tight := f.scoped(t, "project", "project_id", project, 400, false)
	sp = spend(f, 400, time.Now())
	sp.WorkspaceID, sp.TeamID, sp.ProjectID = ws, team, project
	_, err = f.st.ApplySpend(ctx, []budget.Spend{sp})
	testenv.Must(t, err, "apply")
	if s, _ := counter(t, f, tight, budget.Month, time.Now()); s != 400 {
		t.Fatalf("tight project budget counted %d", s)
	}
	if blocked, reason, err := f.st.KeyBlocked(ctx, f.tenant, f.key); err != nil || !blocked || reason != "budget_exceeded" {
		t.Fatalf("key under an exhausted project budget: blocked %v %q %v", blocked, reason, err)
	}
}

// TestRolloverCarriesUnusedAmount: a rollover budget's next period may
// spend its amount plus what the previous period left, and no more.
func TestRolloverCarriesUnusedAmount(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	id := f.scoped(t, "key", "key_id", f.key, 1000, true)
	now := time.Now().UTC()
	start, _, err := budget.Bounds(budget.Month, now)
	testenv.Must(t, err, "bounds")
	_, err = f.st.ApplySpend(ctx, []budget.Spend{spend(f, 300, start.Add(-time.Hour))}) // last month used 300 of 1000
	testenv.Must(t, err, "apply last month")
	reserve := func(amount int64) error {
		_, err := f.st.Reserve(ctx, pgstore.ReserveInput{TenantID: f.tenant, KeyID: f.key, AmountNanoUSD: amount, Now: now, ExpiresAt: now.Add(time.Minute)})
		return err
	}
	// 1,700 fit this month (1,000 + 700 carried), 1,701 do not.
	var d *budget.DeniedError
	if err := reserve(1701); !errors.As(err, &d) {
		t.Fatalf("1,701 of a 1,700 cap: %v", err)
	}
	testenv.Must(t, reserve(1200), "reserve within the carried cap")
	if err := reserve(501); !errors.As(err, &d) || d.LeftNanoUSD != 500 {
		t.Fatalf("501 with 500 left: %v", err)
	}
	testenv.Must(t, reserve(500), "reserve the rest")
	st, err := f.st.PeriodTotals(ctx, []*budget.Budget{{ID: id, Period: budget.Month, AmountNanoUSD: 1000}}, now)
	testenv.Must(t, err, "totals")
	if st[id].AmountNanoUSD != 1700 || st[id].ReservedNanoUSD != 1700 {
		t.Fatalf("status = %+v, want amount 1700 reserved 1700", st[id])
	}
}
