package reconcile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/egress"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/fakeprovider"
	"github.com/spendgate/spendgate/internal/pgtest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/reconcile"
	"github.com/spendgate/spendgate/reconcile/notify"
	"github.com/spendgate/spendgate/reconcile/pgstore"
	"github.com/spendgate/spendgate/reconcile/pull"
	"github.com/spendgate/spendgate/schedule"
	"github.com/spendgate/spendgate/secrets"
	"github.com/spendgate/spendgate/spend"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
	"github.com/spendgate/spendgate/usage"
)

// The reconciliation end to end against real services: Postgres (the
// store, the control plane's authorization and audit log), ClickHouse (the
// metered side) and the fake provider's admin endpoints over HTTP.

var (
	day0 = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	now  = day0.AddDate(0, 0, 3).Add(10 * time.Hour) // look-back 3 days: [day0, day0+4)
)

const adminKey = "sk-admin-S3CRETkeyMaterial-7x9Q"

type env struct {
	svc        *reconcile.Service
	cp         *controlplane.Service
	pool       *pgxpool.Pool
	fp         *fakeprovider.Server
	ch         *chstore.Writer
	logs       *bytes.Buffer
	ctxA, ctxB context.Context
	tenantA    string
	tenantB    string
	hooks      *hookRecorder
	hookURL    string
}

type hookRecorder struct {
	mu     sync.Mutex
	bodies []notify.WebhookBody
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var b notify.WebhookBody
	_ = json.NewDecoder(r.Body).Decode(&b)
	h.mu.Lock()
	h.bodies = append(h.bodies, b)
	h.mu.Unlock()
}

func (h *hookRecorder) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.bodies)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	addr, db := testenv.ClickHouse(t)
	pool := pgtest.Migrated(t)
	conn, err := chstore.Open(ctx, addr, db)
	testenv.Must(t, err, "clickhouse")
	testenv.Must(t, chstore.Migrate(ctx, conn, db), "clickhouse migrate")
	t.Cleanup(func() { _ = conn.Close() })

	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tokens, err := auth.NewTokens([]byte(strings.Repeat("j", 32)))
	testenv.Must(t, err, "tokens")
	cp, err := controlplane.New(pool, []byte("pepper-pepper-pepper"), tokens, log)
	testenv.Must(t, err, "control plane")
	keyEntry, err := secrets.NewKey("k1")
	testenv.Must(t, err, "key")
	ring, err := secrets.Parse(keyEntry)
	testenv.Must(t, err, "keyring")

	fp := fakeprovider.New(fakeprovider.Config{})
	fp.SetAdminKey("openai", adminKey)
	fp.SetAdminKey("anthropic", adminKey)
	fp.AdminPageBuckets(2)
	fake := httptest.NewServer(fp)
	t.Cleanup(fake.Close)
	hooks := &hookRecorder{}
	hookSrv := httptest.NewServer(hooks)
	t.Cleanup(hookSrv.Close)
	pol, err := egress.ParseAllow("127.0.0.1")
	testenv.Must(t, err, "egress")

	pc := pull.New(nil)
	pc.Sleep = func(context.Context, time.Duration) error { return nil }
	svc := reconcile.New(cp, pgstore.New(pool), &chstore.Analytics{Conn: conn, Database: db}, pc, notify.New("sg", nil, pol), ring,
		reconcile.Config{BaseURLs: map[reconcile.Provider]string{reconcile.OpenAI: fake.URL, reconcile.Anthropic: fake.URL}}, log)
	svc.Now = func() time.Time { return now }

	e := &env{svc: svc, cp: cp, pool: pool, fp: fp, ch: chstore.NewWriter(conn, db), logs: logs, hooks: hooks, hookURL: hookSrv.URL + "/drift"}
	e.ctxA, e.tenantA = owner(t, cp, "ann@example.com", "acme")
	e.ctxB, e.tenantB = owner(t, cp, "bob@example.com", "beta")
	_, err = svc.SetSettings(e.ctxA, e.tenantA, reconcile.Settings{ThresholdBP: 200, WebhookURL: hookSrv.URL + "/drift"})
	testenv.Must(t, err, "settings")
	return e
}

