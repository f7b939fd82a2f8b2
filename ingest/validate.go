// Package ingest receives usage and denial events from the data plane,
// puts them on NATS JetStream durably in messages of many events
// (Nats-Msg-Id deduplication of a retried batch), and stores them exactly
// once per event id (the writer's and the budgets' event-id dedup). See
// docs/ingest.md.
package ingest

import (
	"errors"
	"fmt"
	"time"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/meter"
)

const maxLatencyMs = 24 * 60 * 60 * 1000

// Validate checks one event; the error names the first problem found.
func Validate(e *event.Event, now time.Time) error {
	if e.SchemaVersion < 1 || e.SchemaVersion > event.SchemaVersion {
		return fmt.Errorf("schema_version %d is not supported (want 1..%d)", e.SchemaVersion, event.SchemaVersion)
	}
	if e.Type != event.TypeUsage && e.Type != event.TypeDenial {
		return fmt.Errorf("type must be %q or %q, got %q", event.TypeUsage, event.TypeDenial, e.Type)
	}
	if !isUUID(e.EventID) {
		return errors.New("event_id must be a UUID")
	}
	if e.Time.IsZero() {
		return errors.New("time is required")
	}
	if err := event.CheckTime(e.Time, now); err != nil {
		return err
	}
	if !isUUID(e.TenantID) || !isUUID(e.KeyID) {
		return errors.New("tenant_id and key_id must be UUIDs")
	}
	if e.Source == event.SourceAPI {
		// Recorded through the public API: any vendor, named cleanly.
		if err := event.ValidProviderName(e.Provider); err != nil {
			return err
		}
	} else if _, ok := meter.ProviderByID(e.Provider); !ok {
		return fmt.Errorf("unknown provider %q", e.Provider)
	}
	if len(e.ModelRequested) > 256 || len(e.ModelServed) > 256 || len(e.RawUsage) > 16<<10 {
		return errors.New("model names are limited to 256 bytes and raw_usage to 16 KiB")
	}
	if len(e.Dimensions) > meter.MaxDimensions {
		return fmt.Errorf("at most %d dimensions", meter.MaxDimensions)
	}
	for k, v := range e.Dimensions {
		if err := meter.ValidDimensionName(k); err != nil {
			return err
		}
		if len(v) > meter.MaxDimensionValue {
			return fmt.Errorf("dimension %s: value longer than %d bytes", k, meter.MaxDimensionValue)
		}
	}
	u := e.Usage
	for _, n := range []int64{u.Input, u.CachedInput, u.CacheWrite5m, u.CacheWrite1h, u.Output, u.Reasoning, u.AudioInput, u.AudioOutput,
		u.ImageInput, u.ImageOutput, u.WebSearches, u.Characters, u.Seconds, u.Images, u.ProviderCostNanoUSD} {
		if n < 0 {
			return errors.New("usage counts must not be negative")
		}
	}
	// ClickHouse keeps latencies as UInt32 milliseconds; a day is plenty.
	if e.LatencyMs < 0 || e.TTFBMs < 0 || e.LatencyMs > maxLatencyMs || e.TTFBMs > maxLatencyMs || e.StatusCode < 0 || e.StatusCode > 999 {
		return fmt.Errorf("status_code must be 0..999 and latency_ms, ttfb_ms 0..%d", maxLatencyMs)
	}
	if e.TraceID != "" && !isTraceID(e.TraceID) {
		return errors.New("trace_id must be 32 lower-case hex digits")
	}
	if e.Type == event.TypeDenial && e.DenialReason == "" {
		return errors.New("a denial needs denial_reason")
	}
	return nil
}

func isUUID(s string) bool { return event.IsUUID(s) }

// isTraceID reports a W3C trace id: 32 lower-case hex digits, not all zero.
func isTraceID(s string) bool {
	if len(s) != 32 || s == "00000000000000000000000000000000" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
