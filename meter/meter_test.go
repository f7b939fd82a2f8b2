package meter

import (
	"bytes"
	"encoding/json"
	"maps"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/usage"
)

type want struct {
	Route string `json:"route"`
	SSE   bool   `json:"sse"`
	// EventStream marks an AWS event-stream capture (NAME.bin), fed with
	// its content-type; Headers are response headers fed before the body.
	EventStream bool              `json:"eventstream"`
	Headers     map[string]string `json:"headers"`
	Model       string            `json:"model"`
	ID          string            `json:"id"`
	Complete    bool              `json:"complete"`
	Usage       usage.Tokens      `json:"usage"`
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
		switch {
		case w.SSE:
			ext = ".sse"
		case w.EventStream:
			ext = ".bin"
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
	m := captureMeter(&rt, c)
	for _, ch := range chunks {
		m.Write(ch)
	}
	return m.Finish()
}

// captureMeter is a meter for capture c's response, its headers fed.
func captureMeter(rt *Route, c capture) *ResponseMeter {
	m := NewResponseMeter(rt, c.want.SSE)
	for k, v := range c.want.Headers {
		m.Header(k, v)
	}
	if c.want.EventStream {
		m.Header("content-type", "application/vnd.amazon.eventstream")
	}
	return m
}

// stream reports whether the capture is a stream (SSE or event-stream).
func (c capture) stream() bool { return c.want.SSE || c.want.EventStream }

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
		if !c.stream() {
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

// TestFinishCut: a response whose end of body never came (the client hung
// up) is complete only for an SSE stream whose terminal event went through;
// a JSON body, even a whole-looking one, is not.
func TestFinishCut(t *testing.T) {
	for _, c := range captures(t) {
		rt, _ := Resolve("gateway.local", c.want.Route)
		m := captureMeter(&rt, c)
		m.Write(c.body)
		got := m.FinishCut()
		if want := c.stream() && c.want.Complete; got.Complete != want {
			t.Errorf("%s: whole body cut before its end: complete=%v, want %v", c.name, got.Complete, want)
		}
		if got.Tokens != c.want.Usage {
			t.Errorf("%s: usage %+v, want %+v", c.name, got.Tokens, c.want.Usage)
		}
		if !c.stream() {
			continue
		}
		m = captureMeter(&rt, c)
		m.Write(c.body[:len(c.body)/3])
		if m.FinishCut().Complete {
			t.Errorf("%s: a stream cut at a third is complete", c.name)
		}
	}
}

// TestRequestIDPrefersXRequestID: the provider's request id comes from
// x-request-id before request-id, whatever their order, names compared
// case-insensitively; empty values and other headers are ignored.
func TestRequestIDPrefersXRequestID(t *testing.T) {
	for _, tt := range []struct {
		headers [][2]string
		want    string
	}{
		{nil, ""},
		{[][2]string{{"request-id", "req_anthropic"}}, "req_anthropic"},
		{[][2]string{{"X-Request-Id", "req_openai"}}, "req_openai"},
		{[][2]string{{"request-id", "b"}, {"x-request-id", "a"}}, "a"},
		{[][2]string{{"x-request-id", "a"}, {"request-id", "b"}}, "a"},
		{[][2]string{{"x-request-id", ""}, {"request-id", "b"}}, "b"},
		{[][2]string{{"x-amzn-requestid", "z"}, {"openai-request-id", "y"}}, "z"},
		{[][2]string{{"x-amzn-requestid", "z"}, {"request-id", "y"}}, "y"},
		{[][2]string{{"apim-request-id", "z"}, {"openai-request-id", "y"}}, ""},
	} {
		var id RequestID
		for _, h := range tt.headers {
			id.Header(h[0], h[1])
		}
		if id.String() != tt.want {
			t.Errorf("%v: %q, want %q", tt.headers, id.String(), tt.want)
		}
	}
}

// TestLargeJSONKeepsOnlyHeadAndTail: a body too large to keep whole is read
// from its bounded head and tail, with fields where providers put them
// (OpenAI embeddings write "model" after the data, usage last).
func TestLargeJSONKeepsOnlyHeadAndTail(t *testing.T) {
	rt, _ := Resolve("", "/v1/openai/embeddings")
	m := NewResponseMeter(&rt, false)
	m.Write([]byte(`{"object":"list","data":[`))
	chunk := []byte(strings.Repeat(`{"object":"embedding","index":0,"embedding":[0.1,0.2,0.3]},`, 1000))
	for i := 0; i < 50; i++ { // ~2.8 MB
		m.Write(chunk)
	}
	m.Write([]byte(`{"object":"embedding","index":1,"embedding":[0.1]}],"model":"text-embedding-3-large","usage":{"prompt_tokens":5000,"total_tokens":5000}}`))
	if len(m.head) > headCap || len(m.tail) > tailCap {
		t.Fatalf("buffers grew: head %d tail %d", len(m.head), len(m.tail))
	}
	r := m.Finish()
	if !r.UsageFound || r.Tokens.Input != 5000 || r.ServedModel != "text-embedding-3-large" || !r.Complete {
		t.Fatalf("large body: %+v", r)
	}

	// A long Anthropic message: model and id at the start, usage at the end.
	rt, _ = Resolve("", "/v1/anthropic/v1/messages")
	m = NewResponseMeter(&rt, false)
	m.Write([]byte(`{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"`))
	for i := 0; i < 100; i++ {
		m.Write([]byte(strings.Repeat(`word \"quoted\" `, 100)))
	}
	m.Write([]byte(`"}],"stop_reason":"end_turn","usage":{"input_tokens":10,"output_tokens":40000}}`))
	if r := m.Finish(); r.Tokens.Output != 40000 || r.ServedModel != "claude-sonnet-4-5" || r.ResponseID != "msg_1" || !r.Complete {
		t.Fatalf("large anthropic body: %+v", r)
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
		style                APIStyle
	}{
		{"gw", "/v1/openai/chat/completions", "openai", OpChatCompletions, "/v1/chat/completions", "", StyleOpenAI},
		{"gw", "/v1/openai/completions", "openai", OpCompletions, "/v1/completions", "", StyleOpenAI},
		{"gw", "/v1/openai/responses", "openai", OpResponses, "/v1/responses", "", StyleOpenAI},
		{"gw", "/v1/openai/embeddings", "openai", OpEmbeddings, "/v1/embeddings", "", StyleOpenAI},
		{"gw", "/v1/openai/audio/speech", "openai", OpAudioSpeech, "/v1/audio/speech", "", StyleOpenAI},
		{"gw", "/v1/openai/audio/transcriptions", "openai", OpAudioTranscriptions, "/v1/audio/transcriptions", "", StyleOpenAI},
		{"gw", "/v1/openai/audio/translations", "openai", OpAudioTranslations, "/v1/audio/translations", "", StyleOpenAI},
		{"gw", "/v1/openai/images/generations", "openai", OpImagesGenerations, "/v1/images/generations", "", StyleOpenAI},
		{"gw", "/v1/openai/images/edits", "openai", OpImagesEdits, "/v1/images/edits", "", StyleOpenAI},
		{"gw", "/v1/openai/images/variations", "openai", OpImagesVariations, "/v1/images/variations", "", StyleOpenAI},
		{"gw", "/v1/openai/models", "openai", OpModels, "/v1/models", "", StyleOpenAI},
		{"gw", "/v1/openai/models/gpt-4o", "openai", OpModels, "/v1/models/gpt-4o", "", StyleOpenAI},
		{"gw", "/v1/anthropic/v1/messages", "anthropic", OpMessages, "/v1/messages", "", StyleAnthropic},
		{"gw", "/v1/anthropic/v1/messages?beta=true", "anthropic", OpMessages, "/v1/messages?beta=true", "", StyleAnthropic},
		{"gw", "/v1/anthropic/v1/messages/count_tokens", "anthropic", OpCountTokens, "/v1/messages/count_tokens", "", StyleAnthropic},
		{"gw", "/v1/anthropic/v1/chat/completions", "anthropic", OpChatCompletions, "/v1/chat/completions", "", StyleOpenAI},
		{"gw", "/v1/gemini/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", "gemini", OpStreamGenerateContent, "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", "gemini-2.5-pro", StyleGemini},
		{"gw", "/v1/gemini/v1beta/models/gemini-2.5-flash:generateContent", "gemini", OpGenerateContent, "/v1beta/models/gemini-2.5-flash:generateContent", "gemini-2.5-flash", StyleGemini},
		{"gw", "/v1/gemini/v1/models/gemini-2.5-flash:generateContent", "gemini", OpGenerateContent, "/v1/models/gemini-2.5-flash:generateContent", "gemini-2.5-flash", StyleGemini},
		{"gw", "/v1/gemini/v1beta/models/text-embedding-004:embedContent", "gemini", OpEmbedContent, "/v1beta/models/text-embedding-004:embedContent", "text-embedding-004", StyleGemini},
		{"gw", "/v1/gemini/v1beta/models/gemini-2.5-flash:countTokens", "gemini", OpModels, "/v1beta/models/gemini-2.5-flash:countTokens", "gemini-2.5-flash", StyleGemini},
		{"gw", "/v1/gemini/v1beta/openai/chat/completions", "gemini", OpChatCompletions, "/v1beta/openai/chat/completions", "", StyleOpenAI},
		{"gw", "/v1/groq/chat/completions", "groq", OpChatCompletions, "/openai/v1/chat/completions", "", StyleOpenAI},
		{"gw", "/v1/groq/audio/transcriptions", "groq", OpAudioTranscriptions, "/openai/v1/audio/transcriptions", "", StyleOpenAI},
		{"gw", "/v1/openrouter/chat/completions", "openrouter", OpChatCompletions, "/api/v1/chat/completions", "", StyleOpenAI},
		{"gw", "/v1/deepseek/chat/completions", "deepseek", OpChatCompletions, "/chat/completions", "", StyleOpenAI},
		{"gw", "/v1/fireworks/chat/completions", "fireworks", OpChatCompletions, "/inference/v1/chat/completions", "", StyleOpenAI},
		{"gw", "/v1/nebius/chat/completions", "nebius", OpChatCompletions, "/v1/chat/completions", "", StyleOpenAI},
		{"gw", "/v1/mistral/fim/completions", "mistral", OpCompletions, "/v1/fim/completions", "", StyleOpenAI},
		{"gw", "/v1/deepinfra/embeddings", "deepinfra", OpEmbeddings, "/v1/openai/embeddings", "", StyleOpenAI},
		{"api.openai.com", "/v1/chat/completions", "openai", OpChatCompletions, "/v1/chat/completions", "", StyleOpenAI},
		{"api.anthropic.com:443", "/v1/messages", "anthropic", OpMessages, "/v1/messages", "", StyleAnthropic},
		{"API.X.AI", "/v1/chat/completions", "xai", OpChatCompletions, "/v1/chat/completions", "", StyleOpenAI},
		{"generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-pro:generateContent", "gemini", OpGenerateContent, "/v1beta/models/gemini-2.5-pro:generateContent", "gemini-2.5-pro", StyleGemini},
		// A provider's own Host wins: its paths can look like prefix routes.
		{"api.deepinfra.com", "/v1/openai/chat/completions", "deepinfra", OpChatCompletions, "/v1/openai/chat/completions", "", StyleOpenAI},
		{"api.openai.com", "/v1/anthropic/v1/messages", "openai", OpUnknown, "/v1/anthropic/v1/messages", "", StyleOpenAI},
	}
	for _, tt := range tests {
		r, ok := Resolve(tt.host, tt.path)
		if !ok || r.Provider.ID != tt.provider || r.Operation != tt.op || r.UpstreamPath != tt.up || r.PathModel != tt.pm || r.Style != tt.style {
			t.Errorf("%s %s: got %+v ok=%v", tt.host, tt.path, r, ok)
		}
	}
	for _, bad := range []string{"/v1/acme/chat/completions", "/healthz", "/", "/v1/"} {
		if _, ok := Resolve("example.com", bad); ok {
			t.Errorf("%s resolved", bad)
		}
	}
}

// TestEveryProviderRoutes checks all 14 providers both ways: by prefix
// (/v1/<id>/...) and by each of their API host names, with the chat
// operation found and the upstream path rebuilt on the provider's base path.
func TestEveryProviderRoutes(t *testing.T) {
	want := []string{"openai", "anthropic", "gemini", "openrouter", "xai", "groq", "deepinfra", "novita", "fireworks",
		"perplexity", "cerebras", "mistral", "deepseek", "nebius"}
	direct := 0
	for _, p := range Providers() {
		if !p.Cloud {
			direct++
		}
	}
	if direct != len(want) {
		t.Fatalf("want %d providers, have %d", len(want), direct)
	}
	for _, id := range want {
		p, ok := ProviderByID(id)
		if !ok {
			t.Fatalf("provider %s missing", id)
		}
		path, op := "/chat/completions", OpChatCompletions
		switch p.Style {
		case StyleAnthropic:
			path, op = "/v1/messages", OpMessages
		case StyleGemini:
			path, op = "/v1beta/models/gemini-2.5-flash:generateContent", OpGenerateContent
		}
		base := basePath(p.BaseURL)
		if p.Style != StyleOpenAI {
			base = ""
		}
		pr, ok := Resolve("proxy.internal:10000", "/v1/"+id+path)
		if !ok || pr.Provider.ID != id || pr.Operation != op || pr.UpstreamPath != base+path || pr.Style != p.Style {
			t.Errorf("prefix route of %s: %+v", id, pr)
		}
		if len(p.Hosts) == 0 {
			t.Errorf("provider %s has no host for host routing", id)
		}
		for _, h := range p.Hosts {
			for _, host := range []string{h, h + ":443", strings.ToUpper(h)} {
				hr, ok := Resolve(host, base+path)
				if !ok || hr.Provider.ID != id || hr.Operation != op || hr.UpstreamPath != base+path {
					t.Errorf("host route %s of %s: %+v", host, id, hr)
				}
			}
		}
	}
}

// TestEveryProviderHasCaptures: each provider has real payload shapes with
// expected usage under testdata/<provider>/.
func TestEveryProviderHasCaptures(t *testing.T) {
	have := map[string]int{}
	for _, c := range captures(t) {
		have[filepath.Base(filepath.Dir(c.name))]++
	}
	for _, p := range Providers() {
		if have[p.ID] == 0 {
			t.Errorf("no captures in testdata/%s", p.ID)
		}
	}
}

func TestParseRequest(t *testing.T) {
	rt, _ := Resolve("", "/v1/openai/chat/completions")
	info := ParseRequest(&rt, []byte(`{"model":"gpt-4o","stream":true,"max_completion_tokens":512,"service_tier":"priority","messages":[]}`))
	if info.Model != "gpt-4o" || !info.Stream || info.MaxTokens != 512 || info.ServiceTier != "priority" || info.StreamUsageRequested || info.Images != 0 {
		t.Fatalf("%+v", info)
	}
	if !NeedsStreamUsageInjection(&rt, &info) {
		t.Fatal("want injection")
	}
	asked := ParseRequest(&rt, []byte(` {"stream_options":{"include_usage":true},"model":"gpt-4o","stream":true}`))
	if !asked.StreamUsageRequested || NeedsStreamUsageInjection(&rt, &asked) {
		t.Fatalf("include_usage not seen: %+v", asked)
	}
	// A repeated key counts with its last value, as in the provider's parser:
	// the policy sees the model the provider will run.
	dup := ParseRequest(&rt, []byte(`{"model":"gpt-4o-mini","stream":false,"messages":[{"role":"user","content":"{\"model\":\"x\"}"}],"model":"o1-pro","stream":true,"stream_options":{"include_usage":true},"stream_options":{"include_usage":false}}`))
	if dup.Model != "o1-pro" || !dup.Stream || dup.StreamUsageRequested {
		t.Fatalf("duplicate keys: %+v", dup)
	}
	g, _ := Resolve("", "/v1/gemini/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse")
	gi := ParseRequest(&g, []byte(`{"contents":[],"generationConfig":{"maxOutputTokens":100}}`))
	if gi.Model != "gemini-2.5-pro" || !gi.Stream || gi.MaxTokens != 100 || NeedsStreamUsageInjection(&g, &gi) {
		t.Fatalf("gemini %+v", gi)
	}
	// Gemini's OpenAI-compatible surface reads like OpenAI, injection included.
	gc, _ := Resolve("", "/v1/gemini/v1beta/openai/chat/completions")
	gci := ParseRequest(&gc, []byte(`{"model":"gemini-2.5-flash","stream":true}`))
	if gci.Model != "gemini-2.5-flash" || !NeedsStreamUsageInjection(&gc, &gci) {
		t.Fatalf("gemini openai surface %+v", gci)
	}
	a, _ := Resolve("", "/v1/anthropic/v1/messages")
	ai := ParseRequest(&a, []byte(`{"model":"claude-haiku-4-5","max_tokens":1024,"stream":true}`))
	if ai.Model != "claude-haiku-4-5" || ai.MaxTokens != 1024 || NeedsStreamUsageInjection(&a, &ai) {
		t.Fatalf("anthropic %+v", ai)
	}
	au, _ := Resolve("", "/v1/openai/audio/transcriptions")
	mp := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nRIFF....\r\n--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--b--\r\n"
	if got := ParseRequest(&au, []byte(mp)); got.Model != "whisper-1" || got.Images != 0 {
		t.Fatalf("multipart %+v", got)
	}
	img, _ := Resolve("", "/v1/openai/images/generations")
	if got := ParseRequest(&img, []byte(`{"model":"dall-e-2","prompt":"a cat","n":3}`)); got.Images != 3 || got.Model != "dall-e-2" {
		t.Fatalf("images n: %+v", got)
	}
	if got := ParseRequest(&img, []byte(`{"model":"dall-e-3","prompt":"a cat"}`)); got.Images != 1 {
		t.Fatalf("images default n: %+v", got)
	}
	edit, _ := Resolve("", "/v1/openai/images/edits")
	mpi := "--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\ndall-e-2\r\n--b\r\nContent-Disposition: form-data; name=\"n\"\r\n\r\n2\r\n--b--\r\n"
	if got := ParseRequest(&edit, []byte(mpi)); got.Images != 2 || got.Model != "dall-e-2" {
		t.Fatalf("multipart images n: %+v", got)
	}
	sp, _ := Resolve("", "/v1/openai/audio/speech")
	if got := ParseRequest(&sp, []byte(`{"model":"tts-1","input":"Grüße, \"world\"!","voice":"alloy"}`)); got.InputCharacters != 15 || got.Model != "tts-1" {
		t.Fatalf("speech characters: %+v", got)
	}
	for _, body := range []string{"", "   ", "null", "[1,2]", `{"model":`, "\x00\xff"} {
		_ = ParseRequest(&rt, []byte(body)) // no panic, nothing invented
		if got := ParseRequest(&rt, []byte(body)); got.Model != "" || got.Stream {
			t.Errorf("%q: %+v", body, got)
		}
	}
}

// TestUsageEventUnits: the units only the request names are billed on
// successful calls: images asked for (when the provider reports no image
// tokens) and characters read out by text-to-speech.
func TestUsageEventUnits(t *testing.T) {
	event := func(path, body string, status int, res Result) usage.Tokens {
		rt, _ := Resolve("", path)
		c := Call{Route: rt, Request: ParseRequest(&rt, []byte(body))}
		return c.UsageEvent("id", status, &res, 0, 0, "").Usage
	}
	if u := event("/v1/openai/images/generations", `{"model":"dall-e-3","prompt":"x","n":2}`, 200, Result{}); u.Images != 2 {
		t.Errorf("dall-e images: %+v", u)
	}
	if u := event("/v1/openai/images/generations", `{"model":"dall-e-3","prompt":"x"}`, 400, Result{}); u.Images != 0 {
		t.Errorf("failed image call billed: %+v", u)
	}
	tokens := Result{Tokens: usage.Tokens{Input: 10, ImageOutput: 4160}, UsageFound: true}
	if u := event("/v1/openai/images/generations", `{"model":"gpt-image-1","prompt":"x"}`, 200, tokens); u.Images != 0 || u.ImageOutput != 4160 {
		t.Errorf("gpt-image-1 billed twice: %+v", u)
	}
	if u := event("/v1/openai/audio/speech", `{"model":"tts-1","input":"hello","voice":"alloy"}`, 200, Result{}); u.Characters != 5 {
		t.Errorf("speech characters: %+v", u)
	}
	if u := event("/v1/openai/chat/completions", `{"model":"gpt-4o","n":3,"input":"x"}`, 200, Result{}); u != (usage.Tokens{}) {
		t.Errorf("chat got request units: %+v", u)
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
		// The provider reads the last of repeated keys: that one is set.
		{` {"stream_options":{"include_usage":true},"stream":true,"stream_options":{"include_usage":false}}`, ` {"stream_options":{"include_usage":true},"stream":true,"stream_options":{"include_usage":true}}`},
		{`{"stream":true,"stream_options":{"include_usage":false,"include_usage":false}}`, `{"stream":true,"stream_options":{"include_usage":false,"include_usage":true}}`},
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
	many := map[string]string{}
	for i := 0; i <= MaxDimensions; i++ {
		many["d"+strconv.Itoa(i)] = "v"
	}
	one := map[string]string{"team": "search"}
	for name, tt := range map[string]struct {
		defaults, request map[string]string
		want              map[string]string
		err               bool
	}{
		"neither side":                  {nil, nil, nil, false},
		"defaults only":                 {one, nil, one, false},
		"request only":                  {nil, one, one, false},
		"too many defaults, none asked": {many, nil, nil, true},
		"too many asked, no defaults":   {nil, many, nil, true},
		"too many together":             {many, one, nil, true},
	} {
		got, err := MergeDimensions(tt.defaults, tt.request)
		if (err != nil) != tt.err || !maps.Equal(got, tt.want) {
			t.Errorf("%s: %v %v", name, got, err)
		}
	}
}

// TestIndexMatchesBytesIndex: the SSE scanners' index is bytes.Index.
func TestIndexMatchesBytesIndex(t *testing.T) {
	for _, c := range [][2]string{{"", ""}, {"abc", ""}, {"", "a"}, {"abc", "c"}, {"aab", "ab"}, {`{"usage":1,"usage2"}`, `"usage`},
		{`"f"fi"finish_reason"`, `"finish_reason"`}, {"ab", "abc"}, {"xxabxab", "ab"}} {
		if got, want := index([]byte(c[0]), []byte(c[1])), bytes.Index([]byte(c[0]), []byte(c[1])); got != want {
			t.Errorf("index(%q, %q) = %d, bytes.Index %d", c[0], c[1], got, want)
		}
	}
}

func FuzzIndexMatchesBytesIndex(f *testing.F) {
	f.Add([]byte(`{"usage":null,"x":{"usage":{}}}`), []byte(`"usage`))
	f.Fuzz(func(t *testing.T, s, sep []byte) {
		if got, want := index(s, sep), bytes.Index(s, sep); got != want {
			t.Fatalf("index(%q, %q) = %d, bytes.Index %d", s, sep, got, want)
		}
	})
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

// The time in an event id is the minting time to the millisecond; ids
// that are not UUIDv7 have none.
func TestEventIDTime(t *testing.T) {
	now := time.Date(2026, 11, 24, 9, 0, 1, 234_567_000, time.UTC)
	for name, c := range map[string]struct {
		id     string
		want   time.Time
		wantOK bool
	}{
		"a minted id":             {NewEventID(now, [10]byte{1, 2, 3}), now.Truncate(time.Millisecond), true},
		"upper case":              {strings.ToUpper(NewEventID(now, [10]byte{0xff})), now.Truncate(time.Millisecond), true},
		"a UUIDv5 (record API)":   {"6f1c1f4e-2d0b-5a43-9a3e-2b7d0c5e8a11", time.Time{}, false},
		"a UUIDv4":                {"0194b6e2-1c3d-4e5f-8a6b-7c8d9e0f1a2b", time.Time{}, false},
		"v7 with a wrong variant": {"0194b6e2-1c3d-7e5f-ca6b-7c8d9e0f1a2b", time.Time{}, false},
		"not hex":                 {"0194b6g2-1c3d-7e5f-8a6b-7c8d9e0f1a2b", time.Time{}, false},
		"a sender's own id":       {"bench-42", time.Time{}, false},
	} {
		got, ok := EventIDTime(c.id)
		if ok != c.wantOK || !got.Equal(c.want) {
			t.Errorf("%s: EventIDTime(%s) = %v %v, want %v %v", name, c.id, got, ok, c.want, c.wantOK)
		}
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
			f.Add(c.body, uint8(3))
		}
	}
	routes := []string{"/v1/openai/chat/completions", "/v1/openai/responses", "/v1/openai/audio/transcriptions",
		"/v1/anthropic/v1/messages", "/v1/gemini/v1beta/models/g:generateContent", "/v1/gemini/v1beta/models/g:streamGenerateContent"}
	f.Fuzz(func(t *testing.T, body []byte, split uint8) {
		for _, r := range routes {
			rt, _ := Resolve("", r)
			whole := NewResponseMeter(&rt, false)
			whole.Write(body)
			w := whole.Finish()
			if w.Tokens.Input < 0 || w.Tokens.Output < 0 || w.Tokens.Seconds < 0 {
				t.Fatalf("negative usage %+v", w.Tokens)
			}
			m := NewResponseMeter(&rt, false)
			step := int(split%64) + 1
			for i := 0; i < len(body); i += step {
				m.Write(body[i:min(len(body), i+step)])
			}
			if got := m.Finish(); got != w {
				t.Fatalf("%s: split every %d bytes gives %+v, whole gives %+v", r, step, got, w)
			}
		}
	})
}

// FuzzParseRequest: any body is read without panic, and for JSON objects
// the model and stream flag are what encoding/json (last key wins, like the
// providers' parsers) reads.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true}}`))
	f.Add([]byte(`{"model":"a","model":"b","stream":false,"stream":true}`))
	f.Add([]byte("--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--b--"))
	rt, _ := Resolve("", "/v1/openai/chat/completions")
	f.Fuzz(func(t *testing.T, body []byte) {
		info := ParseRequest(&rt, body)
		// Decoding into a map keeps exact key names, the last of repeats.
		var v map[string]json.RawMessage
		if json.Unmarshal(body, &v) != nil {
			return
		}
		var model string
		if json.Unmarshal(v["model"], &model) == nil && model != info.Model {
			t.Fatalf("model %q, encoding/json reads %q in %s", info.Model, model, body)
		}
		var stream bool
		if json.Unmarshal(v["stream"], &stream) == nil && stream != info.Stream {
			t.Fatalf("stream %v, encoding/json reads %v in %s", info.Stream, stream, body)
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

// benchRequests are realistic request bodies per API style; the prompt is a
// few KiB, as in a chat with some history.
var benchRequests = map[APIStyle]string{
	StyleOpenAI:    `{"model":"gpt-4o","max_tokens":500,"messages":[{"role":"system","content":"` + strings.Repeat("You are helpful. ", 200) + `"},{"role":"user","content":"hi"}]}`,
	StyleAnthropic: `{"model":"claude-sonnet-4-5","max_tokens":1024,"system":"` + strings.Repeat("You are helpful. ", 200) + `","messages":[{"role":"user","content":"hi"}]}`,
	StyleGemini:    `{"contents":[{"role":"user","parts":[{"text":"` + strings.Repeat("Tell me more. ", 200) + `"}]}],"generationConfig":{"maxOutputTokens":500}}`,
}

// BenchmarkMeterJSON is the metering cost of one non-streaming request, per
// captured provider response: route, request parse, response usage
// extraction and the usage event. Goal: at most 20 µs per request.
func BenchmarkMeterJSON(b *testing.B) {
	for _, c := range captures(b) {
		if c.want.SSE {
			continue
		}
		name := strings.TrimPrefix(c.name, "testdata/")
		b.Run(name, func(b *testing.B) {
			var m ResponseMeter
			rt0, _ := Resolve("gw", c.want.Route)
			req := []byte(benchRequests[rt0.Style])
			b.ReportAllocs()
			for b.Loop() {
				rt, _ := Resolve("gw", c.want.Route)
				call := Call{Route: rt, Request: ParseRequest(&rt, req)}
				m.Reset(&rt, false)
				m.Write(c.body)
				r := m.Finish()
				if !r.UsageFound {
					b.Fatal("no usage")
				}
				_ = call.UsageEvent("0190f3c4-7a2b-7c3d-8e4f-123456789abc", 200, &r, 0, 0, "")
			}
		})
	}
}

// BenchmarkMeterSSEChunk is the cost of one content chunk of a stream, per
// API style: it must not allocate (OpenAI, Anthropic) or allocate a bounded
// amount independent of the stream's length (Gemini repeats its usage on
// every chunk, which is parsed).
func BenchmarkMeterSSEChunk(b *testing.B) {
	chunks := []struct{ name, route, first, chunk string }{
		{"openai", "/v1/openai/chat/completions", "",
			`data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}],"usage":null}` + "\n\n"},
		{"anthropic", "/v1/anthropic/v1/messages",
			`event: message_start` + "\n" + `data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"usage":{"input_tokens":25,"output_tokens":1}}}` + "\n\n",
			`event: content_block_delta` + "\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}` + "\n\n"},
		{"gemini", "/v1/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "",
			`data: {"candidates": [{"content": {"parts": [{"text": " sky is blue"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 9,"candidatesTokenCount": 12,"totalTokenCount": 21},"modelVersion": "gemini-2.5-flash","responseId": "rIfXaL"}` + "\r\n\r\n"},
		{"responses", "/v1/openai/responses",
			`data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","model":"gpt-5","output":[],"usage":null}}` + "\n\n",
			`event: response.output_text.delta` + "\n" + `data: {"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}` + "\n\n"},
	}
	for _, c := range chunks {
		b.Run(c.name, func(b *testing.B) {
			rt, _ := Resolve("gw", c.route)
			m := NewResponseMeter(&rt, true)
			m.Write([]byte(c.first))
			chunk := []byte(c.chunk)
			m.Write(chunk) // the first chunk records the model and sizes the buffers
			b.ReportAllocs()
			b.SetBytes(int64(len(chunk)))
			for b.Loop() {
				m.Write(chunk)
			}
			if r := m.Finish(); r.ServedModel == "" {
				b.Fatal("model not recorded")
			}
		})
	}
}

// TestSSEChunksDoNotAllocate pins the allocation bound the benchmark
// reports: a content chunk costs no allocation, and a Gemini chunk (whose
// usage is parsed every time) a fixed number independent of the stream.
func TestSSEChunksDoNotAllocate(t *testing.T) {
	rt, _ := Resolve("gw", "/v1/openai/chat/completions")
	m := NewResponseMeter(&rt, true)
	chunk := []byte(`data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}],"usage":null}` + "\n\n")
	m.Write(chunk)
	if n := testing.AllocsPerRun(1000, func() { m.Write(chunk) }); n != 0 {
		t.Errorf("openai content chunk: %v allocations, want 0", n)
	}
	g, _ := Resolve("gw", "/v1/gemini/v1beta/models/g:streamGenerateContent?alt=sse")
	gm := NewResponseMeter(&g, true)
	gchunk := []byte(`data: {"candidates":[{"content":{"parts":[{"text":"x"}]}}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":12},"modelVersion":"g"}` + "\n\n")
	gm.Write(gchunk)
	short := testing.AllocsPerRun(100, func() { gm.Write(gchunk) })
	for i := 0; i < 10000; i++ {
		gm.Write(gchunk)
	}
	long := testing.AllocsPerRun(100, func() { gm.Write(gchunk) })
	if long > short || short > 4 {
		t.Errorf("gemini chunk allocations: %v early, %v after 10k chunks (want a small constant)", short, long)
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

// TestEventModelNamesAreBounded: a model name longer than ingest accepts is
// shortened (at a character boundary) rather than losing the event.
func TestEventModelNamesAreBounded(t *testing.T) {
	rt, _ := Resolve("", "/v1/openai/chat/completions")
	long := strings.Repeat("é", 200) // 400 bytes
	c := Call{Route: rt, Request: ParseRequest(&rt, []byte(`{"model":"`+long+`"}`))}
	e := c.UsageEvent("id", 400, &Result{ServedModel: long}, 0, 0, "")
	d := c.DenialEvent("id", "model_not_allowed", "no")
	for _, m := range []string{e.ModelRequested, e.ModelServed, d.ModelRequested} {
		if len(m) > event.MaxModelNameBytes || len(m) < event.MaxModelNameBytes-3 || !utf8.ValidString(m) {
			t.Fatalf("model name of %d bytes (valid UTF-8: %v)", len(m), utf8.ValidString(m))
		}
	}
}
