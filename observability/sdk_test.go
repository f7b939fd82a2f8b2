package observability_test

import (
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// sdkSyncer exports each span as it ends, so tests see them at once.
func sdkSyncer(exp sdktrace.SpanExporter) sdktrace.SpanProcessor {
	return sdktrace.NewSimpleSpanProcessor(exp)
}
