package fakeprovider

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/spendgate/spendgate/internal/testenv"
)

func call(t *testing.T, srv *httptest.Server, path, body string, headers map[string]string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// sseData returns the data payloads of an SSE body.
func sseData(body string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

func TestFormats(t *testing.T) {
	t.Parallel()
	fp := New(Config{})
	srv := httptest.NewServer(fp)
	defer srv.Close()
	knobs := map[string]string{"x-fake-prompt-tokens": "100", "x-fake-cached-tokens": "40", "x-fake-completion-tokens": "20",
		"x-fake-reasoning-tokens": "5", "x-fake-cache-write-tokens": "7", "x-fake-chunks": "4"}

	tests := []struct {
		name, path, body string
		check            func(t *testing.T, body string)
	}{
		{"openai chat json", "/v1/chat/completions", `{"model":"gpt-4o"}`, func(t *testing.T, b string) {
			u := gjson.Get(b, "usage")
			if u.Get("prompt_tokens").Int() != 100 || u.Get("prompt_tokens_details.cached_tokens").Int() != 40 ||
				u.Get("completion_tokens").Int() != 20 || u.Get("completion_tokens_details.reasoning_tokens").Int() != 5 ||
				gjson.Get(b, "model").Str != "gpt-4o" {
				t.Fatalf("%s", b)
			}
		}},
		{"openai chat sse with usage", "/v1/chat/completions", `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`, func(t *testing.T, b string) {
			d := sseData(b)
			// 4 content chunks, the finish chunk, the usage chunk, [DONE].
			if len(d) != 7 || d[6] != "[DONE]" || gjson.Get(d[5], "usage.total_tokens").Int() != 120 || len(gjson.Get(d[5], "choices").Array()) != 0 {
				t.Fatalf("%q", d)
			}
		}},
		{"openai chat sse without usage", "/v1/chat/completions", `{"model":"m","stream":true}`, func(t *testing.T, b string) {
			if strings.Contains(b, `"usage"`) || !strings.HasSuffix(b, "data: [DONE]\n\n") {
				t.Fatalf("%s", b)
			}
		}},
		{"openai responses sse", "/v1/responses", `{"model":"m","stream":true}`, func(t *testing.T, b string) {
			d := sseData(b)
			last := d[len(d)-1]
			if gjson.Get(last, "type").Str != "response.completed" || gjson.Get(last, "response.usage.input_tokens").Int() != 100 {
				t.Fatalf("%q", d)
			}
		}},
		{"openai embeddings", "/v1/embeddings", `{"model":"e"}`, func(t *testing.T, b string) {
			if gjson.Get(b, "usage.prompt_tokens").Int() != 100 || len(gjson.Get(b, "data").Array()) != 1 {
				t.Fatalf("%s", b)
			}
		}},
		{"anthropic sse", "/v1/messages", `{"model":"claude","stream":true}`, func(t *testing.T, b string) {
			var types []string
			for _, d := range sseData(b) {
				types = append(types, gjson.Get(d, "type").Str)
			}
			want := "message_start content_block_start content_block_delta content_block_delta content_block_delta content_block_delta content_block_stop message_delta message_stop"
			if strings.Join(types, " ") != want {
				t.Fatalf("events %v", types)
			}
			d := sseData(b)
			start := gjson.Get(d[0], "message.usage")
			if start.Get("cache_read_input_tokens").Int() != 40 || start.Get("cache_creation_input_tokens").Int() != 7 ||
				gjson.Get(d[7], "usage.output_tokens").Int() != 20 {
				t.Fatalf("%s", b)
			}
		}},
		{"gemini json", "/v1beta/models/gemini-2.5-pro:generateContent", `{}`, func(t *testing.T, b string) {
			u := gjson.Get(b, "usageMetadata")
			if u.Get("promptTokenCount").Int() != 100 || u.Get("candidatesTokenCount").Int() != 20 || u.Get("thoughtsTokenCount").Int() != 5 ||
				gjson.Get(b, "modelVersion").Str != "gemini-2.5-pro" {
				t.Fatalf("%s", b)
			}
		}},
		{"gemini sse", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", `{}`, func(t *testing.T, b string) {
			d := sseData(b)
			if len(d) != 4 || gjson.Get(d[3], "usageMetadata.candidatesTokenCount").Int() != 20 || gjson.Get(d[3], "candidates.0.finishReason").Str != "STOP" {
				t.Fatalf("%q", d)
			}
		}},
		{"gemini json array stream", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", `{}`, func(t *testing.T, b string) {
			chunks := gjson.Parse(b).Array()
			if !gjson.Valid(b) || len(chunks) != 4 || !strings.Contains(b, "\r\n,") ||
				chunks[3].Get("usageMetadata.candidatesTokenCount").Int() != 20 || chunks[3].Get("candidates.0.finishReason").Str != "STOP" {
				t.Fatalf("%s", b)
			}
		}},
	}
	for _, tt := range tests {
		path, query, _ := strings.Cut(tt.path, "?")
		status, _, body := call(t, srv, tt.path, tt.body, knobs)
		if last, _ := fp.Last(); last.Path != path || last.RawQuery != query {
			t.Fatalf("%s: recorded %s?%s", tt.name, last.Path, last.RawQuery)
		}
		if status != 200 {
			t.Fatalf("%s: status %d %s", tt.name, status, body)
		}
		t.Run(tt.name, func(t *testing.T) { tt.check(t, body) })
	}
	// Stream events counted: chat with usage 7 and without 6 (4 content
	// chunks, the finish chunk, [usage,] [DONE]), responses 3, anthropic 9,
	// gemini SSE 4 and array 4.
	if n := fp.StreamEvents(); n != 7+6+3+9+4+4 {
		t.Fatalf("%d stream events", n)
	}
	// Every request was recorded with its headers and body.
	reqs := fp.Requests()
	if len(reqs) != len(tests) || reqs[0].Header.Get("x-fake-chunks") != "4" || string(reqs[0].Body) != tests[0].body {
		t.Fatalf("recorded %d requests: %+v", len(reqs), reqs[0])
	}
}

func TestErrorsInProviderShape(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(New(Config{}))
	defer srv.Close()
	tests := []struct{ path, path2 string }{
		{"/v1/chat/completions", "error.message"},
		{"/v1/messages", "error.message"},
		{"/v1beta/models/g:generateContent", "error.message"},
	}
	for _, tt := range tests {
		status, h, body := call(t, srv, tt.path, `{}`, map[string]string{"x-fake-status": "429"})
		if status != 429 || gjson.Get(body, tt.path2).Str != "fake provider error" || h.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %s", tt.path, status, body)
		}
	}
	if status, _, body := call(t, srv, "/v1/messages", `{}`, map[string]string{"x-fake-status": "529"}); status != 529 || gjson.Get(body, "type").Str != "error" {
		t.Fatalf("anthropic: %d %s", status, body)
	}
	if status, _, _ := call(t, srv, "/v1/nothing", `{}`, nil); status != 404 {
		t.Fatalf("unknown path: %d", status)
	}
}

func TestCancelCutsTheStream(t *testing.T) {
	t.Parallel()
	fp := New(Config{})
	srv := httptest.NewServer(fp)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/messages", strings.NewReader(`{"model":"c","stream":true}`))
	req.Header.Set("x-fake-chunks", "1000")
	req.Header.Set("x-fake-chunk-delay", "1h")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	testenv.WaitFor(t, 5*time.Second, "the stream stopping when the caller left", func() bool { return fp.StreamsCut() == 1 })
}
