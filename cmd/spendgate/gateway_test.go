package main

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

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/budget/httpapi"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/gateway"
	"github.com/spendgate/spendgate/internal/fakeprovider"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/policy"
)

// roomEngine stands in for the budget engine behind the real reservation
// endpoint: it grants a fixed number of calls, then refuses; down makes it
// fail like an unreachable store.
type roomEngine struct {
	mu   sync.Mutex
	room int
	down bool
	got  []budget.ReserveRequest
}

func (e *roomEngine) Reserve(_ context.Context, r budget.ReserveRequest) (budget.Reservation, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, r)
	switch {
	case e.down:
		return budget.Reservation{}, errors.New("connection refused")
	case e.room == 0:
		return budget.Reservation{}, &budget.DeniedError{BudgetID: "b1", BudgetName: "search monthly", AmountNanoUSD: 1}
	}
	e.room--
	return budget.Reservation{ID: "res-42", AmountNanoUSD: 1000, ExpiresAt: time.Now().Add(time.Minute), BudgetIDs: []string{"b1"}}, nil
}

func (e *roomEngine) Release(context.Context, string) error { return nil }

type sinkFunc func(context.Context, []event.Event) error

func (f sinkFunc) Publish(ctx context.Context, evs []event.Event) error { return f(ctx, evs) }

// TestGatewayReservesThroughTheBudgetEndpoint wires the gateway to the real
// reservation endpoint and client (budget/httpapi) through budgetReserver and
// checks what the OpenAI SDK sees for each budget outcome.
func TestGatewayReservesThroughTheBudgetEndpoint(t *testing.T) {
	t.Parallel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine := &roomEngine{room: 1}
	budgetSrv := httptest.NewServer(httpapi.Handler(engine, "svc", quiet))
	defer budgetSrv.Close()
	fake := httptest.NewServer(fakeprovider.New(fakeprovider.Config{}))
	defer fake.Close()

	var mu sync.Mutex
	var events []event.Event
	batcher := gateway.NewBatcher(sinkFunc(func(_ context.Context, evs []event.Event) error {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, evs...)
		return nil
	}), 10, 100, 10*time.Millisecond, quiet)
	answer := policy.Answer{Valid: true, TenantID: "11111111-1111-4111-8111-111111111111", KeyID: "22222222-2222-4222-8222-222222222222",
		CacheTTLSeconds: 60, Policy: policy.Policy{HardBudget: true}}
	policySrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(answer)
	}))
	defer policySrv.Close()

	cfg := gateway.DefaultConfig()
	cfg.Upstreams = map[string]string{"openai": fake.URL + "/v1"}
	cfg.Reserver = budgetReserver((&httpapi.Client{BaseURL: budgetSrv.URL, ServiceToken: "svc"}).Reserve)
	gw := gateway.New(cfg, &gateway.HTTPPolicySource{URL: policySrv.URL, ServiceToken: "svc"}, batcher, quiet)
	gwSrv := httptest.NewServer(gw)
	defer gwSrv.Close()
	defer gw.Shutdown(context.Background())

	client := openai.NewClient(option.WithBaseURL(gwSrv.URL+"/v1/openai"), option.WithAPIKey("sk"),
		option.WithHeader("x-spendgate-key", "sg_hard_x"), option.WithMaxRetries(0))
	params := openai.ChatCompletionNewParams{Model: "gpt-4o", MaxTokens: openai.Int(64),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
	ctx := context.Background()

	if _, err := client.Chat.Completions.New(ctx, params); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, "usage event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(events) == 1
	})
	mu.Lock()
	if events[0].ReservationID != "res-42" {
		t.Fatalf("usage event %+v", events[0])
	}
	mu.Unlock()
	engine.mu.Lock()
	g := engine.got[0]
	engine.mu.Unlock()
	if g.TenantID != answer.TenantID || g.KeyID != answer.KeyID || g.Model != "gpt-4o" || g.MaxTokens != 64 || g.Provider != "openai" {
		t.Fatalf("reservation request %+v", g)
	}

	var apiErr *openai.Error
	_, err := client.Chat.Completions.New(ctx, params)
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Code != event.DenialBudgetExceeded || !strings.Contains(apiErr.Message, "search monthly") {
		t.Fatalf("full budget: %v", err)
	}
	engine.mu.Lock()
	engine.down = true
	engine.mu.Unlock()
	_, err = client.Chat.Completions.New(ctx, params)
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 || apiErr.Code != gateway.ReasonBudgetUnavailable {
		t.Fatalf("budget store down: %v", err)
	}
	// The reservation endpoint itself unreachable: also refused.
	cfg.Reserver = budgetReserver((&httpapi.Client{BaseURL: "http://127.0.0.1:1", ServiceToken: "svc"}).Reserve)
	gw2 := gateway.New(cfg, &gateway.HTTPPolicySource{URL: policySrv.URL, ServiceToken: "svc"}, batcher, quiet)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "http://gw/v1/openai/chat/completions", strings.NewReader(`{"model":"gpt-4o","messages":[]}`))
	req.Header.Set("x-spendgate-key", "sg_hard_x")
	gw2.ServeHTTP(rec, req)
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), gateway.ReasonBudgetUnavailable) {
		t.Fatalf("budget endpoint unreachable: %d %s", rec.Code, rec.Body)
	}
}

func TestGatewayFlagsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		ok   bool
	}{
		{[]string{"--upstream", "openai=http://127.0.0.1:9999/v1"}, true},
		{[]string{"--upstream", "acme=http://x"}, false},
		{[]string{"--upstream", "openai=ftp://x"}, false},
		{[]string{"--policy-url", "localhost:8080"}, false},
		{[]string{"--budget-url", "http://127.0.0.1:8080"}, true},
		{[]string{"--max-request-body-bytes", "0"}, false},
		{[]string{"--event-batch", "500", "--event-buffer", "100"}, false},
		{[]string{"--reserve-timeout", "0s"}, false},
	}
	for _, tt := range tests {
		fs := newFlagSet("gateway")
		var f gatewayFlags
		addGatewayFlags(fs, &f, true)
		fs.SetOutput(io.Discard)
		err := fs.Parse(tt.args)
		if err == nil {
			err = f.validate()
		}
		if (err == nil) != tt.ok {
			t.Errorf("%v: err %v, want ok=%v", tt.args, err, tt.ok)
		}
	}
}
