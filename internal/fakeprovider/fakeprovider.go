// Package fakeprovider is an HTTP server that speaks the OpenAI, Anthropic and
// Gemini wire formats (JSON and SSE) with configurable token counts, latency,
// chunking and errors. Tests and demos point the gateway at it instead of a
// real provider; it records every request so tests can check pass-through.
//
// Per-request knobs (headers; the gateway forwards them untouched):
//
//	x-fake-prompt-tokens       total prompt/input tokens (default Config.PromptTokens)
//	x-fake-cached-tokens       of which read from cache (OpenAI subset; Anthropic cache_read, reported beside input)
//	x-fake-cache-write-tokens  Anthropic cache_creation_input_tokens (split 5m)
//	x-fake-completion-tokens   output tokens
//	x-fake-reasoning-tokens    of which reasoning (OpenAI subset; Gemini thoughts, beside)
//	x-fake-chunks              number of content chunks in a stream
//	x-fake-chunk-delay         delay between stream chunks (Go duration, "20ms"; or x-fake-chunk-delay-ms: 20)
//	x-fake-latency             delay before the response headers (Go duration; or x-fake-latency-ms)
//	x-fake-status              answer with this HTTP status and a provider-shaped error body
//
// Gemini streamGenerateContent answers in SSE with ?alt=sse and otherwise, as
// the real API does, with a JSON array whose elements are sent one by one.
//
// Delays end early when the caller goes away; StreamsCut counts streams that
// ended so, which lets tests prove a client cancel reached the provider.
// StreamEvents counts stream events written, which lets tests prove a proxy
// delivered an event before the provider sent the next.
package fakeprovider

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Config sets defaults for every request.
type Config struct {
	PromptTokens, CompletionTokens, Chunks int
	Latency, ChunkDelay                    time.Duration
	// KeepRequests bounds how many requests are recorded (0: 1000).
	KeepRequests int
	// AzureAPIKey, when set, is the api-key Azure OpenAI calls must carry.
	AzureAPIKey string
	// AWSCredentials, when set, are the credentials whose SigV4 signature
	// Bedrock calls must carry (cloud.go).
	AWSCredentials *aws.Credentials
}

// Request is one recorded request.
type Request struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// Server is the fake provider.
type Server struct {
	cfg          Config
	mu           sync.Mutex
	reqs         []Request
	streamsCut   atomic.Int64
	streamEvents atomic.Int64
	// admin serves the providers' admin report endpoints (admin.go).
	admin     *admin
	adminOnce sync.Once
}

// StreamsCut counts streams that stopped because the caller went away.
func (s *Server) StreamsCut() int64 { return s.streamsCut.Load() }

// StreamEvents counts the stream events (SSE events, Gemini array elements)
// written and flushed so far, over all requests.
func (s *Server) StreamEvents() int64 { return s.streamEvents.Load() }

// New returns a fake provider; zero fields of cfg get defaults.
func New(cfg Config) *Server {
	if cfg.PromptTokens == 0 {
		cfg.PromptTokens = 12
	}
	if cfg.CompletionTokens == 0 {
		cfg.CompletionTokens = 7
	}
	if cfg.Chunks == 0 {
		cfg.Chunks = 3
	}
	if cfg.KeepRequests == 0 {
		cfg.KeepRequests = 1000
	}
	return &Server{cfg: cfg}
}

// Requests returns the recorded requests, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Last returns the most recent request.
func (s *Server) Last() (Request, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) == 0 {
		return Request{}, false
	}
	return s.reqs[len(s.reqs)-1], true
}

type knobs struct {
	prompt, cached, cacheWrite, completion, reasoning, chunks int
	chunkDelay, latency                                       time.Duration
	status                                                    int
}

