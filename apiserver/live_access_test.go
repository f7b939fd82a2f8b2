package apiserver

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/budget/alerts"
	"github.com/spendgate/spendgate/internal/testenv"
)

// wsClient is a graphql-transport-ws client, as the portal's graphql-ws is,
// that reads every message of the connection.
type wsClient struct {
	t    *testing.T
	ctx  context.Context
	conn *websocket.Conn
	msgs chan wsMessage
}

type wsMessage struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// dialWS connects and authenticates with token in the init payload.
func (h *harness) dialWS(t *testing.T, token string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.srv.URL, "http")+"/query",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	testenv.Must(t, err, "dial")
	t.Cleanup(func() { _ = conn.CloseNow() })
	c := &wsClient{t: t, ctx: ctx, conn: conn, msgs: make(chan wsMessage, 64)}
	go func() {
		defer close(c.msgs)
		for {
			_, b, err := conn.Read(ctx)
			if err != nil {
				c.msgs <- wsMessage{Type: "closed"}
				return
			}
			var m wsMessage
			if json.Unmarshal(b, &m) == nil && m.Type != "ping" && m.Type != "pong" {
				c.msgs <- m
			}
		}
	}()
	c.send(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + token}})
	if m := c.next(10*time.Second, nil); m.Type != "connection_ack" {
		t.Fatalf("connection_init answered %+v", m)
	}
	return c
}

func (c *wsClient) send(m map[string]any) {
	c.t.Helper()
	b, _ := json.Marshal(m)
	testenv.Must(c.t, c.conn.Write(c.ctx, websocket.MessageText, b), "websocket write")
}

func (c *wsClient) subscribe(id, query string, vars map[string]any) {
	c.send(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars}})
}

// next returns the next message, calling tick (when not nil) every 200 ms
// while none has come; a zero message after wait.
func (c *wsClient) next(wait time.Duration, tick func()) wsMessage {
	deadline := time.After(wait)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				return wsMessage{Type: "closed"}
			}
			return m
		case <-t.C:
			if tick != nil {
				tick()
			}
		case <-deadline:
			return wsMessage{}
		}
	}
}

// errorCode is the code of an "error" message's first error.
func (m wsMessage) errorCode() string {
	var errs []gqlError
	if m.Type != "error" || json.Unmarshal(m.Payload, &errs) != nil || len(errs) == 0 {
		return ""
	}
	c, _ := errs[0].Extensions["code"].(string)
	return c
}

