// Package recordapi is the public preflight and record API's contract: the
// requests and answers of
//
//	POST /v1/preflight     would a call fit the key's policy and hard budgets? reserves its worst case
//	POST /v1/usage         record one usage (idempotency key), settling a preflight's reservation
//	POST /v1/usage:batch   many records, one result each
//	POST /v1/reservations/{id}/release   give back a preflight's reservation whose call was not made
//	GET  /v1/openapi.json  the OpenAPI 3 document of all of it (openapi.json, embedded)
//
// authenticated by a spendgate API key (Authorization: Bearer sg_…, or
// X-Spendgate-Key), never the internal service token. It holds the wire
// types, their field-level validation, and how a record becomes a usage
// event (its id derived from the tenant and the idempotency key, so a retried
// record is the same event and ingest counts it once). It does no I/O:
// recordapi/httpapi serves it, recordapi/pgstore keeps idempotency keys, and
// client/spendgate is the Go client. See docs/record-api.md.
package recordapi

import (
	"time"
)

// Paths of the public API.
const (
	PreflightPath = "/v1/preflight"
	UsagePath     = "/v1/usage"
	BatchPath     = "/v1/usage:batch"
	OpenAPIPath   = "/v1/openapi.json"
	// ReleasePattern gives back a preflight's reservation whose call was not
	// made (ReleasePath builds it).
	ReleasePattern = "/v1/reservations/{id}/release"
)

// ReleasePath is where reservation id is given back.
func ReleasePath(id string) string { return "/v1/reservations/" + id + "/release" }

// IdempotencyHeader may carry a single record's idempotency key instead of
// its body field.
const IdempotencyHeader = "Idempotency-Key"

// Limits of one request.
const (
	// MaxBatchRecords bounds a batch.
	MaxBatchRecords = 1000
	// MaxIdempotencyKeyBytes bounds an idempotency key.
	MaxIdempotencyKeyBytes = 255
	// MaxOperationBytes, MaxRequestIDBytes bound free-form labels.
	MaxOperationBytes = 64
	MaxRequestIDBytes = 256
	// MaxProviderBytes bounds a provider name.
	MaxProviderBytes = 64
	// MaxCount bounds every usage count (as the provider usage parsers do).
	MaxCount = 1_000_000_000_000_000
)

// Usage is what a call consumed, in the pricing catalogue's classes (token
// classes for language models, then characters of text-to-speech, seconds of
// speech-to-text, generated images). The per-request fee of a model (a
// search API's price per request) applies once per record.
type Usage struct {
	Input        int64 `json:"input,omitempty"`
	CachedInput  int64 `json:"cached_input,omitempty"`
	CacheWrite5m int64 `json:"cache_write_5m,omitempty"`
	CacheWrite1h int64 `json:"cache_write_1h,omitempty"`
	Output       int64 `json:"output,omitempty"`
	Reasoning    int64 `json:"reasoning,omitempty"`
	AudioInput   int64 `json:"audio_input,omitempty"`
	AudioOutput  int64 `json:"audio_output,omitempty"`
	ImageInput   int64 `json:"image_input,omitempty"`
	ImageOutput  int64 `json:"image_output,omitempty"`
	WebSearches  int64 `json:"web_searches,omitempty"`
	Characters   int64 `json:"characters,omitempty"`
	Seconds      int64 `json:"seconds,omitempty"`
	Images       int64 `json:"images,omitempty"`
}

// PreflightRequest asks whether a call would fit, and holds its worst case.
type PreflightRequest struct {
	Provider   string            `json:"provider"`
	Model      string            `json:"model"`
	Operation  string            `json:"operation,omitempty"`
	Dimensions map[string]string `json:"dimensions,omitempty"`
	// Usage is the call's worst case (e.g. max output tokens, the characters
	// to synthesise); its catalogue price is reserved. Absent: the
	// gateway's estimate (2,048 input tokens, the model's max output).
	Usage *Usage `json:"usage,omitempty"`
	// MaxCostUSD, when set, is the caller's own worst case in USD (a decimal
	// string): it is reserved instead of a catalogue estimate.
	MaxCostUSD string `json:"max_cost_usd,omitempty"`
}

// Preflight is a granted preflight.
type Preflight struct {
	ReservationID string    `json:"reservation_id"`
	AmountNanoUSD int64     `json:"amount_nano_usd"`
	AmountUSD     string    `json:"amount_usd"`
	ExpiresAt     time.Time `json:"expires_at"`
	// BudgetIDs are the hard budgets the amount is held against (empty
	// when none covers the call: it fits anyway).
	BudgetIDs []string `json:"budget_ids"`
	// Unchecked: the budget store was unreachable and the server fails
	// open; nothing is held and ReservationID is empty.
	Unchecked bool `json:"unchecked,omitempty"`
}