func owner(t *testing.T, cp *controlplane.Service, email, slug string) (context.Context, string) {
	t.Helper()
	u, tn, err := cp.CreateOwner(context.Background(), email, "password-123", "Tenant "+slug, slug)
	testenv.Must(t, err, "create owner")
	return auth.WithPrincipal(context.Background(), auth.Principal{UserID: u.ID, Email: u.Email}), tn.ID
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if apierr.CodeOf(err) != code {
		t.Fatalf("%s: want %s, got %v", what, code, err)
	}
}

// meter stores one priced usage event of the tenant.
func (e *env) meter(t *testing.T, tenant, provider, model string, at time.Time, in, out, tenantNano int64) {
	t.Helper()
	ev := event.Event{SchemaVersion: 1, Type: event.TypeUsage, EventID: uuid.NewString(),
		Time: at, Source: event.SourceGateway, TenantID: tenant, KeyID: "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
		Provider: provider, Operation: "chat.completions", ModelRequested: model, StatusCode: 200, Complete: true,
		Usage: usage.Tokens{Input: in, Output: out}}
	c := pricing.Cost{Priced: true, Model: model, ListNanoUSD: tenantNano, TenantNanoUSD: tenantNano,
		Lines: []pricing.Line{{Class: "input", Quantity: in, AmountNanoUSD: tenantNano}}}
	_, err := e.ch.Write(context.Background(), []spend.PricedEvent{{Event: ev, Cost: c}})
	testenv.Must(t, err, "write metered event")
}

func str(s string) *string { return &s }

