package recordapi

import (
	"crypto/sha256"
	"encoding/json"
	"maps"
	"time"

	"github.com/google/uuid"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/usage"
)

// eventIDSpace is the UUID namespace of recorded events' ids.
var eventIDSpace = uuid.MustParse("6f1c1f4e-2d0b-5a43-9a3e-2b7d0c5e8a11")

// EventID is the usage event id of a record: a name-based UUID (version 5)
// of the tenant and the idempotency key. The same key in the same tenant is
// always the same event, so a retry is deduplicated wherever ingest
// deduplicates (JetStream's Nats-Msg-Id, the ClickHouse writer, budgets'
// applied events); two tenants' keys never meet (tenant ids are UUIDs of
// one length, so tenant and key cannot run into each other).
func EventID(tenantID, idempotencyKey string) string {
	return uuid.NewSHA1(eventIDSpace, []byte(tenantID+"\x00"+idempotencyKey)).String()
}

// Fingerprint identifies a record's content, so that reusing an idempotency
// key for a different record is refused instead of silently ignored. The
// idempotency key is the identity, not the content; the time is left out
// too: a caller (or a client library) that repeats a record stamps it with
// the time it repeats it, and the first record's time stands.
func (r *UsageRecord) Fingerprint() []byte {
	c := *r
	c.IdempotencyKey, c.Time = "", nil
	b, _ := json.Marshal(&c) // maps marshal in key order: stable
	sum := sha256.Sum256(b)
	return sum[:]
}

// Tokens converts the usage to the catalogue's usage classes.
func (u *Usage) Tokens() usage.Tokens {
	return usage.Tokens{Input: u.Input, CachedInput: u.CachedInput, CacheWrite5m: u.CacheWrite5m, CacheWrite1h: u.CacheWrite1h,
		Output: u.Output, Reasoning: u.Reasoning, AudioInput: u.AudioInput, AudioOutput: u.AudioOutput, ImageInput: u.ImageInput,
		ImageOutput: u.ImageOutput, WebSearches: u.WebSearches, Characters: u.Characters, Seconds: u.Seconds, Images: u.Images}
}

// DefaultOperation is a record's operation when it names none.
const DefaultOperation = "record"

// Dimensions are the record's attribution: the key's default dimensions
// overlaid with the record's own, as the data plane overlays headers.
func Dimensions(keyDefaults, own map[string]string) map[string]string {
	if len(keyDefaults) == 0 && len(own) == 0 {
		return nil
	}
	out := maps.Clone(keyDefaults)
	if out == nil {
		out = make(map[string]string, len(own))
	}
	maps.Copy(out, own)
	return out
}

// Event is the usage event a validated record becomes for key keyID of
// tenantID, at time at (the record's own time, else when it was first
// received), with dims (Dimensions). A reported cost travels as the
// provider-reported cost, which the pricing keeps beside the catalogue's.
func (r *UsageRecord) Event(tenantID, keyID string, dims map[string]string, at time.Time) event.Event {
	op := r.Operation
	if op == "" {
		op = DefaultOperation
	}
	e := event.Event{SchemaVersion: event.SchemaVersion, Type: event.TypeUsage, EventID: EventID(tenantID, r.IdempotencyKey),
		Time: at.UTC(), Source: event.SourceAPI, TenantID: tenantID, KeyID: keyID, Provider: r.Provider, Operation: op,
		ModelRequested: r.Model, ModelServed: r.Model, Dimensions: dims, StatusCode: r.StatusCode, LatencyMs: r.LatencyMs,
		RequestID: r.RequestID, Complete: true, Usage: r.Usage.Tokens(), ReservationID: r.ReservationID}
	if e.StatusCode == 0 {
		e.StatusCode = 200
	}
	if n, ok := r.ReportedCostNanoUSD(); ok {
		e.Usage.ProviderCostNanoUSD, e.Usage.HasProviderCost = n, true
	}
	return e
}
