package gateway

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/policy"
)

// budgetStandIn plays the budget service: it grants until its room (in
// calls) is used up, or fails when down.
type budgetStandIn struct {
	mu   sync.Mutex
	room int
	down bool
	reqs []ReserveRequest
}

func (b *budgetStandIn) Reserve(_ context.Context, r ReserveRequest) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reqs = append(b.reqs, r)
	switch {
	case b.down:
		return "", errors.New("dial tcp 127.0.0.1:8080: connection refused")
	case b.room == 0:
		return "", &ReservationDeniedError{Reason: event.DenialBudgetExceeded, Message: `budget "team search" has no room left in this period`}
	}
	b.room--
	return "res-" + strings.Repeat("1", len(b.reqs)), nil
}

func (b *budgetStandIn) requests() []ReserveRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]ReserveRequest(nil), b.reqs...)
}

func TestHardBudgetReservations(t *testing.T) {
	t.Parallel()
	hard := policy.Answer{Valid: true, TenantID: tenantID, KeyID: keyID, CacheTTLSeconds: 60,
		Policy: policy.Policy{HardBudget: true, DefaultDimensions: map[string]string{"team": "search"}}}
	soft := policy.Answer{Valid: true, TenantID: tenantID, KeyID: "33333333-3333-4333-8333-333333333333", CacheTTLSeconds: 60}
	budget := &budgetStandIn{room: 1}
	e := setup(t, func(c *Config) { c.Reserver = budget }, map[string]policy.Answer{"sg_hard_x": hard, "sg_soft_x": soft})
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{Model: "gpt-4o", MaxCompletionTokens: openai.Int(300),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello there")}}

	hardClient, softClient := e.openai("sg_hard_x"), e.openai("sg_soft_x")

	// 1. Granted: the reservation id travels in the usage event.
	if _, err := hardClient.Chat.Completions.New(ctx, params); err != nil {
		t.Fatal(err)
	}
	ev := e.sink.wait(t, 1)[0]
	if ev.Type != event.TypeUsage || ev.ReservationID != "res-1" {
		t.Fatalf("usage event %+v", ev)
	}
	reqs := budget.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d reservations", len(reqs))
	}
	r := reqs[0]
	if r.TenantID != tenantID || r.KeyID != keyID || r.Provider != "openai" || r.Model != "gpt-4o" || r.MaxTokens != 300 ||
		r.Dimensions["team"] != "search" || r.InputTokensEstimate <= 0 {
		t.Fatalf("reserve request %+v", r)
	}

	// 2. No room: a 429 budget_exceeded the SDK understands; the provider is not called.
	_, err := hardClient.Chat.Completions.New(ctx, params)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Code != event.DenialBudgetExceeded ||
		!strings.Contains(apiErr.Message, "team search") {
		t.Fatalf("no room: %v", err)
	}
	if n := len(e.fake.Requests()); n != 1 {
		t.Fatalf("provider saw %d calls, want 1", n)
	}

	// 3. Budget service down: hard caps fail closed with a 503.
	budget.mu.Lock()
	budget.down = true
	budget.mu.Unlock()
	_, err = hardClient.Chat.Completions.New(ctx, params)
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 || apiErr.Code != ReasonBudgetUnavailable {
		t.Fatalf("budget down: %v", err)
	}

	// 4. Keys without a hard budget are never reserved.
	if _, err := softClient.Chat.Completions.New(ctx, params); err != nil {
		t.Fatal(err)
	}
	if n := len(budget.requests()); n != 3 {
		t.Fatalf("%d reservations, want 3 (soft key must not reserve)", n)
	}
	evs := e.sink.wait(t, 4)
	reasons := map[string]int{}
	for _, ev := range evs {
		reasons[ev.Type+"/"+ev.DenialReason+"/"+ev.ReservationID]++
	}
	want := map[string]int{"usage//res-1": 1, "denial/" + event.DenialBudgetExceeded + "/": 1, "denial/" + ReasonBudgetUnavailable + "/": 1, "usage//": 1}
	for k, n := range want {
		if reasons[k] != n {
			t.Fatalf("events %v, want %v", reasons, want)
		}
	}
}

// releasingBudget is a budget service that also takes reservations back.
type releasingBudget struct {
	budgetStandIn
	released []string
}

func (b *releasingBudget) Release(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.released = append(b.released, id)
	return nil
}

// TestUnansweredCallReleasesItsReservation: a reserved call the provider
// never answers gives its reservation back (Releaser), and its usage event,
// which records no usage, no longer settles it.
func TestUnansweredCallReleasesItsReservation(t *testing.T) {
	t.Parallel()
	hard := policy.Answer{Valid: true, TenantID: tenantID, KeyID: keyID, CacheTTLSeconds: 60, Policy: policy.Policy{HardBudget: true}}
	b := &releasingBudget{budgetStandIn: budgetStandIn{room: 5}}
	e := setup(t, func(c *Config) {
		c.Reserver = b
		c.Upstreams = map[string]string{"openai": "http://127.0.0.1:1/v1"} // nothing listens there
	}, map[string]policy.Answer{"sg_hard_x": hard})
	client := e.openai("sg_hard_x")
	_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 502 {
		t.Fatalf("want the gateway's 502, got %v", err)
	}
	evs := e.sink.wait(t, 1)
	b.mu.Lock()
	released := append([]string(nil), b.released...)
	b.mu.Unlock()
	if len(released) != 1 || released[0] != "res-1" {
		t.Fatalf("released %v, want [res-1]", released)
	}
	if evs[0].Type != event.TypeUsage || evs[0].ReservationID != "" || evs[0].StatusCode != 502 {
		t.Fatalf("usage event %+v", evs[0])
	}
}
