package gateway

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/usage"
)

// slowChunk is the fake provider's pause between stream events in the tests
// below: far longer than any test may take, so a client that holds an event
// while the provider has sent only one proves nothing was buffered. The
// tests end the stream themselves by hanging up.
const slowChunk = "10m"

// TestSDKStreamArrivesBeforeTheProviderSendsMore has the OpenAI SDK read the
// first chunk of a stream while the fake provider waits before the second:
// the gateway flushed the chunk as it came (time to first byte is the
// provider's). Hanging up then cuts the provider's stream and records an
// incomplete usage event.
func TestSDKStreamArrivesBeforeTheProviderSendsMore(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	// A bound, not a wait: a buffering gateway would hold the first chunk
	// until the provider's 10-minute pause ended, and this context would end first.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := e.openai(goodKey, option.WithHeader("x-fake-chunks", "3"), option.WithHeader("x-fake-chunk-delay", slowChunk))
	stream := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	if !stream.Next() {
		t.Fatalf("no first chunk: %v", stream.Err())
	}
	if got := stream.Current().Choices[0].Delta.Content; got != "word0 " {
		t.Fatalf("first chunk content %q", got)
	}
	if n := e.fake.StreamEvents(); n != 1 {
		t.Fatalf("the provider had sent %d events when the client got the first", n)
	}
	_ = stream.Close()
	cancel()
	testenv.WaitFor(t, 10*time.Second, "the provider stream cut", func() bool { return e.fake.StreamsCut() == 1 })
	ev := e.sink.wait(t, 1)[0]
	if ev.Type != event.TypeUsage || ev.Complete || !ev.Streaming || ev.ModelServed != "gpt-4o-mini" {
		t.Fatalf("want an incomplete usage event, got %+v", ev)
	}
}

// TestGeminiJSONArrayStream covers streamGenerateContent without alt=sse: a
// JSON array whose elements the provider writes one by one, with no
// Content-Length. Each element must reach the caller as it is written, and a
// whole stream is metered from its last (cumulative) usage.
func TestGeminiJSONArrayStream(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	const path = "/v1/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent"
	send := func(ctx context.Context, headers map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "POST", e.gw.URL+path, strings.NewReader(`{"contents":[{"parts":[{"text":"hi"}]}]}`))
		req.Header.Set("x-goog-api-key", "AIza-provider")
		req.Header.Set("x-spendgate-key", goodKey)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	resp := send(context.Background(), map[string]string{"x-fake-prompt-tokens": "11", "x-fake-completion-tokens": "8", "x-fake-chunks": "4"})
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(gjson.ParseBytes(b).Array()) != 4 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	ev := e.sink.wait(t, 1)[0]
	if ev.Usage != (usage.Tokens{Input: 11, Output: 8}) || !ev.Streaming || !ev.Complete || ev.ModelRequested != "gemini-2.5-flash" {
		t.Fatalf("event %+v", ev)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before := e.fake.StreamEvents()
	resp = send(ctx, map[string]string{"x-fake-chunks": "3", "x-fake-chunk-delay": slowChunk})
	defer resp.Body.Close()
	var got []byte
	buf := make([]byte, 4096)
	for !(len(got) > 1 && gjson.ValidBytes(got[1:])) { // "[" then the whole first element
		n, err := resp.Body.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("reading the first element: %v (got %q)", err, got)
		}
	}
	if n := e.fake.StreamEvents() - before; n != 1 {
		t.Fatalf("the provider had sent %d elements when the client got the first", n)
	}
	cancel()
	testenv.WaitFor(t, 10*time.Second, "the provider stream cut", func() bool { return e.fake.StreamsCut() == 1 })
	if ev := e.sink.wait(t, 2)[1]; ev.Complete || ev.Type != event.TypeUsage {
		t.Fatalf("want an incomplete usage event, got %+v", ev)
	}
}

