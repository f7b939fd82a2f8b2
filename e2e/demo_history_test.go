package e2e

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/money"
)

// `spendgate demo traffic --days N` records N days of history through the
// record API of a real `spendgate serve` (the ingest path every recorded
// call takes) with the calls' own times: every day has spend, weekdays more
// than weekends, one day spikes; the demo budget exists with its
// thresholds; and a second run records nothing twice.
func TestDemoTrafficHistory(t *testing.T) {
	s := testenv.StartServe(t)
	run := func() string {
		t.Helper()
		out, err := exec.Command(testenv.Binary(t), "demo", "traffic", "--days", "14", "--requests", "0", "--calls-per-day", "150",
			"--api", s.APIURL, "--gateway", s.GatewayURL, "--key", s.DemoKey).CombinedOutput()
		if err != nil {
			t.Fatalf("demo traffic --days 14: %v\n%s", err, out)
		}
		return string(out)
	}
	out := run()
	m := regexp.MustCompile(`: (\d+) new records, (\d+) recorded before; a runaway batch job spikes at (\S+ \S+)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, `created the budget "Demo monthly"`) {
		t.Fatalf("demo traffic said:\n%s", out)
	}
	recorded, _ := strconv.ParseInt(m[1], 10, 64)
	spike, err := time.Parse("2006-01-02 15:04", m[3])
	testenv.Must(t, err, "spike time")
	if recorded < 14*60 || m[2] != "0" {
		t.Fatalf("first run recorded %d new, %s before", recorded, m[2])
	}

	q := s.APIURL + "/query"
	token, tenant := s.SignInDemo(t)
	to := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	vars := map[string]any{"t": tenant, "f": to.AddDate(0, 0, -16).Format(time.RFC3339), "to": to.Format(time.RFC3339)}
	var got struct {
		SpendSummary struct {
			Requests, UnpricedRequests int64
			TenantCost                 string
		}
		SpendTimeSeries []struct {
			Start  time.Time
			Totals struct {
				Requests   int64
				TenantCost string
			}
		}
		BudgetStatuses []struct {
			Budget struct {
				Name, Period, Amount string
				Thresholds           []int
				Hard                 bool
			}
			Spent, Forecast string
		}
	}
	const query = `query($t:ID!,$f:Time!,$to:Time!){
		spendSummary(tenantId:$t,from:$f,to:$to){requests unpricedRequests tenantCost}
		spendTimeSeries(tenantId:$t,from:$f,to:$to,bucket:DAY){start totals{requests tenantCost}}
		budgetStatuses(tenantId:$t){budget{name period amount thresholds hard} spent forecast}}`
	testenv.WaitFor(t, 90*time.Second, "the history in ClickHouse", func() bool {
		testenv.MustGraphQL(t, q, token, query, vars, &got)
		return got.SpendSummary.Requests == recorded
	})
	if got.SpendSummary.UnpricedRequests != 0 {
		t.Fatalf("%d history calls unpriced: every model of the history is in the catalogue", got.SpendSummary.UnpricedRequests)
	}
	// Every day of the 14 has spend; weekdays more calls than weekend days; the spike day costs most.
	var weekday, weekend []int64
	var top time.Time
	var topCost int64
	for _, p := range got.SpendTimeSeries {
		cost, err := money.ParseUSD(p.Totals.TenantCost)
		testenv.Must(t, err, "cost")
		if cost > topCost {
			top, topCost = p.Start, cost
		}
		switch p.Start.Weekday() {
		case time.Saturday, time.Sunday:
			weekend = append(weekend, p.Totals.Requests)
		default:
			weekday = append(weekday, p.Totals.Requests)
		}
	}
	if len(got.SpendTimeSeries) < 14 {
		t.Fatalf("spend on %d days, want every one of 14: %+v", len(got.SpendTimeSeries), got.SpendTimeSeries)
	}
	if avg(weekend)*2 > avg(weekday) {
		t.Fatalf("weekend days average %d calls, weekdays %d", avg(weekend), avg(weekday))
	}
	if !top.Equal(spike.Truncate(24 * time.Hour)) {
		t.Fatalf("the costliest day is %s, the spike was on %s", top, spike)
	}
	if len(got.BudgetStatuses) != 1 {
		t.Fatalf("budgets %+v", got.BudgetStatuses)
	}
	b := got.BudgetStatuses[0].Budget
	if b.Name != "Demo monthly" || b.Period != "MONTH" || b.Amount != "100" || b.Hard || len(b.Thresholds) != 3 || b.Thresholds[0] != 50 || b.Thresholds[2] != 100 {
		t.Fatalf("demo budget %+v", b)
	}

	// Again: every record is a duplicate (same idempotency keys), nothing counted twice, still one budget.
	out = run()
	if !regexp.MustCompile(`: 0 new records, `+strconv.FormatInt(recorded, 10)+` recorded before`).MatchString(out) || strings.Contains(out, "created the budget") {
		t.Fatalf("second run said:\n%s", out)
	}
	time.Sleep(3 * time.Second) // would-be duplicates would be in ClickHouse by now (the first run's arrived within seconds)
	testenv.MustGraphQL(t, q, token, query, vars, &got)
	if got.SpendSummary.Requests != recorded || len(got.BudgetStatuses) != 1 {
		t.Fatalf("after a second run: %d requests (want %d), %d budgets", got.SpendSummary.Requests, recorded, len(got.BudgetStatuses))
	}
}

func avg(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	var s int64
	for _, x := range xs {
		s += x
	}
	return s / int64(len(xs))
}
