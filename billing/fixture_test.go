package billing_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/billing"
	"github.com/spendgate/spendgate/billing/pgstore"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/ingest"
	"github.com/spendgate/spendgate/internal/pgtest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/pricing/revision"
	"github.com/spendgate/spendgate/reprice"
	"github.com/spendgate/spendgate/spend"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
	"github.com/spendgate/spendgate/usage"
)

// fixture is billing over a real Postgres database and a real ClickHouse
// database, with the control plane and re-pricing as `spendgate serve`
// wires them.
type fixture struct {
	t       *testing.T
	pool    *pgxpool.Pool
	cp      *controlplane.Service
	events  *chstore.Writer
	store   *chstore.Analytics
	svc     *billing.Service
	reprice *reprice.Service
	now     time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.Migrated(t)
	tokens, err := auth.NewTokens([]byte(strings.Repeat("j", 32)))
	testenv.Must(t, err, "tokens")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cp, err := controlplane.New(pool, []byte("pepper-pepper-pepper"), tokens, log)
	testenv.Must(t, err, "controlplane")
	testenv.Must(t, revision.New(pool, log).Seed(ctx), "seed pricing revisions")
	addr, db := testenv.ClickHouse(t)
	conn, err := chstore.Open(ctx, addr, db)
	testenv.Must(t, err, "clickhouse")
	t.Cleanup(func() { _ = conn.Close() })
	testenv.Must(t, chstore.Migrate(ctx, conn, db), "clickhouse migrate")
	f := &fixture{t: t, pool: pool, cp: cp, events: chstore.NewWriter(conn, db), store: &chstore.Analytics{Conn: conn, Database: db},
		now: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}
	f.svc = billing.New(cp, pgstore.New(pool), f.store)
	f.svc.Now = func() time.Time { return f.now }
	f.reprice = reprice.New(cp, pool, f.store, f.events, pricing.Default(), nil)
	return f
}

// owner bootstraps a tenant and returns its owner's context.
func (f *fixture) owner(email, slug string) (context.Context, string) {
	f.t.Helper()
	u, tn, err := f.cp.CreateOwner(context.Background(), email, "password-123", "Tenant "+slug, slug)
	testenv.Must(f.t, err, "create owner")
	return auth.WithPrincipal(context.Background(), auth.Principal{UserID: u.ID, Email: u.Email}), tn.ID
}

// member adds a member with role and returns its context.
func (f *fixture) member(ctx context.Context, tenantID, email string, role controlplane.Role) context.Context {
	f.t.Helper()
	m, err := f.cp.AddMember(ctx, tenantID, email, "M", "password-123", role)
	testenv.Must(f.t, err, "add member")
	return auth.WithPrincipal(context.Background(), auth.Principal{UserID: m.User.ID, Email: email})
}

// call is one usage event to store.
type call struct {
	provider, model string
	at              time.Time
	tokens          usage.Tokens
	team            string
	dims            map[string]string
}

// record prices calls as ingest does (catalogue in force at each call's
// time, the tenant's overrides) and stores them; it returns the stored
// events with their costs.
func (f *fixture) record(ctx context.Context, tenantID string, calls ...call) []spend.PricedEvent {
	f.t.Helper()
	ovs, err := f.cp.TenantOverrides(ctx, tenantID)
	testenv.Must(f.t, err, "overrides")
	var evs []spend.PricedEvent
	for _, c := range calls {
		e := event.Event{SchemaVersion: event.SchemaVersion, Type: event.TypeUsage, EventID: uuid.NewString(), Time: c.at.UTC(),
			TenantID: tenantID, KeyID: "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", Source: event.SourceGateway, Provider: c.provider,
			Operation: "chat.completions", ModelRequested: c.model, ModelServed: c.model, StatusCode: 200, Complete: true,
			Usage: c.tokens, TeamID: c.team, Dimensions: c.dims}
		cost := pricing.Default().CatalogueAt(e.Time).Cost(ingest.CostRequest(&e), e.Usage, ovs)
		evs = append(evs, spend.PricedEvent{Event: e, Cost: cost})
	}
	_, err = f.events.Write(ctx, evs)
	testenv.Must(f.t, err, "write events")
	return evs
}

func nov(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 0, 0, 0, time.UTC) }
