package event

import (
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/usage"
)

func sample() Event {
	return Event{
		SchemaVersion: SchemaVersion, Type: TypeUsage, EventID: "0190f3c4-7a2b-7c3d-8e4f-123456789abc",
		Time: time.Date(2026, 11, 24, 9, 0, 0, 123456789, time.UTC), Source: SourceGateway,
		TenantID: "t", KeyID: "k", Provider: "openai", Operation: "chat.completions",
		ModelRequested: "gpt-4o", ModelServed: "gpt-4o-2024-08-06", Streaming: true, ServiceTier: "priority",
		Dimensions: map[string]string{"team": "search \"core\"", "env": "prod\n<&>", "app": "\u2028x\x01"},
		StatusCode: 200, LatencyMs: 1234, TTFBMs: 56, RequestID: "req_1", Complete: true,
		Usage:    usage.Tokens{Input: 1, CachedInput: 2, CacheWrite5m: 3, CacheWrite1h: 4, Output: 5, Reasoning: 6, AudioInput: 7, AudioOutput: 8, ImageInput: 9, ImageOutput: 10, WebSearches: 11, Characters: 12, Seconds: 13, Images: 14, ProviderCostNanoUSD: 15, HasProviderCost: true},
		RawUsage: `{"prompt_tokens":1}`, ReservationID: "r1",
	}
}

func TestAppendJSONRoundTrip(t *testing.T) {
	for _, e := range []Event{sample(), {SchemaVersion: 1, Type: TypeDenial, EventID: "x", Time: time.Unix(0, 0).UTC(), DenialReason: DenialModelNotAllowed, DenialMessage: "no"}} {
		b := AppendJSON(nil, &e)
		var got Event
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("invalid JSON %s: %v", b, err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("round trip:\n got  %+v\n want %+v\n json %s", got, e, b)
		}
	}
}

func TestAppendBatch(t *testing.T) {
	evs := []Event{sample(), sample()}
	evs[1].EventID = "other"
	var batch struct{ Events []Event }
	if err := json.Unmarshal(AppendBatch(nil, evs), &batch); err != nil {
		t.Fatal(err)
	}
	if len(batch.Events) != 2 || batch.Events[1].EventID != "other" {
		t.Fatalf("batch %+v", batch)
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("plain")
	f.Add("q\"\\\n\x00\xff\u2028")
	f.Fuzz(func(t *testing.T, s string) {
		b := AppendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("invalid JSON for %q: %s", s, b)
		}
		want, _ := json.Marshal(s)
		var w string
		_ = json.Unmarshal(want, &w)
		if got != w {
			t.Fatalf("got %q want %q", got, w)
		}
	})
}

// FuzzAppendJSONRoundTrip builds events from fuzzed strings and numbers and
// checks encoding/json decodes AppendJSON's output back to the same event.
func FuzzAppendJSONRoundTrip(f *testing.F) {
	f.Add("openai", "gpt-4o", "team", "a\"b\\c\n", int64(1), int64(-2), int64(1700000000123456789), true)
	f.Add("", "\xff\u2028", "", "\x00", int64(0), int64(9223372036854775807), int64(0), false)
	f.Fuzz(func(t *testing.T, provider, model, dimName, dimValue string, n1, n2, nanos int64, flag bool) {
		e := sample()
		e.Provider, e.ModelRequested, e.ModelServed = provider, model, dimValue
		e.Dimensions = map[string]string{dimName: dimValue, "fixed": model}
		e.Time = time.Unix(0, nanos).UTC()
		e.Usage.Input, e.Usage.Output, e.Usage.ProviderCostNanoUSD = n1, n2, n1^n2
		e.Streaming, e.Complete = flag, !flag
		e.StatusCode, e.LatencyMs = int(n1%1000), n2
		e.RawUsage = ""
		b := AppendJSON(nil, &e)
		var got Event
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("invalid JSON %s: %v", b, err)
		}
		// encoding/json replaces invalid UTF-8 with U+FFFD; compare with
		// what encoding/json itself makes of the event.
		ref, _ := json.Marshal(&e)
		var want Event
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip:\n got  %+v\n want %+v\n json %s", got, want, b)
		}
	})
}

// TestAppendJSONSortsDimensions: dimensions are written in name order,
// whether sorted on the stack (up to 16) or not (more).
func TestAppendJSONSortsDimensions(t *testing.T) {
	for _, n := range []int{1, 3, maxStackKeys, maxStackKeys + 4} {
		e := sample()
		e.Dimensions = map[string]string{}
		var names []string
		for i := 0; i < n; i++ {
			name := string(rune('z'-i)) + strconv.Itoa(i)
			e.Dimensions[name] = "v"
			names = append(names, name)
		}
		sort.Strings(names)
		var want strings.Builder
		for i, name := range names {
			if i > 0 {
				want.WriteByte(',')
			}
			want.WriteString(`"` + name + `":"v"`)
		}
		if got := string(AppendJSON(nil, &e)); !strings.Contains(got, `"dimensions":{`+want.String()+`}`) {
			t.Errorf("%d dimensions: %s", n, got)
		}
	}
}
