package service_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	stdmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/analytics"
	"github.com/spendgate/spendgate/anomaly"
	anomalypg "github.com/spendgate/spendgate/anomaly/pgstore"
	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
	budgetpg "github.com/spendgate/spendgate/budget/pgstore"
	budgetservice "github.com/spendgate/spendgate/budget/service"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/egress"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/pdftest"
	"github.com/spendgate/spendgate/internal/pgtest"
	"github.com/spendgate/spendgate/internal/smtptest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/mail"
	"github.com/spendgate/spendgate/money"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/recommend"
	recommendpg "github.com/spendgate/spendgate/recommend/pgstore"
	"github.com/spendgate/spendgate/report"
	"github.com/spendgate/spendgate/report/pgstore"
	"github.com/spendgate/spendgate/report/service"
	"github.com/spendgate/spendgate/schedule"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/store/clickhouse"
	"github.com/spendgate/spendgate/usage"
)

// The clock of the reports: Monday 30 November 2026, 09:00 UTC, an hour
// after the weekly report of 23–30 November is due.
var (
	now      = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	week     = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC) // the reported week
	prevWeek = week.AddDate(0, 0, -7)
)

type fixture struct {
	pool      *pgxpool.Pool
	cp        *controlplane.Service
	owner     context.Context // tenant A's owner
	other     context.Context // tenant B's owner
	tenant    string
	tenantB   string
	keyA      string
	keyB      string
	team      string // team "search" of tenant A
	otherTeam string // a team of tenant B
	ch        *clickhouse.Analytics
	writer    *clickhouse.Writer
	budgets   *budgetservice.Service
	smtp      *smtptest.Server
	slack     *slackSink
	svc       *service.Service
	runner    *schedule.Runner
	analytics *analytics.Service
}

type slackSink struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []map[string]any
	fail   bool
}

// setFailing makes the webhook answer 404 no_service (true) or accept (false).
func (s *slackSink) setFailing(fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fail
}

func (s *slackSink) received() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.bodies...)
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.Migrated(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tokens, _ := auth.NewTokens([]byte(strings.Repeat("r", 32)))
	cp, err := controlplane.New(pool, []byte("reports-pepper-123"), tokens, quiet)
	testenv.Must(t, err, "controlplane")
	f := &fixture{pool: pool, cp: cp}
	u, tn, err := cp.CreateOwner(ctx, "owner@a.example", "password-123", "Acme", "acme")
	testenv.Must(t, err, "owner A")
	f.owner, f.tenant = auth.WithPrincipal(ctx, auth.Principal{UserID: u.ID, Email: u.Email}), tn.ID
	ub, tb, err := cp.CreateOwner(ctx, "owner@b.example", "password-123", "Bravo", "bravo")
	testenv.Must(t, err, "owner B")
	f.other, f.tenantB = auth.WithPrincipal(ctx, auth.Principal{UserID: ub.ID, Email: ub.Email}), tb.ID
	k, err := cp.CreateAPIKey(f.owner, f.tenant, "ci-bot", controlplane.KeyPolicy{}, nil, nil)
	testenv.Must(t, err, "key A")
	f.keyA = k.Key.ID
	k, err = cp.CreateAPIKey(f.owner, f.tenant, "search-app", controlplane.KeyPolicy{}, nil, nil)
	testenv.Must(t, err, "key A2")
	f.keyB = k.Key.ID
	ws, err := cp.CreateNode(f.owner, f.tenant, "workspace", "", "Main", controlplane.KeyPolicy{})
	testenv.Must(t, err, "workspace")
	team, err := cp.CreateNode(f.owner, f.tenant, "team", ws.ID, "Search", controlplane.KeyPolicy{})
	testenv.Must(t, err, "team")
	f.team = team.ID
	wsB, err := cp.CreateNode(f.other, f.tenantB, "workspace", "", "B", controlplane.KeyPolicy{})
	testenv.Must(t, err, "workspace B")
	teamB, err := cp.CreateNode(f.other, f.tenantB, "team", wsB.ID, "B team", controlplane.KeyPolicy{})
	testenv.Must(t, err, "team B")
	f.otherTeam = teamB.ID

	addr, db := testenv.ClickHouse(t)
	conn, err := clickhouse.Open(ctx, addr, db)
	testenv.Must(t, err, "clickhouse")
	t.Cleanup(func() { _ = conn.Close() })
	testenv.Must(t, clickhouse.Migrate(ctx, conn, db), "clickhouse migrate")
	f.ch, f.writer = &clickhouse.Analytics{Conn: conn, Database: db}, clickhouse.NewWriter(conn, db)
	f.budgets = budgetservice.New(pool, nil, "sgrep", budgetservice.DefaultConfig("sgrep"), quiet)

	f.smtp = smtptest.Start(t, smtptest.Options{})
	sender, err := mail.NewSender(mail.Config{Host: f.smtp.Host, Port: f.smtp.Port, Username: f.smtp.Username, Password: f.smtp.Password,
		From: "reports@spendgate.example", TLSMode: mail.StartTLS, TLS: f.smtp.Roots})
	testenv.Must(t, err, "sender")
	sender.Now = func() time.Time { return now }

	f.slack = &slackSink{}
	f.slack.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		f.slack.mu.Lock()
		defer f.slack.mu.Unlock()
		if f.slack.fail {
			http.Error(w, "no_service", http.StatusNotFound)
			return
		}
		f.slack.bodies = append(f.slack.bodies, body)
		_, _ = io.WriteString(w, "ok") // Slack answers 200 "ok"
	}))
	t.Cleanup(f.slack.srv.Close)

	f.runner = schedule.New(pool, quiet)
	dir := pgstore.Directory{Store: pgstore.New(pool), Names: cp}
	f.svc = service.New(service.Config{Store: pgstore.New(pool), Tenants: cp, Mailer: sender, Scheduler: f.runner,
		Generator: &report.Generator{Spend: f.ch, Directory: dir, Now: func() time.Time { return now }},
		HTTP:      f.slack.srv.Client(), Egress: egress.MustAllow("127.0.0.1"), PortalURL: "https://spend.example.com", Log: quiet,
		Now: func() time.Time { return now }})
	f.analytics = analytics.New(cp, f.ch, budgetpg.New(pool), analytics.DefaultLimits())
	return f
}

