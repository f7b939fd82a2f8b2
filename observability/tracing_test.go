package observability_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/gateway"
	"github.com/spendgate/spendgate/graph"
	"github.com/spendgate/spendgate/internal/metricstest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/observability"
)

func newTracer(t *testing.T) (*tracetest.InMemoryExporter, trace.Tracer) {
	exp := tracetest.NewInMemoryExporter()
	tp := observability.NewTracerProviderWith(sdkSyncer(exp), observability.TracingConfig{SampleRatio: 1, ServiceName: "spendgate-test"})
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return exp, observability.Tracer(tp)
}

// A traced gateway call: one server span with children for the policy
// look-up, the upstream call and metering; the provider receives a W3C
// traceparent of that trace (continuing the caller's), and the usage event
// carries the trace id.
func TestGatewayCallTrace(t *testing.T) {
	t.Parallel()
	exp, tracer := newTracer(t)
	var mu sync.Mutex
	var events []event.Event
	h := newGatewayHarness(t, sinkFunc(func(_ context.Context, evs []event.Event) error {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, evs...)
		return nil
	}), 100, func(cfg *gateway.Config) { cfg.Tracer = tracer })

	const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest("POST", h.url+"/v1/openai/chat/completions", strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("x-spendgate-key", "sg_good")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+callerTrace+"-00f067aa0ba902b7-01")
	res, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, "call")
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	testenv.WaitFor(t, 5*time.Second, "the usage event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(events) == 1
	})
	testenv.WaitFor(t, 5*time.Second, "the call's spans", func() bool { return len(exp.GetSpans()) >= 4 })

	spans := map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		spans[s.Name] = s
	}
	root, ok := spans["spendgate.gateway.call"]
	if !ok || root.SpanContext.TraceID().String() != callerTrace || root.Parent.SpanID().String() != "00f067aa0ba902b7" {
		t.Fatalf("call span %+v (spans %v)", root, names(exp))
	}
	for _, child := range []string{"spendgate.policy", "spendgate.upstream", "spendgate.metering"} {
		s, ok := spans[child]
		if !ok || s.Parent.SpanID() != root.SpanContext.SpanID() || s.SpanContext.TraceID() != root.SpanContext.TraceID() {
			t.Fatalf("%s: not a child of the call span (spans %v)", child, names(exp))
		}
	}
	up := spans["spendgate.upstream"]
	got, _ := h.fake.Last()
	want := "00-" + callerTrace + "-" + up.SpanContext.SpanID().String() + "-01"
	if tp := got.Header.Get("Traceparent"); tp != want {
		t.Fatalf("provider got traceparent %q, want %q", tp, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if events[0].TraceID != callerTrace {
		t.Fatalf("usage event trace id %q", events[0].TraceID)
	}
}

// Without a tracer the gateway adds no trace id to events and leaves the
// caller's traceparent to the provider untouched.
func TestGatewayUntracedLeavesTraceContextAlone(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var events []event.Event
	h := newGatewayHarness(t, sinkFunc(func(_ context.Context, evs []event.Event) error {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, evs...)
		return nil
	}), 100, nil)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req, _ := http.NewRequest("POST", h.url+"/v1/openai/chat/completions", strings.NewReader(`{"model":"gpt-4o","messages":[]}`))
	req.Header.Set("x-spendgate-key", "sg_good")
	req.Header.Set("traceparent", tp)
	res, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, "call")
	res.Body.Close()
	testenv.WaitFor(t, 5*time.Second, "the usage event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(events) == 1
	})
	got, _ := h.fake.Last()
	if got.Header.Get("Traceparent") != tp || events[0].TraceID != "" {
		t.Fatalf("traceparent %q, event trace id %q", got.Header.Get("Traceparent"), events[0].TraceID)
	}
}

// Each GraphQL query or mutation is one span and one observation of
// spendgate_graphql_operation_duration_seconds; a document that does not
// parse is counted as type "invalid".
func TestGraphQLOperationSpanAndLatency(t *testing.T) {
	t.Parallel()
	exp, tracer := newTracer(t)
	m, err := observability.New(prometheus.NewRegistry())
	testenv.Must(t, err, "metrics")
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}))
	srv.AddTransport(transport.POST{})
	srv.Use(observability.GraphQL{Metrics: m, Tracer: tracer})
	mux := http.NewServeMux()
	mux.Handle("/query", srv)
	mux.Handle("/metrics", m.Handler())
	ts := httptest.NewServer(mux)
	defer ts.Close()
	post := func(q string) {
		res, err := http.Post(ts.URL+"/query", "application/json", strings.NewReader(q))
		testenv.Must(t, err, "query")
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	post(`{"query":"query Probe { __typename }"}`)
	post(`{"query":"query Probe { __typename }"}`)
	post(`{"query":"{ this is not graphql"}`)

	fams := metricstest.Scrape(t, ts.URL+"/metrics")
	if v := metricstest.Value(fams, "spendgate_graphql_operation_duration_seconds", map[string]string{"type": "query", "result": "ok"}); v != 2 {
		t.Fatalf("query observations: %v", v)
	}
	if v := metricstest.Value(fams, "spendgate_graphql_operation_duration_seconds", map[string]string{"type": "invalid", "result": "error"}); v != 1 {
		t.Fatalf("invalid document observations: %v", v)
	}
	n := 0
	for _, s := range exp.GetSpans() {
		if s.Name == "graphql.query Probe" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("spans: %v", names(exp))
	}
}

func names(exp *tracetest.InMemoryExporter) []string {
	var out []string
	for _, s := range exp.GetSpans() {
		out = append(out, s.Name)
	}
	return out
}
