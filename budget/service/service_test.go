package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"

	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/budget/alerts"
	"github.com/spendgate/spendgate/budget/httpapi"
	"github.com/spendgate/spendgate/budget/service"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/egress"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/ingest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/store/postgres"
	"github.com/spendgate/spendgate/usage"
)

type fixture struct {
	db          *pgxpool.Pool
	tenant, key string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	testenv.Must(t, postgres.Migrate(ctx, dsn), "migrate")
	db, err := pgxpool.New(ctx, dsn)
	testenv.Must(t, err, "pool")
	t.Cleanup(db.Close)
	f := &fixture{db: db}
	testenv.Must(t, db.QueryRow(ctx, `INSERT INTO tenants (name, slug) VALUES ('t', $1) RETURNING id::text`, "t-"+uuid.NewString()[:8]).Scan(&f.tenant), "tenant")
	testenv.Must(t, db.QueryRow(ctx, `INSERT INTO api_keys (tenant_id, name, prefix, secret_hash) VALUES ($1, 'k', $2, '\x00') RETURNING id::text`,
		f.tenant, "sk_"+uuid.NewString()[:12]).Scan(&f.key), "key")
	return f
}

func (f *fixture) budget(t *testing.T, amount int64, hard bool, thresholds []int32, webhook string) string {
	t.Helper()
	var id string
	testenv.Must(t, f.db.QueryRow(context.Background(), `INSERT INTO budgets (tenant_id, name, scope, period, amount_nano_usd, thresholds, hard, webhook_url)
		VALUES ($1, 'team budget', 'tenant', 'month', $2, $3, $4, nullif($5, '')) RETURNING id::text`, f.tenant, amount, thresholds, hard, webhook).Scan(&id), "budget")
	return id
}

func (f *fixture) priced(cost int64) spend.PricedEvent {
	return spend.PricedEvent{
		Event: event.Event{SchemaVersion: 1, Type: event.TypeUsage, EventID: uuid.NewString(), Time: time.Now().UTC(),
			TenantID: f.tenant, KeyID: f.key, Provider: "openai", ModelRequested: "gpt-4o-mini"},
		Cost: pricing.Cost{Priced: true, TenantNanoUSD: cost},
	}
}

func testConfig(prefix string) service.Config {
	cfg := service.DefaultConfig(prefix)
	cfg.Alerts.Poll = 20 * time.Millisecond
	cfg.Alerts.BackoffBase = 10 * time.Millisecond
	cfg.WebhookDebounce = 50 * time.Millisecond
	cfg.SweepInterval = 50 * time.Millisecond
	return cfg
}

// loopbackWebhooks allows webhooks to this machine, where the tests'
// receivers listen, as an operator allows an internal receiver
// (--webhook-allow); without it they are refused (TestWebhookEgressRefused).
func loopbackWebhooks(cfg service.Config) service.Config {
	cfg.Alerts.Egress = egress.MustAllow("127.0.0.1")
	return cfg
}