// ev is a priced usage event with an exact tenant cost.
func (f *fixture) ev(tenant, id, key, model, team string, at time.Time, cost int64) spend.PricedEvent {
	e := event.Event{SchemaVersion: event.SchemaVersion, Type: event.TypeUsage, EventID: id, Time: at, Source: event.SourceGateway,
		TenantID: tenant, KeyID: key, TeamID: team, Provider: "openai", Operation: "chat.completions", ModelRequested: model, StatusCode: 200,
		Complete: true, Usage: usage.Tokens{Input: 100, Output: 10}}
	return spend.PricedEvent{Event: e, Cost: pricing.Cost{Priced: true, Model: model, ListNanoUSD: cost, TenantNanoUSD: cost,
		Lines: []pricing.Line{{Class: "input", Quantity: 100, AmountNanoUSD: cost}}}}
}

// traffic stores two weeks of tenant A's usage and some of tenant B's.
func (f *fixture) traffic(t *testing.T) {
	t.Helper()
	h := func(base time.Time, hours float64) time.Time {
		return base.Add(time.Duration(hours * float64(time.Hour)))
	}
	evs := []spend.PricedEvent{
		// the previous week: 4.000000001 + 2.5 + 0.333333333
		f.ev(f.tenant, "p1", f.keyA, "gpt-4o", f.team, h(prevWeek, 10), 4_000_000_001),
		f.ev(f.tenant, "p2", f.keyB, "claude-sonnet-4", "", h(prevWeek, 50.5), 2_500_000_000),
		f.ev(f.tenant, "p3", f.keyB, "gpt-4o-mini", f.team, h(prevWeek, 167.99), 333_333_333),
		// the reported week: 12.345678912 + 0.000000007 + 1.5 + 3 = 16.845678919
		f.ev(f.tenant, "c1", f.keyA, "gpt-4o", f.team, h(week, 0.25), 12_345_678_912),
		f.ev(f.tenant, "c2", f.keyA, "gpt-4o-mini", f.team, h(week, 30), 7),
		f.ev(f.tenant, "c3", f.keyB, "claude-sonnet-4", "", h(week, 100), 1_500_000_000),
		f.ev(f.tenant, "c4", f.keyB, "gpt-4o", "", h(week, 167.5), 3_000_000_000),
		// after the week (the report must not count it)
		f.ev(f.tenant, "n1", f.keyA, "gpt-4o", f.team, h(week.AddDate(0, 0, 7), 0.5), 50_000_000_000),
		// tenant B in the same week, with a huge cost: never in A's report
		f.ev(f.tenantB, "b1", f.keyA, "gpt-4o", f.otherTeam, h(week, 1), 777_000_000_000),
	}
	if n, err := f.writer.Write(context.Background(), evs); err != nil || n != len(evs) {
		t.Fatalf("write: %d %v", n, err)
	}
	testenv.Must(t, f.budgets.ApplySpend(context.Background(), evs), "budgets")
}