// A live subscription ends when its subscriber's right to the tenant ends:
// removed from the tenant, deactivated by the identity provider (SCIM), or
// every session ended by a password change. It
// answers an error saying why, and nothing of the tenant is delivered after
// the mutation answered, although the tenant's spend keeps streaming.
func TestSubscriptionsEndWithAccess(t *testing.T) {
	h := newFullHarness(t)
	ann, tenant := h.owner("ann@example.com", "acme")
	tick := func() { h.publishTick(tenant, alerts.SpendTick{At: time.Now().UTC(), Requests: 1, TenantNanoUSD: 5}) }
	alert := func() {
		h.publishAlert(budget.Alert{ID: 1, TenantID: tenant, BudgetID: "b", BudgetName: "team", Threshold: 80, Time: time.Now().UTC()})
	}
	feeds := map[string]struct {
		query   string
		publish func()
	}{
		"spendTicks":   {`subscription($t:ID!){spendTicks(tenantId:$t){requests tenantCost}}`, tick},
		"budgetAlerts": {`subscription($t:ID!){budgetAlerts(tenantId:$t){budgetName}}`, alert},
	}
	d := h.must(ann, `mutation($t:ID!){createSCIMToken(tenantId:$t,name:"entra"){secret}}`, map[string]any{"t": tenant})
	scimToken := get(d, "createSCIMToken", "secret").(string)
	ends := map[string]struct {
		do   func(email, token string)
		code string
	}{
		"member removed": {func(email, _ string) {
			id := h.must(ann, `query($t:ID!){members(tenantId:$t){edges{node{user{id email}}}}}`, map[string]any{"t": tenant})
			for _, e := range get(id, "members", "edges").([]any) {
				if get(e, "node", "user", "email") == email {
					h.must(ann, `mutation($t:ID!,$u:ID!){removeMember(tenantId:$t,userId:$u)}`, map[string]any{"t": tenant, "u": get(e, "node", "user", "id")})
				}
			}
		}, "FORBIDDEN"},
		"deactivated by the identity provider (SCIM)": {func(email, _ string) {
			status, u := h.scimCall(scimToken, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+email+`","active":true}`)
			if status != 201 {
				t.Fatalf("provision %s: %d %v", email, status, u)
			}
			if status, _ := h.scimCall(scimToken, "PATCH", "/Users/"+u["id"].(string), entraDeactivate); status != 200 {
				t.Fatalf("deactivate %s: %d", email, status)
			}
		}, "FORBIDDEN"},
		"password changed": {func(_, token string) {
			h.must(token, `mutation{changePassword(currentPassword:"password-123",newPassword:"password-456")}`, nil)
		}, "UNAUTHENTICATED"},
	}
	n := 0
	for feedName, feed := range feeds {
		for endName, end := range ends {
			t.Run(feedName+", "+endName, func(t *testing.T) {
				n++
				email := "viewer" + string(rune('a'+n)) + "@example.com"
				h.must(ann, `mutation($t:ID!,$e:String!){addMember(tenantId:$t,email:$e,password:"password-123",role:VIEWER){role}}`,
					map[string]any{"t": tenant, "e": email})
				viewer := h.signIn(email, "password-123")
				c := h.dialWS(t, viewer)
				c.subscribe("1", feed.query, map[string]any{"t": tenant})
				if m := c.next(20*time.Second, feed.publish); m.Type != "next" || m.ID != "1" {
					t.Fatalf("first answer %+v", m)
				}
				for c.next(500*time.Millisecond, nil).Type != "" { // drain what the trigger caused
				}
				end.do(email, viewer)
				// The tenant keeps spending; the subscriber must get the end and nothing else.
				m := c.next(10*time.Second, feed.publish)
				if m.ID != "1" || m.errorCode() != end.code {
					t.Fatalf("after %s the subscription answered %+v %s, want an error %s", endName, m, m.Payload, end.code)
				}
				for i := 0; i < 5; i++ {
					feed.publish()
				}
				if m := c.next(time.Second, nil); m.Type == "next" {
					t.Fatalf("delivered after the end: %s", m.Payload)
				}
			})
		}
	}
}

// The access token is re-checked on an open socket: when it expires, the
// subscription ends with UNAUTHENTICATED and the server closes the socket.
func TestWebsocketEndsWhenTokenExpires(t *testing.T) {
	h := newFullHarness(t)
	_, tenant := h.owner("ann@example.com", "acme")
	h.tokens.SetAccessTTL(3 * time.Second)
	short := h.signIn("ann@example.com", "password-123")
	issued := time.Now()
	c := h.dialWS(t, short)
	c.subscribe("1", `subscription($t:ID!){spendTicks(tenantId:$t){requests}}`, map[string]any{"t": tenant})
	tick := func() { h.publishTick(tenant, alerts.SpendTick{At: time.Now().UTC(), Requests: 1}) }
	if m := c.next(20*time.Second, tick); m.Type != "next" {
		t.Fatalf("first answer %+v", m)
	}
	var m wsMessage
	for m = c.next(10*time.Second, tick); m.Type == "next"; m = c.next(10*time.Second, tick) {
		if time.Since(issued) > 5*time.Second { // the token's expiry is truncated to seconds: ≤ 3 s, + 1 s grace
			t.Fatalf("still delivering %s after the token expired", time.Since(issued))
		}
	}
	if m.ID != "1" || m.errorCode() != "UNAUTHENTICATED" {
		t.Fatalf("at expiry the subscription answered %+v %s", m, m.Payload)
	}
	if m := c.next(5*time.Second, nil); m.Type != "closed" {
		t.Fatalf("the socket stayed open after its token expired: %+v", m)
	}
}
