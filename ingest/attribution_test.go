package ingest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/org/orgstore"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/store/clickhouse"
)

// TestEventsAttributedFromTheTree runs the consumer with the control plane's
// tree (real Postgres, real ClickHouse): an event of a key in a project is
// stored with the project, its team and its workspace, whatever the data
// plane sent; an event of a key without a project is placed by a dimension
// mapping; moving the key later changes where new events go, not the
// stored ones.
func TestEventsAttributedFromTheTree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newPipeline(t, pipelineOpts{migrate: true})
	pg := newControlPlaneDB(t)
	const key = "22222222-2222-4222-8222-222222222222"
	var ws, team, api, web string
	testenv.Must(t, pg.QueryRow(ctx, `INSERT INTO workspaces (tenant_id, name) VALUES ($1, 'prod') RETURNING id::text`, tenant).Scan(&ws), "ws")
	testenv.Must(t, pg.QueryRow(ctx, `INSERT INTO teams (tenant_id, workspace_id, name) VALUES ($1, $2, 'pay') RETURNING id::text`, tenant, ws).Scan(&team), "team")
	testenv.Must(t, pg.QueryRow(ctx, `INSERT INTO projects (tenant_id, team_id, name) VALUES ($1, $2, 'api') RETURNING id::text`, tenant, team).Scan(&api), "api")
	testenv.Must(t, pg.QueryRow(ctx, `INSERT INTO projects (tenant_id, team_id, name) VALUES ($1, $2, 'web') RETURNING id::text`, tenant, team).Scan(&web), "web")
	_, err := pg.Exec(ctx, `INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, project_id) VALUES ($1, $2, 'k', 'pfx0000001', '\x00', $3)`, key, tenant, api)
	testenv.Must(t, err, "key")
	_, err = pg.Exec(ctx, `INSERT INTO attribution_mappings (tenant_id, dimension_name, dimension_value, project_id) VALUES ($1, 'team', 'search', $2)`, tenant, web)
	testenv.Must(t, err, "mapping")
	trees := NewCachedTrees(orgstore.Reader{DB: pg}, time.Minute)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	trees.now = func() time.Time { return time.Unix(0, clock.Load()) }
	p.start(func(c *Consumer) { c.SetTrees(trees) })

	a := clickhouse.Analytics{Conn: p.conn, Database: p.db}
	byProject := func() map[string]uint64 {
		groups, _, err := a.Breakdown(ctx, spend.Spec{Tenant: tenant, From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour), GroupBy: []string{"project"}}, 0)
		testenv.Must(t, err, "breakdown")
		out := map[string]uint64{}
		for _, g := range groups {
			out[g.Keys[0]] = g.Events
		}
		return out
	}
	forged := usageEvents(2, 900)
	for i := range forged {
		forged[i].ProjectID, forged[i].TeamID = "forged-project", "forged-team"
	}
	p.publish(forged)
	testenv.WaitFor(t, 20*time.Second, "two events of the key's project", func() bool { return byProject()[api] == 2 })
	other := usageEvents(1, 910)
	other[0].KeyID = "44444444-4444-4444-8444-444444444444" // no project: the team=search mapping places it
	p.publish(other)
	testenv.WaitFor(t, 20*time.Second, "the mapped event in web", func() bool { return byProject()[web] == 1 })
	// The key moves to web; the next event goes there, stored ones stay.
	_, err = pg.Exec(ctx, `UPDATE api_keys SET project_id = $2 WHERE id = $1`, key, web)
	testenv.Must(t, err, "move key")
	clock.Add(int64(2 * time.Minute)) // past the cache's TTL
	p.publish(usageEvents(1, 920))
	testenv.WaitFor(t, 20*time.Second, "the moved key's event in web", func() bool { return byProject()[web] == 2 })
	got := byProject()
	if got[api] != 2 || got["forged-project"] != 0 || len(got) != 2 {
		t.Fatalf("events by project %v: want 2 in api, 2 in web, nothing forged", got)
	}
	rows, err := a.Events(ctx, spend.Spec{Tenant: tenant, From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour),
		Filters: spend.Filters{ProjectIDs: []string{api}}}, nil, 10)
	testenv.Must(t, err, "events")
	if len(rows) != 2 || rows[0].WorkspaceID != ws || rows[0].TeamID != team {
		t.Fatalf("stored attribution of api's events: %+v", rows)
	}
}