func weekly(tenant string) report.Definition {
	return report.Definition{TenantID: tenant, Name: "Weekly spend", Frequency: report.Weekly, TimeZone: "UTC",
		Scope: report.Scope{Kind: report.ScopeTenant}, Emails: []string{"finance@a.example", "lead@a.example"}, Enabled: true}
}

// backdate lets a report created today (the database's clock) send for the
// test's clock, a few days earlier: as if created a month ago.
func (f *fixture) backdate(t *testing.T, id string) {
	t.Helper()
	_, err := f.pool.Exec(context.Background(), `UPDATE report_definitions SET scheduled_since = $2 WHERE id = $1`, id, now.AddDate(0, -1, 0))
	testenv.Must(t, err, "backdate")
}

type received struct {
	subject     string
	text        string
	attachments map[string][]byte
}

func parseMessage(t *testing.T, raw []byte) received {
	t.Helper()
	m, err := stdmail.ReadMessage(bytes.NewReader(raw))
	testenv.Must(t, err, "read message")
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("content type %q", m.Header.Get("Content-Type"))
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	testenv.Must(t, err, "subject")
	out := received{subject: subject, attachments: map[string][]byte{}}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		testenv.Must(t, err, "part")
		b, err := io.ReadAll(p)
		testenv.Must(t, err, "part body")
		if p.FileName() == "" {
			out.text = string(b)
			continue
		}
		dec, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(bytes.ReplaceAll(b, []byte("\r\n"), nil))))
		testenv.Must(t, err, "base64 "+p.FileName())
		out.attachments[p.FileName()] = dec
	}
	return out
}

func csvRows(t *testing.T, b []byte) map[string][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	testenv.Must(t, err, "csv")
	out := map[string][]string{}
	for _, r := range rows[1:] {
		out[r[0]+"/"+r[1]+"/"+r[2]] = r
	}
	return out
}