// A webhook URL pointing inside (here loopback) is not called without the
// operator's allow-list, however it got into the budget (the URL was valid
// when saved, then its name resolved inside: DNS rebinding); the refusal is
// logged and recorded as the delivery's error.
func TestWebhookEgressRefused(t *testing.T) {
	t.Parallel()
	f := setup(t)
	called := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called <- struct{}{} }))
	defer srv.Close()
	logs := &testenv.LogBuffer{}
	svc := service.New(f.db, nil, "SGX", testConfig("SGX"), slog.New(slog.NewTextHandler(logs, nil)))
	f.budget(t, 1000, false, []int32{50}, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)+"/hook/secret-token")
	ctx := context.Background()
	testenv.Must(t, svc.ApplySpend(ctx, []spend.PricedEvent{f.priced(600)}), "apply")
	// The webhook is due once its debounce has passed: run delivery passes
	// until one has tried it.
	var lastError string
	for deadline := time.Now().Add(10 * time.Second); lastError == "" && time.Now().Before(deadline); {
		n, err := svc.Dispatcher.Once(ctx)
		if n != 0 || err != nil {
			t.Fatalf("delivery pass: %d delivered, %v", n, err)
		}
		testenv.Must(t, f.db.QueryRow(ctx, `SELECT coalesce(last_error, '') FROM budget_alert_outbox WHERE kind = 'webhook'`).Scan(&lastError), "outbox")
		if lastError == "" {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !strings.Contains(lastError, "loopback") {
		t.Fatalf("outbox error %q", lastError)
	}
	if out := logs.String(); !strings.Contains(out, "webhook destination refused") || strings.Contains(out, "secret-token") {
		t.Fatalf("log: %s", out)
	}
	select {
	case <-called:
		t.Fatal("the loopback receiver was called")
	default:
	}
}

func TestConcurrentCrossingPublishesOneNATSAlert(t *testing.T) {
	t.Parallel()
	f := setup(t)
	nc, prefix := testenv.NATS(t)
	svc := service.New(f.db, nc, prefix, testConfig(prefix), nil)
	id := f.budget(t, 1000, false, []int32{80}, "")
	sub, err := nc.SubscribeSync(alerts.Subject(prefix, f.tenant))
	testenv.Must(t, err, "subscribe")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = svc.Run(ctx) }()

	var wg sync.WaitGroup
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := f.priced(40)
			for range 2 { // redelivered batch
				if err := svc.ApplySpend(ctx, []spend.PricedEvent{e}); err != nil {
					t.Errorf("apply: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	m, err := sub.NextMsg(10 * time.Second)
	testenv.Must(t, err, "alert message")
	var a budget.Alert
	testenv.Must(t, json.Unmarshal(m.Data, &a), "decode alert")
	if a.BudgetID != id || a.Threshold != 80 || a.AmountNanoUSD != 1000 || a.SpentNanoUSD < 800 || a.BudgetName != "team budget" ||
		a.PeriodEnd.Sub(a.PeriodStart) < 28*24*time.Hour || a.Time.IsZero() {
		t.Fatalf("alert = %+v", a)
	}
	// Further passes find nothing left to send.
	for range 3 {
		n, err := svc.Dispatcher.Once(ctx)
		testenv.Must(t, err, "dispatch")
		if n != 0 {
			t.Fatalf("dispatch pass sent %d more", n)
		}
	}
	if m, err := sub.NextMsg(300 * time.Millisecond); !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("second alert message: %v %v", m, err)
	}
}

func TestWebhookRetriedAndCoalesced(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var mu sync.Mutex
	var calls []int
	var delivered budget.WebhookBody
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if len(calls) == 0 {
			calls = append(calls, 500)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		calls = append(calls, 200)
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &delivered); err != nil || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("webhook body %s: %v", body, err)
		}
	}))
	defer srv.Close()
	svc := service.New(f.db, nil, "SGX", loopbackWebhooks(testConfig("SGX")), nil)
	id := f.budget(t, 1000, false, []int32{50, 80, 100}, srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = svc.Run(ctx) }()
	// One batch crossing 50 % and 80 %: two alerts, one webhook message.
	testenv.Must(t, svc.ApplySpend(ctx, []spend.PricedEvent{f.priced(450), f.priced(400)}), "apply")
	testenv.WaitFor(t, 10*time.Second, "webhook delivered after a retry", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(calls) >= 2
	})
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 2 || calls[0] != 500 || calls[1] != 200 {
		t.Fatalf("calls = %v", calls)
	}
	if len(delivered.Alerts) != 2 || delivered.Alerts[0].Threshold != 50 || delivered.Alerts[1].Threshold != 80 ||
		delivered.Alerts[0].BudgetID != id || delivered.Text == "" {
		t.Fatalf("delivered = %+v", delivered)
	}
	mu.Unlock()
	// The dispatcher records the delivery in the transaction that claimed the
	// rows, which commits just after the webhook answered: wait for it.
	var pending, attempts int
	testenv.WaitFor(t, 10*time.Second, "outbox rows marked delivered", func() bool {
		testenv.Must(t, f.db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE delivered_at IS NULL), max(attempts) FROM budget_alert_outbox WHERE kind = 'webhook'`).Scan(&pending, &attempts), "outbox")
		return pending == 0
	})
	mu.Lock()
	if attempts != 2 || len(calls) != 2 {
		t.Fatalf("outbox attempts %d, webhook calls %v", attempts, calls)
	}
}

func TestReservationHTTP(t *testing.T) {
	t.Parallel()
	f := setup(t)
	svc := service.New(f.db, nil, "SGX", testConfig("SGX"), nil)
	srv := httptest.NewServer(httpapi.Handler(svc, "svc-token", nil))
	defer srv.Close()
	c := &httpapi.Client{BaseURL: srv.URL, ServiceToken: "svc-token"}
	ctx := context.Background()
	req := budget.ReserveRequest{TenantID: f.tenant, KeyID: f.key, Provider: "openai", Model: "gpt-4o-mini", MaxTokens: 1000, InputTokensEstimate: 500}
	want := pricing.Default().Cost(pricing.Request{Provider: "openai", Model: "gpt-4o-mini"}, usage.Tokens{Input: 500, Output: 1000}, nil)
	if !want.Priced || want.TenantNanoUSD <= 0 {
		t.Fatalf("catalogue cannot price gpt-4o-mini: %+v", want)
	}
	id := f.budget(t, want.TenantNanoUSD*5/2, true, []int32{100}, "")

	r1, err := c.Reserve(ctx, req)
	testenv.Must(t, err, "reserve 1")
	if r1.AmountNanoUSD != want.TenantNanoUSD || r1.ID == "" || len(r1.BudgetIDs) != 1 || time.Until(r1.ExpiresAt) < 5*time.Minute {
		t.Fatalf("reservation = %+v, want amount %d", r1, want.TenantNanoUSD)
	}
	_, err = c.Reserve(ctx, req)
	testenv.Must(t, err, "reserve 2")
	_, err = c.Reserve(ctx, req)
	var d *httpapi.DeniedError
	if !errors.As(err, &d) || d.Reason != httpapi.ReasonExceeded || d.BudgetID != id || !errors.Is(err, httpapi.ErrDenied) {
		t.Fatalf("third reservation: %v", err)
	}
	testenv.Must(t, c.Release(ctx, r1.ID), "release")
	_, err = c.Reserve(ctx, req)
	testenv.Must(t, err, "reserve after release")

	// Defaults: no max_tokens prices the configured default; no model reserves the unpriced amount.
	cfg := testConfig("SGX")
	def := req
	def.MaxTokens, def.InputTokensEstimate = 0, 0
	defOut := cfg.DefaultMaxTokens // or the model's maximum, once the catalogue has it
	if mo, ok := any(pricing.Default()).(interface {
		MaxOutputTokens(provider, model string) (int64, bool)
	}); ok {
		if n, ok := mo.MaxOutputTokens("openai", "gpt-4o-mini"); ok {
			defOut = n
		}
	}
	wantDef := pricing.Default().Cost(pricing.Request{Provider: "openai", Model: "gpt-4o-mini"}, usage.Tokens{Input: cfg.DefaultInputTokens, Output: defOut}, nil)
	if got, err := svc.Estimate(ctx, &def); err != nil || got != wantDef.TenantNanoUSD {
		t.Errorf("default estimate %d (%v), want %d", got, err, wantDef.TenantNanoUSD)
	}
	if got, err := svc.Estimate(ctx, &budget.ReserveRequest{TenantID: f.tenant, Model: "no-such-model"}); err != nil || got != cfg.UnpricedReserveNanoUSD {
		t.Errorf("unpriced estimate %d (%v)", got, err)
	}

	// Errors.
	if err := c.Release(ctx, uuid.NewString()); err == nil {
		t.Error("unknown release accepted")
	}
	bad := &httpapi.Client{BaseURL: srv.URL, ServiceToken: "wrong"}
	if _, err := bad.Reserve(ctx, req); err == nil {
		t.Error("wrong token accepted")
	}
	for body, code := range map[string]int{`{"tenant_id":""}`: 400, `{"tenant_id":"` + f.tenant + `","max_tokens":-1}`: 400, `{"bogus":1}`: 400, `not json`: 400,
		`{"tenant_id":"not-a-uuid"}`: 400, `{"tenant_id":"` + f.tenant + `","key_id":"k1"}`: 400} {
		hr, _ := http.NewRequest(http.MethodPost, srv.URL+"/internal/v1/reservations", stringsReader(body))
		hr.Header.Set("Authorization", "Bearer svc-token")
		resp, err := http.DefaultClient.Do(hr)
		testenv.Must(t, err, "post")
		resp.Body.Close()
		if resp.StatusCode != code {
			t.Errorf("%s: HTTP %d, want %d", body, resp.StatusCode, code)
		}
	}
}

func TestSettlementThroughApplySpend(t *testing.T) {
	t.Parallel()
	f := setup(t)
	svc := service.New(f.db, nil, "SGX", testConfig("SGX"), nil)
	ctx := context.Background()
	id := f.budget(t, 10_000_000_000, true, []int32{100}, "")
	r, err := svc.Reserve(ctx, budget.ReserveRequest{TenantID: f.tenant, KeyID: f.key, Provider: "openai", Model: "gpt-4o-mini", MaxTokens: 100})
	testenv.Must(t, err, "reserve")
	e := f.priced(1234)
	e.Event.ReservationID = r.ID
	unpriced := f.priced(999)
	unpriced.Cost.Priced = false
	testenv.Must(t, svc.ApplySpend(ctx, []spend.PricedEvent{e, unpriced}), "apply")
	spent, reserved, err := svc.Store.Counter(ctx, id, budget.Month, time.Now())
	testenv.Must(t, err, "counter")
	if spent != 1234 || reserved != 0 {
		t.Fatalf("spent %d reserved %d, want 1234, 0", spent, reserved)
	}
}

func TestFailClosedWhenPostgresUnreachable(t *testing.T) {
	t.Parallel()
	db, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2")
	testenv.Must(t, err, "pool")
	defer db.Close()
	ctx := context.Background()
	req := budget.ReserveRequest{TenantID: uuid.NewString(), KeyID: uuid.NewString(), Provider: "openai", Model: "gpt-4o-mini"}

	closed := service.New(db, nil, "SGX", testConfig("SGX"), nil)
	if _, err := closed.Reserve(ctx, req); !errors.Is(err, budget.ErrUnavailable) {
		t.Fatalf("fail closed: %v", err)
	}
	srv := httptest.NewServer(httpapi.Handler(closed, "tok", nil))
	defer srv.Close()
	_, err = (&httpapi.Client{BaseURL: srv.URL, ServiceToken: "tok"}).Reserve(ctx, req)
	var d *httpapi.DeniedError
	if !errors.As(err, &d) || d.Reason != httpapi.ReasonUnavailable {
		t.Fatalf("HTTP fail closed: %v", err)
	}
	if _, _, err := closed.KeyBlocked(ctx, req.TenantID, req.KeyID); err == nil {
		t.Fatal("KeyBlocked without a database returned no error (the policy endpoint blocks on error)")
	}

	cfg := testConfig("SGX")
	cfg.FailOpen = true
	open := service.New(db, nil, "SGX", cfg, nil)
	r, err := open.Reserve(ctx, req)
	if err != nil || !r.Unchecked || r.ID != "" {
		t.Fatalf("fail open: %+v %v", r, err)
	}
	if b, _, err := open.KeyBlocked(ctx, req.TenantID, req.KeyID); b || err != nil {
		t.Fatalf("fail open KeyBlocked: %v %v", b, err)
	}

	// The client itself cannot reach the server: ErrUnavailable for the caller to fail closed.
	srv.Close()
	if _, err := (&httpapi.Client{BaseURL: srv.URL, ServiceToken: "tok"}).Reserve(ctx, req); !errors.Is(err, budget.ErrUnavailable) {
		t.Fatalf("client unreachable: %v", err)
	}
}

func TestWebhookDebounceCoalescesSeparateCrossings(t *testing.T) {
	t.Parallel()
	f := setup(t)
	bodies := make(chan budget.WebhookBody, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b budget.WebhookBody
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			t.Errorf("decode: %v", err)
		}
		bodies <- b
	}))
	defer srv.Close()
	cfg := loopbackWebhooks(testConfig("SGX"))
	cfg.WebhookDebounce = time.Second
	svc := service.New(f.db, nil, "SGX", cfg, nil)
	f.budget(t, 1000, false, []int32{50, 80, 100}, srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = svc.Run(ctx) }()
	// Three separate batches crossing 50, 80 and 100 % within the window.
	for _, c := range []int64{500, 300, 200} {
		testenv.Must(t, svc.ApplySpend(ctx, []spend.PricedEvent{f.priced(c)}), "apply")
	}
	var b budget.WebhookBody
	select {
	case b = <-bodies:
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook")
	}
	if len(b.Alerts) != 3 {
		t.Fatalf("one message should carry 3 alerts, got %+v", b)
	}
	testenv.WaitFor(t, 5*time.Second, "outbox drained", func() bool {
		var pending int
		_ = f.db.QueryRow(ctx, `SELECT count(*) FROM budget_alert_outbox WHERE kind = 'webhook' AND delivered_at IS NULL`).Scan(&pending)
		return pending == 0
	})
	n, err := svc.Dispatcher.Once(ctx)
	if err != nil || n != 0 || len(bodies) != 0 {
		t.Fatalf("extra deliveries: %d %v %d", n, err, len(bodies))
	}
}

// A tenant paying above list price must reserve its own price, or a call
// could cost more than it held and overshoot the cap.
func TestEstimateUsesTenantOverrides(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	_, err := f.db.Exec(ctx, `INSERT INTO pricing_overrides (tenant_id, provider, model, effective_from, percent_adjustment_bp)
		VALUES ($1, 'openai', 'gpt-4o-mini', now() - interval '1 day', 5000)`, f.tenant)
	testenv.Must(t, err, "override")
	svc := service.New(f.db, nil, "SGX", testConfig("SGX"), nil)
	svc.SetPricingOverrides(ingest.NewCachedOverrides(controlplane.OverrideReader{DB: f.db}, time.Minute))
	req := budget.ReserveRequest{TenantID: f.tenant, KeyID: f.key, Provider: "openai", Model: "gpt-4o-mini", MaxTokens: 1000, InputTokensEstimate: 1000}
	list := pricing.Default().Cost(pricing.Request{Provider: "openai", Model: "gpt-4o-mini"}, usage.Tokens{Input: 1000, Output: 1000}, nil)
	id := f.budget(t, list.TenantNanoUSD*3, true, []int32{100}, "")
	r, err := svc.Reserve(ctx, req)
	testenv.Must(t, err, "reserve")
	if want := list.TenantNanoUSD * 3 / 2; r.AmountNanoUSD != want {
		t.Fatalf("reserved %d, want list %d + 50 %% = %d", r.AmountNanoUSD, list.TenantNanoUSD, want)
	}
	if _, reserved, err := svc.Store.Counter(ctx, id, budget.Month, time.Now()); err != nil || reserved != r.AmountNanoUSD {
		t.Fatalf("counter holds %d (%v)", reserved, err)
	}
	// Two such calls fit in 3× list price; a third does not.
	_, err = svc.Reserve(ctx, req)
	testenv.Must(t, err, "reserve 2")
	var denied *budget.DeniedError
	if _, err := svc.Reserve(ctx, req); !errors.As(err, &denied) {
		t.Fatalf("third reservation at 1.5× list price: %v", err)
	}
}

// TestEstimateWithoutMaxTokensReservesTheModelsMaximum: a call that sends
// no max_tokens can produce the model's whole maximum output, so that is
// what is reserved (the catalogue's max_output_tokens), not a fixed default.
func TestEstimateWithoutMaxTokensReservesTheModelsMaximum(t *testing.T) {
	cat := pricing.Default()
	mo, ok := any(cat).(interface {
		MaxOutputTokens(provider, model string) (int64, bool)
	})
	if !ok {
		t.Skip("the catalogue has no max output tokens yet (they come with branch pricing)")
	}
	max, ok := mo.MaxOutputTokens("openai", "gpt-4o-mini")
	if !ok || max <= 0 {
		t.Fatalf("no max output tokens for gpt-4o-mini: %d", max)
	}
	f := setup(t)
	svc := service.New(f.db, nil, "SGE", testConfig("SGE"), nil)
	cfg := testConfig("SGE")
	got, err := svc.Estimate(context.Background(), &budget.ReserveRequest{TenantID: f.tenant, Provider: "openai", Model: "gpt-4o-mini"})
	want := cat.Cost(pricing.Request{Provider: "openai", Model: "gpt-4o-mini"}, usage.Tokens{Input: cfg.DefaultInputTokens, Output: max}, nil)
	if err != nil || got != want.TenantNanoUSD {
		t.Fatalf("estimate %d (%v), want %d for %d output tokens", got, err, want.TenantNanoUSD, max)
	}
}

// The public preflight's worst cases: a usage in any unit is priced by the
// catalogue (tts-1: $15 per million characters), a caller's own maximum is
// reserved as stated, and a unit the model has no rate for reserves the
// unpriced amount, never a partial figure.
func TestEstimateOfAWorstCaseInAnyUnit(t *testing.T) {
	f := setup(t)
	svc := service.New(f.db, nil, "SGU", testConfig("SGU"), nil)
	ctx := context.Background()
	for name, c := range map[string]struct {
		req  budget.ReserveRequest
		want int64
	}{
		"characters":       {budget.ReserveRequest{Provider: "openai", Model: "tts-1", Usage: &usage.Tokens{Characters: 10_000}}, 150_000_000},
		"seconds":          {budget.ReserveRequest{Provider: "openai", Model: "whisper-1", Usage: &usage.Tokens{Seconds: 90}}, 9_000_000},
		"a stated maximum": {budget.ReserveRequest{Provider: "elevenlabs", Model: "eleven_v3", MaxCostNanoUSD: 250_000_000}, 250_000_000},
		"an unrated unit":  {budget.ReserveRequest{Provider: "openai", Model: "tts-1", Usage: &usage.Tokens{Images: 1}}, testConfig("SGU").UnpricedReserveNanoUSD},
	} {
		c.req.TenantID = f.tenant
		if got, err := svc.Estimate(ctx, &c.req); err != nil || got != c.want {
			t.Errorf("%s: estimate %d (%v), want %d", name, got, err, c.want)
		}
	}
}
