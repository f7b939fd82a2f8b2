package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spendgate/spendgate/analytics"
	"github.com/spendgate/spendgate/anomaly"
	anomalypg "github.com/spendgate/spendgate/anomaly/pgstore"
	anomalysvc "github.com/spendgate/spendgate/anomaly/service"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/billing"
	billingstore "github.com/spendgate/spendgate/billing/pgstore"
	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/budget/alerts"
	"github.com/spendgate/spendgate/budget/pgstore"
	budgetservice "github.com/spendgate/spendgate/budget/service"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/egress"
	"github.com/spendgate/spendgate/ingest"
	"github.com/spendgate/spendgate/internal/fakeprovider"
	"github.com/spendgate/spendgate/internal/pgtest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/pricing/revision"
	"github.com/spendgate/spendgate/recommend"
	recommendpg "github.com/spendgate/spendgate/recommend/pgstore"
	recommendsvc "github.com/spendgate/spendgate/recommend/service"
	"github.com/spendgate/spendgate/reconcile"
	"github.com/spendgate/spendgate/reconcile/notify"
	recpg "github.com/spendgate/spendgate/reconcile/pgstore"
	"github.com/spendgate/spendgate/reconcile/pull"
	"github.com/spendgate/spendgate/report"
	reportpg "github.com/spendgate/spendgate/report/pgstore"
	reportservice "github.com/spendgate/spendgate/report/service"
	"github.com/spendgate/spendgate/reprice"
	"github.com/spendgate/spendgate/secrets"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
)

type harness struct {
	t    testing.TB
	srv  *httptest.Server
	cp   *controlplane.Service
	pool *pgxpool.Pool
	logs *testenv.LogBuffer
	// tokens issues the access tokens (tests of expiry shorten them).
	tokens *auth.Tokens
	// Full harness only: events stores priced events in ClickHouse; nc and
	// alertPrefix carry live budget alerts.
	events      *chstore.Writer
	nc          *nats.Conn
	alertPrefix string
	// The ingest streams and their dead letters.
	js     jetstream.JetStream
	ingest ingest.Config
	dlq    *ingest.DLQ
	chConn driver.Conn
	// revisions serves pricing revisions; alice@example.com is its admin.
	revisions *revision.Service
	// recommendations refreshes and serves recommendations (full harness).
	recommendations *recommendsvc.Service
	// Full harness only: fake answers the providers' admin report
	// endpoints the reconciliation pulls (any admin key unless set).
	fake *fakeprovider.Server
	// slackURL is a Slack incoming webhook of the test's (full harness).
	slackURL string
}

const (
	serviceToken = "test-service-token"
	testPepper   = "pepper-pepper-pepper"
)

// newHarness serves the API over its own Postgres database, with the budget
// store answering whether keys are blocked, as `spendgate api` does.
func newHarness(t testing.TB) *harness { return buildHarness(t, false) }

// newFullHarness also wires spend analytics (its own ClickHouse database) and
// live budget alerts (NATS), as `spendgate serve` does.
func newFullHarness(t testing.TB) *harness { return buildHarness(t, true) }

