package observability

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// GraphQL is a gqlgen extension that times every query and mutation
// (spendgate_graphql_operation_duration_seconds, when Metrics is set) and
// traces each as a span (when Tracer is set). Subscriptions are long-lived
// streams: neither timed nor traced. Operation names are chosen by
// clients, so they go into spans only, never into metric labels.
type GraphQL struct {
	Metrics *Metrics
	Tracer  trace.Tracer
}

var (
	_ graphql.HandlerExtension    = GraphQL{}
	_ graphql.ResponseInterceptor = GraphQL{}
)

// ExtensionName implements graphql.HandlerExtension.
func (GraphQL) ExtensionName() string { return "SpendgateObservability" }

// Validate implements graphql.HandlerExtension.
func (GraphQL) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptResponse implements graphql.ResponseInterceptor. It sees the
// one response of a query or mutation, and the error response of a
// document that did not parse or validate (type "invalid").
func (g GraphQL) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	oc := graphql.GetOperationContext(ctx)
	opType, name := "invalid", ""
	if oc.Operation != nil {
		opType, name = string(oc.Operation.Operation), oc.Operation.Name
	}
	if opType == string(ast.Subscription) {
		return next(ctx)
	}
	start := oc.Stats.OperationStart
	if start.IsZero() {
		start = time.Now()
	}
	var span trace.Span
	if g.Tracer != nil {
		spanName := "graphql." + opType
		if name != "" {
			spanName += " " + name
		}
		ctx, span = g.Tracer.Start(ctx, spanName, trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("graphql.operation.type", opType), attribute.String("graphql.operation.name", name)))
	}
	resp := next(ctx)
	result := "ok"
	if resp == nil || len(resp.Errors) > 0 {
		result = "error"
	}
	if g.Metrics != nil {
		g.Metrics.graphqlDuration.WithLabelValues(opType, result).Observe(time.Since(start).Seconds())
	}
	if span != nil {
		if result == "error" {
			msg := "no response"
			if resp != nil {
				msg = resp.Errors.Error()
			}
			span.SetStatus(codes.Error, msg)
		}
		span.End()
	}
	return resp
}
