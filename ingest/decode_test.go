package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/usage"
)

func stdDecode(data []byte, strict bool) (event.Event, error) {
	var e event.Event
	if !strict {
		err := json.Unmarshal(data, &e)
		return e, err
	}
	if !json.Valid(data) {
		return event.Event{}, json.Unmarshal(data, &e)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(&e)
	return e, err
}

func fullEvent() event.Event {
	return event.Event{SchemaVersion: 1, Type: event.TypeUsage, EventID: idN(1), Time: time.Date(2026, 11, 25, 7, 0, 0, 123456789, time.UTC),
		Source: event.SourceGateway, TenantID: tenant, KeyID: keyID, Provider: "openai", Operation: "chat.completions",
		ModelRequested: "gpt-4o-mini", ModelServed: "gpt-4o-mini-2024-07-18", Streaming: true, ServiceTier: "flex",
		Dimensions: map[string]string{"team": "search", "env": "prod <&>"}, StatusCode: 200, LatencyMs: 1234, TTFBMs: 56,
		RequestID: "req_1", Complete: true, Usage: usage.Tokens{Input: 1, CachedInput: 2, CacheWrite5m: 3, CacheWrite1h: 4, Output: 5,
			Reasoning: 6, AudioInput: 7, AudioOutput: 8, ImageInput: 9, ImageOutput: 10, WebSearches: 11, Characters: 12, Seconds: 13,
			Images: 14, ProviderCostNanoUSD: 15, HasProviderCost: true},
		RawUsage: `{"prompt_tokens":1,"details":"a\nb"}`, ReservationID: idN(2), DenialReason: "x", DenialMessage: "line\ttab",
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"}
}

var decodeSeeds = []string{
	`{"schema_version":1,"type":"usage","usage":{"input":5},"dimensions":{"a":"b"}}`,
	`{"Schema_Version":1}`,
	`{"type":"usage","type":"denial"}`,
	`{"dimensions":{"a":"1"},"dimensions":{"b":"2"}}`,
	`{"dimensions":{"a":"1","a":"2"}}`,
	`{"usage":{"input":1,"input":2}}`,
	`{"schema_version":1.0}`, `{"schema_version":1e2}`, `{"schema_version":-0}`, `{"latency_ms":99999999999999999999}`,
	`{"event_id":"\u0041\ud800"}`, "{\"event_id\":\"\xff\"}", `{"time":"2026-11-25T07:00:00+02:00"}`, `{"time":"yesterday"}`,
	`{"time":12}`, `{"streaming":"true"}`, `{"usage":null,"dimensions":null,"type":null}`, `{"usage":{"has_provider_cost":1}}`,
	`{"bogus":1}`, `{"usage":{"bogus":1}}`, `[]`, `null`, `{}`, `{"a":1} `, `{} {}`, `{`, ` {"type":"usage"} `,
}

// FuzzDecodeEventMatchesEncodingJSON holds the fast path to encoding/json:
// the same events, the same failures.
func FuzzDecodeEventMatchesEncodingJSON(f *testing.F) {
	full := fullEvent()
	f.Add(event.AppendJSON(nil, &full))
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, strict := range []bool{true, false} {
			got, err := decodeEvent(data, strict)
			want, wantErr := stdDecode(data, strict)
			if (err == nil) != (wantErr == nil) {
				t.Fatalf("strict %v: %q: error %v, encoding/json %v", strict, data, err, wantErr)
			}
			if err == nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("strict %v: %q:\n got  %+v\n want %+v", strict, data, got, want)
			}
			if err != nil && err.Error() != wantErr.Error() {
				t.Fatalf("strict %v: %q: error %q, encoding/json %q", strict, data, err, wantErr)
			}
		}
	})
}

func TestFastPathTakesEncodedEvents(t *testing.T) {
	t.Parallel()
	full := fullEvent()
	var got event.Event
	if !fastDecodeEvent(event.AppendJSON(nil, &full), &got) {
		t.Fatal("an encoded event left the fast path")
	}
	if !reflect.DeepEqual(got, full) {
		t.Fatalf("got %+v\nwant %+v", got, full)
	}
}

