package clickhouse

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/spend"
)

// TestRollupsByLevelEqualTheSumOfTheirChildren stores events attributed
// across two workspaces, three teams and four projects (and some attributed
// to nothing), then checks that every workspace's spend is the sum of its
// teams', every team's the sum of its projects', and that each level's
// breakdown from the rollups (whole days), mixed (ragged ends) and raw
// events is the same — and that attribution comes back out of stored events
// as fields, not as dimensions.
func TestRollupsByLevelEqualTheSumOfTheirChildren(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr, db := testenv.ClickHouse(t)
	conn, err := Open(ctx, addr, db)
	testenv.Must(t, err, "open")
	testenv.Must(t, Migrate(ctx, conn, db), "migrate")
	const tenant = "11111111-1111-4111-8111-111111111111"
	const key = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	type place struct{ ws, team, project string }
	places := []place{{"w1", "t1", "p1"}, {"w1", "t1", "p2"}, {"w1", "t2", "p3"}, {"w2", "t3", "p4"}, {"", "", ""}}
	var evs []spend.PricedEvent
	for i := range 200 {
		p := places[i%len(places)]
		e := priced(fmt.Sprintf("e%03d", i), key, []string{"gpt-4o", "gpt-4o-mini"}[i%2], []string{"search", "ads"}[i%3%2],
			t0.Add(time.Duration(i*13)*time.Minute), true, int64(1000+i*7))
		e.Event.WorkspaceID, e.Event.TeamID, e.Event.ProjectID = p.ws, p.team, p.project
		evs = append(evs, e)
	}
	w := NewWriter(conn, db)
	if n, err := w.Write(ctx, evs); err != nil || n != len(evs) {
		t.Fatalf("write: %d %v", n, err)
	}
	parents := map[string]map[string]string{ // level → child → parent
		"team":    {"t1": "w1", "t2": "w1", "t3": "w2", "": ""},
		"project": {"p1": "t1", "p2": "t1", "p3": "t2", "p4": "t3", "": ""},
	}
	for _, rng := range [][2]time.Time{{t0, t0.Add(72 * time.Hour)}, {t0.Add(-17 * time.Minute), t0.Add(50*time.Hour + 9*time.Minute)}} {
		by := map[string]map[string]spend.Sums{}
		for _, level := range []string{"workspace", "team", "project"} {
			s := spend.Spec{Tenant: tenant, From: rng[0], To: rng[1], GroupBy: []string{level}}
			var answers [2]map[string]spend.Sums
			for i, raw := range []bool{false, true} {
				a := Analytics{Conn: conn, Database: db, RawOnly: raw}
				groups, total, err := a.Breakdown(ctx, s, 0)
				testenv.Must(t, err, "breakdown by "+level)
				answers[i] = map[string]spend.Sums{}
				var sum spend.Sums
				for _, g := range groups {
					answers[i][g.Keys[0]] = g.Sums
					sum.Add(g.Sums)
				}
				if sum != total {
					t.Fatalf("%s groups sum to %+v, total %+v", level, sum, total)
				}
			}
			if fmt.Sprint(answers[0]) != fmt.Sprint(answers[1]) {
				t.Fatalf("by %s over %v: planner %v, raw events %v", level, rng, answers[0], answers[1])
			}
			by[level] = answers[0]
		}
		for _, child := range []string{"team", "project"} {
			parent := map[string]string{"team": "workspace", "project": "team"}[child]
			sums := map[string]spend.Sums{}
			for c, s := range by[child] {
				p := sums[parents[child][c]]
				p.Add(s)
				sums[parents[child][c]] = p
			}
			if fmt.Sprint(sums) != fmt.Sprint(by[parent]) {
				t.Fatalf("%ss summed by %s: %v, but by %s: %v", child, parent, sums, parent, by[parent])
			}
		}
		if len(by["project"]) != 5 || by["workspace"]["w1"].Events == 0 {
			t.Fatalf("every project and the unattributed must show: %v", by["project"])
		}
	}
	// Filters by level, and a scoped reader's reach.
	a := Analytics{Conn: conn, Database: db}
	s := spend.Spec{Tenant: tenant, From: t0, To: t0.Add(72 * time.Hour), Filters: spend.Filters{TeamIDs: []string{"t1"}}}
	team, err := a.TotalSpend(ctx, s)
	testenv.Must(t, err, "team total")
	s.Filters = spend.Filters{Within: &spend.Within{ProjectIDs: []string{"p1", "p2"}, TeamIDs: []string{}}}
	within, err := a.TotalSpend(ctx, s)
	testenv.Must(t, err, "within total")
	if team != within || team.Events != 80 {
		t.Fatalf("team t1 %+v, projects p1+p2 %+v (want 80 events each)", team, within)
	}
	// Stored events give their attribution back as fields, and the reserved
	// pairs never show as dimensions.
	rows, err := a.Events(ctx, spend.Spec{Tenant: tenant, From: t0, To: t0.Add(72 * time.Hour), Filters: spend.Filters{ProjectIDs: []string{"p3"}}}, nil, 5)
	testenv.Must(t, err, "events")
	if len(rows) == 0 {
		t.Fatal("no events of p3")
	}
	for _, r := range rows {
		if r.WorkspaceID != "w1" || r.TeamID != "t2" || r.ProjectID != "p3" || fmt.Sprint(r.DimNames) != "[team]" {
			t.Fatalf("event row attribution %q/%q/%q dims %v", r.WorkspaceID, r.TeamID, r.ProjectID, r.DimNames)
		}
	}
}
