package apiserver

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
)

// subscriptionLimits caps the live subscriptions of one websocket connection
// and of one signed-in user (over all their connections): each holds a NATS
// subscription and buffers, so an uncapped socket lets one user grow the
// API's memory without bound.
type subscriptionLimits struct {
	perConn, perUser int
	mu               sync.Mutex
	users            map[string]int
}

func newSubscriptionLimits(l Limits) *subscriptionLimits {
	return &subscriptionLimits{perConn: l.MaxSubscriptionsPerConnection, perUser: l.MaxSubscriptionsPerUser, users: map[string]int{}}
}

// connSubs counts one websocket connection's live subscriptions; the
// websocket init puts it in the connection's context.
type connSubs struct {
	mu sync.Mutex
	n  int
}

type connSubsKey struct{}

func withConnSubs(ctx context.Context) context.Context {
	return context.WithValue(ctx, connSubsKey{}, &connSubs{})
}

// around is an operation middleware: a subscription takes a slot of its
// connection and of its user for as long as it lives (its context ends when
// the client completes it, the stream ends or the socket closes).
func (l *subscriptionLimits) around(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
		return next(ctx)
	}
	release, msg := l.acquire(ctx)
	if msg != "" {
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
			Message: msg, Extensions: map[string]any{"code": apierr.CodeResourceExhausted}}}})
	}
	go func() {
		<-ctx.Done()
		release()
	}()
	return next(ctx)
}

// acquire takes the slots, or says which limit is reached.
func (l *subscriptionLimits) acquire(ctx context.Context) (release func(), refused string) {
	conn, _ := ctx.Value(connSubsKey{}).(*connSubs)
	if conn != nil {
		conn.mu.Lock()
		if conn.n >= l.perConn {
			conn.mu.Unlock()
			return nil, "too many subscriptions on this connection: at most " + itoa(l.perConn) + "; complete one first or open another connection"
		}
		conn.n++
		conn.mu.Unlock()
	}
	user := ""
	if p, ok := auth.PrincipalFrom(ctx); ok {
		user = p.UserID
	}
	if user != "" {
		l.mu.Lock()
		if l.users[user] >= l.perUser {
			l.mu.Unlock()
			if conn != nil {
				conn.mu.Lock()
				conn.n--
				conn.mu.Unlock()
			}
			return nil, "too many live subscriptions for this user: at most " + itoa(l.perUser) + " over all connections; complete some first"
		}
		l.users[user]++
		l.mu.Unlock()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if conn != nil {
				conn.mu.Lock()
				conn.n--
				conn.mu.Unlock()
			}
			if user != "" {
				l.mu.Lock()
				if l.users[user]--; l.users[user] <= 0 {
					delete(l.users, user)
				}
				l.mu.Unlock()
			}
		})
	}, ""
}