// buildHarness builds the harness; configure, when given, changes the
// server's configuration last (limits, a broken analytics store).
func buildHarness(t testing.TB, full bool, configure ...func(*harness, *Config)) *harness {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.Migrated(t)
	logs := &testenv.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tokens, err := auth.NewTokens([]byte(strings.Repeat("j", 32)))
	testenv.Must(t, err, "tokens")
	cp, err := controlplane.New(pool, []byte(testPepper), tokens, log)
	testenv.Must(t, err, "controlplane")
	cp.Blocks = pgstore.New(pool)
	key, err := secrets.NewKey("test")
	testenv.Must(t, err, "secrets key")
	ring, err := secrets.Parse(key)
	testenv.Must(t, err, "secrets keyring")
	cp.SetSecrets(ring)
	h := &harness{t: t, cp: cp, pool: pool, logs: logs, tokens: tokens}
	cfg := Config{ServiceToken: serviceToken}
	h.revisions = revision.New(pool, log)
	h.revisions.Admins = []string{"alice@example.com"}
	testenv.Must(t, h.revisions.Seed(ctx), "seed pricing revisions")
	cfg.Revisions = h.revisions
	if full {
		addr, db := testenv.ClickHouse(t)
		conn, err := chstore.Open(ctx, addr, db)
		testenv.Must(t, err, "clickhouse")
		t.Cleanup(func() { _ = conn.Close() })
		testenv.Must(t, chstore.Migrate(ctx, conn, db), "clickhouse migrate")
		h.events = chstore.NewWriter(conn, db)
		cfg.Analytics = analytics.New(cp, &chstore.Analytics{Conn: conn, Database: db}, pgstore.New(pool), analytics.DefaultLimits())
		cfg.Billing = billing.New(cp, billingstore.New(pool), &chstore.Analytics{Conn: conn, Database: db})
		cfg.Reprice = reprice.New(cp, pool, &chstore.Analytics{Conn: conn, Database: db}, h.events, pricing.Default(),
			budgetservice.New(pool, nil, "sgtest", budgetservice.DefaultConfig("sgtest"), log))
		nc, prefix := testenv.NATS(t)
		h.nc, h.alertPrefix = nc, strings.ToLower(prefix)
		feed := alerts.NewFeed(nc, h.alertPrefix, log)
		cfg.Alerts, cfg.AnomalyFeed = feed, feed
		cfg.Ticks = alerts.NewTicks(nc, h.alertPrefix, log)
		chAnalytics := &chstore.Analytics{Conn: conn, Database: db}
		cfg.Anomalies, err = anomalysvc.New(anomaly.DefaultConfig(), chAnalytics, anomalypg.New(pool), log)
		testenv.Must(t, err, "anomaly service")
		h.recommendations = recommendsvc.New(recommend.DefaultConfig(), pricing.Default(), chAnalytics, controlplane.OverrideReader{DB: pool},
			recommendpg.New(pool), cp, log)
		cfg.Recommendations = h.recommendations
		js, err := jetstream.New(nc)
		testenv.Must(t, err, "jetstream")
		h.ingest = ingest.DefaultConfig()
		h.ingest.Prefix, h.ingest.ServiceToken = prefix, serviceToken
		testenv.Must(t, ingest.EnsureStreams(ctx, js, h.ingest), "streams")
		h.js, h.chConn = js, conn
		h.dlq = ingest.NewDLQ(js, h.ingest)
		cfg.DeadLetters = h.dlq
		h.fake = fakeprovider.New(fakeprovider.Config{})
		fake := httptest.NewServer(h.fake)
		t.Cleanup(fake.Close)
		recon := reconcile.New(cp, recpg.New(pool), &chstore.Analytics{Conn: conn, Database: db}, pull.New(nil),
			notify.New(h.alertPrefix, nc, nil), ring, reconcile.Config{BaseURLs: map[reconcile.Provider]string{
				reconcile.OpenAI: fake.URL, reconcile.Anthropic: fake.URL}}, log)
		// Reports count toward opted-in budgets, as `spendgate api` wires it.
		reportBudgets := budgetservice.New(pool, nil, "sgtest", budgetservice.DefaultConfig("sgtest"), log)
		recon.SetBudgets(reportBudgets)
		cp.CountReportedWith(reportBudgets)
		cfg.Reconcile = recon
		// Reports go to a Slack receiver of the test's (TLS on loopback,
		// allowed as an operator allows an internal receiver).
		slack := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
		t.Cleanup(slack.Close)
		h.slackURL = slack.URL + "/services/T0/B0/secret"
		reports := reportpg.New(pool)
		cfg.Reports = reportservice.New(reportservice.Config{Store: reports, Tenants: cp, Log: log, HTTP: slack.Client(), Egress: egress.MustAllow("127.0.0.1"),
			Generator: &report.Generator{Spend: &chstore.Analytics{Conn: conn, Database: db}, Directory: reportpg.Directory{Store: reports, Names: cp}}})
	}
	for _, c := range configure {
		c(h, &cfg)
	}
	h.srv = httptest.NewServer(New(cfg, cp, log).Handler())
	t.Cleanup(h.srv.Close)
	cp.SetPublicURL(h.srv.URL)
	return h
}

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

