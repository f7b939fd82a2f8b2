package usage

import (
	"testing"

	"github.com/tidwall/gjson"
)

var getCases = map[string]string{
	"flat":              `{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}`,
	"nested":            `{"prompt_tokens":9,"prompt_tokens_details":{"cached_tokens":3,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":1}}`,
	"spaces":            "{ \"a\" :\t{ \"b\" : [1, {\"c\":2}] , \"c\" : \"x\\\"y\" } ,\n\"d\":null, \"e\": true }",
	"repeated key":      `{"a":1,"a":2,"b":{"c":1},"b":{"c":2}}`,
	"escaped key":       `{"a\u005fb":1,"a_b":2}`,
	"strings":           `{"a":"plain","b":"esc\n\u00e9","c":{"d":"}"}}`,
	"empty":             `{}`,
	"numbers":           `{"a":-1.5e3,"b":0,"c":1.0,"d":12345678901234567890}`,
	"array member":      `{"a":[{"b":1}],"b":[1,2]}`,
	"not an object":     `[1,2,3]`,
	"scalar":            `42`,
	"string with brace": `{"x":"{[\"","y":{"z":"]}"},"z":3}`,
}

var getPaths = []string{"a", "b", "c", "d", "e", "z", "a_b", "a.b", "a.c", "a.b.c", "b.c", "c.d", "y.z", "x",
	"prompt_tokens", "prompt_tokens_details.cached_tokens", "completion_tokens_details.reasoning_tokens", "missing.deep", "a.0", "b.1"}

// TestGetMatchesGJSON: get answers what gjson's Get answers, for the plain
// paths it handles itself and the rest it hands on.
func TestGetMatchesGJSON(t *testing.T) {
	for name, js := range getCases {
		obj := gjson.Parse(js)
		for _, p := range getPaths {
			if got, want := Get(obj, p), obj.Get(p); !sameResult(got, want) {
				t.Errorf("%s: Get(%q) = %#v, gjson %#v", name, p, got, want)
			}
		}
	}
}

func sameResult(a, b gjson.Result) bool {
	return a.Type == b.Type && a.Raw == b.Raw && a.Str == b.Str && a.Num == b.Num && a.Exists() == b.Exists()
}

// TestGetDoesNotAllocate: the reason it exists.
func TestGetDoesNotAllocate(t *testing.T) {
	obj := gjson.Parse(getCases["nested"])
	if n := testing.AllocsPerRun(100, func() { _ = Get(obj, "prompt_tokens_details.cached_tokens") }); n != 0 {
		t.Fatalf("%v allocations per get", n)
	}
}

func FuzzGetMatchesGJSON(f *testing.F) {
	for _, js := range getCases {
		f.Add(js, "a.b")
	}
	f.Fuzz(func(t *testing.T, js, path string) {
		if !gjson.Valid(js) {
			return // the parsers validate first
		}
		obj := gjson.Parse(js)
		if got, want := Get(obj, path), obj.Get(path); !sameResult(got, want) {
			t.Fatalf("Get(%q) on %s = %#v, gjson %#v", path, js, got, want)
		}
	})
}
