package graph

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/spendgate/spendgate/apierr"
)

type websocketKey struct{}

// OverWebsocket marks a websocket connection's context: subscriptions on it
// can be told, with an error message, why the server ended them (gqlgen
// carries such errors on websockets only).
func OverWebsocket(ctx context.Context) context.Context {
	return context.WithValue(ctx, websocketKey{}, true)
}

// tellWhyEnded sends the subscriber the client error that ended its
// subscription (context.Cause, as set by controlplane.WatchAccess: access
// removed, session ended, token expired), instead of a bare "complete".
// Ends for other reasons (the subscriber left, the server stops) say
// nothing.
func tellWhyEnded(ctx context.Context) {
	var e *apierr.Error
	if ctx.Value(websocketKey{}) == nil || !errors.As(context.Cause(ctx), &e) {
		return
	}
	transport.AddSubscriptionError(ctx, &gqlerror.Error{Message: e.Message, Extensions: map[string]any{"code": e.Code}})
}
