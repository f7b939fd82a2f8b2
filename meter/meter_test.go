package meter

import (
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/usage"
)

type want struct {
	Route    string       `json:"route"`
	SSE      bool         `json:"sse"`
	Model    string       `json:"model"`
	ID       string       `json:"id"`
	Complete bool         `json:"complete"`
	Usage    usage.Tokens `json:"usage"`
}

type capture struct {
	name string
	body []byte
	want want
}

func captures(t testing.TB) []capture {
	t.Helper()
	files, _ := filepath.Glob("testdata/*/*.want.json")
	if len(files) < 10 {
		t.Fatalf("expected at least 10 captures, found %d", len(files))
	}
	var out []capture
	for _, wf := range files {
		var w want
		b, err := os.ReadFile(wf)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &w); err != nil {
			t.Fatalf("%s: %v", wf, err)
		}
		base := strings.TrimSuffix(wf, ".want.json")
		ext := ".json"
		if w.SSE {
			ext = ".sse"
		}
		body, err := os.ReadFile(base + ext)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, capture{name: base, body: body, want: w})
	}
	return out
}

func meterChunks(t testing.TB, c capture, chunks [][]byte) Result {
	t.Helper()
	rt, ok := Resolve("gateway.local", c.want.Route)
	if !ok {
		t.Fatalf("%s: route %s not resolved", c.name, c.want.Route)
	}
	m := NewResponseMeter(&rt, c.want.SSE)
	for _, ch := range chunks {
		m.Write(ch)
	}
	return m.Finish()
}

func check(t *testing.T, c capture, got Result, how string) {
	t.Helper()
	if !got.UsageFound || got.Tokens != c.want.Usage || got.ServedModel != c.want.Model || got.Complete != c.want.Complete ||
		(c.want.ID != "" && got.ResponseID != c.want.ID) {
		t.Fatalf("%s (%s):\n got  %+v model=%q id=%q complete=%v found=%v err=%q\n want %+v model=%q id=%q complete=%v",
			c.name, how, got.Tokens, got.ServedModel, got.ResponseID, got.Complete, got.UsageFound, got.ParseError,
			c.want.Usage, c.want.Model, c.want.ID, c.want.Complete)
	}
}

func TestCapturesWhole(t *testing.T) {
	for _, c := range captures(t) {
		check(t, c, meterChunks(t, c, [][]byte{c.body}), "whole")
		if c.want.SSE && !strings.Contains(string(c.body), "\"usage") {
			t.Fatalf("%s has no usage", c.name)
		}
	}
}

// TestCapturesEverySplit feeds each capture in two pieces split at every byte
// boundary, and in random many-piece splits: the usage must not change.
func TestCapturesEverySplit(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, c := range captures(t) {
		for i := 0; i <= len(c.body); i++ {
			check(t, c, meterChunks(t, c, [][]byte{c.body[:i], c.body[i:]}), "split")
		}
		for n := 0; n < 200; n++ {
			var chunks [][]byte
			rest := c.body
			for len(rest) > 0 {
				k := 1 + rng.Intn(min(len(rest), 40))
				chunks = append(chunks, rest[:k])
				rest = rest[k:]
			}
			check(t, c, meterChunks(t, c, chunks), "random")
		}
	}
}

func TestStreamCutBeforeUsageIsIncomplete(t *testing.T) {
	for _, c := range captures(t) {
		if !c.want.SSE {
			continue
		}
		cut := c.body[:len(c.body)/3]
		got := meterChunks(t, c, [][]byte{cut})
		if got.Complete {
			t.Errorf("%s: a stream cut at a third is reported complete", c.name)
		}
	}
	// A JSON body cut short is incomplete and has no usage.
	rt, _ := Resolve("", "/v1/openai/chat/completions")
	m := NewResponseMeter(&rt, false)
	m.Write([]byte(`{"id":"x","model":"gpt-4o","choices":[{"message":{"content":"par`))
	if r := m.Finish(); r.Complete || r.UsageFound || r.ServedModel != "gpt-4o" {
		t.Errorf("cut JSON: %+v", r)
	}
}