// UsageRecord is one call's usage to record.
type UsageRecord struct {
	// IdempotencyKey names the record for retries: the same key in the same
	// tenant is the same event, counted once (an Idempotency-Key header may
	// carry it on POST /v1/usage).
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	Provider       string            `json:"provider"`
	Model          string            `json:"model"`
	Operation      string            `json:"operation,omitempty"`
	Time           *time.Time        `json:"time,omitempty"`
	Dimensions     map[string]string `json:"dimensions,omitempty"`
	Usage          Usage             `json:"usage"`
	// ReportedCostUSD is the cost the provider billed, as the caller knows
	// it (a decimal USD string); it is kept beside the catalogue's price and
	// wins for the list cost.
	ReportedCostUSD string `json:"reported_cost_usd,omitempty"`
	// ReservationID settles a preflight's reservation.
	ReservationID string `json:"reservation_id,omitempty"`
	RequestID     string `json:"request_id,omitempty"`
	StatusCode    int    `json:"status_code,omitempty"`
	LatencyMs     int64  `json:"latency_ms,omitempty"`
}

// BatchRequest is the body of POST /v1/usage:batch.
type BatchRequest struct {
	Records []UsageRecord `json:"records"`
}

// Cost is a record's price as ingest stores it.
type Cost struct {
	// Priced is false when neither the catalogue (with the tenant's
	// overrides) nor a reported cost prices the record: it is stored
	// unpriced and shows with the unknown models.
	Priced bool `json:"priced"`
	// ListNanoUSD is the list cost (the reported cost when there is one);
	// CatalogueNanoUSD the catalogue's own price of the usage (absent when
	// the catalogue cannot price it); TenantNanoUSD what budgets count.
	ListNanoUSD      *int64 `json:"list_nano_usd,omitempty"`
	CatalogueNanoUSD *int64 `json:"catalogue_nano_usd,omitempty"`
	ReportedNanoUSD  *int64 `json:"reported_nano_usd,omitempty"`
	TenantNanoUSD    *int64 `json:"tenant_nano_usd,omitempty"`
	CatalogueModel   string `json:"catalogue_model,omitempty"`
}

// UsageResult answers one record.
type UsageResult struct {
	// Status is the record's own HTTP status: 202 recorded (or already
	// recorded), 400 invalid, 409 idempotency key reused for another record.
	Status         int       `json:"status"`
	EventID        string    `json:"event_id,omitempty"`
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	Time           time.Time `json:"time,omitzero"`
	// Duplicate: this idempotency key was recorded before; nothing more
	// is counted.
	Duplicate bool   `json:"duplicate,omitempty"`
	Cost      *Cost  `json:"cost,omitempty"`
	Error     *Error `json:"error,omitempty"`
}

// BatchResult answers a batch: one result per record, in order.
type BatchResult struct {
	Results []UsageResult `json:"results"`
}

// ErrorBody is every error answer: {"error":{...}}.
type ErrorBody struct {
	Error Error `json:"error"`
}

// Error explains a refusal.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Fields lists each bad input (invalid_request).
	Fields []FieldError `json:"fields,omitempty"`
	// Budget is the hard budget without room (budget_exceeded).
	Budget *BudgetRefusal `json:"budget,omitempty"`
	// RetryAfterSeconds is set when repeating later can succeed.
	RetryAfterSeconds int `json:"retry_after_seconds,omitempty"`
}

// FieldError is one bad input: Path is a JSON pointer into the request
// body ("/records/3/usage/characters"), "" for the body itself.
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// BudgetRefusal says which budget refused a preflight and by how much.
type BudgetRefusal struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	AmountNanoUSD    int64  `json:"amount_nano_usd"`
	LeftNanoUSD      int64  `json:"left_nano_usd"`
	RequestedNanoUSD int64  `json:"requested_nano_usd"`
	RequestedUSD     string `json:"requested_usd"`
	LeftUSD          string `json:"left_usd"`
	AmountUSD        string `json:"amount_usd"`
}

// Error codes.
const (
	CodeInvalidRequest      = "invalid_request"
	CodeUnauthenticated     = "unauthenticated"
	CodeKeyRevoked          = "key_revoked"
	CodeBudgetExceeded      = "budget_exceeded"
	CodeBudgetUnavailable   = "budget_unavailable"
	CodeIdempotencyConflict = "idempotency_conflict"
	CodeRateLimited         = "rate_limited"
	CodeTooLarge            = "request_too_large"
	CodeUnavailable         = "unavailable"
	CodeNotFound            = "not_found"
	// Policy refusals use the data plane's denial codes:
	// provider_not_allowed, model_not_allowed, missing_dimension,
	// unpriced_model.
)
