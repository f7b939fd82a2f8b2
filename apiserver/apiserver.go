// Package apiserver assembles spendgate's HTTP API: GraphQL at /query, the
// data plane's policy endpoint at /internal/v1/policy, and health. Other
// handlers (ingest's event receiver, the portal, exports) are mounted on it.
package apiserver

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/spendgate/spendgate/analytics"
	anomalysvc "github.com/spendgate/spendgate/anomaly/service"
	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/apikey"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/billing"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/dataplane/contract"
	"github.com/spendgate/spendgate/graph"
	"github.com/spendgate/spendgate/meter"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/pricing/revision"
	recommendsvc "github.com/spendgate/spendgate/recommend/service"
	"github.com/spendgate/spendgate/reconcile"
	reportservice "github.com/spendgate/spendgate/report/service"
	"github.com/spendgate/spendgate/reprice"
	"github.com/spendgate/spendgate/requestid"
	"github.com/spendgate/spendgate/scim"
)

// Config of the API server.
type Config struct {
	// ServiceToken authenticates the data plane (filter, gateway).
	ServiceToken string
	// MaxComplexity bounds the cost of one GraphQL query.
	MaxComplexity int
	// Analytics answers spend queries and the CSV export; nil leaves them
	// answering INTERNAL "not available" (the management API still works).
	Analytics *analytics.Service
	// Alerts feeds the budgetAlerts subscription; nil: not available.
	Alerts graph.AlertFeed
	// Ticks feeds the spendTicks subscription; nil: not available.
	Ticks graph.TickFeed
	// DeadLetters serves deadLetters and replayDeadLetter; nil: not available.
	DeadLetters graph.DeadLetters
	// Reprice serves repriceUnpricedEvents; nil: not available.
	Reprice *reprice.Service
	// ClientIPHeader, when set, names the header a trusted reverse proxy
	// puts the client's address in (X-Forwarded-For, X-Real-IP); sign-in
	// throttling counts by it. Empty: the connection's peer address.
	ClientIPHeader string
	// Catalogue answers the priced endpoint and pricingCatalogue; nil: the
	// embedded catalogue.
	Catalogue pricing.Source
	// Revisions serves pricing catalogue revisions; nil: not available.
	Revisions *revision.Service
	// Billing serves invoices, chargeback statements and their PDF/CSV
	// exports; nil: not available.
	Billing *billing.Service
	// Reconcile serves provider connections, report pages and
	// reconciliation; nil: not available.
	Reconcile *reconcile.Service
	// Reports serves scheduled reports; nil: not available.
	Reports *reportservice.Service
	// Limits bound requests, queries and subscriptions; zero fields take
	// DefaultLimits.
	Limits Limits
	// Extensions are added to the GraphQL server (metrics, tracing).
	Extensions []graphql.HandlerExtension
	// Anomalies lists anomaly episodes, AnomalyFeed feeds the anomalyAlerts
	// subscription, Recommendations serves savings recommendations; nil:
	// not available.
	Anomalies       *anomalysvc.Service
	AnomalyFeed     graph.AnomalyFeed
	Recommendations *recommendsvc.Service

	// gqlgenAnswers writes every answer through gqlgen's executor, without
	// graph.WriteLargeAnswers: tests compare the two byte for byte.
	gqlgenAnswers bool
}

// Server is the API's HTTP handler.
type Server struct {
	cfg     Config
	cp      *controlplane.Service
	log     *slog.Logger
	mux     *http.ServeMux
	graphql *handler.Server
}

