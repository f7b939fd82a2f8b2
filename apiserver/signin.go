package apiserver

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/spendgate/spendgate/apierr"
)

// passwordChecks are the mutations that check a password or a second
// factor. One operation may
// hold at most one of them: aliases ({a: signIn(…) b: signIn(…) …}) would
// otherwise try a hundred passwords in one request.
var passwordChecks = map[string]bool{"signIn": true, "changePassword": true, "disableTOTP": true, "regenerateRecoveryCodes": true}

// onePasswordCheck refuses, before anything runs, an operation that checks
// passwords more than once (aliases, repeats, fragments alike).
type onePasswordCheck struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = onePasswordCheck{}

func (onePasswordCheck) ExtensionName() string                   { return "OnePasswordCheck" }
func (onePasswordCheck) Validate(graphql.ExecutableSchema) error { return nil }

func (onePasswordCheck) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil || rc.Operation.Operation != ast.Mutation {
		return nil
	}
	if n := countFields(rc.Operation.SelectionSet, passwordChecks); n > 1 {
		return &gqlerror.Error{Message: "an operation may sign in or change a password once; send one signIn or changePassword per request",
			Extensions: map[string]any{"code": apierr.CodeInvalidArgument}}
	}
	return nil
}

// countFields counts the fields of set named in names, through inline
// fragments and fragment spreads (validation has resolved the spreads and
// refused cycles).
func countFields(set ast.SelectionSet, names map[string]bool) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if names[s.Name] {
				n++
			}
		case *ast.InlineFragment:
			n += countFields(s.SelectionSet, names)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				n += countFields(s.Definition.SelectionSet, names)
			}
		}
	}
	return n
}

// clientAddr is the client's IP for throttling and logs: the connection's
// peer or, behind a reverse proxy that sets Config.ClientIPHeader, the last
// address in that header (the one the proxy itself added; earlier ones are
// the client's to forge).
func (s *Server) clientAddr(r *http.Request) string {
	if h := s.cfg.ClientIPHeader; h != "" {
		if v := r.Header.Values(h); len(v) > 0 {
			last := v[len(v)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if a, err := netip.ParseAddr(strings.TrimSpace(last)); err == nil {
				return a.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
