package gateway

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// CallRecord is what the gateway tells its Observer about one call once it
// has ended: for metrics and the access log. It never holds bodies, keys or
// secrets.
type CallRecord struct {
	Method string
	// Path is the request path without its query (which may hold a
	// provider key, as Gemini's ?key= does).
	Path string
	// Provider and Operation are the route's (meter.Op*); empty for a
	// request no provider is routed at.
	Provider, Operation string
	// Status is the HTTP status answered; 499 when the caller left before
	// any answer (as nginx records it).
	Status int
	// Outcome is one of the Outcome* constants.
	Outcome string
	// DenialReason is the event.Denial* code of a denied call.
	DenialReason string
	// Unavailable names a spendgate service the call could not ask
	// ("policy", "priced", "reservation"); FailedOpen is set when the call
	// went on regardless.
	Unavailable string
	FailedOpen  bool
	// TenantID is the key's tenant once the policy answered.
	TenantID string
	// Duration is from the request's arrival to the end of the answer;
	// TTFB is how long the provider took to start answering (forwarded
	// calls that got an answer).
	Duration, TTFB time.Duration
	// RequestBytes and ResponseBytes are the body sizes received from the
	// caller and written back to it.
	RequestBytes, ResponseBytes int64
	// TraceID is the call's trace id when tracing is on.
	TraceID string
}

// Outcomes of a call.
const (
	OutcomeForwarded     = "forwarded"      // the provider answered (any status)
	OutcomeDenied        = "denied"         // spendgate answered a denial
	OutcomeUpstreamError = "upstream_error" // the provider could not be reached (502)
	OutcomeCallerLeft    = "caller_left"    // the caller went away before an answer
	OutcomeBadRequest    = "bad_request"    // the request body did not arrive whole (408)
)

// Observer learns about every call when it ends (metrics, access log). It
// is called on the request's goroutine: keep it cheap.
type Observer interface {
	CallDone(ctx context.Context, r *CallRecord)
}

// tracing is the gateway's OpenTelemetry tracer and propagator; the zero
// value (Config.Tracer nil) traces nothing and costs nothing.
type tracing struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

func (t tracing) on() bool { return t.tracer != nil }

// start begins a span under ctx when tracing is on.
func (t tracing) start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if t.tracer == nil {
		return ctx, nil
	}
	return t.tracer.Start(ctx, name, opts...)
}

// end ends a span started by start (nil: tracing is off), recording err.
func end(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
