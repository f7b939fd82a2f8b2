// Package event is the one place where the events that flow from the data plane
// (Envoy filter, embedded gateway) to ingest are defined. Schema version 1.
//
// Wire format: a batch is the JSON object {"events":[<event>,...]} POSTed to the
// ingest endpoint. Each event is a JSON object with the fields below (snake_case
// names as in the json tags). Type "usage" records a call that reached the
// provider; type "denial" records a call spendgate refused. EventID is a UUIDv7
// chosen by the data plane: ingest deduplicates on it, so a retried batch never
// counts twice.
//
// The filter encodes events without encoding/json (TinyGo); ingest decodes them
// with encoding/json using these tags. Keep both in step when adding a field and
// bump SchemaVersion for incompatible changes.
package event

import (
	"errors"
	"time"

	"github.com/spendgate/spendgate/usage"
)

// SchemaVersion is the version this code writes and the highest it reads.
const SchemaVersion = 1

// MaxModelNameBytes bounds model_requested and model_served: ingest refuses
// longer names, so the data plane shortens what a client or provider sent.
const MaxModelNameBytes = 256

// Event types.
const (
	TypeUsage  = "usage"
	TypeDenial = "denial"
)

// Sources of events.
const (
	SourceEnvoy   = "envoy"
	SourceGateway = "gateway"
)

// Event is one usage or denial record.
type Event struct {
	SchemaVersion int       `json:"schema_version"`
	Type          string    `json:"type"`
	EventID       string    `json:"event_id"`
	Time          time.Time `json:"time"` // when the request arrived at the data plane, UTC
	Source        string    `json:"source"`

	TenantID string `json:"tenant_id"`
	KeyID    string `json:"key_id"`
	// WorkspaceID, TeamID and ProjectID place the call in the tenant's
	// hierarchy. Ingest sets them from the key's project (or a dimension
	// mapping) when it prices the event, whatever a data plane sent: the
	// attribution is the control plane's, fixed when the event is stored.
	WorkspaceID string `json:"workspace_id,omitempty"`
	TeamID      string `json:"team_id,omitempty"`
	ProjectID   string `json:"project_id,omitempty"`

	Provider       string `json:"provider"`  // e.g. "openai", "anthropic", "gemini"
	Operation      string `json:"operation"` // e.g. "chat.completions", "messages", "embeddings"
	ModelRequested string `json:"model_requested"`
	ModelServed    string `json:"model_served,omitempty"`
	Streaming      bool   `json:"streaming"`
	ServiceTier    string `json:"service_tier,omitempty"` // "priority", "flex", "batch" when requested
	// Dimensions are attribution labels (team, app, env, ...): key defaults
	// overlaid with x-spendgate-dim-<name> request headers.
	Dimensions map[string]string `json:"dimensions,omitempty"`

	// Usage events.
	StatusCode int    `json:"status_code,omitempty"`
	LatencyMs  int64  `json:"latency_ms,omitempty"`
	TTFBMs     int64  `json:"ttfb_ms,omitempty"`
	RequestID  string `json:"request_id,omitempty"` // provider's request id
	// Complete is false when the response ended early (client disconnect,
	// upstream reset) and the usage may be partial.
	Complete bool         `json:"complete"`
	Usage    usage.Tokens `json:"usage"`
	// RawUsage is the provider's usage object(s) as received, kept for audit
	// and re-pricing; at most a few KiB.
	RawUsage string `json:"raw_usage,omitempty"`
	// ReservationID links a usage event to a budget reservation to settle.
	ReservationID string `json:"reservation_id,omitempty"`

	// Denial events.
	DenialReason  string `json:"denial_reason,omitempty"` // one of the Denial* codes
	DenialMessage string `json:"denial_message,omitempty"`

	// TraceID is the W3C trace id (32 lower-case hex digits) of the call's
	// trace, set only when the data plane traces (the gateway's
	// --otlp-endpoint): absent otherwise, so events stay readable by an
	// ingest that predates the field.
	TraceID string `json:"trace_id,omitempty"`
}

// Model is the model the provider served, else the one requested: what
// analytics group by and model budgets match.
func (e *Event) Model() string {
	if e.ModelServed != "" {
		return e.ModelServed
	}
	return e.ModelRequested
}

// Denial reason codes, shared by the filter, the gateway and analytics.
const (
	DenialMissingKey         = "missing_key"
	DenialUnknownKey         = "unknown_key"
	DenialKeyRevoked         = "key_revoked"
	DenialProviderNotAllowed = "provider_not_allowed"
	DenialModelNotAllowed    = "model_not_allowed"
	DenialMissingDimension   = "missing_dimension"
	DenialInvalidDimension   = "invalid_dimension"
	DenialBodyTooLarge       = "body_too_large"
	DenialBudgetExceeded     = "budget_exceeded"
	DenialUnpricedModel      = "unpriced_model"
	DenialAuthUnavailable    = "auth_unavailable"
	DenialUnknownRoute       = "unknown_route"
	// DenialBudgetUnavailable is a call of a key under a hard budget that
	// could not be checked against it (the budget service or its store is
	// unreachable): hard caps fail closed, and the call may pass when
	// repeated once the service is back (503, retryable).
	DenialBudgetUnavailable = "budget_unavailable"
	// DenialRateLimited is a call over the key's requests or tokens per
	// minute (policy.Policy.RequestsPerMinute / TokensPerMinute): it passes
	// when repeated after the minute, so it is answered with retry-after.
	DenialRateLimited = "rate_limited"
	// DenialSignedKeyHeader is an AWS SigV4-signed call whose signature
	// covers the spendgate key header: the proxy must remove the key, which
	// would break the signature, so the key has to be added after signing
	// (docs/cloud.md). 400: repeating the call cannot help.
	DenialSignedKeyHeader = "signed_key_header"
	// DenialNoProviderCredential is a call of a key that uses the tenant's
	// stored provider credential (policy.Policy.InjectCredentials) to a
	// provider for which none is stored, or that cannot carry one (a cloud
	// route signed or authorised by the caller's own cloud identity). 403:
	// repeating the call cannot help until an admin stores a credential.
	DenialNoProviderCredential = "no_provider_credential"
)

// IsUUID reports whether s is a UUID in its canonical 8-4-4-4-12 hex form.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// SourceAPI marks events recorded through the public record API
// (POST /v1/usage): usage that never passed a data plane, of any provider.
const SourceAPI = "api"

// MaxClockSkew bounds how far ahead of the receiver's clock an event's time
// may be (a broken clock beyond); one year back is the other bound (older
// than anything budgets and re-pricing still handle).
const MaxClockSkew = 10 * time.Minute

// CheckTime reports whether t is within MaxClockSkew ahead of now and a year
// behind it.
func CheckTime(t, now time.Time) error {
	if t.After(now.Add(MaxClockSkew)) || t.Before(now.AddDate(-1, 0, 0)) {
		return errors.New("time " + t.Format(time.RFC3339) + " is more than 10 minutes ahead or a year behind")
	}
	return nil
}

// ValidProviderName checks a provider name on an API-recorded event: 1..64
// characters of a-z, 0-9, '-', '_' and '.', so that any vendor (elevenlabs,
// google-tts, a self-hosted model) can be named and analytics stay clean.
func ValidProviderName(s string) error {
	if s == "" || len(s) > 64 {
		return errors.New("provider must be 1..64 characters of a-z, 0-9, -, _, .")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return errors.New("provider must use only a-z, 0-9, -, _, . (lowercase)")
		}
	}
	return nil
}
