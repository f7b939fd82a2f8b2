package recordapi

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/meter"
	"github.com/spendgate/spendgate/money"
)

// Validate lists every problem of a preflight request, each at its JSON
// pointer.
func (r *PreflightRequest) Validate() []FieldError {
	var v validator
	v.provider("/provider", r.Provider)
	v.model("/model", r.Model)
	v.label("/operation", r.Operation, MaxOperationBytes)
	v.dimensions("/dimensions", r.Dimensions)
	if r.Usage != nil {
		v.usage("/usage", r.Usage)
	}
	if r.MaxCostUSD != "" {
		v.usd("/max_cost_usd", r.MaxCostUSD)
	}
	return v.errs
}

// MaxCostNanoUSD is MaxCostUSD in nano-USD (0 when absent; call after
// Validate).
func (r *PreflightRequest) MaxCostNanoUSD() int64 {
	n, _ := money.ParseUSD(r.MaxCostUSD)
	return n
}

// Validate lists every problem of a record, each at prefix + its JSON
// pointer ("/records/3" for a batch item), checking its time against now.
func (r *UsageRecord) Validate(prefix string, now time.Time) []FieldError {
	var v validator
	switch {
	case r.IdempotencyKey == "":
		v.add(prefix+"/idempotency_key", "is required (or the Idempotency-Key header): it makes retries safe")
	case len(r.IdempotencyKey) > MaxIdempotencyKeyBytes:
		v.add(prefix+"/idempotency_key", fmt.Sprintf("must be at most %d bytes", MaxIdempotencyKeyBytes))
	case !printable(r.IdempotencyKey):
		v.add(prefix+"/idempotency_key", "must be UTF-8 without control characters")
	}
	v.provider(prefix+"/provider", r.Provider)
	v.model(prefix+"/model", r.Model)
	v.label(prefix+"/operation", r.Operation, MaxOperationBytes)
	v.label(prefix+"/request_id", r.RequestID, MaxRequestIDBytes)
	if r.Time != nil {
		if err := event.CheckTime(*r.Time, now); err != nil {
			v.add(prefix+"/time", "must be at most 10 minutes ahead of the server's clock and at most a year behind it")
		}
	}
	v.dimensions(prefix+"/dimensions", r.Dimensions)
	v.usage(prefix+"/usage", &r.Usage)
	if r.ReportedCostUSD != "" {
		v.usd(prefix+"/reported_cost_usd", r.ReportedCostUSD)
	}
	if r.ReservationID != "" && !event.IsUUID(r.ReservationID) {
		v.add(prefix+"/reservation_id", "must be the reservation_id a preflight returned (a UUID)")
	}
	if r.StatusCode < 0 || r.StatusCode > 999 {
		v.add(prefix+"/status_code", "must be 0..999")
	}
	if r.LatencyMs < 0 || r.LatencyMs > 24*60*60*1000 {
		v.add(prefix+"/latency_ms", "must be 0..86400000 (a day)")
	}
	return v.errs
}

// ReportedCostNanoUSD is ReportedCostUSD in nano-USD and whether it is set
// (call after Validate).
func (r *UsageRecord) ReportedCostNanoUSD() (int64, bool) {
	if r.ReportedCostUSD == "" {
		return 0, false
	}
	n, err := money.ParseUSD(r.ReportedCostUSD)
	return n, err == nil
}

type validator struct{ errs []FieldError }

func (v *validator) add(path, msg string) {
	v.errs = append(v.errs, FieldError{Path: path, Message: msg})
}

func (v *validator) provider(path, s string) {
	if s == "" {
		v.add(path, "is required (e.g. openai, anthropic, elevenlabs)")
		return
	}
	if err := event.ValidProviderName(s); err != nil {
		v.add(path, err.Error())
	}
}

func (v *validator) model(path, s string) {
	switch {
	case s == "":
		v.add(path, "is required: the model or product the usage is priced by (e.g. gpt-4o-mini, tts-1, whisper-1)")
	case len(s) > event.MaxModelNameBytes:
		v.add(path, fmt.Sprintf("must be at most %d bytes", event.MaxModelNameBytes))
	case !printable(s):
		v.add(path, "must be UTF-8 without control characters")
	}
}

func (v *validator) label(path, s string, maxBytes int) {
	switch {
	case len(s) > maxBytes:
		v.add(path, fmt.Sprintf("must be at most %d bytes", maxBytes))
	case !printable(s):
		v.add(path, "must be UTF-8 without control characters")
	}
}

func (v *validator) dimensions(path string, dims map[string]string) {
	if len(dims) > meter.MaxDimensions {
		v.add(path, fmt.Sprintf("at most %d dimensions", meter.MaxDimensions))
	}
	for _, k := range sortedKeys(dims) {
		p := path + "/" + escapePointer(k)
		if err := meter.ValidDimensionName(k); err != nil {
			v.add(p, "dimension names must be 1..32 characters of a-z, 0-9, _")
			continue
		}
		if val := dims[k]; val == "" || len(val) > meter.MaxDimensionValue || !printable(val) {
			v.add(p, fmt.Sprintf("must be 1..%d bytes without control characters", meter.MaxDimensionValue))
		}
	}
}

func (v *validator) usage(path string, u *Usage) {
	for _, c := range u.classes() {
		switch {
		case *c.n < 0:
			v.add(path+"/"+c.name, "must not be negative")
		case *c.n > MaxCount:
			v.add(path+"/"+c.name, "must be at most "+strconv.FormatInt(MaxCount, 10))
		}
	}
}

func (v *validator) usd(path, s string) {
	if _, err := money.ParseUSD(s); err != nil {
		v.add(path, `must be a non-negative decimal USD amount with at most 9 decimals, e.g. "0.0042"`)
	}
}

type class struct {
	name string
	n    *int64
}

// classes lists the usage counts with their JSON names (the tags).
func (u *Usage) classes() []class {
	return []class{{"input", &u.Input}, {"cached_input", &u.CachedInput}, {"cache_write_5m", &u.CacheWrite5m},
		{"cache_write_1h", &u.CacheWrite1h}, {"output", &u.Output}, {"reasoning", &u.Reasoning}, {"audio_input", &u.AudioInput},
		{"audio_output", &u.AudioOutput}, {"image_input", &u.ImageInput}, {"image_output", &u.ImageOutput},
		{"web_searches", &u.WebSearches}, {"characters", &u.Characters}, {"seconds", &u.Seconds}, {"images", &u.Images}}
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