// New builds the server.
func New(cfg Config, cp *controlplane.Service, log *slog.Logger) *Server {
	if cfg.MaxComplexity == 0 {
		cfg.MaxComplexity = DefaultMaxComplexity
	}
	s := &Server{cfg: cfg, cp: cp, log: log, mux: http.NewServeMux()}
	cfg.Limits = cfg.Limits.withDefaults()
	s.graphql = NewGraphQL(&graph.Resolver{CP: cp, Analytics: cfg.Analytics, Alerts: cfg.Alerts, Ticks: cfg.Ticks,
		DLQ: cfg.DeadLetters, Reprice: cfg.Reprice, Catalogue: cfg.Catalogue, Revisions: cfg.Revisions,
		AnomalyService: cfg.Anomalies, AnomalyFeed: cfg.AnomalyFeed, RecommendService: cfg.Recommendations, Billing: cfg.Billing, Reconcile: cfg.Reconcile, ReportService: cfg.Reports, Log: log}, log, cfg.MaxComplexity, cfg.Limits)
	for _, ext := range cfg.Extensions {
		s.graphql.Use(ext)
	}
	if !cfg.gqlgenAnswers {
		// Innermost, so the limits, the field names of spendSources and
		// the extensions above see these fields as any other.
		s.graphql.AroundRootFields(graph.WriteLargeAnswers)
	}
	// The body is bounded before authentication reads anything else, and
	// a query's work ends with its request.
	gql := withTimeout(cfg.Limits.RequestTimeout, s.authenticate(s.graphql))
	s.mux.Handle("POST /query", limitBody(cfg.Limits.MaxBodyBytes, gql))
	s.mux.Handle("GET /query", gql)
	if cfg.Analytics != nil {
		s.mux.Handle("GET /export/spend.csv", s.authenticate(http.HandlerFunc(s.exportSpend)))
	}
	if cfg.Billing != nil {
		s.mountBillingExports()
	}
	if cfg.Reconcile != nil {
		s.mux.Handle("GET /export/reconciliation.csv", withTimeout(cfg.Limits.RequestTimeout, s.authenticate(http.HandlerFunc(s.exportReconciliation))))
		s.mux.Handle("GET /reconcile/pages/{id}", withTimeout(cfg.Limits.RequestTimeout, s.authenticate(http.HandlerFunc(s.downloadPage))))
	}
	// Identity providers provision users and groups here (a tenant's SCIM token).
	// (Per method: a method-less pattern would conflict with the portal's "GET /".)
	scimHandler := withTimeout(cfg.Limits.RequestTimeout, scim.New(cp, log))
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		s.mux.Handle(m+" "+scim.BasePath+"/", scimHandler)
	}
	s.mux.HandleFunc("GET "+contract.PolicyPath, s.policy)
	s.mux.HandleFunc(pricedRoute, s.priced)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	return s
}

// GraphQL returns the GraphQL server so more transports (websockets) can be added.
func (s *Server) GraphQL() *handler.Server { return s.graphql }

// Mount adds a handler (the portal, the event receiver, exports).
func (s *Server) Mount(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler is the whole API.
func (s *Server) Handler() http.Handler { return s.mux }

// NewGraphQL builds the GraphQL handler: websocket (graphql-transport-ws,
// for subscriptions), POST and GET transports, query cache, the query shape
// and complexity limits, and errors mapped to codes.
func NewGraphQL(r *graph.Resolver, log *slog.Logger, maxComplexity int, limits Limits) *handler.Server {
	limits = limits.withDefaults()
	cfg := graph.Config{Resolvers: r}
	pagedComplexity(&cfg.Complexity)
	srv := handler.New(graph.NewExecutableSchema(cfg))
	srv.AddTransport(transport.Websocket{
		KeepAlivePingInterval: 15 * time.Second,
		InitTimeout:           10 * time.Second,
		InitFunc:              websocketAuth(r.CP),
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	cache := lru.New[*ast.QueryDocument](1000)
	srv.SetQueryCache(cache)
	srv.SetParserTokenLimit(limits.MaxTokens)
	srv.Use(queryShape{limits: limits, cache: cache})
	srv.AroundRootFields(stopWhenDone)
	srv.AroundOperations(newSubscriptionLimits(limits).around)
	srv.Use(extension.Introspection{})
	srv.Use(extension.FixedComplexityLimit(maxComplexity))
	srv.Use(onePasswordCheck{})
	// Analytics say what answered them (rollups or raw events) in the
	// response's extensions: "spendSources": [{field, source, tables}].
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		ctx, sources := analytics.WithSources(ctx)
		resp := next(ctx)
		if list := sources.List(); resp != nil && len(list) > 0 {
			if resp.Extensions == nil {
				resp.Extensions = map[string]any{}
			}
			resp.Extensions["spendSources"] = list
		}
		return resp
	})
	srv.AroundRootFields(func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
		return next(analytics.WithField(ctx, graphql.GetRootFieldContext(ctx).Field.Alias))
	})
	srv.SetErrorPresenter(func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		var cpErr *apierr.Error
		switch {
		case errors.As(err, &cpErr):
			if cpErr.Cause != nil {
				log.Warn("graphql: "+cpErr.Message, "path", gerr.Path.String(), "code", cpErr.Code, "err", cpErr.Cause)
			}
			gerr.Message = cpErr.Message
			gerr.Extensions = map[string]any{"code": cpErr.Code}
		case isTextEncodingError(err):
			gerr.Message = "text arguments must be valid UTF-8 without NUL characters"
			gerr.Extensions = map[string]any{"code": apierr.CodeInvalidArgument}
		case gerr.Extensions != nil && gerr.Extensions["code"] != nil:
			// gqlgen's own validation/parse errors: report as bad input.
			gerr.Extensions["code"] = codeForGQL(gerr.Extensions["code"])
		case isInputError(err):
			gerr.Extensions = map[string]any{"code": apierr.CodeInvalidArgument}
		default:
			id := requestid.From(ctx)
			log.Error("graphql: internal error", "path", gerr.Path.String(), "err", err, "request_id", id)
			gerr.Message = "internal error"
			gerr.Extensions = map[string]any{"code": apierr.CodeInternal}
			if id != "" {
				gerr.Extensions["requestId"] = id // what support asks for; the log line has it too
			}
		}
		return gerr
	})
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		log.Error("graphql: panic", "panic", p)
		return errors.New("internal error")
	})
	return srv
}

