package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/spendgate/spendgate/budget/alerts"
	"github.com/spendgate/spendgate/internal/testenv"
)

// The connection_ack does not send the client's init payload (its bearer
// token) back. Read as raw frames, with a real websocket client.
func TestWebsocketAckDoesNotEchoInitPayload(t *testing.T) {
	h := newHarness(t)
	tok, _ := h.owner("alice@example.com", "acme")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.srv.URL, "http")+"/query",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	testenv.Must(t, err, "dial")
	defer conn.CloseNow() //nolint:errcheck
	b, _ := json.Marshal(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + tok}})
	testenv.Must(t, conn.Write(ctx, websocket.MessageText, b), "init")
	_, ack, err := conn.Read(ctx)
	testenv.Must(t, err, "ack")
	var m struct {
		Type    string
		Payload json.RawMessage
	}
	testenv.Must(t, json.Unmarshal(ack, &m), "ack")
	if m.Type != "connection_ack" || len(m.Payload) != 0 || strings.Contains(string(ack), tok) || strings.Contains(string(ack), "uthorization") {
		t.Fatalf("connection_ack: %s", ack)
	}
}

// Subscriptions are capped per websocket and per user over all their
// websockets; completing one frees its slots.
func TestSubscriptionLimits(t *testing.T) {
	h := buildHarness(t, false, func(h *harness, cfg *Config) {
		nc, prefix := testenv.NATS(t)
		h.nc, h.alertPrefix = nc, strings.ToLower(prefix)
		cfg.Ticks = alerts.NewTicks(nc, h.alertPrefix, slog.New(slog.NewTextHandler(io.Discard, nil)))
		cfg.Limits = Limits{MaxSubscriptionsPerConnection: 3, MaxSubscriptionsPerUser: 4}
	})
	tok, tenant := h.owner("alice@example.com", "acme")
	const ticks = `subscription($t:ID!){spendTicks(tenantId:$t){requests}}`
	tv := map[string]any{"t": tenant}
	// refused reads the one refusal among subscriptions just sent (each
	// starts on its own goroutine, so which one is refused is not ordered).
	refused := func(c *wsClient, want string) (id string) {
		t.Helper()
		m := c.next(20*time.Second, nil)
		var r gqlResponse
		_ = json.Unmarshal(m.Payload, &r)
		if m.Type != "next" || r.code() != "RESOURCE_EXHAUSTED" || !strings.Contains(r.Errors[0].Message, want) {
			t.Fatalf("%+v %+v, want RESOURCE_EXHAUSTED %q", m, r, want)
		}
		if done := c.next(10*time.Second, nil); done.Type != "complete" || done.ID != m.ID {
			t.Fatalf("after the refusal: %+v", done)
		}
		return m.ID
	}
	a := h.dialWS(t, tok)
	for i := range 4 {
		a.subscribe(fmt.Sprint("a", i), ticks, tv)
	}
	refusedA := refused(a, "too many subscriptions on this connection: at most 3")
	b := h.dialWS(t, tok)
	b.subscribe("b0", ticks, tv)
	b.subscribe("b1", ticks, tv)
	refused(b, "too many live subscriptions for this user: at most 4")

	// Completing one of a's subscriptions frees a slot for the user: a new
	// subscription on b is accepted and receives the next tick.
	live := "a0"
	if refusedA == "a0" {
		live = "a1"
	}
	a.send(map[string]any{"id": live, "type": "complete"})
	publish := func() { h.publishTick(tenant, alerts.SpendTick{At: time.Now(), Requests: 7}) }
	deadline := time.Now().Add(20 * time.Second)
	for attempt := 0; ; attempt++ {
		id := fmt.Sprint("b-again-", attempt)
		b.subscribe(id, ticks, tv)
	wait:
		for {
			if time.Now().After(deadline) {
				t.Fatal("the completed subscription's slot was not freed in 20 s")
			}
			m := b.next(5*time.Second, publish)
			var r gqlResponse
			_ = json.Unmarshal(m.Payload, &r)
			switch {
			case m.ID != id || m.Type == "complete":
				continue // the other live subscription's tick; a refusal's complete
			case m.Type == "next" && len(r.Errors) > 0:
				break wait // refused: the slot is not free yet
			case m.Type == "next" && get(r.Data, "spendTicks", "requests") == 7.0:
				return
			default:
				t.Fatalf("unexpected %+v", m)
			}
		}
	}
}
