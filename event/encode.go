package event

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/spendgate/spendgate/usage"
)

// AppendJSON appends e as a JSON object. Hand-written so the TinyGo filter can
// use it (no encoding/json); a test checks it against encoding/json decoding.
func AppendJSON(dst []byte, e *Event) []byte {
	dst = append(dst, `{"schema_version":`...)
	dst = strconv.AppendInt(dst, int64(e.SchemaVersion), 10)
	dst = appendStrField(dst, "type", e.Type, false)
	dst = appendStrField(dst, "event_id", e.EventID, false)
	dst = append(dst, `,"time":"`...)
	dst = e.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	dst = appendStrField(dst, "source", e.Source, false)
	dst = appendStrField(dst, "tenant_id", e.TenantID, false)
	dst = appendStrField(dst, "key_id", e.KeyID, false)
	dst = appendStrField(dst, "workspace_id", e.WorkspaceID, true)
	dst = appendStrField(dst, "team_id", e.TeamID, true)
	dst = appendStrField(dst, "project_id", e.ProjectID, true)
	dst = appendStrField(dst, "provider", e.Provider, false)
	dst = appendStrField(dst, "operation", e.Operation, false)
	dst = appendStrField(dst, "model_requested", e.ModelRequested, false)
	dst = appendStrField(dst, "model_served", e.ModelServed, true)
	dst = append(dst, `,"streaming":`...)
	dst = strconv.AppendBool(dst, e.Streaming)
	dst = appendStrField(dst, "service_tier", e.ServiceTier, true)
	if len(e.Dimensions) > 0 {
		dst = append(dst, `,"dimensions":{`...)
		// Up to maxStackKeys sorted by insertion in an array on the stack,
		// with no sort.Interface: the Envoy filter encodes every event
		// under TinyGo, where each boxing and each slice is a heap object.
		var buf [maxStackKeys]string
		keys := buf[:0]
		if len(e.Dimensions) > maxStackKeys {
			keys = make([]string, 0, len(e.Dimensions))
		}
		for k := range e.Dimensions {
			i := len(keys)
			keys = append(keys, k)
			for ; i > 0 && keys[i-1] > k; i-- {
				keys[i] = keys[i-1]
			}
			keys[i] = k
		}
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, k)
			dst = append(dst, ':')
			dst = AppendString(dst, e.Dimensions[k])
		}
		dst = append(dst, '}')
	}
	dst = appendIntField(dst, "status_code", int64(e.StatusCode))
	dst = appendIntField(dst, "latency_ms", e.LatencyMs)
	dst = appendIntField(dst, "ttfb_ms", e.TTFBMs)
	dst = appendStrField(dst, "request_id", e.RequestID, true)
	dst = append(dst, `,"complete":`...)
	dst = strconv.AppendBool(dst, e.Complete)
	dst = append(dst, `,"usage":`...)
	dst = AppendTokens(dst, &e.Usage)
	dst = appendStrField(dst, "raw_usage", e.RawUsage, true)
	dst = appendStrField(dst, "reservation_id", e.ReservationID, true)
	dst = appendStrField(dst, "denial_reason", e.DenialReason, true)
	dst = appendStrField(dst, "denial_message", e.DenialMessage, true)
	dst = appendStrField(dst, "trace_id", e.TraceID, true)
	return append(dst, '}')
}

// maxStackKeys is how many dimensions AppendJSON sorts in an array on the
// stack (a call has at most 16).
const maxStackKeys = 16

// AppendBatch appends the ingest wire format {"events":[...]}.
func AppendBatch(dst []byte, evs []Event) []byte {
	dst = append(dst, `{"events":[`...)
	for i := range evs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSON(dst, &evs[i])
	}
	return append(dst, "]}"...)
}

// AppendTokens appends usage tokens as a JSON object with usage's json names.
func AppendTokens(dst []byte, t *usage.Tokens) []byte {
	fields := [...]struct {
		name string
		v    int64
	}{
		{"input", t.Input}, {"cached_input", t.CachedInput}, {"cache_write_5m", t.CacheWrite5m},
		{"cache_write_1h", t.CacheWrite1h}, {"output", t.Output}, {"reasoning", t.Reasoning},
		{"audio_input", t.AudioInput}, {"audio_output", t.AudioOutput}, {"image_input", t.ImageInput},
		{"image_output", t.ImageOutput}, {"web_searches", t.WebSearches}, {"characters", t.Characters},
		{"seconds", t.Seconds}, {"images", t.Images}, {"provider_cost_nano_usd", t.ProviderCostNanoUSD},
	}
	dst = append(dst, '{')
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, f.name...)
		dst = append(dst, `":`...)
		dst = strconv.AppendInt(dst, f.v, 10)
	}
	dst = append(dst, `,"has_provider_cost":`...)
	dst = strconv.AppendBool(dst, t.HasProviderCost)
	return append(dst, '}')
}

func appendStrField(dst []byte, name, v string, omitEmpty bool) []byte {
	if omitEmpty && v == "" {
		return dst
	}
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return AppendString(dst, v)
}

func appendIntField(dst []byte, name string, v int64) []byte {
	if v == 0 {
		return dst
	}
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return strconv.AppendInt(dst, v, 10)
}

// AppendString appends s as a JSON string, escaping quotes, backslashes,
// control characters and invalid UTF-8 (replaced by U+FFFD), like encoding/json.
func AppendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
