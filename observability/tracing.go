package observability

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TracerName is the instrumentation scope of spendgate's spans.
const TracerName = "github.com/spendgate/spendgate"

// TracingConfig selects where traces go.
type TracingConfig struct {
	// Endpoint is the OTLP/HTTP collector's base URL, e.g.
	// http://otel-collector:4318 (traces are POSTed to /v1/traces);
	// empty: tracing off.
	Endpoint string
	// SampleRatio is the share of new traces recorded (0..1); a call that
	// arrives with a sampled W3C traceparent is recorded whatever it is.
	SampleRatio float64
	// ServiceName names the process in traces (service.name).
	ServiceName string
}

// Validate refuses a malformed endpoint or ratio.
func (c TracingConfig) Validate() error {
	var errs []error
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--otlp-endpoint must be an http(s) URL such as http://otel-collector:4318, got %q", c.Endpoint))
		}
	}
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		errs = append(errs, fmt.Errorf("--trace-sample-ratio must be between 0 and 1, got %g", c.SampleRatio))
	}
	return errors.Join(errs...)
}

// NewTracerProvider builds a tracer provider exporting to cfg.Endpoint over
// OTLP/HTTP in batches. nil and no error when cfg.Endpoint is empty
// (tracing off: callers then pass no tracer, and nothing is traced). The
// exporter also honours the standard OTEL_EXPORTER_OTLP_* variables
// (headers, TLS, timeouts). Shut the provider down at exit to flush it.
func NewTracerProvider(ctx context.Context, cfg TracingConfig) (*sdktrace.TracerProvider, error) {
	if cfg.Endpoint == "" {
		return nil, nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(cfg.Endpoint+"/v1/traces"))
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	return NewTracerProviderWith(sdktrace.NewBatchSpanProcessor(exp), cfg), nil
}

// NewTracerProviderWith builds a tracer provider over a span processor
// (tests pass an in-memory exporter's).
func NewTracerProviderWith(sp sdktrace.SpanProcessor, cfg TracingConfig) *sdktrace.TracerProvider {
	res := resource.NewSchemaless(attribute.String("service.name", cfg.ServiceName))
	return sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sp), sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))))
}

// Tracer is spendgate's tracer of tp; nil when tp is nil (tracing off).
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return nil
	}
	return tp.Tracer(TracerName)
}