type gqlResponse struct {
	Data       map[string]any `json:"data"`
	Errors     []gqlError     `json:"errors"`
	Extensions map[string]any `json:"extensions"`
}

func (r gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

func (h *harness) gql(token, query string, vars map[string]any) gqlResponse {
	h.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", h.srv.URL+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out gqlResponse
	if err := json.Unmarshal(b, &out); err != nil {
		h.t.Fatalf("response is not JSON: %s", b)
	}
	return out
}

// must runs a query that has to succeed and returns its data.
func (h *harness) must(token, query string, vars map[string]any) map[string]any {
	h.t.Helper()
	r := h.gql(token, query, vars)
	if len(r.Errors) > 0 {
		h.t.Fatalf("query failed: %+v\n%s", r.Errors, query)
	}
	return r.Data
}

// owner bootstraps a tenant with its owner and returns an access token and
// the tenant id.
func (h *harness) owner(email, slug string) (token, tenantID string) {
	h.t.Helper()
	_, tn, err := h.cp.CreateOwner(context.Background(), email, "password-123", "Tenant "+slug, slug)
	testenv.Must(h.t, err, "create owner")
	d := h.must("", `mutation($e:String!,$p:String!){signIn(email:$e,password:$p){accessToken refreshToken user{email}}}`,
		map[string]any{"e": email, "p": "password-123"})
	return d["signIn"].(map[string]any)["accessToken"].(string), tn.ID
}

func (h *harness) signIn(email, password string) string {
	h.t.Helper()
	d := h.must("", `mutation($e:String!,$p:String!){signIn(email:$e,password:$p){accessToken}}`, map[string]any{"e": email, "p": password})
	return d["signIn"].(map[string]any)["accessToken"].(string)
}

// setPassword changes a user's password through the control plane.
func (h *harness) setPassword(email, old, next string) {
	h.t.Helper()
	ctx := context.Background()
	s, err := h.cp.SignIn(ctx, email, old)
	testenv.Must(h.t, err, "sign in "+email)
	testenv.Must(h.t, h.cp.ChangePassword(auth.WithPrincipal(ctx, auth.Principal{UserID: s.User.ID, Email: s.User.Email}), old, next), "change password")
}

func (h *harness) policy(key string) (int, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.srv.URL+"/internal/v1/policy", nil)
	req.Header.Set("Authorization", "Bearer "+serviceToken)
	if key != "" {
		req.Header.Set("X-Spendgate-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func get(m any, path ...string) any {
	for _, p := range path {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[p]
	}
	return m
}

// subscribe starts a subscription over graphql-transport-ws on /query, the
// way the portal does (access token in the connection_init payload), and
// returns its first answer: an error response or the first event. While no
// answer has come, trigger (when not nil) is called every half second to
// cause an event; without an answer in 20 s the test fails.
func (h *harness) subscribe(token, query string, vars map[string]any, trigger func()) gqlResponse {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(h.srv.URL, "http") + "/query"
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		h.t.Fatalf("the API does not accept graphql-transport-ws on /query: %v", err)
	}
	defer conn.CloseNow() //nolint:errcheck
	send := func(m map[string]any) {
		b, _ := json.Marshal(m)
		if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
			h.t.Fatalf("websocket write: %v", err)
		}
	}
	type message struct {
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload"`
	}
	// One reader: coder/websocket closes the connection when a Read's
	// context ends, so reads are not retried with short timeouts.
	msgs := make(chan message, 16)
	deliver := func(m message) {
		select {
		case msgs <- m:
		case <-ctx.Done():
		}
	}
	go func() {
		defer close(msgs)
		for {
			_, b, err := conn.Read(ctx)
			if err != nil {
				var ce websocket.CloseError
				if errors.As(err, &ce) {
					deliver(message{Type: "closed", Payload: json.RawMessage(strconv.Quote(ce.Reason))})
				}
				return
			}
			var m message
			if json.Unmarshal(b, &m) == nil && m.Type != "ping" && m.Type != "pong" {
				deliver(m)
			}
		}
	}()
	next := func(tick func()) (message, bool) {
		deadline := time.After(20 * time.Second)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case m, ok := <-msgs:
				return m, ok
			case <-t.C:
				if tick != nil {
					tick()
				}
			case <-deadline:
				return message{}, false
			}
		}
	}
	send(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + token}})
	m, ok := next(nil)
	if m.Type == "closed" {
		var reason string
		_ = json.Unmarshal(m.Payload, &reason)
		return gqlResponse{Errors: []gqlError{{Message: reason, Extensions: map[string]any{"code": "UNAUTHENTICATED"}}}}
	}
	if !ok || m.Type != "connection_ack" {
		h.t.Fatalf("connection_init answered %+v", m)
	}
	send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars}})
	m, ok = next(trigger)
	if !ok {
		h.t.Fatalf("no answer to the subscription in 20 s: %s", query)
	}
	var out gqlResponse
	switch m.Type {
	case "error":
		if err := json.Unmarshal(m.Payload, &out.Errors); err != nil {
			h.t.Fatalf("error payload: %s", m.Payload)
		}
	case "next":
		if err := json.Unmarshal(m.Payload, &out); err != nil {
			h.t.Fatalf("next payload: %s", m.Payload)
		}
	default:
		h.t.Fatalf("unexpected message %+v", m)
	}
	return out
}