// TestAnthropicDisconnectKeepsUsageSeen: a caller that hangs up after
// message_start still gets the input and cache tokens it reported metered,
// in an event marked incomplete.
func TestAnthropicDisconnectKeepsUsageSeen(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := e.anthropic(goodKey, aoption.WithHeader("x-fake-prompt-tokens", "25"), aoption.WithHeader("x-fake-cached-tokens", "1000"),
		aoption.WithHeader("x-fake-cache-write-tokens", "200"), aoption.WithHeader("x-fake-chunks", "5"),
		aoption.WithHeader("x-fake-chunk-delay", slowChunk))
	stream := c.Messages.NewStreaming(ctx, anthropic.MessageNewParams{Model: "claude-haiku-4-5", MaxTokens: 256,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
	var types []string
	for len(types) < 3 && stream.Next() { // message_start, content_block_start, the first delta
		types = append(types, stream.Current().Type)
	}
	if strings.Join(types, " ") != "message_start content_block_start content_block_delta" {
		t.Fatalf("events %v: %v", types, stream.Err())
	}
	_ = stream.Close()
	cancel()
	testenv.WaitFor(t, 10*time.Second, "the provider stream cut", func() bool { return e.fake.StreamsCut() == 1 })
	ev := e.sink.wait(t, 1)[0]
	if ev.Type != event.TypeUsage || ev.Complete || ev.Usage.Input != 25 || ev.Usage.CachedInput != 1000 || ev.Usage.CacheWrite5m != 200 {
		t.Fatalf("want an incomplete event with the input usage seen, got %+v", ev)
	}
}

// TestUpstreamErrorsPassThroughUnchanged: a provider's error answer reaches
// the caller exactly as a direct call gets it (status, body bytes, headers),
// in each provider's own format, and is recorded with its status.
func TestUpstreamErrorsPassThroughUnchanged(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	fakeURL := strings.TrimSuffix(e.gwCfg.Upstreams["anthropic"], "/")
	cases := []struct{ gwPath, directPath, status string }{
		{"/v1/openai/chat/completions", "/v1/chat/completions", "429"},
		{"/v1/anthropic/v1/messages", "/v1/messages", "529"},
		{"/v1/gemini/v1beta/models/gemini-2.5-pro:generateContent", "/v1beta/models/gemini-2.5-pro:generateContent", "500"},
	}
	do := func(url string, spendgate bool, status string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("POST", url, strings.NewReader(`{"model":"m","messages":[]}`))
		req.Header.Set("x-fake-status", status)
		if spendgate {
			req.Header.Set("x-spendgate-key", goodKey)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	for i, tc := range cases {
		direct, directBody := do(fakeURL+tc.directPath, false, tc.status)
		via, viaBody := do(e.gw.URL+tc.gwPath, true, tc.status)
		if via.Status != direct.Status || string(viaBody) != string(directBody) || !strings.Contains(string(viaBody), "fake provider error") {
			t.Fatalf("%s: via gateway %s %q, direct %s %q", tc.gwPath, via.Status, viaBody, direct.Status, directBody)
		}
		for _, h := range []http.Header{direct.Header, via.Header} {
			h.Del("Date")
			h.Del("X-Request-Id") // the fake provider makes a new one per call
		}
		if !equalHeaders(direct.Header, via.Header) {
			t.Fatalf("%s: headers via gateway %v, direct %v", tc.gwPath, via.Header, direct.Header)
		}
		ev := e.sink.wait(t, i+1)[i]
		if ev.Type != event.TypeUsage || ev.StatusCode != direct.StatusCode || ev.Usage != (usage.Tokens{}) {
			t.Fatalf("%s: event %+v", tc.gwPath, ev)
		}
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		if strings.Join(va, "\x00") != strings.Join(b[k], "\x00") {
			return false
		}
	}
	return true
}

// TestAcceptEncodingDroppedOnlyOnMeteredRoutes: metered calls ask the
// provider for identity encoding (the body is read for usage); unmetered
// ones (model lists) keep the caller's Accept-Encoding, like every other
// header.
func TestAcceptEncodingDroppedOnlyOnMeteredRoutes(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	for _, tc := range []struct {
		method, path, upstreamPath, want string
	}{
		{"GET", "/v1/openai/models", "/v1/models", "gzip, br"},
		{"POST", "/v1/openai/chat/completions", "/v1/chat/completions", ""},
	} {
		req, _ := http.NewRequest(tc.method, e.gw.URL+tc.path, strings.NewReader(`{"model":"gpt-4o","messages":[]}`))
		req.Header.Set("x-spendgate-key", goodKey)
		req.Header.Set("Accept-Encoding", "gzip, br")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		last, _ := e.fake.Last()
		if last.Method != tc.method || last.Path != tc.upstreamPath {
			t.Fatalf("%s %s reached the provider as %s %s", tc.method, tc.path, last.Method, last.Path)
		}
		if got := last.Header.Get("Accept-Encoding"); got != tc.want {
			t.Fatalf("%s %s: provider got Accept-Encoding %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
	// Only the chat completion is metered: an event for the model list would
	// have been queued before it.
	if evs := e.sink.wait(t, 1); len(evs) != 1 || evs[0].Operation != "chat.completions" {
		t.Fatalf("events %+v", evs)
	}
}

// TestStalledUploadTimesOut: a caller that stops sending its body gets a 408
// in the provider's shape once RequestBodyTimeout passes, instead of holding
// the connection forever; nothing reaches the provider.
func TestStalledUploadTimesOut(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *Config) { c.RequestBodyTimeout = 300 * time.Millisecond }, nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.gw.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second)) // a bound, not a wait
	_, err = io.WriteString(conn, "POST /v1/openai/chat/completions HTTP/1.1\r\nHost: gw\r\nX-Spendgate-Key: "+goodKey+
		"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\":\"gpt-4o\",")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled upload: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || gjson.GetBytes(b, "error.code").Str != "request_body_incomplete" {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if n := len(e.fake.Requests()); n != 0 {
		t.Fatalf("%d calls reached the provider", n)
	}
}

// TestStreamCompleteWhenClientLeavesAfterTheEnd: the SDKs hang up as soon as
// they read [DONE]. Here the provider holds its connection open after [DONE]
// until the caller has gone, so the gateway never reads the provider's EOF:
// the stream still ended as the protocol says, and the event is complete.
func TestStreamCompleteWhenClientLeavesAfterTheEnd(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: {\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\n"+
			"data: {\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the gateway cancels once its caller left
	}))
	defer up.Close()
	e := setup(t, func(c *Config) { c.Upstreams["openai"] = up.URL + "/v1" }, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := e.openai(goodKey)
	stream := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	var total int64
	for stream.Next() {
		total += stream.Current().Usage.TotalTokens
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	_ = stream.Close()
	cancel() // the SDK saw [DONE]; make sure the connection goes
	ev := e.sink.wait(t, 1)[0]
	if !ev.Complete || ev.Usage != (usage.Tokens{Input: 5, Output: 2}) {
		t.Fatalf("event %+v", ev)
	}
}