func (s *Server) knobs(r *http.Request) knobs {
	n := func(h string, def int) int {
		if v, err := strconv.Atoi(r.Header.Get(h)); err == nil && v >= 0 {
			return v
		}
		return def
	}
	dur := func(h string, def time.Duration) time.Duration {
		if d, err := time.ParseDuration(r.Header.Get(h)); err == nil && d >= 0 {
			return d
		}
		if v, err := strconv.Atoi(r.Header.Get(h + "-ms")); err == nil && v >= 0 {
			return time.Duration(v) * time.Millisecond
		}
		return def
	}
	return knobs{
		prompt: n("x-fake-prompt-tokens", s.cfg.PromptTokens), cached: n("x-fake-cached-tokens", 0),
		cacheWrite: n("x-fake-cache-write-tokens", 0), completion: n("x-fake-completion-tokens", s.cfg.CompletionTokens),
		reasoning: n("x-fake-reasoning-tokens", 0), chunks: max(1, n("x-fake-chunks", s.cfg.Chunks)),
		chunkDelay: dur("x-fake-chunk-delay", s.cfg.ChunkDelay), latency: dur("x-fake-latency", s.cfg.Latency),
		status: n("x-fake-status", 0),
	}
}

// wait sleeps d unless the caller leaves first; false means it left.
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return r.Context().Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	s.mu.Lock()
	if len(s.reqs) >= s.cfg.KeepRequests {
		s.reqs = s.reqs[1:]
	}
	s.reqs = append(s.reqs, Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
	s.mu.Unlock()

	if s.serveAdmin(w, r) {
		return
	}
	k := s.knobs(r)
	if !wait(r, k.latency) {
		return
	}
	var req map[string]any
	_ = json.Unmarshal(body, &req)
	model, _ := req["model"].(string)
	stream, _ := req["stream"].(bool)
	path := r.URL.Path
	w.Header().Set("x-request-id", "req_fake_"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if s.cloud(w, r, k, body, path) {
		return
	}
	if model == "" {
		// Azure's deployment routes name the model in the path only.
		if _, rest, ok := strings.Cut(path, "/deployments/"); ok {
			model, _, _ = strings.Cut(rest, "/")
		}
	}
	switch {
	case strings.Contains(path, "/models/") && strings.Contains(path, ":"):
		s.gemini(w, r, k, path)
	case strings.HasSuffix(path, "/messages"):
		if k.status != 0 {
			writeJSON(w, k.status, map[string]any{"type": "error", "error": map[string]any{"type": "api_error", "message": "fake provider error"}})
			return
		}
		s.anthropic(w, r, k, model, stream)
	case strings.HasSuffix(path, "/chat/completions"):
		if s.openAIError(w, k) {
			return
		}
		opts, _ := req["stream_options"].(map[string]any)
		includeUsage, _ := opts["include_usage"].(bool)
		s.chat(w, r, k, model, stream, includeUsage)
	case strings.HasSuffix(path, "/responses"):
		if s.openAIError(w, k) {
			return
		}
		s.responses(w, k, model, stream)
	case strings.HasSuffix(path, "/embeddings"):
		if s.openAIError(w, k) {
			return
		}
		writeJSON(w, 200, map[string]any{"object": "list", "model": model,
			"data":  []any{map[string]any{"object": "embedding", "index": 0, "embedding": []float64{0.01, -0.02, 0.03}}},
			"usage": map[string]any{"prompt_tokens": k.prompt, "total_tokens": k.prompt}})
	default:
		writeJSON(w, 404, map[string]any{"error": map[string]any{"message": "fake provider: no route " + path, "type": "invalid_request_error", "code": "not_found"}})
	}
}

func (s *Server) openAIError(w http.ResponseWriter, k knobs) bool {
	if k.status == 0 {
		return false
	}
	writeJSON(w, k.status, map[string]any{"error": map[string]any{"message": "fake provider error", "type": "server_error", "param": nil, "code": "fake_error"}})
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type sse struct {
	w    http.ResponseWriter
	f    http.Flusher
	sent *atomic.Int64
}

func (s *Server) startSSE(w http.ResponseWriter) sse {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(200)
	f, _ := w.(http.Flusher)
	return sse{w, f, &s.streamEvents}
}

func (s sse) event(name string, v any) {
	b, _ := json.Marshal(v)
	if name != "" {
		fmt.Fprintf(s.w, "event: %s\n", name)
	}
	fmt.Fprintf(s.w, "data: %s\n\n", b)
	s.flush()
}

func (s sse) raw(line string) {
	fmt.Fprint(s.w, line)
	s.flush()
}

// flush sends what was written; the event is counted first, so a caller
// that holds it never sees a count that misses it.
func (s sse) flush() {
	s.sent.Add(1)
	if s.f != nil {
		s.f.Flush()
	}
}

func words(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("word%d ", i)
	}
	return out
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request, k knobs, model string, stream, includeUsage bool) {
	id := "chatcmpl-fake" + strconv.FormatInt(time.Now().UnixNano(), 36)
	usage := map[string]any{
		"prompt_tokens": k.prompt, "completion_tokens": k.completion, "total_tokens": k.prompt + k.completion,
		"prompt_tokens_details":     map[string]any{"cached_tokens": k.cached, "audio_tokens": 0},
		"completion_tokens_details": map[string]any{"reasoning_tokens": k.reasoning, "audio_tokens": 0},
	}
	s.tallyServed("openai", model, k.prompt, k.cached, k.completion)
	if !stream {
		writeJSON(w, 200, map[string]any{"id": id, "object": "chat.completion", "created": time.Now().Unix(), "model": model,
			"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": strings.Join(words(k.chunks), "")}, "finish_reason": "stop"}},
			"usage":   usage})
		return
	}
	out := s.startSSE(w)
	for i, word := range words(k.chunks) {
		if i > 0 && !wait(r, k.chunkDelay) {
			s.streamsCut.Add(1)
			return
		}
		chunk := map[string]any{"id": id, "object": "chat.completion.chunk", "created": time.Now().Unix(), "model": model,
			"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"content": word}, "finish_reason": nil}}}
		if includeUsage {
			chunk["usage"] = nil
		}
		out.event("", chunk)
	}
	out.event("", map[string]any{"id": id, "object": "chat.completion.chunk", "created": time.Now().Unix(), "model": model,
		"choices": []any{map[string]any{"index": 0, "delta": map[string]any{}, "finish_reason": "stop"}}})
	if includeUsage {
		out.event("", map[string]any{"id": id, "object": "chat.completion.chunk", "created": time.Now().Unix(), "model": model,
			"choices": []any{}, "usage": usage})
	}
	out.raw("data: [DONE]\n\n")
}