// Every json tag of event.Event and usage.Tokens is known to the fast path.
func TestEventFieldsMatchTheSchema(t *testing.T) {
	t.Parallel()
	tags := func(typ reflect.Type) []string {
		var out []string
		for i := range typ.NumField() {
			out = append(out, `"`+strings.Split(typ.Field(i).Tag.Get("json"), ",")[0]+`"`)
		}
		return out
	}
	ev := tags(reflect.TypeFor[event.Event]())
	if len(ev) != len(eventFields) {
		t.Fatalf("event.Event has %d fields, the fast path knows %d", len(ev), len(eventFields))
	}
	for _, name := range ev {
		if _, ok := eventFields[name]; !ok {
			t.Errorf("event field %s unknown to the fast path", name)
		}
	}
	var tok usage.Tokens
	for _, name := range tags(reflect.TypeFor[usage.Tokens]()) {
		if p, _ := tokenField(&tok, name); p == nil && name != `"has_provider_cost"` {
			t.Errorf("usage field %s unknown to the fast path", name)
		}
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	full := fullEvent()
	data := event.AppendJSON(nil, &full)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		var e event.Event
		for b.Loop() {
			e = event.Event{} // as the receiver and the consumer: into a zero event of theirs
			if err := decodeEventInto(data, true, false, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := stdDecode(data, true); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPriceOne is the consumer's per-event work before the insert:
// decode, validate, price.
func BenchmarkPriceOne(b *testing.B) {
	e := usageEvents(1, 1)[0]
	data := event.AppendJSON(nil, &e)
	cfg := DefaultConfig()
	c := NewConsumer(cfg, DefaultConsumerConfig(), nil, nil, pricing.Default(), nil, quietLog)
	subject := cfg.subject(e.EventID, e.TenantID)
	ctx := context.Background()
	var pe PricedEvent
	b.ReportAllocs()
	for b.Loop() {
		if reason := c.priceOne(ctx, subject, data, false, &pe); reason != "" {
			b.Fatal(reason)
		}
	}
}

// FuzzSplitBatchMatchesEncodingJSON holds the receiver's batch splitting to
// encoding/json: the same events (byte for byte), the same refusals.
func FuzzSplitBatchMatchesEncodingJSON(f *testing.F) {
	full := fullEvent()
	f.Add(event.AppendBatch(nil, []event.Event{full, full}))
	for _, s := range []string{
		`{"events":[]}`, `{"events":null}`, `{}`, `[]`, `null`, `{"events":[1,"x",null,{"a":[{}]}]}`,
		` {"events" : [ {"type":"usage"} , {} ] } `, `{"events":[{}],"extra":1}`, `{"events":[{"a":1}],"events":[{"b":2}]}`,
		`{"\u0065vents":[{}]}`, `{"Events":[{}]}`, `{"events":[{}]`, `{"events":{}}`, `{"events":"[]"}`, "{\"events\":[\"\xff\"]}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		raws, _, err := batchEvents(body)
		var want struct {
			Events []json.RawMessage `json:"events"`
		}
		wantErr := json.Unmarshal(body, &want)
		if wantErr == nil && want.Events == nil {
			wantErr = errors.New(`"events" is missing`)
		}
		if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Fatalf("%q: error %v, encoding/json %v", body, err, wantErr)
		}
		if err != nil {
			return
		}
		if len(raws) != len(want.Events) {
			t.Fatalf("%q: %d events, encoding/json %d", body, len(raws), len(want.Events))
		}
		for i := range raws {
			if !bytes.Equal(raws[i], want.Events[i]) {
				t.Fatalf("%q: event %d is %q, encoding/json %q", body, i, raws[i], want.Events[i])
			}
		}
	})
}

func TestSplitBatchTakesEncodedBatches(t *testing.T) {
	t.Parallel()
	full := fullEvent()
	for _, body := range [][]byte{event.AppendBatch(nil, []event.Event{full, full, full}), []byte(` { "events" : [ ] } `)} {
		raws, ok := splitBatch(body)
		if !ok {
			t.Fatalf("%.80q left the fast path", body)
		}
		for _, raw := range raws {
			var e event.Event
			if err := decodeEventInto(raw, true, true, &e); err != nil || !reflect.DeepEqual(e, full) {
				t.Fatalf("event %v: %+v", err, e)
			}
		}
	}
}