func codeForGQL(c any) string {
	switch c {
	case "GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED", "COMPLEXITY_LIMIT_EXCEEDED":
		return apierr.CodeInvalidArgument
	}
	if s, ok := c.(string); ok {
		return s
	}
	return apierr.CodeInvalidArgument
}

// isTextEncodingError recognises Postgres refusing a string it cannot
// store (a NUL character, invalid UTF-8): a bad input wherever a service
// did not check it first.
func isTextEncodingError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "22021" || pgErr.Code == "22P05")
}

// isInputError recognises argument decoding failures (bad enum values,
// malformed scalars), which gqlgen reports as plain errors on a path.
func isInputError(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false // database and timeout errors are internal, whatever their text says
	}
	var gerr *gqlerror.Error
	if errors.As(err, &gerr) && gerr.Rule != "" {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "is not a valid") || strings.Contains(msg, "Money") || strings.Contains(msg, "cannot parse") ||
		strings.Contains(msg, "must be")
}

// websocketAuth authenticates a websocket connection from its init payload
// ({"authorization": "Bearer <access token>"}), since browsers cannot set
// headers on websockets. Resolvers then authorize each subscription by
// tenant membership, as for queries, and watch that access while it runs.
// The connection itself ends when its access token expires: its
// subscriptions end with UNAUTHENTICATED "access token expired" (their
// watch), a moment later the server closes the socket, and the client
// reconnects with a fresh token. The connection_ack carries no payload:
// echoing the init payload would send the bearer token back (into logs and
// proxies that record frames).
const websocketExpiryGrace = time.Second

func websocketAuth(cp *controlplane.Service) transport.WebsocketInitFunc {
	return func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		ctx = withConnSubs(ctx)
		p, ok := auth.PrincipalFrom(ctx) // authenticated by the upgrade request's header
		if !ok {
			h := payload.Authorization()
			if h == "" {
				return ctx, nil, apierr.ErrUnauthenticated
			}
			var err error
			if p, err = cp.Authenticate(ctx, strings.TrimPrefix(h, "Bearer ")); err != nil {
				return ctx, nil, err
			}
			ctx = auth.WithPrincipal(ctx, p)
		}
		ctx = graph.OverWebsocket(ctx)
		if !p.ExpiresAt.IsZero() {
			// The grace lets the subscriptions' own watches send their
			// errors before the socket goes.
			parent := ctx
			var stop context.CancelFunc
			ctx, stop = context.WithDeadline(parent, p.ExpiresAt.Add(websocketExpiryGrace))
			context.AfterFunc(parent, stop) // the timer goes with the connection
		}
		return ctx, nil, nil
	}
}

// authenticate puts the signed-in user (if any) in the request context.
// Resolvers decide whether they need one; a bad token is an error, not
// anonymous access.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(auth.WithClientAddr(r.Context(), s.clientAddr(r)))
		h := r.Header.Get("Authorization")
		if h == "" {
			next.ServeHTTP(w, r)
			return
		}
		if !strings.HasPrefix(h, "Bearer ") {
			writeGraphQLError(w, http.StatusUnauthorized, apierr.CodeUnauthenticated, "Authorization must be 'Bearer <access token>'")
			return
		}
		p, err := s.cp.Authenticate(r.Context(), strings.TrimPrefix(h, "Bearer "))
		if err != nil {
			writeGraphQLError(w, http.StatusUnauthorized, apierr.CodeUnauthenticated, "access token is invalid or expired; refresh the session or sign in again")
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

func writeGraphQLError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{"message": msg, "extensions": map[string]any{"code": code}}}})
}

// ServiceTokenOK checks a data-plane service token in constant time.
func ServiceTokenOK(r *http.Request, token string) bool {
	got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	return token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// policy is the data plane's endpoint: GET with X-Spendgate-Key.
func (s *Server) policy(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if !ServiceTokenOK(r, s.cfg.ServiceToken) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"wrong or missing service token"}`))
		return
	}
	key := strings.TrimSpace(r.Header.Get(meter.KeyHeader))
	if key == "" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"missing X-Spendgate-Key header"}`))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	a, err := s.cp.PolicyAnswer(ctx, key)
	if err != nil {
		s.log.Error("policy endpoint failed", "key", apikey.Redact(key), "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"policy lookup failed"}`))
		return
	}
	w.Header().Set("Cache-Control", "private, max-age="+itoa(a.CacheTTLSeconds))
	_ = json.NewEncoder(w).Encode(a)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
