package report

import (
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/internal/pdftest"
	"github.com/spendgate/spendgate/spend"
)

// fakeSpend answers from a list of (time, model, key, team, cost) events,
// summing exactly what a store would for the spec's range and filters.
type fakeSpend struct{ events []fakeEvent }

type fakeEvent struct {
	at               time.Time
	model, key, team string
	cost             int64
}

func (f *fakeSpend) match(s spend.Spec, e fakeEvent) bool {
	if e.at.Before(s.From) || !e.at.Before(s.To) {
		return false
	}
	if len(s.Filters.TeamIDs) > 0 && e.team != s.Filters.TeamIDs[0] {
		return false
	}
	return true
}

func (f *fakeSpend) TotalSpend(_ context.Context, s spend.Spec) (spend.Sums, error) {
	var out spend.Sums
	for _, e := range f.events {
		if f.match(s, e) {
			out.Add(spend.Sums{Events: 1, TenantNanoUSD: e.cost, ListNanoUSD: e.cost})
		}
	}
	return out, nil
}

func (f *fakeSpend) Breakdown(_ context.Context, s spend.Spec, _ int) ([]spend.Group, spend.Sums, error) {
	idx := map[string]int{}
	var groups []spend.Group
	var total spend.Sums
	for _, e := range f.events {
		if !f.match(s, e) {
			continue
		}
		k := map[string]string{"model": e.model, "key": e.key, "team": e.team}[s.GroupBy[0]]
		i, ok := idx[k]
		if !ok {
			i = len(groups)
			idx[k] = i
			groups = append(groups, spend.Group{Keys: []string{k}})
		}
		one := spend.Sums{Events: 1, TenantNanoUSD: e.cost}
		groups[i].Add(one)
		total.Add(one)
	}
	return groups, total, nil
}

func (f *fakeSpend) TimeSeries(context.Context, spend.Spec) ([]spend.Point, error) { return nil, nil }

type fakeDirectory struct{}

func (fakeDirectory) TenantName(context.Context, string) (string, error) { return "Acme", nil }
func (fakeDirectory) KeyNames(_ context.Context, _ string, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for _, id := range ids {
		out[id] = "key " + id
	}
	return out, nil
}

func (fakeDirectory) NodeNames(_ context.Context, _ string, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for _, id := range ids {
		out[id] = strings.ToUpper(id)
	}
	return out, nil
}

func (fakeDirectory) Budgets(context.Context, string, Scope, time.Time) ([]BudgetLine, error) {
	return []BudgetLine{{Name: "Monthly cap", Period: "month", AmountNanoUSD: 100e9, SpentNanoUSD: 80e9, ForecastNanoUSD: 120e9}}, nil
}

type fakeAnomalies struct{ scope Scope }

func (f *fakeAnomalies) Anomalies(_ context.Context, _ string, s Scope, from, _ time.Time) ([]Anomaly, error) {
	f.scope = s
	return []Anomaly{{Start: from.Add(30 * time.Hour), Subject: "model gpt-4o", Severity: "high", ExpectedNanoUSD: 1e9, ActualNanoUSD: 9e9}}, nil
}

type fakeRecommendations struct{}

func (fakeRecommendations) OpenRecommendations(context.Context, string, Scope) ([]Recommendation, error) {
	return []Recommendation{{Title: "Use gpt-4o-mini for key ci-bot", EstimatedMonthlySavingsNanoUSD: 3e9},
		{Title: "Enable prompt caching for key search", EstimatedMonthlySavingsNanoUSD: 40e9}}, nil
}

var week = Period{From: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC),
	PrevFrom: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), PrevTo: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)}

func events() *fakeSpend {
	d := func(days, h int) time.Time { return week.From.Add(time.Duration(days*24+h) * time.Hour) }
	return &fakeSpend{events: []fakeEvent{
		{d(0, 1), "gpt-4o", "k1", "search", 5_000_000_000},
		{d(2, 1), "gpt-4o", "k1", "search", 7_000_000_000},
		{d(3, 5), "claude", "k2", "ads", 1_500_000_000},
		{d(-3, 1), "gpt-4o", "k1", "search", 2_000_000_000},
		{d(-2, 1), "claude", "k2", "ads", 4_000_000_000},
		{d(-1, 1), "mini", "k3", "", 250_000_000},
		{d(7, 1), "gpt-4o", "k1", "search", 99_000_000_000}, // after the period
	}}
}