func (s *Server) responses(w http.ResponseWriter, k knobs, model string, stream bool) {
	resp := map[string]any{"id": "resp_fake", "object": "response", "status": "completed", "model": model,
		"output": []any{map[string]any{"type": "message", "id": "msg_fake", "status": "completed", "role": "assistant",
			"content": []any{map[string]any{"type": "output_text", "text": "hi", "annotations": []any{}}}}},
		"usage": map[string]any{"input_tokens": k.prompt, "input_tokens_details": map[string]any{"cached_tokens": k.cached},
			"output_tokens": k.completion, "output_tokens_details": map[string]any{"reasoning_tokens": k.reasoning},
			"total_tokens": k.prompt + k.completion}}
	if !stream {
		writeJSON(w, 200, resp)
		return
	}
	out := s.startSSE(w)
	out.event("response.created", map[string]any{"type": "response.created", "response": map[string]any{"id": "resp_fake", "model": model, "status": "in_progress"}})
	out.event("response.output_text.delta", map[string]any{"type": "response.output_text.delta", "delta": "hi"})
	out.event("response.completed", map[string]any{"type": "response.completed", "response": resp})
}

func (s *Server) anthropic(w http.ResponseWriter, r *http.Request, k knobs, model string, stream bool) {
	input := k.prompt
	usage := map[string]any{"input_tokens": input, "cache_creation_input_tokens": k.cacheWrite, "cache_read_input_tokens": k.cached,
		"cache_creation": map[string]any{"ephemeral_5m_input_tokens": k.cacheWrite, "ephemeral_1h_input_tokens": 0}, "output_tokens": k.completion}
	id := "msg_fake" + strconv.FormatInt(time.Now().UnixNano(), 36)
	s.tallyServed("anthropic", model, input+k.cached+k.cacheWrite, k.cached, k.completion)
	if !stream {
		writeJSON(w, 200, map[string]any{"id": id, "type": "message", "role": "assistant", "model": model,
			"content":     []any{map[string]any{"type": "text", "text": strings.Join(words(k.chunks), "")}},
			"stop_reason": "end_turn", "stop_sequence": nil, "usage": usage})
		return
	}
	out := s.startSSE(w)
	startUsage := map[string]any{"input_tokens": input, "cache_creation_input_tokens": k.cacheWrite, "cache_read_input_tokens": k.cached,
		"cache_creation": map[string]any{"ephemeral_5m_input_tokens": k.cacheWrite, "ephemeral_1h_input_tokens": 0}, "output_tokens": 1}
	out.event("message_start", map[string]any{"type": "message_start", "message": map[string]any{"id": id, "type": "message", "role": "assistant",
		"content": []any{}, "model": model, "stop_reason": nil, "stop_sequence": nil, "usage": startUsage}})
	out.event("content_block_start", map[string]any{"type": "content_block_start", "index": 0, "content_block": map[string]any{"type": "text", "text": ""}})
	for i, word := range words(k.chunks) {
		if i > 0 && !wait(r, k.chunkDelay) {
			s.streamsCut.Add(1)
			return
		}
		out.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": "text_delta", "text": word}})
	}
	out.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	out.event("message_delta", map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": k.completion}})
	out.event("message_stop", map[string]any{"type": "message_stop"})
}

func (s *Server) gemini(w http.ResponseWriter, r *http.Request, k knobs, path string) {
	if k.status != 0 {
		writeJSON(w, k.status, map[string]any{"error": map[string]any{"code": k.status, "message": "fake provider error", "status": "INTERNAL"}})
		return
	}
	model := path[strings.LastIndex(path, "/models/")+len("/models/"):]
	model, method, _ := strings.Cut(model, ":")
	usage := func(candidates int) map[string]any {
		return map[string]any{"promptTokenCount": k.prompt, "candidatesTokenCount": candidates, "cachedContentTokenCount": k.cached,
			"thoughtsTokenCount": k.reasoning, "totalTokenCount": k.prompt + candidates + k.reasoning}
	}
	if method != "streamGenerateContent" {
		writeJSON(w, 200, map[string]any{"candidates": []any{map[string]any{"content": map[string]any{"parts": []any{map[string]any{"text": "hi"}}, "role": "model"}, "finishReason": "STOP", "index": 0}},
			"usageMetadata": usage(k.completion), "modelVersion": model, "responseId": "fake-gemini"})
		return
	}
	// With ?alt=sse chunks are SSE events; without, the elements of a JSON
	// array written as they come ("[{...}\r\n,{...}]", as Google sends it).
	asSSE := r.URL.Query().Get("alt") == "sse"
	var out sse
	if asSSE {
		out = s.startSSE(w)
	} else {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(200)
		f, _ := w.(http.Flusher)
		out = sse{w, f, &s.streamEvents}
	}
	per := max(1, k.completion/k.chunks)
	for i := 0; i < k.chunks; i++ {
		if i > 0 && !wait(r, k.chunkDelay) {
			s.streamsCut.Add(1)
			return
		}
		c := map[string]any{"content": map[string]any{"parts": []any{map[string]any{"text": "w "}}, "role": "model"}, "index": 0}
		n := per * (i + 1)
		if i == k.chunks-1 {
			c["finishReason"] = "STOP"
			n = k.completion
		}
		chunk := map[string]any{"candidates": []any{c}, "usageMetadata": usage(n), "modelVersion": model, "responseId": "fake-gemini"}
		if asSSE {
			out.event("", chunk)
			continue
		}
		b, _ := json.Marshal(chunk)
		sep := "["
		if i > 0 {
			sep = "\r\n,"
		}
		end := ""
		if i == k.chunks-1 {
			end = "]"
		}
		out.raw(sep + string(b) + end)
	}
}