func TestScheduledWeeklyReportArrivesByEmailAndSlack(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := f.owner
	_, err := f.cp.CreateBudget(ctx, f.tenant, controlplane.BudgetInput{Name: "November", Scope: "tenant", Period: "month",
		AmountNanoUSD: 20_000_000_000, Thresholds: []int{80}})
	testenv.Must(t, err, "budget")
	f.traffic(t)

	d := weekly(f.tenant)
	d.SlackWebhookURL = f.slack.srv.URL + "/services/T000/B000/XXXX"
	created, err := f.svc.Create(ctx, d)
	testenv.Must(t, err, "create")
	f.backdate(t, created.ID)

	// The scheduler runs the report's job (a new job is due at once).
	jobs, err := f.svc.Jobs(context.Background())
	testenv.Must(t, err, "jobs")
	if len(jobs) != 1 || jobs[0].Name != service.JobName(created.ID) {
		t.Fatalf("jobs %+v", jobs)
	}
	ran, err := f.runner.RunDue(context.Background(), &jobs[0])
	if err != nil || !ran {
		t.Fatalf("run: %v %v", ran, err)
	}
	msgs := f.smtp.Wait(t, 1, 10*time.Second)
	if got := strings.Join(msgs[0].To, ","); got != "finance@a.example,lead@a.example" || !msgs[0].TLS || msgs[0].User != f.smtp.Username {
		t.Fatalf("envelope %+v", msgs[0])
	}
	m := parseMessage(t, msgs[0].Data)
	if m.subject != "Weekly spend: $16.85 (23 Nov 2026 to 29 Nov 2026)" {
		t.Fatalf("subject %q", m.subject)
	}
	csvFile, pdfFile := m.attachments["spend-report-2026-11-23-2026-11-29.csv"], m.attachments["spend-report-2026-11-23-2026-11-29.pdf"]
	if csvFile == nil || pdfFile == nil || len(m.attachments) != 2 {
		t.Fatalf("attachments %v", keys(m.attachments))
	}

	// The CSV's totals are the API's, to the nano-dollar.
	api, err := f.analytics.Summary(ctx, analytics.Query{TenantID: f.tenant, From: week, To: week.AddDate(0, 0, 7)})
	testenv.Must(t, err, "api summary")
	apiPrev, err := f.analytics.Summary(ctx, analytics.Query{TenantID: f.tenant, From: prevWeek, To: week})
	testenv.Must(t, err, "api summary before")
	rows := csvRows(t, csvFile)
	sum := rows["summary/total/Tenant Acme"]
	if len(sum) < 8 || sum[3] != money.FormatNano(api.TenantNanoUSD) || sum[4] != money.FormatNano(apiPrev.TenantNanoUSD) {
		t.Fatalf("csv summary %v, API %d / %d", sum, api.TenantNanoUSD, apiPrev.TenantNanoUSD)
	}
	// ... and those are exactly the constructed events' costs.
	if sum[3] != "16.845678919" || sum[4] != "6.833333334" || sum[5] != "10.012345585" || sum[6] != "4" || sum[7] != "3" {
		t.Fatalf("csv summary %v", sum)
	}
	var daily int64
	for k, r := range rows {
		if strings.HasPrefix(k, "day/") {
			n, err := money.ParseUSD(r[3])
			testenv.Must(t, err, "day")
			daily += n
		}
	}
	if daily != api.TenantNanoUSD {
		t.Fatalf("days sum to %d, total %d", daily, api.TenantNanoUSD)
	}
	if r := rows["day//2026-11-29"]; len(r) < 4 || r[3] != "3" {
		t.Fatalf("last day %v", r)
	}
	for k, want := range map[string][3]string{
		"mover/model/gpt-4o":          {"15.345678912", "4.000000001", "11.345678911"},
		"mover/model/claude-sonnet-4": {"1.5", "2.5", "-1"},
		"mover/key/ci-bot":            {"12.345678919", "4.000000001", "8.345678918"},
		"mover/key/search-app":        {"4.5", "2.833333333", "1.666666667"},
		"mover/team/Search":           {"12.345678919", "4.333333334", "8.012345585"},
		"mover/team/(no team)":        {"4.5", "2.5", "2"},
		"budget/month/November":       {"", "", ""},
		"mover/model/gpt-4o-mini":     {"0.000000007", "0.333333333", "-0.333333326"},
	} {
		r := rows[k]
		if r == nil {
			t.Errorf("csv lacks %s: %v", k, keys2(rows))
			continue
		}
		if k == "budget/month/November" {
			// November's budget holds every November event of tenant A:
			// both weeks and the 50 USD of Monday 30 November.
			if r[3] != "73.679012253" || !strings.Contains(r[8], "368% of 20 USD") || !strings.Contains(r[8], "exceeded") {
				t.Errorf("budget row %v", r)
			}
			continue
		}
		if r[3] != want[0] || r[4] != want[1] || r[5] != want[2] {
			t.Errorf("%s: %v, want %v", k, r[3:6], want)
		}
	}

	// The PDF renders, and says what the CSV says.
	pages, text := pdftest.Render(t, pdfFile)
	if pages < 1 {
		t.Fatal("no pages")
	}
	for _, want := range []string{"Weekly spend", "Tenant Acme", "$16.85", "$6.83", "+$10.01 (146%)", "Top movers", "ci-bot", "Search",
		"November", "exceeded", "Page 1 of"} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "777") || strings.Contains(string(csvFile), "777") {
		t.Fatal("tenant B's spend is in tenant A's report")
	}
	if !strings.Contains(m.text, "Spend: $16.85 (previous period $6.83, change +$10.01)") ||
		!strings.Contains(m.text, "Open in spendgate: https://spend.example.com/#/dashboard") {
		t.Fatalf("email text:\n%s", m.text)
	}

	// Slack got the summary and the link, as an incoming webhook expects.
	sl := f.slack.received()
	if len(sl) != 1 {
		t.Fatalf("slack got %d messages", len(sl))
	}
	text0, _ := sl[0]["text"].(string)
	if len(sl[0]) != 1 || !strings.Contains(text0, "Spend: $16.85") || !strings.Contains(text0, "<https://spend.example.com/#/dashboard|Open spendgate>") {
		t.Fatalf("slack body %v", sl[0])
	}

	// The same slot is never sent twice: not by the same job, nor a run started elsewhere.
	if sent, err := f.svc.RunScheduled(context.Background(), f.tenant, created.ID); err != nil || sent {
		t.Fatalf("second run sent=%v err=%v", sent, err)
	}
	if ran, err := f.runner.RunDue(context.Background(), &jobs[0]); err != nil || ran {
		t.Fatalf("the job ran again before its next time: %v %v", ran, err)
	}
	st, err := f.runner.JobStatus(context.Background(), service.JobName(created.ID))
	testenv.Must(t, err, "status")
	if st.LastError != "" || st.NextRunAt.Weekday() != time.Monday || st.NextRunAt.UTC().Hour() != report.SendHour {
		t.Fatalf("job status %+v", st)
	}
	if n := len(f.smtp.Messages()); n != 1 {
		t.Fatalf("%d emails", n)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func keys2(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestTeamReportAndTestSend(t *testing.T) {
	t.Parallel()
	f := setup(t)
	_, err := f.cp.CreateBudget(f.owner, f.tenant, controlplane.BudgetInput{Name: "Search team", Scope: "team", TeamID: &f.team, Period: "month",
		AmountNanoUSD: 100_000_000_000})
	testenv.Must(t, err, "team budget")
	_, err = f.cp.CreateBudget(f.owner, f.tenant, controlplane.BudgetInput{Name: "Everything", Scope: "tenant", Period: "month", AmountNanoUSD: 100_000_000_000})
	testenv.Must(t, err, "tenant budget")
	f.traffic(t)
	d := weekly(f.tenant)
	d.Name, d.Scope, d.Emails = "Search weekly", report.Scope{Kind: report.ScopeTeam, NodeID: f.team}, []string{"search-lead@a.example"}
	created, err := f.svc.Create(f.owner, d)
	testenv.Must(t, err, "create")
	sent, err := f.svc.SendTest(f.owner, f.tenant, created.ID)
	testenv.Must(t, err, "send test")
	if sent.SpendNanoUSD != 12_345_678_919 || strings.Join(sent.Channels, ",") != "email" {
		t.Fatalf("sent %+v", sent)
	}
	m := parseMessage(t, f.smtp.Wait(t, 1, 10*time.Second)[0].Data)
	if !strings.HasPrefix(m.subject, "[test] Search weekly: $12.35") {
		t.Fatalf("subject %q", m.subject)
	}
	rows := csvRows(t, m.attachments["spend-report-2026-11-23-2026-11-29.csv"])
	if r := rows["summary/total/Team Search"]; len(r) < 5 || r[3] != "12.345678919" || r[4] != "4.333333334" {
		t.Fatalf("team summary %v", r)
	}
	// The team's budget (its November spend: both weeks and 30 November), not the tenant's.
	if r := rows["budget/month/Search team"]; len(r) < 4 || r[3] != "66.679012253" || rows["budget/month/Everything"] != nil {
		t.Fatalf("team report budgets: %v", keys2(rows))
	}
	// The API agrees for the same team.
	api, err := f.analytics.Summary(f.owner, analytics.Query{TenantID: f.tenant, From: week, To: week.AddDate(0, 0, 7),
		Filters: spend.Filters{TeamIDs: []string{f.team}}})
	testenv.Must(t, err, "api")
	if money.FormatNano(api.TenantNanoUSD) != "12.345678919" {
		t.Fatalf("api team total %d", api.TenantNanoUSD)
	}
	// A test send is audited, and it does not use up the scheduled slot.
	var n int
	testenv.Must(t, f.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action IN ('report.create', 'report.send_test')`,
		f.tenant).Scan(&n), "audit")
	if n != 2 {
		t.Fatalf("%d audit rows", n)
	}
	f.backdate(t, created.ID)
	if sent, err := f.svc.RunScheduled(context.Background(), f.tenant, created.ID); err != nil || !sent {
		t.Fatalf("scheduled after a test: %v %v", sent, err)
	}
	f.smtp.Wait(t, 2, 10*time.Second)
}

func TestNewReportWaitsForItsFirstTime(t *testing.T) {
	t.Parallel()
	f := setup(t)
	created, err := f.svc.Create(f.owner, weekly(f.tenant))
	testenv.Must(t, err, "create")
	// Created now (the database's clock, after the test's Monday 08:00):
	// the job runs at once but sends nothing until the next Monday.
	if sent, err := f.svc.RunScheduled(context.Background(), f.tenant, created.ID); err != nil || sent {
		t.Fatalf("sent=%v err=%v", sent, err)
	}
	if n := len(f.smtp.Messages()); n != 0 {
		t.Fatalf("%d emails", n)
	}
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	created, err := f.svc.Create(f.owner, weekly(f.tenant))
	testenv.Must(t, err, "create")
	code := func(err error) string {
		var ae *apierr.Error
		if errors.As(err, &ae) {
			return ae.Code
		}
		return "?" + err.Error()
	}
	// B is not a member of A.
	if _, err := f.svc.Get(f.other, f.tenant, created.ID); code(err) != apierr.CodeForbidden {
		t.Fatalf("get: %v", err)
	}
	if _, err := f.svc.SendTest(f.other, f.tenant, created.ID); code(err) != apierr.CodeForbidden {
		t.Fatalf("send: %v", err)
	}
	// In its own tenant, B does not find A's report.
	if _, err := f.svc.Get(f.other, f.tenantB, created.ID); code(err) != apierr.CodeNotFound {
		t.Fatalf("get in B: %v", err)
	}
	d := weekly(f.tenantB)
	d.ID = created.ID
	if _, err := f.svc.Update(f.other, d); code(err) != apierr.CodeNotFound {
		t.Fatalf("update in B: %v", err)
	}
	if err := f.svc.Delete(f.other, f.tenantB, created.ID); code(err) != apierr.CodeNotFound {
		t.Fatalf("delete in B: %v", err)
	}
	if _, err := f.svc.SendTest(f.other, f.tenantB, created.ID); code(err) != apierr.CodeNotFound {
		t.Fatalf("send in B: %v", err)
	}
	if list, err := f.svc.List(f.other, f.tenantB); err != nil || len(list) != 0 {
		t.Fatalf("B lists %v %v", list, err)
	}
	// A report of B's team in A is refused.
	d = weekly(f.tenant)
	d.Scope = report.Scope{Kind: report.ScopeTeam, NodeID: f.otherTeam}
	if _, err := f.svc.Create(f.owner, d); code(err) != apierr.CodeInvalidArgument || !strings.Contains(err.Error(), "is not in this tenant") {
		t.Fatalf("other tenant's team: %v", err)
	}
	if list, err := f.svc.List(f.owner, f.tenant); err != nil || len(list) != 1 {
		t.Fatalf("A lists %v %v", list, err)
	}
}

func TestBadInputIsRefusedClearly(t *testing.T) {
	t.Parallel()
	f := setup(t)
	cases := map[string]struct {
		change func(*report.Definition)
		want   string
	}{
		"bad cron":      {func(d *report.Definition) { d.Frequency, d.Cron = report.Cron, "0 25 * * *" }, `cron "0 25 * * *": end of range (25) above maximum (23)`},
		"bad time zone": {func(d *report.Definition) { d.TimeZone = "Europe/Atlantis" }, `time zone "Europe/Atlantis" is not a known IANA time zone`},
		"bad recipient": {func(d *report.Definition) { d.Emails = []string{"finance at acme"} }, `email recipient "finance at acme" is not an address`},
		"slack to a private address": {func(d *report.Definition) { d.SlackWebhookURL = "https://10.0.0.1/services/x" },
			"Slack webhook URL: "},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			d := weekly(f.tenant)
			c.change(&d)
			_, err := f.svc.Create(f.owner, d)
			var ae *apierr.Error
			if !errors.As(err, &ae) || ae.Code != apierr.CodeInvalidArgument || !strings.Contains(ae.Message, c.want) {
				t.Fatalf("error %v, want INVALID_ARGUMENT with %q", err, c.want)
			}
		})
	}
	// Without SMTP configured, email recipients are refused with the reason.
	noMail := service.New(service.Config{Store: pgstore.New(f.pool), Tenants: f.cp})
	if _, err := noMail.Create(f.owner, weekly(f.tenant)); err == nil || !strings.Contains(err.Error(), "email is not configured on this server") {
		t.Fatalf("no SMTP: %v", err)
	}
}

func TestFailedDeliveryIsRetriedAndSaysWhy(t *testing.T) {
	t.Parallel()
	f := setup(t)
	d := weekly(f.tenant)
	d.Emails = nil // Slack only
	d.SlackWebhookURL = f.slack.srv.URL + "/services/T/B/secret-part"
	created, err := f.svc.Create(f.owner, d)
	testenv.Must(t, err, "create")
	f.backdate(t, created.ID)
	f.slack.setFailing(true)
	_, err = f.svc.RunScheduled(context.Background(), f.tenant, created.ID)
	if err == nil || !strings.Contains(err.Error(), "HTTP 404 no_service") || strings.Contains(err.Error(), "secret-part") {
		t.Fatalf("error %v", err)
	}
	f.slack.setFailing(false)
	// Not recorded as sent: the retry sends it.
	if sent, err := f.svc.RunScheduled(context.Background(), f.tenant, created.ID); err != nil || !sent {
		t.Fatalf("retry: %v %v", sent, err)
	}
	if len(f.slack.received()) != 1 || len(f.smtp.Messages()) != 0 {
		t.Fatal("slack did not get the retried report, or it was emailed")
	}
}

// Email went out and Slack failed: the retry sends to Slack only, so the
// email recipients get the report once.
func TestRetryAfterOneChannelFailedSendsOnlyTheMissingOne(t *testing.T) {
	t.Parallel()
	f := setup(t)
	d := weekly(f.tenant)
	d.SlackWebhookURL = f.slack.srv.URL + "/services/T/B/secret-part"
	created, err := f.svc.Create(f.owner, d)
	testenv.Must(t, err, "create")
	f.backdate(t, created.ID)
	f.slack.setFailing(true)
	if _, err := f.svc.RunScheduled(context.Background(), f.tenant, created.ID); err == nil || !strings.Contains(err.Error(), "slack") {
		t.Fatalf("first run: %v", err)
	}
	f.smtp.Wait(t, 1, 10*time.Second)
	f.slack.setFailing(false)
	if sent, err := f.svc.RunScheduled(context.Background(), f.tenant, created.ID); err != nil || !sent {
		t.Fatalf("retry: %v %v", sent, err)
	}
	// A third run finds the slot sent and sends nothing.
	if sent, err := f.svc.RunScheduled(context.Background(), f.tenant, created.ID); err != nil || sent {
		t.Fatalf("third run: %v %v", sent, err)
	}
	if n, m := len(f.smtp.Messages()), len(f.slack.received()); n != 1 || m != 1 {
		t.Fatalf("%d emails and %d Slack messages; want one of each", n, m)
	}
	runs, err := pgstore.New(f.pool).Runs(context.Background(), f.tenant, created.ID, 10)
	testenv.Must(t, err, "runs")
	if len(runs) != 1 || strings.Join(runs[0].Channels, ",") != "email,slack" {
		t.Fatalf("runs %+v", runs)
	}
}

// A team admin manages the reports of its team and sees no others; a
// tenant viewer manages none (reports hold recipients).
func TestScopedManagers(t *testing.T) {
	t.Parallel()
	f := setup(t)
	member := func(email string, role controlplane.Role) (context.Context, string) {
		m, err := f.cp.AddMember(f.owner, f.tenant, email, "", "password-123", role)
		testenv.Must(t, err, "member "+email)
		return auth.WithPrincipal(context.Background(), auth.Principal{UserID: m.User.ID, Email: email}), m.User.ID
	}
	lead, leadID := member("lead@a.example", controlplane.RoleMember)
	_, err := f.cp.GrantRole(f.owner, f.tenant, leadID, controlplane.Role("team_admin"), f.team)
	testenv.Must(t, err, "grant")
	viewer, _ := member("viewer@a.example", controlplane.RoleViewer)
	code := func(err error) string {
		var ae *apierr.Error
		if errors.As(err, &ae) {
			return ae.Code
		}
		return fmt.Sprint(err)
	}

	tenantWide, err := f.svc.Create(f.owner, weekly(f.tenant))
	testenv.Must(t, err, "tenant report")
	d := weekly(f.tenant)
	d.Name, d.Scope = "Search weekly", report.Scope{Kind: report.ScopeTeam, NodeID: f.team}
	teams, err := f.svc.Create(lead, d)
	testenv.Must(t, err, "the team admin's team report")
	if _, err := f.svc.Create(lead, weekly(f.tenant)); code(err) != apierr.CodeForbidden {
		t.Fatalf("team admin, tenant report: %v", err)
	}
	list, err := f.svc.List(lead, f.tenant)
	if err != nil || len(list) != 1 || list[0].ID != teams.ID {
		t.Fatalf("the team admin lists %+v %v", list, err)
	}
	if _, err := f.svc.Get(lead, f.tenant, tenantWide.ID); code(err) != apierr.CodeForbidden {
		t.Fatalf("team admin reads the tenant report: %v", err)
	}
	d.ID, d.Scope = teams.ID, report.Scope{Kind: report.ScopeTenant}
	if _, err := f.svc.Update(lead, d); code(err) != apierr.CodeForbidden {
		t.Fatalf("team admin widens the report to the tenant: %v", err)
	}
	if err := f.svc.Delete(lead, f.tenant, tenantWide.ID); code(err) != apierr.CodeForbidden {
		t.Fatalf("team admin deletes the tenant report: %v", err)
	}
	for what, err := range map[string]error{
		"list": func() error { _, err := f.svc.List(viewer, f.tenant); return err }(),
		"send": func() error { _, err := f.svc.SendTest(viewer, f.tenant, teams.ID); return err }(),
	} {
		if code(err) != apierr.CodeForbidden {
			t.Fatalf("viewer %s: %v", what, err)
		}
	}
	if err := f.svc.Delete(lead, f.tenant, teams.ID); err != nil {
		t.Fatalf("the team admin deletes its report: %v", err)
	}
}

// The anomalies and recommendations sections come from the detector's
// episodes and the open recommendations in Postgres, narrowed to a team
// report's own series and keys.
func TestAnomaliesAndRecommendationsSections(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	project, err := f.cp.CreateNode(f.owner, f.tenant, "project", f.team, "Search API", controlplane.KeyPolicy{})
	testenv.Must(t, err, "project")
	_, err = f.cp.SetAPIKeyProject(f.owner, f.tenant, f.keyA, &project.ID)
	testenv.Must(t, err, "key A into the team's project")
	eps := anomalypg.New(f.pool)
	open := func(dim anomaly.Dimension, value string, at time.Time, peak int64, ended *time.Time) {
		e := &anomaly.Episode{EndedAt: ended, TenantID: f.tenant, Series: anomaly.SeriesKey{Dimension: dim, Value: value}, StartedAt: at, LastAnomalousAt: at,
			PeakHour: at, PeakNanoUSD: peak, PeakExpectedNanoUSD: 1_000_000_000, PeakScore: 12, Severity: anomaly.SeverityMajor,
			ExcessNanoUSD: peak - 1_000_000_000, AnomalousHours: 1, DetectedAt: at.Add(time.Hour)}
		_, err := eps.Save(ctx, f.tenant, at.Add(time.Hour), []anomalypg.Change{{Step: anomaly.StepOpened, Episode: e}})
		testenv.Must(t, err, "episode")
	}
	ended := prevWeek.Add(6 * time.Hour)
	open(anomaly.DimModel, "gpt-4o", prevWeek.Add(5*time.Hour), 7_000_000_000, &ended) // over before the period
	open(anomaly.DimTeam, f.team, week.Add(30*time.Hour), 9_000_000_000, nil)
	open(anomaly.DimKey, f.keyB, week.Add(50*time.Hour), 4_000_000_000, nil)
	recs := recommendpg.New(f.pool)
	testenv.Must(t, recs.Refresh(ctx, f.tenant, []recommend.Recommendation{
		{Fingerprint: "a", Kind: recommend.KindCheaperModel, KeyID: f.keyA, Title: "Use gpt-4o-mini for ci-bot", MonthlySavingsNanoUSD: 12_500_000_000},
		{Fingerprint: "b", Kind: recommend.KindPromptCaching, KeyID: f.keyB, Title: "Cache the search-app prompt", MonthlySavingsNanoUSD: 30_000_000_000},
	}, now), "recommendations")

	store := pgstore.New(f.pool)
	gen := &report.Generator{Spend: f.ch, Directory: pgstore.Directory{Store: store, Names: f.cp}, Now: func() time.Time { return now },
		Anomalies: pgstore.Anomalies{Episodes: eps, Names: f.cp}, Recommendations: pgstore.Recommendations{Store: store, Saved: recs}}
	p := report.Period{From: week, To: week.AddDate(0, 0, 7), PrevFrom: prevWeek, PrevTo: week}
	d := weekly(f.tenant)
	r, err := gen.Generate(ctx, &d, p)
	testenv.Must(t, err, "tenant report")
	var subjects []string
	for _, a := range r.Anomalies {
		subjects = append(subjects, a.Subject+" "+report.USD(a.ActualNanoUSD))
	}
	if strings.Join(subjects, ", ") != "key search-app $4.00, team Search $9.00" {
		t.Fatalf("tenant anomalies %q", subjects)
	}
	if len(r.Recommendations) != 2 || r.Recommendations[0].Title != "Cache the search-app prompt" {
		t.Fatalf("tenant recommendations %+v", r.Recommendations)
	}
	d.Scope = report.Scope{Kind: report.ScopeTeam, NodeID: f.team}
	r, err = gen.Generate(ctx, &d, p)
	testenv.Must(t, err, "team report")
	if len(r.Anomalies) != 1 || r.Anomalies[0].Subject != "team Search" || len(r.Recommendations) != 1 ||
		r.Recommendations[0].EstimatedMonthlySavingsNanoUSD != 12_500_000_000 {
		t.Fatalf("team sections %+v %+v", r.Anomalies, r.Recommendations)
	}
	c, err := r.CSV()
	testenv.Must(t, err, "csv")
	rows := csvRows(t, c)
	if row := rows["recommendation//Use gpt-4o-mini for ci-bot"]; len(row) < 4 || row[3] != "12.5" || rows["anomaly/major/team Search"] == nil {
		t.Fatalf("csv sections %v", keys2(rows))
	}
}