func TestConnectionsKeepKeysSealed(t *testing.T) {
	e := newEnv(t)
	c, err := e.svc.CreateConnection(e.ctxA, e.tenantA, reconcile.ConnectionInput{Provider: "openai", Name: str("OpenAI prod"),
		AdminKey: str(adminKey), DataKey: str("sk-proj-dataplane-key-0001")})
	testenv.Must(t, err, "create")
	if c.AdminKeyLast4 != "7x9Q" || c.DataKeyLast4 != "0001" || c.LookbackDays != 3 || !c.Enabled {
		t.Fatalf("created %+v", c)
	}
	// Rotate the admin key: a new last four, audited.
	const rotated = "sk-admin-ROTATEDkeyMaterial-ZZ42"
	c, err = e.svc.UpdateConnection(e.ctxA, e.tenantA, c.ID, reconcile.ConnectionInput{AdminKey: str(rotated), LookbackDays: intp(5)})
	testenv.Must(t, err, "rotate")
	if c.AdminKeyLast4 != "ZZ42" || c.LookbackDays != 5 {
		t.Fatalf("updated %+v", c)
	}
	// A sync with the rotated (wrong for the fake) key fails: the error and
	// the logs name the status, never the key.
	_, syncErr := e.svc.SyncNow(e.ctxA, e.tenantA, c.ID)
	wantCode(t, "sync with a refused key", syncErr, apierr.CodeUnavailable)
	if !strings.Contains(syncErr.Error(), "401") {
		t.Errorf("sync error %v does not say 401", syncErr)
	}
	list, err := e.svc.Connections(e.ctxA, e.tenantA)
	testenv.Must(t, err, "list")
	if len(list) != 1 || !strings.Contains(list[0].Run.LastError, "401") || list[0].Run.Running || list[0].Run.LastRunAt == nil {
		t.Fatalf("run status %+v", list[0].Run)
	}
	answers, _ := json.Marshal(list)

	// Nothing in clear: the tables as a dump would hold them, the audit
	// log, the API answers, the error, the logs.
	var dump strings.Builder
	for _, table := range []string{"provider_connections", "audit_log", "provider_pages", "provider_reported"} {
		rows, err := e.pool.Query(context.Background(), "SELECT t::text FROM "+table+" t")
		testenv.Must(t, err, "dump "+table)
		for rows.Next() {
			var s string
			testenv.Must(t, rows.Scan(&s), "scan")
			dump.WriteString(s + "\n")
		}
		rows.Close()
	}
	for _, secret := range []string{adminKey, rotated, "sk-proj-dataplane-key-0001", "S3CRETkeyMaterial", "ROTATEDkeyMaterial"} {
		for where, text := range map[string]string{"postgres": dump.String(), "API answers": string(answers), "logs": e.logs.String(), "error": syncErr.Error()} {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds the secret %q in clear", where, secret)
			}
		}
	}
	if !strings.Contains(dump.String(), "sg1:k1:") {
		t.Error("the sealed keys are not in the table")
	}
	for _, action := range []string{"provider_connection.create", "provider_connection.update"} {
		if !strings.Contains(dump.String(), action) {
			t.Errorf("audit log lacks %s", action)
		}
	}

	// Bad input.
	for name, in := range map[string]reconcile.ConnectionInput{
		"unknown provider":         {Provider: "acme", Name: str("x"), AdminKey: str(adminKey)},
		"openai without a key":     {Provider: "openai", Name: str("x")},
		"empty name":               {Provider: "openai", Name: str(" "), AdminKey: str(adminKey)},
		"key with spaces":          {Provider: "openai", Name: str("x"), AdminKey: str("sk admin key")},
		"look-back beyond a month": {Provider: "openai", Name: str("x"), AdminKey: str(adminKey), LookbackDays: intp(90)},
	} {
		_, err := e.svc.CreateConnection(e.ctxA, e.tenantA, in)
		wantCode(t, name, err, apierr.CodeInvalidArgument)
	}
	_, err = e.svc.CreateConnection(e.ctxA, e.tenantA, reconcile.ConnectionInput{Provider: "openai", Name: str("OpenAI prod"), AdminKey: str(adminKey)})
	wantCode(t, "duplicate name", err, apierr.CodeConflict)

	// Tenant isolation: B sees, changes and deletes none of A's.
	_, err = e.svc.Connections(e.ctxB, e.tenantA)
	wantCode(t, "B lists A's", err, apierr.CodeForbidden)
	_, err = e.svc.UpdateConnection(e.ctxB, e.tenantB, c.ID, reconcile.ConnectionInput{Name: str("mine")})
	wantCode(t, "B renames A's through its own tenant", err, apierr.CodeNotFound)
	wantCode(t, "B deletes A's", e.svc.DeleteConnection(e.ctxB, e.tenantB, c.ID), apierr.CodeNotFound)
	_, err = e.svc.SyncNow(e.ctxB, e.tenantB, c.ID)
	wantCode(t, "B syncs A's", err, apierr.CodeNotFound)
	if bl, _ := e.svc.Connections(e.ctxB, e.tenantB); len(bl) != 0 {
		t.Fatalf("B sees %+v", bl)
	}
	testenv.Must(t, e.svc.DeleteConnection(e.ctxA, e.tenantA, c.ID), "delete")
}

func intp(n int) *int { return &n }

