package usage

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProviderPayloads parses the captured usage objects in
// testdata/<provider>/NAME.json and compares them with NAME.want.json (the
// expected Tokens, zero fields omitted). A file holding a JSON array is a
// stream: each element is one event's usage, combined with Merge in order.
func TestProviderPayloads(t *testing.T) {
	files, err := filepath.Glob("testdata/*/*.json")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, path := range files {
		if strings.HasSuffix(path, ".want.json") {
			continue
		}
		n++
		provider := filepath.Base(filepath.Dir(path))
		parse := ParseOpenAI // every other provider speaks the OpenAI shape
		switch provider {
		case "anthropic":
			parse = ParseAnthropic
		case "gemini":
			parse = ParseGemini
		case "bedrock":
			parse = ParseBedrock
		}
		t.Run(provider+"/"+filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			in, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			wantRaw, err := os.ReadFile(strings.TrimSuffix(path, ".json") + ".want.json")
			if err != nil {
				t.Fatal(err)
			}
			var want Tokens
			dec := json.NewDecoder(bytes.NewReader(wantRaw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&want); err != nil {
				t.Fatalf("want file: %v", err)
			}
			events := []json.RawMessage{in}
			if trimmed := bytes.TrimSpace(in); len(trimmed) > 0 && trimmed[0] == '[' {
				events = nil
				if err := json.Unmarshal(trimmed, &events); err != nil {
					t.Fatal(err)
				}
			}
			var got Tokens
			for i, ev := range events {
				tok, err := parse(ev)
				if err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				got = Merge(got, tok)
			}
			if got != want {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
		})
	}
	if n < 15 {
		t.Fatalf("only %d payloads found under testdata", n)
	}
}
