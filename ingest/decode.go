package ingest

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/usage"
)

// decodeEvent decodes one event exactly as encoding/json does: with unknown
// fields refused when strict (the receiver), ignored otherwise (the
// consumer, which must not dead-letter an event a newer receiver accepted).
// Events shaped as the encoders write them take a fast path, several times
// quicker (the receiver and the consumer decode every event); anything else
// (an unknown or repeated field, a \u escape, a number that is not a plain
// integer, invalid JSON) is left to encoding/json, so results and errors are
// encoding/json's. FuzzDecodeEventMatchesEncodingJSON holds the two equal.
func decodeEvent(data []byte, strict bool) (event.Event, error) {
	var e event.Event
	err := decodeEventInto(data, strict, false, &e)
	return e, err
}

// decodeEventInto is decodeEvent into *e, which must be zero (after an
// error it holds what decodeEvent would have returned); validJSON says data is known to be valid JSON (an element
// of a batch splitBatch took apart), which the fast path then does not check
// again. Decoding in place saves a copy of the event and its allocation
// (the fast path's closures make a local event escape).
func decodeEventInto(data []byte, strict, validJSON bool, e *event.Event) error {
	if (validJSON || gjson.ValidBytes(data)) && fastDecodeEvent(data, e) {
		return nil
	}
	*e = event.Event{}
	if !strict {
		return json.Unmarshal(data, e)
	}
	if !json.Valid(data) {
		var syntax event.Event
		return json.Unmarshal(data, &syntax) // the syntax error, as Unmarshal words it
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(e); err != nil {
		*e = event.Event{}
		return err
	}
	return nil
}

// splitBatch returns the events of a batch body, {"events":[...]}, as
// slices of body, when body is valid JSON, an object whose one member is
// "events" (spelled without escapes), holding an array. false means "ask
// encoding/json", which then decides (other or repeated members, escapes,
// errors); FuzzSplitBatchMatchesEncodingJSON holds the two equal.
func splitBatch(body []byte) ([][]byte, bool) {
	if !gjson.ValidBytes(body) {
		return nil, false
	}
	// Nothing of root outlives this call: no copy of the body.
	root := gjson.Parse(unsafeString(body))
	if !root.IsObject() {
		return nil, false
	}
	var events gjson.Result
	members, named := 0, false
	root.ForEach(func(k, v gjson.Result) bool {
		members++
		events, named = v, k.Raw == `"events"`
		return named
	})
	if members != 1 || !named || !events.IsArray() {
		return nil, false
	}
	out := make([][]byte, 0, 64)
	ok := true
	events.ForEach(func(_, v gjson.Result) bool {
		end := v.Index + len(v.Raw)
		if v.Index <= 0 || end > len(body) || string(body[v.Index:end]) != v.Raw {
			ok = false
			return false
		}
		out = append(out, body[v.Index:end:end])
		return true
	})
	return out, ok
}

// unsafeString is b as a string without a copy; b must not change while
// the string is in use.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// fastDecodeEvent fills e from data, valid JSON, when data is an object of
// known fields, each once, with values of their JSON type; false means "ask
// encoding/json" (e is then partly filled).
//
// e's strings share data's memory instead of a copy of each event (gjson's
// ParseBytes copies its input whole: the largest allocation of a decode,
// made for every event by both the receiver and the consumer). data must
// not change afterwards; neither caller's does: the receiver's is a slice
// of the request body, published as it is, the consumer's a JetStream
// message's own payload.
func fastDecodeEvent(data []byte, e *event.Event) bool {
	root := gjson.Parse(unsafeString(data))
	if !root.IsObject() {
		return false
	}
	ok := true
	var seen uint32
	root.ForEach(func(k, v gjson.Result) bool {
		f, known := eventFields[k.Raw]
		if !known || seen&(1<<f) != 0 {
			ok = false
			return false
		}
		seen |= 1 << f
		if v.Type == gjson.Null {
			return true // encoding/json leaves the zero value
		}
		switch f {
		case fSchemaVersion:
			ok = setInt(v, &e.SchemaVersion)
		case fType:
			ok = setString(v, &e.Type)
		case fEventID:
			ok = setString(v, &e.EventID)
		case fTime:
			ok = v.Type == gjson.String && e.Time.UnmarshalJSON([]byte(v.Raw)) == nil
		case fSource:
			ok = setString(v, &e.Source)
		case fTenantID:
			ok = setString(v, &e.TenantID)
		case fKeyID:
			ok = setString(v, &e.KeyID)
		case fWorkspaceID:
			ok = setString(v, &e.WorkspaceID)
		case fTeamID:
			ok = setString(v, &e.TeamID)
		case fProjectID:
			ok = setString(v, &e.ProjectID)
		case fProvider:
			ok = setString(v, &e.Provider)
		case fOperation:
			ok = setString(v, &e.Operation)
		case fModelRequested:
			ok = setString(v, &e.ModelRequested)
		case fModelServed:
			ok = setString(v, &e.ModelServed)
		case fStreaming:
			ok = setBool(v, &e.Streaming)
		case fServiceTier:
			ok = setString(v, &e.ServiceTier)
		case fDimensions:
			ok = setDimensions(v, &e.Dimensions)
		case fStatusCode:
			ok = setInt(v, &e.StatusCode)
		case fLatencyMs:
			ok = setInt64(v, &e.LatencyMs)
		case fTTFBMs:
			ok = setInt64(v, &e.TTFBMs)
		case fRequestID:
			ok = setString(v, &e.RequestID)
		case fComplete:
			ok = setBool(v, &e.Complete)
		case fUsage:
			ok = setTokens(v, &e.Usage)
		case fRawUsage:
			ok = setString(v, &e.RawUsage)
		case fReservationID:
			ok = setString(v, &e.ReservationID)
		case fDenialReason:
			ok = setString(v, &e.DenialReason)
		case fDenialMessage:
			ok = setString(v, &e.DenialMessage)
		case fTraceID:
			ok = setString(v, &e.TraceID)
		}
		return ok
	})
	return ok
}

const (
	fSchemaVersion = iota
	fType
	fEventID
	fTime
	fSource
	fTenantID
	fKeyID
	fProvider
	fOperation
	fModelRequested
	fModelServed
	fStreaming
	fServiceTier
	fDimensions
	fStatusCode
	fLatencyMs
	fTTFBMs
	fRequestID
	fComplete
	fUsage
	fRawUsage
	fReservationID
	fDenialReason
	fDenialMessage
	fTraceID
	fWorkspaceID
	fTeamID
	fProjectID
)

// eventFields maps the quoted JSON names (as gjson gives keys raw) of
// event.Event's fields; TestEventFieldsMatchTheSchema keeps it in step with
// the struct tags.
var eventFields = map[string]int{
	`"schema_version"`: fSchemaVersion, `"type"`: fType, `"event_id"`: fEventID, `"time"`: fTime, `"source"`: fSource,
	`"tenant_id"`: fTenantID, `"key_id"`: fKeyID, `"provider"`: fProvider, `"operation"`: fOperation,
	`"model_requested"`: fModelRequested, `"model_served"`: fModelServed, `"streaming"`: fStreaming,
	`"service_tier"`: fServiceTier, `"dimensions"`: fDimensions, `"status_code"`: fStatusCode, `"latency_ms"`: fLatencyMs,
	`"ttfb_ms"`: fTTFBMs, `"request_id"`: fRequestID, `"complete"`: fComplete, `"usage"`: fUsage, `"raw_usage"`: fRawUsage,
	`"reservation_id"`: fReservationID, `"denial_reason"`: fDenialReason, `"denial_message"`: fDenialMessage,
	`"trace_id"`:     fTraceID,
	`"workspace_id"`: fWorkspaceID, `"team_id"`: fTeamID, `"project_id"`: fProjectID,
}

// tokenField returns usage.Tokens' integer field named by a quoted JSON
// key, with its index, or nil.
func tokenField(t *usage.Tokens, key string) (*int64, int) {
	switch key {
	case `"input"`:
		return &t.Input, 0
	case `"cached_input"`:
		return &t.CachedInput, 1
	case `"cache_write_5m"`:
		return &t.CacheWrite5m, 2
	case `"cache_write_1h"`:
		return &t.CacheWrite1h, 3
	case `"output"`:
		return &t.Output, 4
	case `"reasoning"`:
		return &t.Reasoning, 5
	case `"audio_input"`:
		return &t.AudioInput, 6
	case `"audio_output"`:
		return &t.AudioOutput, 7
	case `"image_input"`:
		return &t.ImageInput, 8
	case `"image_output"`:
		return &t.ImageOutput, 9
	case `"web_searches"`:
		return &t.WebSearches, 10
	case `"characters"`:
		return &t.Characters, 11
	case `"seconds"`:
		return &t.Seconds, 12
	case `"images"`:
		return &t.Images, 13
	case `"provider_cost_nano_usd"`:
		return &t.ProviderCostNanoUSD, 14
	}
	return nil, -1
}

// setString takes strings of valid UTF-8 without surrogate escapes: for
// those gjson's unescaping is encoding/json's (which replaces lone
// surrogates and invalid bytes in its own way).
func setString(v gjson.Result, dst *string) bool {
	if v.Type != gjson.String || hasSurrogateEscape(v.Raw) || !utf8.ValidString(v.Str) {
		return false
	}
	*dst = v.Str
	return true
}

// hasSurrogateEscape reports a \uD800–\uDFFF escape in a raw JSON string.
func hasSurrogateEscape(raw string) bool {
	for {
		i := strings.Index(raw, `\u`)
		if i < 0 || i+4 > len(raw) {
			return false
		}
		// An escaped backslash before "u" is not an escape: count them.
		slashes := 0
		for j := i; j >= 0 && raw[j] == '\\'; j-- {
			slashes++
		}
		if slashes%2 == 1 && (raw[i+2] == 'd' || raw[i+2] == 'D') && strings.IndexByte("89abcdefABCDEF", raw[i+3]) >= 0 {
			return true
		}
		raw = raw[i+2:]
	}
}

func setBool(v gjson.Result, dst *bool) bool {
	switch v.Type {
	case gjson.True:
		*dst = true
	case gjson.False:
		*dst = false
	default:
		return false
	}
	return true
}

func setInt64(v gjson.Result, dst *int64) bool {
	if v.Type != gjson.Number {
		return false
	}
	n, err := strconv.ParseInt(v.Raw, 10, 64)
	if err != nil {
		return false
	}
	*dst = n
	return true
}

func setInt(v gjson.Result, dst *int) bool {
	var n int64
	if !setInt64(v, &n) || int64(int(n)) != n {
		return false
	}
	*dst = int(n)
	return true
}

func setDimensions(v gjson.Result, dst *map[string]string) bool {
	if !v.IsObject() {
		return false
	}
	m := map[string]string{}
	ok := true
	v.ForEach(func(k, val gjson.Result) bool {
		var name, value string
		if !setString(k, &name) || !setString(val, &value) {
			ok = false
			return false
		}
		if _, dup := m[name]; dup {
			ok = false
			return false
		}
		m[name] = value
		return true
	})
	if ok {
		*dst = m
	}
	return ok
}

func setTokens(v gjson.Result, t *usage.Tokens) bool {
	if !v.IsObject() {
		return false
	}
	ok := true
	var seen uint32
	const hasProviderCost = 15
	v.ForEach(func(k, val gjson.Result) bool {
		field, i := tokenField(t, k.Raw)
		if k.Raw == `"has_provider_cost"` {
			i = hasProviderCost
		}
		if i < 0 || seen&(1<<i) != 0 {
			ok = false
			return false
		}
		seen |= 1 << i
		switch {
		case val.Type == gjson.Null:
		case i == hasProviderCost:
			ok = setBool(val, &t.HasProviderCost)
		default:
			ok = setInt64(val, field)
		}
		return ok
	})
	return ok
}