func TestLargeJSONKeepsOnlyHeadAndTail(t *testing.T) {
	rt, _ := Resolve("", "/v1/openai/embeddings")
	m := NewResponseMeter(&rt, false)
	m.Write([]byte(`{"object":"list","model":"text-embedding-3-large","data":[`))
	chunk := []byte(strings.Repeat(`{"object":"embedding","embedding":[0.1,0.2,0.3]},`, 1000))
	for i := 0; i < 50; i++ { // ~2.4 MB
		m.Write(chunk)
	}
	m.Write([]byte(`{"object":"embedding","embedding":[0.1]}],"usage":{"prompt_tokens":5000,"total_tokens":5000}}`))
	if len(m.head) > headCap || len(m.tail) > tailCap {
		t.Fatalf("buffers grew: head %d tail %d", len(m.head), len(m.tail))
	}
	r := m.Finish()
	if !r.UsageFound || r.Tokens.Input != 5000 || r.ServedModel != "text-embedding-3-large" || !r.Complete {
		t.Fatalf("large body: %+v", r)
	}
}

func TestOverlongSSELineIsSkipped(t *testing.T) {
	rt, _ := Resolve("", "/v1/openai/chat/completions")
	m := NewResponseMeter(&rt, true)
	m.Write([]byte("data: {\"x\":\"" + strings.Repeat("a", maxLine+10) + "\"}\n\n"))
	m.Write([]byte("data: {\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\ndata: [DONE]\n\n"))
	r := m.Finish()
	if r.Tokens.Input != 3 || r.Tokens.Output != 4 || !r.Complete || cap(m.line) > maxLine {
		t.Fatalf("got %+v (line cap %d)", r, cap(m.line))
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		host, path           string
		provider, op, up, pm string
	}{
		{"gw", "/v1/openai/chat/completions", "openai", OpChatCompletions, "/v1/chat/completions", ""},
		{"gw", "/v1/openai/responses", "openai", OpResponses, "/v1/responses", ""},
		{"gw", "/v1/openai/embeddings", "openai", OpEmbeddings, "/v1/embeddings", ""},
		{"gw", "/v1/openai/audio/transcriptions", "openai", OpAudioTranscriptions, "/v1/audio/transcriptions", ""},
		{"gw", "/v1/openai/images/generations", "openai", OpImagesGenerations, "/v1/images/generations", ""},
		{"gw", "/v1/openai/models", "openai", OpModels, "/v1/models", ""},
		{"gw", "/v1/anthropic/v1/messages", "anthropic", OpMessages, "/v1/messages", ""},
		{"gw", "/v1/anthropic/v1/messages/count_tokens", "anthropic", OpCountTokens, "/v1/messages/count_tokens", ""},
		{"gw", "/v1/gemini/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", "gemini", OpStreamGenerateContent, "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", "gemini-2.5-pro"},
		{"gw", "/v1/gemini/v1beta/models/gemini-2.5-flash:generateContent", "gemini", OpGenerateContent, "/v1beta/models/gemini-2.5-flash:generateContent", "gemini-2.5-flash"},
		{"gw", "/v1/groq/chat/completions", "groq", OpChatCompletions, "/openai/v1/chat/completions", ""},
		{"gw", "/v1/openrouter/chat/completions", "openrouter", OpChatCompletions, "/api/v1/chat/completions", ""},
		{"gw", "/v1/deepseek/chat/completions", "deepseek", OpChatCompletions, "/chat/completions", ""},
		{"gw", "/v1/fireworks/chat/completions", "fireworks", OpChatCompletions, "/inference/v1/chat/completions", ""},
		{"gw", "/v1/nebius/chat/completions", "nebius", OpChatCompletions, "/v1/chat/completions", ""},
		{"api.openai.com", "/v1/chat/completions", "openai", OpChatCompletions, "/v1/chat/completions", ""},
		{"api.anthropic.com:443", "/v1/messages", "anthropic", OpMessages, "/v1/messages", ""},
		{"API.X.AI", "/v1/chat/completions", "xai", OpChatCompletions, "/v1/chat/completions", ""},
	}
	for _, tt := range tests {
		r, ok := Resolve(tt.host, tt.path)
		if !ok || r.Provider.ID != tt.provider || r.Operation != tt.op || r.UpstreamPath != tt.up || r.PathModel != tt.pm {
			t.Errorf("%s %s: got %+v ok=%v", tt.host, tt.path, r, ok)
		}
	}
	for _, bad := range []string{"/v1/acme/chat/completions", "/healthz", "/"} {
		if _, ok := Resolve("example.com", bad); ok {
			t.Errorf("%s resolved", bad)
		}
	}
	if len(Providers()) != 14 {
		t.Errorf("want 14 providers, have %d", len(Providers()))
	}
}