func TestGenerateSumsMoversAndSections(t *testing.T) {
	t.Parallel()
	d := valid()
	d.TimeZone = "UTC"
	g := &Generator{Spend: events(), Directory: fakeDirectory{}}
	r, err := g.Generate(context.Background(), &d, week)
	if err != nil {
		t.Fatal(err)
	}
	if r.Current.TenantNanoUSD != 13_500_000_000 || r.Previous.TenantNanoUSD != 6_250_000_000 || r.ChangeNanoUSD() != 7_250_000_000 {
		t.Fatalf("sums %d %d", r.Current.TenantNanoUSD, r.Previous.TenantNanoUSD)
	}
	if len(r.Daily) != 7 || r.Daily[0].NanoUSD != 5e9 || r.Daily[2].NanoUSD != 7e9 || r.Daily[3].NanoUSD != 1.5e9 || r.Daily[1].NanoUSD != 0 {
		t.Fatalf("daily %+v", r.Daily)
	}
	var got []string
	for _, m := range r.Movers {
		got = append(got, m.Dimension+":"+m.Label+":"+USD(m.ChangeNanoUSD()))
	}
	want := "model:gpt-4o:$10.00 model:claude:-$2.50 model:mini:-$0.25 key:key k1:$10.00 key:key k2:-$2.50 key:key k3:-$0.25 " +
		"team:SEARCH:$10.00 team:ADS:-$2.50 team:(no team):-$0.25"
	if strings.Join(got, " ") != want {
		t.Fatalf("movers\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	if r.Anomalies != nil || r.Recommendations != nil {
		t.Fatal("sections without a source must be nil")
	}
	if r.ScopeLabel != "Tenant Acme" {
		t.Fatal(r.ScopeLabel)
	}
}

func TestGenerateTeamScopeAndPluggedSections(t *testing.T) {
	t.Parallel()
	d := valid()
	d.Scope = Scope{Kind: ScopeTeam, NodeID: "ads"}
	an := &fakeAnomalies{}
	g := &Generator{Spend: events(), Directory: fakeDirectory{}, Anomalies: an, Recommendations: fakeRecommendations{}, MoversPerDimension: 1}
	r, err := g.Generate(context.Background(), &d, week)
	if err != nil {
		t.Fatal(err)
	}
	if r.Current.TenantNanoUSD != 1_500_000_000 || r.Previous.TenantNanoUSD != 4_000_000_000 || r.ScopeLabel != "Team ADS" {
		t.Fatalf("team sums %d %d %s", r.Current.TenantNanoUSD, r.Previous.TenantNanoUSD, r.ScopeLabel)
	}
	if len(r.Movers) != 3 || an.scope != d.Scope || len(r.Anomalies) != 1 {
		t.Fatalf("movers %+v anomalies %+v scope %+v", r.Movers, r.Anomalies, an.scope)
	}
	if r.Recommendations[0].EstimatedMonthlySavingsNanoUSD != 40e9 {
		t.Fatal("recommendations are listed by savings, largest first")
	}
}

func TestCSVAndPDFRender(t *testing.T) {
	t.Parallel()
	d := valid()
	d.Name = "Weekly spend — Acme"
	g := &Generator{Spend: events(), Directory: fakeDirectory{}, Anomalies: &fakeAnomalies{}, Recommendations: fakeRecommendations{}}
	r, err := g.Generate(context.Background(), &d, week)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.CSV()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(c))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") || rows[1][0] != "summary" || rows[1][3] != "13.5" || rows[1][4] != "6.25" || rows[1][5] != "7.25" {
		t.Fatalf("csv %v", rows[:2])
	}
	pdf, err := r.PDF(time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	pages, text := pdftest.Render(t, pdf)
	if pages < 1 {
		t.Fatal("no pages")
	}
	for _, want := range []string{"Weekly spend — Acme", "Tenant Acme", "Spend this period", "$13.50", "$6.25", "+$7.25 (116%)",
		"Top movers", "gpt-4o", "Monthly cap", "at risk", "Anomalies", "model gpt-4o", "Recommendations", "Enable prompt caching",
		"Savings a month", "$40.00", "Page 1 of", "Cumulative spend against the previous period", "Previous period"} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q:\n%s", want, text)
		}
	}
}
