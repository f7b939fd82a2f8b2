package recordapi

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

var now = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// decodeRecord decodes and validates a record body as POST /v1/usage does.
func decodeRecord(body string) []FieldError {
	var r UsageRecord
	errs := Decode([]byte(body), &r)
	if len(errs) > 0 && errs[0].Path == "" {
		return errs
	}
	return Merge(errs, r.Validate("", now))
}

func TestRecordFieldErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		body string
		want []FieldError
	}{
		"a valid TTS record": {`{"idempotency_key":"k1","provider":"elevenlabs","model":"eleven_v3","usage":{"characters":1200}}`, nil},
		"a valid record with every field": {`{"idempotency_key":"k1","provider":"openai","model":"gpt-4o","operation":"chat","time":"2026-12-04T11:59:00Z",
			"dimensions":{"team":"search"},"usage":{"input":10,"output":5},"reported_cost_usd":"0.000125","reservation_id":"0193a1c2-7b3e-7c4d-8e9f-0a1b2c3d4e5f",
			"request_id":"req_1","status_code":200,"latency_ms":120}`, nil},
		"not an object": {`[1]`, []FieldError{{"", "must be a JSON object"}}},
		"empty body":    {``, []FieldError{{"", "a JSON value is required"}}},
		"missing key, provider and model": {`{"usage":{}}`, []FieldError{
			{"/idempotency_key", "is required (or the Idempotency-Key header): it makes retries safe"},
			{"/provider", "is required (e.g. openai, anthropic, elevenlabs)"},
			{"/model", "is required: the model or product the usage is priced by (e.g. gpt-4o-mini, tts-1, whisper-1)"}}},
		"unknown field, nested too": {`{"idempotency_key":"k","provider":"openai","model":"m","cost":1,"usage":{"tokens":3}}`, []FieldError{
			{"/cost", "unknown field"}, {"/usage/tokens", "unknown field"}}},
		"wrong types": {`{"idempotency_key":7,"provider":"openai","model":"m","usage":{"characters":"12","seconds":1.5},"dimensions":{"team":3},"status_code":"ok"}`, []FieldError{
			{"/dimensions/team", "must be a string"}, {"/idempotency_key", "must be a string"}, {"/status_code", "must be a whole number"},
			{"/usage/characters", "must be a whole number"}, {"/usage/seconds", "must be a whole number"}}},
		"negative and huge counts": {`{"idempotency_key":"k","provider":"openai","model":"tts-1","usage":{"characters":-1,"images":1000000000000001}}`, []FieldError{
			{"/usage/characters", "must not be negative"}, {"/usage/images", "must be at most 1000000000000000"}}},
		"bad provider name": {`{"idempotency_key":"k","provider":"Eleven Labs","model":"m"}`, []FieldError{
			{"/provider", "provider must use only a-z, 0-9, -, _, . (lowercase)"}}},
		"bad time": {`{"idempotency_key":"k","provider":"openai","model":"m","time":"yesterday"}`, []FieldError{
			{"/time", "must be an RFC 3339 time with a time zone, e.g. 2026-12-04T21:30:00Z"}}},
		"time too far ahead": {`{"idempotency_key":"k","provider":"openai","model":"m","time":"2026-12-04T13:00:00Z"}`, []FieldError{
			{"/time", "must be at most 10 minutes ahead of the server's clock and at most a year behind it"}}},
		"bad cost, reservation, dimension": {`{"idempotency_key":"k","provider":"openai","model":"m","reported_cost_usd":"-1","reservation_id":"r1","dimensions":{"Team":"x","env":""}}`, []FieldError{
			{"/dimensions/Team", "dimension names must be 1..32 characters of a-z, 0-9, _"},
			{"/dimensions/env", "must be 1..128 bytes without control characters"},
			{"/reported_cost_usd", `must be a non-negative decimal USD amount with at most 9 decimals, e.g. "0.0042"`},
			{"/reservation_id", "must be the reservation_id a preflight returned (a UUID)"}}},
		"cost with too many decimals": {`{"idempotency_key":"k","provider":"openai","model":"m","reported_cost_usd":"0.0000000001"}`, []FieldError{
			{"/reported_cost_usd", `must be a non-negative decimal USD amount with at most 9 decimals, e.g. "0.0042"`}}},
		"status and latency out of range": {`{"idempotency_key":"k","provider":"openai","model":"m","status_code":1000,"latency_ms":-1}`, []FieldError{
			{"/status_code", "must be 0..999"}, {"/latency_ms", "must be 0..86400000 (a day)"}}},
		"control characters and long key": {`{"idempotency_key":"` + strings.Repeat("k", 256) + `","provider":"openai","model":"a\u0001b"}`, []FieldError{
			{"/idempotency_key", "must be at most 255 bytes"}, {"/model", "must be UTF-8 without control characters"}}},
	} {
		t.Run(name, func(t *testing.T) {
			got := decodeRecord(tc.body)
			sortErrs(got)
			sortErrs(tc.want)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func sortErrs(e []FieldError) {
	slices.SortFunc(e, func(a, b FieldError) int { return strings.Compare(a.Path, b.Path) })
}

func TestPreflightFieldErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		body string
		want []FieldError
	}{
		"valid":           {`{"provider":"openai","model":"tts-1","usage":{"characters":5000}}`, nil},
		"valid with cost": {`{"provider":"elevenlabs","model":"eleven_v3","max_cost_usd":"0.30","dimensions":{"team":"voice"}}`, nil},
		"missing model, bad usage, bad cost": {`{"provider":"openai","usage":{"output":-5},"max_cost_usd":"lots"}`, []FieldError{
			{"/max_cost_usd", `must be a non-negative decimal USD amount with at most 9 decimals, e.g. "0.0042"`},
			{"/model", "is required: the model or product the usage is priced by (e.g. gpt-4o-mini, tts-1, whisper-1)"},
			{"/usage/output", "must not be negative"}}},
		"usage not an object": {`{"provider":"openai","model":"m","usage":[1]}`, []FieldError{{"/usage", "must be a JSON object"}}},
	} {
		t.Run(name, func(t *testing.T) {
			var r PreflightRequest
			got := Merge(Decode([]byte(tc.body), &r), r.Validate())
			sortErrs(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestEventIDIsTheTenantsIdempotencyKey(t *testing.T) {
	a, b := "0193a1c2-7b3e-7c4d-8e9f-0a1b2c3d4e5f", "0193a1c2-7b3e-7c4d-8e9f-0a1b2c3d4e60"
	if first, again := EventID(a, "k"), EventID(a, "k"); first != again {
		t.Error("the same key gave two event ids")
	}
	if EventID(a, "k") == EventID(b, "k") || EventID(a, "k") == EventID(a, "k2") {
		t.Error("different tenants or keys share an event id")
	}
}

func TestRecordEvent(t *testing.T) {
	r := UsageRecord{IdempotencyKey: "k", Provider: "openai", Model: "tts-1", Usage: Usage{Characters: 1000},
		ReportedCostUSD: "0.015", Dimensions: map[string]string{"team": "voice"}, ReservationID: "0193a1c2-7b3e-7c4d-8e9f-0a1b2c3d4e5f"}
	dims := Dimensions(map[string]string{"env": "prod", "team": "default"}, r.Dimensions)
	e := r.Event("0193a1c2-7b3e-7c4d-8e9f-0a1b2c3d4e5f", "0193a1c2-7b3e-7c4d-8e9f-0a1b2c3d4e61", dims, now)
	if e.Source != "api" || e.Operation != DefaultOperation || e.StatusCode != 200 || !e.Complete || e.Usage.Characters != 1000 ||
		!e.Usage.HasProviderCost || e.Usage.ProviderCostNanoUSD != 15_000_000 || e.ReservationID != r.ReservationID ||
		e.Dimensions["team"] != "voice" || e.Dimensions["env"] != "prod" || !e.Time.Equal(now) {
		t.Errorf("event %+v", e)
	}
	other := r
	other.Usage.Characters++
	if string(other.Fingerprint()) == string(r.Fingerprint()) {
		t.Error("different records share a fingerprint")
	}
	same := r
	same.IdempotencyKey = "another"
	same.Dimensions = map[string]string{"team": "voice"}
	later := now.Add(time.Minute)
	same.Time = &later
	if string(same.Fingerprint()) != string(r.Fingerprint()) {
		t.Error("the fingerprint depends on the key, the time or map identity")
	}
}

// TestOpenAPIDocumentIsValid loads the served document with kin-openapi and
// validates it (references resolve, schemas are well formed, examples fit).
func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{PreflightPath, UsagePath, BatchPath, OpenAPIPath} {
		if doc.Paths.Find(p) == nil {
			t.Errorf("the document lacks %s", p)
		}
	}
	// Every usage class the record takes is in the schema, and no other.
	var u Usage
	props := doc.Components.Schemas["Usage"].Value.Properties
	if len(props) != len(u.classes()) {
		t.Errorf("schema has %d usage classes, the type %d", len(props), len(u.classes()))
	}
	for _, c := range u.classes() {
		if props[c.name] == nil {
			t.Errorf("usage class %s missing from the schema", c.name)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(`{"idempotency_key":"k","provider":"openai","model":"m","usage":{"input":1}}`)
	f.Add(`{"usage":{"characters":"x"},"dimensions":{"a/b~c":1}}`)
	f.Add(`[{"records":null}]`)
	f.Fuzz(func(t *testing.T, body string) {
		var r UsageRecord
		errs := Decode([]byte(body), &r)
		for _, e := range errs {
			if e.Message == "" {
				t.Fatalf("empty message at %q", e.Path)
			}
		}
		if len(errs) == 0 {
			_ = r.Validate("", now)
		}
	})
}