// Constructed data, exact to the nano-dollar: a matched model with drift, a
// model only the provider reports (unmetered), one only spendgate metered
// (unreported), another tenant's metered spend that must not count, a
// revision on re-sync, raw pages kept, drift alerts once per threshold and
// day.
func TestSyncAndReconcile(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d := func(n int) time.Time { return day0.AddDate(0, 0, n) }
	// Metered (tenant A): day 0 gpt-4o-mini 2 calls = 1.000000003 USD;
	// day 1 gpt-4o 0.5 USD; day 2 gpt-4.1 (unreported) 0.25 USD.
	e.meter(t, e.tenantA, "openai", "gpt-4o-mini", d(0).Add(time.Hour), 100, 10, 600_000_001)
	e.meter(t, e.tenantA, "openai", "gpt-4o-mini", d(0).Add(5*time.Hour), 50, 5, 400_000_002)
	e.meter(t, e.tenantA, "openai", "gpt-4o", d(1).Add(time.Hour), 10, 1, 500_000_000)
	e.meter(t, e.tenantA, "openai", "gpt-4.1", d(2).Add(time.Hour), 10, 1, 250_000_000)
	e.meter(t, e.tenantA, "anthropic", "claude-sonnet-4-5", d(0).Add(time.Hour), 10, 1, 999) // no anthropic connection
	e.meter(t, e.tenantB, "openai", "gpt-4o-mini", d(0).Add(time.Hour), 1, 1, 77_777_777_777)

	// Reported: day 0 gpt-4o-mini 1.010000003 (drift +0.01 = 0.99 %, under
	// 2 %), day 1 gpt-4o 0.52 (+0.02 = 3.85 %: alert), day 1 o3 (unmetered)
	// 0.3 USD.
	e.fp.SetAdminUsage("openai", []fakeprovider.AdminUsage{
		{Day: d(0), Model: "gpt-4o-mini", InputTokens: 150, OutputTokens: 15, Requests: 2, CostNanoUSD: 1_010_000_003},
		{Day: d(1), Model: "gpt-4o", InputTokens: 10, OutputTokens: 1, Requests: 1, CostNanoUSD: 520_000_000},
		{Day: d(1), Model: "o3", InputTokens: 99, OutputTokens: 9, Requests: 1, CostNanoUSD: 300_000_000},
	})
	c, err := e.svc.CreateConnection(e.ctxA, e.tenantA, reconcile.ConnectionInput{Provider: "openai", Name: str("OpenAI"), AdminKey: str(adminKey)})
	testenv.Must(t, err, "create")
	e.fp.RateLimitAdmin(1, "1")
	res, err := e.svc.SyncNow(e.ctxA, e.tenantA, c.ID)
	testenv.Must(t, err, "sync")
	// 4 days at 2 buckets a page: 2 usage + 2 cost pages.
	if res.Pages != 4 || res.Rows != 3 || res.Alerts != 1 || !res.From.Equal(d(0)) || !res.To.Equal(d(4)) {
		t.Fatalf("sync %+v", res)
	}
	if e.hooks.count() != 1 {
		t.Fatalf("%d webhook deliveries, want 1", e.hooks.count())
	}
	hook := e.hooks.bodies[0]
	if hook.Drift.Provider != reconcile.OpenAI || !hook.Drift.Day.Equal(d(1)) || hook.Drift.DriftNanoUSD != 320_000_000 ||
		!strings.Contains(hook.Text, "drift") {
		// day 1: reported 0.52 + 0.3 = 0.82, metered 0.5: drift 0.32 USD.
		t.Fatalf("webhook %+v", hook)
	}

	rep, err := e.svc.Reconcile(e.ctxA, reconcile.Query{TenantID: e.tenantA, From: d(0), To: d(4)})
	testenv.Must(t, err, "reconcile")
	type want struct {
		status            reconcile.Status
		metered, reported int64
	}
	wants := map[string]want{
		"openai 2026-11-28 gpt-4o-mini": {reconcile.Matched, 1_000_000_003, 1_010_000_003},
		"openai 2026-11-29 gpt-4o":      {reconcile.Matched, 500_000_000, 520_000_000},
		"openai 2026-11-29 o3":          {reconcile.Unmetered, 0, 300_000_000},
		"openai 2026-11-30 gpt-4.1":     {reconcile.Unreported, 250_000_000, 0},
	}
	if len(rep.Rows) != len(wants) {
		t.Fatalf("rows %+v", rep.Rows)
	}
	for _, r := range rep.Rows {
		k := string(r.Provider) + " " + r.Day.Format(time.DateOnly) + " " + r.Model
		w, ok := wants[k]
		if !ok || r.Status != w.status || r.MeteredNanoUSD != w.metered || r.ReportedNanoUSD != w.reported || r.DriftNanoUSD != w.reported-w.metered {
			t.Errorf("%s: %+v, want %+v", k, r, w)
		}
	}
	if mini := rep.Rows[0]; mini.MeteredEvents != 2 || mini.MeteredInputTokens != 150 || mini.ReportedInputTokens != 150 || mini.ReportedRequests != 2 {
		t.Errorf("gpt-4o-mini tokens %+v", mini)
	}
	tot := rep.Totals
	if tot.MeteredNanoUSD != 1_750_000_003 || tot.ReportedNanoUSD != 1_830_000_003 || tot.DriftNanoUSD != 80_000_000 ||
		tot.UnmeteredNanoUSD != 300_000_000 || tot.UnreportedNanoUSD != 250_000_000 {
		t.Errorf("totals %+v", tot)
	}
	var csv bytes.Buffer
	testenv.Must(t, reconcile.WriteCSV(&csv, &rep), "csv")
	if !strings.Contains(csv.String(), "openai,2026-11-28,gpt-4o-mini,MATCHED,2,150,15,1.000000003,2,150,15,1.010000003,true,0.01,0.99\n") {
		t.Errorf("csv:\n%s", csv.String())
	}

	// Pages: kept as received with their hash; B sees none.
	pages, err := e.svc.Pages(e.ctxA, e.tenantA, c.ID, 50, 0)
	testenv.Must(t, err, "pages")
	if len(pages) != 4 || pages[0].Size == 0 || pages[0].Body != nil {
		t.Fatalf("pages %+v", pages)
	}
	pg, err := e.svc.DownloadPage(e.ctxA, e.tenantA, pages[0].ID)
	testenv.Must(t, err, "download")
	if reconcile.PageSHA256(pg.Body) != pg.SHA256 || !json.Valid(pg.Body) || !strings.Contains(pg.RequestURL, "/v1/organization/") {
		t.Fatalf("page %+v", pg)
	}
	_, err = e.svc.DownloadPage(e.ctxB, e.tenantB, pages[0].ID)
	wantCode(t, "B downloads A's page", err, apierr.CodeNotFound)
	_, err = e.svc.Reconcile(e.ctxB, reconcile.Query{TenantID: e.tenantA, From: d(0), To: d(4)})
	wantCode(t, "B reconciles A", err, apierr.CodeForbidden)
	repB, err := e.svc.Reconcile(e.ctxB, reconcile.Query{TenantID: e.tenantB, From: d(0), To: d(4), Provider: reconcile.OpenAI})
	testenv.Must(t, err, "B reconciles B")
	if len(repB.Rows) != 1 || repB.Rows[0].Status != reconcile.Unreported || repB.Rows[0].MeteredNanoUSD != 77_777_777_777 {
		t.Fatalf("B's reconciliation %+v", repB.Rows)
	}

	// The provider revises day 1 (gpt-4o now 0.5: no drift there) and drops
	// o3: the re-sync replaces the window; no second alert for day 1.
	e.fp.SetAdminUsage("openai", []fakeprovider.AdminUsage{
		{Day: d(0), Model: "gpt-4o-mini", InputTokens: 150, OutputTokens: 15, Requests: 2, CostNanoUSD: 1_010_000_003},
		{Day: d(1), Model: "gpt-4o", InputTokens: 10, OutputTokens: 1, Requests: 1, CostNanoUSD: 600_000_000},
	})
	res, err = e.svc.SyncNow(e.ctxA, e.tenantA, c.ID)
	testenv.Must(t, err, "re-sync")
	if res.Alerts != 0 || e.hooks.count() != 1 {
		t.Fatalf("re-sync raised %d alerts, %d deliveries", res.Alerts, e.hooks.count())
	}
	rep, err = e.svc.Reconcile(e.ctxA, reconcile.Query{TenantID: e.tenantA, From: d(1), To: d(2)})
	testenv.Must(t, err, "reconcile again")
	if len(rep.Rows) != 1 || rep.Rows[0].ReportedNanoUSD != 600_000_000 || rep.Rows[0].DriftNanoUSD != 100_000_000 {
		t.Fatalf("revised day 1 %+v", rep.Rows)
	}
	// A new threshold alerts again, once.
	_, err = e.svc.SetSettings(e.ctxA, e.tenantA, reconcile.Settings{ThresholdBP: 50, WebhookURL: e.hookURL})
	testenv.Must(t, err, "threshold")
	res, err = e.svc.SyncNow(e.ctxA, e.tenantA, c.ID)
	testenv.Must(t, err, "sync at 0.5 %")
	// day 0 drift 0.99 % and day 1 16.67 % both exceed 0.5 %.
	if res.Alerts != 2 || e.hooks.count() != 3 {
		t.Fatalf("%d alerts at the new threshold (want 2), %d deliveries (want 3)", res.Alerts, e.hooks.count())
	}
	res, _ = e.svc.SyncNow(e.ctxA, e.tenantA, c.ID)
	if res.Alerts != 0 {
		t.Fatalf("the same threshold alerted again: %d", res.Alerts)
	}
	alerts, err := e.svc.DriftAlerts(e.ctxA, e.tenantA, 10)
	testenv.Must(t, err, "alerts")
	if len(alerts) != 3 {
		t.Fatalf("alerts %+v", alerts)
	}
	if bAlerts, _ := e.svc.DriftAlerts(e.ctxB, e.tenantB, 10); len(bAlerts) != 0 {
		t.Fatalf("B sees alerts %+v", bAlerts)
	}

	// Retention: pages older than it go.
	_, err = e.pool.Exec(ctx, `UPDATE provider_pages SET fetched_at = now() - interval '91 days' WHERE id = $1`, pages[0].ID)
	testenv.Must(t, err, "age a page")
	e.svc.Now = time.Now
	n, err := e.svc.PurgePages(ctx)
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v", n, err)
	}
}