func TestParseRequest(t *testing.T) {
	rt, _ := Resolve("", "/v1/openai/chat/completions")
	info := ParseRequest(&rt, []byte(`{"model":"gpt-4o","stream":true,"max_completion_tokens":512,"service_tier":"priority","messages":[]}`))
	if info.Model != "gpt-4o" || !info.Stream || info.MaxTokens != 512 || info.ServiceTier != "priority" || info.StreamUsageRequested {
		t.Fatalf("%+v", info)
	}
	if !NeedsStreamUsageInjection(&rt, &info) {
		t.Fatal("want injection")
	}
	g, _ := Resolve("", "/v1/gemini/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse")
	gi := ParseRequest(&g, []byte(`{"contents":[],"generationConfig":{"maxOutputTokens":100}}`))
	if gi.Model != "gemini-2.5-pro" || !gi.Stream || gi.MaxTokens != 100 || NeedsStreamUsageInjection(&g, &gi) {
		t.Fatalf("gemini %+v", gi)
	}
	a, _ := Resolve("", "/v1/anthropic/v1/messages")
	ai := ParseRequest(&a, []byte(`{"model":"claude-haiku-4-5","max_tokens":1024,"stream":true}`))
	if ai.Model != "claude-haiku-4-5" || ai.MaxTokens != 1024 || NeedsStreamUsageInjection(&a, &ai) {
		t.Fatalf("anthropic %+v", ai)
	}
	au, _ := Resolve("", "/v1/openai/audio/transcriptions")
	mp := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nRIFF....\r\n--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--b--\r\n"
	if got := ParseRequest(&au, []byte(mp)).Model; got != "whisper-1" {
		t.Fatalf("multipart model %q", got)
	}
}