// publishAlert sends a budget alert of a tenant the way the alert dispatcher
// does (full harness only), for live subscriptions to receive.
// deadLetter makes a real dead letter of tenantID: an unreadable event on the
// tenant's events subject, which a real consumer sends to the DLQ. It
// returns the dead letter's sequence.
func (h *harness) deadLetter(tenantID string) string {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subject := strings.ToLower(h.ingest.Prefix) + ".events." + tenantID
	_, err := h.js.Publish(ctx, subject, []byte(`{"event_id": "not-an-event`))
	testenv.Must(h.t, err, "publish poison")
	c := ingest.NewConsumer(h.ingest, ingest.DefaultConsumerConfig(), h.js, h.events, pricing.Default(), controlplane.OverrideReader{DB: h.pool},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	var seq string
	testenv.WaitFor(h.t, 30*time.Second, "the poison event in the DLQ", func() bool {
		list, err := h.dlq.List(context.Background(), tenantID, 10)
		testenv.Must(h.t, err, "dlq list")
		if len(list) > 0 {
			seq = strconv.FormatUint(list[0].Sequence, 10)
		}
		return seq != ""
	})
	cancel()
	<-done
	return seq
}

// publishTick publishes a live spend tick of a tenant, as ingest does after
// storing a batch.
func (h *harness) publishTick(tenantID string, tk alerts.SpendTick) {
	h.t.Helper()
	b, err := json.Marshal(tk)
	testenv.Must(h.t, err, "tick")
	testenv.Must(h.t, h.nc.Publish(alerts.TicksSubject(h.alertPrefix, tenantID), b), "publish tick")
}

func (h *harness) publishAlert(a budget.Alert) {
	h.t.Helper()
	b, err := json.Marshal(a)
	testenv.Must(h.t, err, "alert")
	testenv.Must(h.t, h.nc.Publish(alerts.Subject(h.alertPrefix, a.TenantID), b), "publish alert")
}

func (h *harness) publishAnomaly(a anomaly.Alert) {
	h.t.Helper()
	b, err := json.Marshal(a)
	testenv.Must(h.t, err, "anomaly alert")
	testenv.Must(h.t, h.nc.Publish(alerts.AnomalySubject(h.alertPrefix, a.TenantID), b), "publish anomaly alert")
}

// proposeRevision stores a proposed catalogue revision (gpt-4o's input at
// inputPerToken USD from at) and returns its id.
func (h *harness) proposeRevision(t testing.TB, at time.Time, inputPerToken string) string {
	t.Helper()
	rev, err := h.revisions.ProposeLiteLLM(context.Background(), revision.ProposeInput{
		LiteLLM: []byte(`{"gpt-4o":{"litellm_provider":"openai","mode":"chat","input_cost_per_token":` + inputPerToken + `,"output_cost_per_token":1e-05}}`),
		Source:  "test", EffectiveFrom: at, By: "test", Providers: []string{"openai"}})
	testenv.Must(t, err, "propose a pricing revision")
	return strconv.FormatInt(rev.ID, 10)
}