// The scheduled sync: a job per connection, run once per slot however many
// runners (replicas) tick, retried with backoff after a failure, its next
// run visible on the connection.
func TestScheduledSyncRunsOnce(t *testing.T) {
	e := newEnv(t)
	e.fp.SetAdminUsage("anthropic", []fakeprovider.AdminUsage{{Day: day0, Model: "claude-sonnet-4-5", InputTokens: 1, OutputTokens: 1, CostNanoUSD: 5}})
	c, err := e.svc.CreateConnection(e.ctxA, e.tenantA, reconcile.ConnectionInput{Provider: "anthropic", Name: str("Claude"), AdminKey: str(adminKey)})
	testenv.Must(t, err, "create")
	// The first run meets more 429s than its pull retries (6 tries a page):
	// it fails, and the scheduler retries it after its backoff.
	e.fp.RateLimitAdmin(6, "0")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	runners := make([]*schedule.Runner, 2)
	for i := range runners {
		runners[i] = schedule.New(e.pool, quiet)
		runners[i].Tick = 20 * time.Millisecond
		runners[i].Backoff = func(int) time.Duration { return 0 }
	}
	e.svc.SetScheduler(runners[0])
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Add(1)
		go func() { defer wg.Done(); _ = r.RunSource(ctx, e.svc.Jobs(time.Hour)) }()
	}
	job := reconcile.JobName(e.tenantA, c.ID)
	testenv.WaitFor(t, 20*time.Second, "the retried sync to succeed", func() bool {
		st, err := runners[0].JobStatus(context.Background(), job)
		return err == nil && st.LastOK != nil
	})
	time.Sleep(200 * time.Millisecond) // ten more ticks of each runner: nothing else may run
	cancel()
	wg.Wait()
	st, err := runners[0].JobStatus(context.Background(), job)
	testenv.Must(t, err, "status")
	if st.Runs != 2 || st.Failures != 0 || st.NextRunAt.Before(time.Now().Add(50*time.Minute)) {
		t.Fatalf("job %+v: want a failed run, one retry, the next an hour on", st)
	}
	// 4 days at 2 a page: 2 usage + 2 cost pages, fetched by the one
	// successful run.
	if pages, limited := e.fp.AdminStats(); pages != 4 || limited != 6 {
		t.Fatalf("the fake served %d pages and %d 429s, want 4 and 6", pages, limited)
	}
	list, _ := e.svc.Connections(e.ctxA, e.tenantA)
	if r := list[0].Run; r.LastOKAt == nil || r.Pages != 4 || r.Rows != 1 || r.LastError != "" || r.NextRunAt == nil {
		t.Fatalf("run status %+v", r)
	}
	testenv.Must(t, e.svc.DeleteConnection(e.ctxA, e.tenantA, c.ID), "delete")
	if _, err := runners[0].JobStatus(context.Background(), job); err == nil {
		t.Fatal("the deleted connection's job row stays")
	}
}