func TestInjectStreamUsage(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"model":"m","stream":true}`, `{"stream_options":{"include_usage":true},"model":"m","stream":true}`},
		{`  {"model":"m","stream":true,"stream_options":{}}`, `  {"model":"m","stream":true,"stream_options":{"include_usage":true}}`},
		{`{"stream":true,"stream_options":{"x":1}}`, `{"stream":true,"stream_options":{"include_usage":true,"x":1}}`},
		{`{"stream":true,"stream_options":{"include_usage":false}}`, `{"stream":true,"stream_options":{"include_usage":true}}`},
		{`{"stream":true,"stream_options":null}`, `{"stream":true,"stream_options":{"include_usage":true}}`},
		{`{"stream":true,"stream_options":{"include_usage":true}}`, `{"stream":true,"stream_options":{"include_usage":true}}`},
		{"{} ", `{"stream_options":{"include_usage":true}} `},
		{"{\n  \"messages\": [{\"content\": \"stream_options\"}],\n  \"stream\": true\n}", "{\"stream_options\":{\"include_usage\":true},\n  \"messages\": [{\"content\": \"stream_options\"}],\n  \"stream\": true\n}"},
	}
	for _, tt := range tests {
		got, ok := InjectStreamUsage([]byte(tt.in))
		if !ok || string(got) != tt.want {
			t.Errorf("InjectStreamUsage(%s)\n got  %s\n want %s", tt.in, got, tt.want)
		}
		var v map[string]any
		if err := json.Unmarshal(got, &v); err != nil {
			t.Errorf("result is not JSON: %s", got)
		}
	}
	if _, ok := InjectStreamUsage([]byte(`[1]`)); ok {
		t.Error("array accepted")
	}
	if _, ok := InjectStreamUsage([]byte(`{"a":`)); ok {
		t.Error("broken JSON accepted")
	}
}

func TestDimensions(t *testing.T) {
	d, v, is, err := DimensionFromHeader("X-Spendgate-Dim-Team", " search ")
	if !is || err != nil || d != "team" || v != "search" {
		t.Fatalf("%q %q %v %v", d, v, is, err)
	}
	if _, _, is, _ := DimensionFromHeader("x-other", "v"); is {
		t.Fatal("not a dimension header")
	}
	for _, bad := range [][2]string{{"x-spendgate-dim-Te am", "v"}, {"x-spendgate-dim-team", ""}, {"x-spendgate-dim-team", strings.Repeat("v", 129)}, {"x-spendgate-dim-" + strings.Repeat("a", 33), "v"}, {"x-spendgate-dim-team", "a\x01"}} {
		if _, _, is, err := DimensionFromHeader(bad[0], bad[1]); !is || err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	merged, err := MergeDimensions(map[string]string{"env": "prod", "team": "default"}, map[string]string{"team": "search"})
	if err != nil || merged["env"] != "prod" || merged["team"] != "search" {
		t.Fatalf("%v %v", merged, err)
	}
}

func TestNewEventID(t *testing.T) {
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	id := NewEventID(now, [10]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	if len(id) != 36 || id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) {
		t.Fatalf("not a UUIDv7: %s", id)
	}
	later := NewEventID(now.Add(time.Millisecond), [10]byte{})
	if later <= id[:13] {
		t.Fatalf("ids not time-ordered: %s then %s", id, later)
	}
}

func FuzzResponseMeterSSE(f *testing.F) {
	for _, c := range captures(f) {
		if c.want.SSE {
			f.Add(c.body, uint8(7))
		}
	}
	routes := []string{"/v1/openai/chat/completions", "/v1/anthropic/v1/messages", "/v1/gemini/v1beta/models/g:streamGenerateContent", "/v1/openai/responses"}
	f.Fuzz(func(t *testing.T, body []byte, split uint8) {
		for _, r := range routes {
			rt, _ := Resolve("", r)
			m := NewResponseMeter(&rt, true)
			step := int(split%64) + 1
			for i := 0; i < len(body); i += step {
				m.Write(body[i:min(len(body), i+step)])
			}
			res := m.Finish()
			if res.Tokens.Input < 0 || res.Tokens.Output < 0 {
				t.Fatalf("negative usage %+v", res.Tokens)
			}
			// Chunk boundaries never change what the stream reveals.
			whole := NewResponseMeter(&rt, true)
			whole.Write(body)
			if w := whole.Finish(); w != res {
				t.Fatalf("%s: split every %d bytes gives %+v, whole gives %+v", r, step, res, w)
			}
		}
	})
}

func FuzzResponseMeterJSON(f *testing.F) {
	for _, c := range captures(f) {
		if !c.want.SSE {
			f.Add(c.body)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, r := range []string{"/v1/openai/chat/completions", "/v1/anthropic/v1/messages", "/v1/gemini/v1beta/models/g:generateContent"} {
			rt, _ := Resolve("", r)
			m := NewResponseMeter(&rt, false)
			m.Write(body)
			_ = m.Finish()
		}
	})
}

func FuzzInjectStreamUsage(f *testing.F) {
	f.Add([]byte(`{"model":"m","stream":true,"stream_options":{"a":1}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		out, ok := InjectStreamUsage(body)
		if !ok {
			return
		}
		var v map[string]any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("injection broke JSON: %s -> %s", body, out)
		}
		so, _ := v["stream_options"].(map[string]any)
		if so["include_usage"] != true {
			t.Fatalf("include_usage not set: %s", out)
		}
	})
}