// A Google connection takes a billing export file.
func TestImportBillingExport(t *testing.T) {
	e := newEnv(t)
	e.meter(t, e.tenantA, "vertex_ai", "gemini-2.5-flash", day0.Add(time.Hour), 10, 1, 1_000_000_000)
	c, err := e.svc.CreateConnection(e.ctxA, e.tenantA, reconcile.ConnectionInput{Provider: "google", Name: str("GCP billing")})
	testenv.Must(t, err, "create")
	body := `{"service":{"description":"Vertex AI"},"sku":{"description":"Gemini 2.5 Flash Input Text Tokens"},"usage_start_time":"2026-11-28T05:00:00Z","cost":1.05,"currency":"USD","usage":{"amount":10,"unit":"count"}}` + "\n"
	res, err := e.svc.ImportBillingExport(e.ctxA, e.tenantA, c.ID, "jsonl", []byte(body))
	testenv.Must(t, err, "import")
	if res.Rows != 1 || res.Alerts != 1 {
		t.Fatalf("import %+v", res)
	}
	rep, err := e.svc.Reconcile(e.ctxA, reconcile.Query{TenantID: e.tenantA, From: day0, To: day0.AddDate(0, 0, 1), Provider: reconcile.Google})
	testenv.Must(t, err, "reconcile")
	if len(rep.Rows) != 1 || rep.Rows[0].Status != reconcile.Matched || rep.Rows[0].DriftNanoUSD != 50_000_000 {
		t.Fatalf("rows %+v", rep.Rows)
	}
	// Invoices read the totals: Google's covers its Gemini and Vertex AI
	// calls; a tenant with no report has none; days outside the range count
	// nothing.
	totals, err := e.svc.ReportedTotals(context.Background(), e.tenantA, day0.Add(3*time.Hour), day0.Add(5*time.Hour))
	testenv.Must(t, err, "totals")
	if len(totals) != 1 || totals[0].Provider != reconcile.Google || totals[0].CostNanoUSD != 1_050_000_000 ||
		!slices.Equal(totals[0].Covers, []string{"gemini", "vertex_ai"}) {
		t.Fatalf("reported totals %+v", totals)
	}
	if totals, err := e.svc.ReportedTotals(context.Background(), e.tenantB, day0, day0.AddDate(0, 0, 1)); err != nil || len(totals) != 0 {
		t.Fatalf("another tenant's totals %+v %v", totals, err)
	}
	if totals, err := e.svc.ReportedTotals(context.Background(), e.tenantA, day0.AddDate(0, 0, 1), day0.AddDate(0, 0, 2)); err != nil || len(totals) != 0 {
		t.Fatalf("the next day's totals %+v %v", totals, err)
	}
	_, err = e.svc.ImportBillingExport(e.ctxA, e.tenantA, c.ID, "jsonl", []byte("{"))
	wantCode(t, "broken export", err, apierr.CodeInvalidArgument)
	_, err = e.svc.SyncNow(e.ctxA, e.tenantA, c.ID)
	wantCode(t, "pulling google", err, apierr.CodeInvalidArgument)
}

// Two syncs of one connection at once (a manual one beside the scheduled
// one) leave the report once, not twice.
func TestConcurrentSyncsDoNotDoubleCount(t *testing.T) {
	e := newEnv(t)
	e.fp.SetAdminUsage("openai", []fakeprovider.AdminUsage{{Day: day0, Model: "gpt-4o", InputTokens: 10, OutputTokens: 1, Requests: 1, CostNanoUSD: 123}})
	c, err := e.svc.CreateConnection(e.ctxA, e.tenantA, reconcile.ConnectionInput{Provider: "openai", Name: str("OpenAI"), AdminKey: str(adminKey)})
	testenv.Must(t, err, "create")
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.svc.SyncNow(e.ctxA, e.tenantA, c.ID); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	rep, err := e.svc.Reconcile(e.ctxA, reconcile.Query{TenantID: e.tenantA, From: day0, To: day0.AddDate(0, 0, 1)})
	testenv.Must(t, err, "reconcile")
	if len(rep.Rows) != 1 || rep.Rows[0].ReportedNanoUSD != 123 || rep.Rows[0].ReportedRequests != 1 {
		t.Fatalf("rows %+v", rep.Rows)
	}
}

// The policy answer of a key that uses stored credentials carries its own
// tenant's data-plane keys, opened from the connections, and nothing else.
func TestDataPlaneCredentialsInThePolicyAnswer(t *testing.T) {
	e := newEnv(t)
	e.cp.Credentials = e.svc
	const dataA, dataB = "sk-proj-tenantA-data-0001", "sk-ant-tenantB-data-0002"
	a, err := e.svc.CreateConnection(e.ctxA, e.tenantA, reconcile.ConnectionInput{Provider: "openai", Name: str("OpenAI"), AdminKey: str(adminKey), DataKey: str(dataA)})
	testenv.Must(t, err, "A's connection")
	_, err = e.svc.CreateConnection(e.ctxA, e.tenantA, reconcile.ConnectionInput{Provider: "google", Name: str("Gemini"), DataKey: str("AIzaGeminiKey-A-003")})
	testenv.Must(t, err, "A's google connection")
	_, err = e.svc.CreateConnection(e.ctxB, e.tenantB, reconcile.ConnectionInput{Provider: "anthropic", Name: str("Claude"), AdminKey: str(adminKey), DataKey: str(dataB)})
	testenv.Must(t, err, "B's connection")
	key, err := e.cp.CreateAPIKey(e.ctxA, e.tenantA, "injected", controlplane.KeyPolicy{InjectProviderCredentials: true}, nil, nil)
	testenv.Must(t, err, "key")
	ans, err := e.cp.PolicyAnswer(context.Background(), key.Secret)
	testenv.Must(t, err, "policy answer")
	if len(ans.Credentials) != 2 || ans.Credentials["openai"] != dataA || ans.Credentials["gemini"] != "AIzaGeminiKey-A-003" {
		t.Fatalf("A's key got credentials %v", ans.Credentials)
	}
	// Disabled: no longer handed out.
	_, err = e.svc.UpdateConnection(e.ctxA, e.tenantA, a.ID, reconcile.ConnectionInput{Enabled: boolp(false)})
	testenv.Must(t, err, "disable")
	creds, err := e.svc.DataPlaneCredentials(context.Background(), e.tenantA)
	testenv.Must(t, err, "credentials")
	if _, ok := creds["openai"]; ok || len(creds) != 1 {
		t.Fatalf("credentials after disabling %v", creds)
	}
	// Moved to another row, a sealed key does not open: the answer fails.
	_, err = e.pool.Exec(context.Background(), `UPDATE provider_connections SET data_key_sealed = (SELECT data_key_sealed FROM provider_connections WHERE tenant_id = $2)
		WHERE tenant_id = $1 AND provider = 'google'`, e.tenantA, e.tenantB)
	testenv.Must(t, err, "swap")
	if _, err := e.svc.DataPlaneCredentials(context.Background(), e.tenantA); err == nil || strings.Contains(err.Error(), dataB) {
		t.Fatalf("a moved sealed key opened (or leaked): %v", err)
	}
}

func boolp(b bool) *bool { return &b }