// BenchmarkMeterJSON is the metering cost of one non-streaming request:
// route, request parse and response usage extraction.
func BenchmarkMeterJSON(b *testing.B) {
	body, _ := os.ReadFile("testdata/openai/chat.json")
	req := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"max_tokens":100}`)
	var m ResponseMeter
	b.ReportAllocs()
	for b.Loop() {
		rt, _ := Resolve("gw", "/v1/openai/chat/completions")
		info := ParseRequest(&rt, req)
		m.Reset(&rt, false)
		m.Write(body)
		if r := m.Finish(); !r.UsageFound || info.Model == "" {
			b.Fatal("no usage")
		}
	}
}

// BenchmarkMeterSSEChunk is the cost of one content chunk of a stream.
func BenchmarkMeterSSEChunk(b *testing.B) {
	chunk := []byte(`data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}],"usage":null}` + "\n\n")
	rt, _ := Resolve("gw", "/v1/openai/chat/completions")
	m := NewResponseMeter(&rt, true)
	m.Write(chunk) // first chunk records the model
	b.ReportAllocs()
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		m.Write(chunk)
	}
}

func TestUpstreamURL(t *testing.T) {
	tests := []struct{ path, base, want string }{
		{"/v1/openai/chat/completions", "https://api.openai.com/v1", "https://api.openai.com/v1/chat/completions"},
		{"/v1/openai/chat/completions?x=1", "http://127.0.0.1:9999/v1", "http://127.0.0.1:9999/v1/chat/completions?x=1"},
		{"/v1/anthropic/v1/messages", "http://127.0.0.1:9999/", "http://127.0.0.1:9999/v1/messages"},
		{"/v1/groq/chat/completions", "http://fake/openai/v1", "http://fake/openai/v1/chat/completions"},
		{"/v1/gemini/v1beta/models/g:streamGenerateContent?alt=sse", "http://fake", "http://fake/v1beta/models/g:streamGenerateContent?alt=sse"},
	}
	for _, tt := range tests {
		r, _ := Resolve("", tt.path)
		if got := r.UpstreamURL(tt.base); got != tt.want {
			t.Errorf("%s via %s: %s, want %s", tt.path, tt.base, got, tt.want)
		}
	}
}

func TestChunkScanners(t *testing.T) {
	usageTests := []struct {
		in   string
		want bool
	}{
		{`{"usage":null}`, false},
		{`{"usage": {"prompt_tokens":1}}`, true},
		{`{"x_groq":{"usage":{"prompt_tokens":1}}}`, true},
		{`{"usageMetadata" : {"promptTokenCount":1}}`, true},
		{`{"usage":null,"b":{"usage":{}}}`, true},
		{`{"content":"usage"}`, false},
		{`{"usage`, false},
	}
	for _, tt := range usageTests {
		if got := hasUsageObject([]byte(tt.in)); got != tt.want {
			t.Errorf("hasUsageObject(%s) = %v", tt.in, got)
		}
	}
	finishTests := []struct {
		in   string
		want bool
	}{
		{`{"choices":[{"finish_reason":null}]}`, false},
		{`{"choices":[{"finish_reason":"stop"}]}`, true},
		{`{"choices":[{"finish_reason" : "length"}]}`, true},
		{`{"choices":[{"finish_reason":null},{"finish_reason":"stop"}]}`, true},
		{`{"finish_reason`, false},
	}
	for _, tt := range finishTests {
		if got := hasFinishReason([]byte(tt.in)); got != tt.want {
			t.Errorf("hasFinishReason(%s) = %v", tt.in, got)
		}
	}
}
