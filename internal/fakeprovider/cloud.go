package fakeprovider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The cloud surfaces: Azure OpenAI (/openai/deployments/{d}/... and
// /openai/v1/...), AWS Bedrock Runtime (/model/{id}/invoke,
// invoke-with-response-stream, converse, converse-stream; streams in the
// AWS event-stream framing, encoded by the AWS SDK's own encoder) and
// Vertex AI (publishers/google models as Gemini, publishers/anthropic
// models' rawPredict / streamRawPredict as Anthropic Messages).
//
// With Config.AzureAPIKey set, Azure calls must carry it in api-key (401
// otherwise); with Config.AWSCredentials set, Bedrock calls must carry a
// valid SigV4 signature over their method, path, query, signed headers and
// body (403 otherwise, as AWS answers), which proves a proxy changed none.

// cloud serves the cloud surfaces; false when path is none of them.
func (s *Server) cloud(w http.ResponseWriter, r *http.Request, k knobs, body []byte, path string) bool {
	switch {
	case strings.Contains(path, "/openai/deployments/") || strings.Contains(path, "/openai/v1/"):
		if s.cfg.AzureAPIKey != "" && r.Header.Get("api-key") != s.cfg.AzureAPIKey {
			writeJSON(w, 401, map[string]any{"error": map[string]any{"code": "401", "message": "Access denied due to invalid subscription key or wrong API endpoint."}})
			return true
		}
		return false // the OpenAI handlers answer, as Azure does
	case strings.Contains(path, "/model/"):
		// Called directly, a Bedrock path may still carry the gateway's
		// /v1/bedrock/<region> prefix (demo traffic against the fake).
		_, rest, _ := strings.Cut(path, "/model/")
		s.bedrock(w, r, k, body, "/model/"+rest)
		return true
	case strings.Contains(path, "/publishers/anthropic/models/"):
		m := path[strings.Index(path, "/publishers/anthropic/models/")+len("/publishers/anthropic/models/"):]
		model, method, _ := strings.Cut(m, ":")
		if k.status != 0 {
			writeJSON(w, k.status, map[string]any{"type": "error", "error": map[string]any{"type": "api_error", "message": "fake provider error"}})
			return true
		}
		s.anthropic(w, r, k, strings.Replace(model, "@", "-", 1), method == "streamRawPredict")
		return true
	}
	return false
}

func (s *Server) bedrock(w http.ResponseWriter, r *http.Request, k knobs, body []byte, path string) {
	w.Header().Del("x-request-id") // AWS sends its own
	w.Header().Set("x-amzn-RequestId", "fake-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if s.cfg.AWSCredentials != nil {
		if err := verifySigV4(r, body, *s.cfg.AWSCredentials); err != "" {
			awsError(w, 403, "InvalidSignatureException", err)
			return
		}
	}
	if k.status != 0 {
		awsError(w, k.status, "InternalServerException", "fake provider error")
		return
	}
	rest := strings.TrimPrefix(path, "/model/")
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		awsError(w, 404, "UnknownOperationException", "no such operation")
		return
	}
	model, action := rest[:i], rest[i+1:]
	family := model
	if j := strings.LastIndexByte(family, '/'); j >= 0 { // an ARN
		family = family[j+1:]
	}
	for _, geo := range []string{"us.", "eu.", "apac.", "global."} {
		family = strings.TrimPrefix(family, geo)
	}
	family, _, _ = strings.Cut(family, ".")
	input := k.prompt - k.cached - k.cacheWrite
	usage := map[string]any{"inputTokens": input, "outputTokens": k.completion, "totalTokens": k.prompt + k.completion,
		"cacheReadInputTokens": k.cached, "cacheWriteInputTokens": k.cacheWrite}
	switch action {
	case "converse":
		writeJSON(w, 200, map[string]any{"output": map[string]any{"message": map[string]any{"role": "assistant",
			"content": []any{map[string]any{"text": strings.Join(words(k.chunks), "")}}}},
			"stopReason": "end_turn", "usage": usage, "metrics": map[string]any{"latencyMs": 42}})
	case "converse-stream":
		es := s.startEventStream(w)
		es.event("messageStart", map[string]any{"role": "assistant"})
		for n, word := range words(k.chunks) {
			if n > 0 && !wait(r, k.chunkDelay) {
				s.streamsCut.Add(1)
				return
			}
			es.event("contentBlockDelta", map[string]any{"contentBlockIndex": 0, "delta": map[string]any{"text": word}})
		}
		es.event("contentBlockStop", map[string]any{"contentBlockIndex": 0})
		es.event("messageStop", map[string]any{"stopReason": "end_turn"})
		es.event("metadata", map[string]any{"usage": usage, "metrics": map[string]any{"latencyMs": 42}})
	case "invoke":
		h := w.Header()
		h.Set("X-Amzn-Bedrock-Input-Token-Count", strconv.Itoa(input))
		h.Set("X-Amzn-Bedrock-Output-Token-Count", strconv.Itoa(k.completion))
		if k.cached > 0 || k.cacheWrite > 0 {
			h.Set("X-Amzn-Bedrock-Cache-Read-Input-Token-Count", strconv.Itoa(k.cached))
			h.Set("X-Amzn-Bedrock-Cache-Write-Input-Token-Count", strconv.Itoa(k.cacheWrite))
		}
		text := strings.Join(words(k.chunks), "")
		switch family {
		case "anthropic":
			writeJSON(w, 200, map[string]any{"id": "msg_bdrk_fake", "type": "message", "role": "assistant", "model": "claude-fake",
				"content": []any{map[string]any{"type": "text", "text": text}}, "stop_reason": "end_turn", "stop_sequence": nil,
				"usage": map[string]any{"input_tokens": input, "cache_creation_input_tokens": k.cacheWrite, "cache_read_input_tokens": k.cached, "output_tokens": k.completion}})
		case "meta":
			writeJSON(w, 200, map[string]any{"generation": text, "prompt_token_count": input, "generation_token_count": k.completion, "stop_reason": "stop"})
		case "amazon":
			writeJSON(w, 200, map[string]any{"output": map[string]any{"message": map[string]any{"role": "assistant", "content": []any{map[string]any{"text": text}}}},
				"stopReason": "end_turn", "usage": map[string]any{"inputTokens": input, "outputTokens": k.completion, "totalTokens": input + k.completion,
					"cacheReadInputTokenCount": k.cached, "cacheWriteInputTokenCount": k.cacheWrite}})
		default: // Mistral's completion models: no usage in the body, only the headers
			writeJSON(w, 200, map[string]any{"outputs": []any{map[string]any{"text": text, "stop_reason": "stop"}}})
		}
	case "invoke-with-response-stream":
		es := s.startEventStream(w)
		metrics := map[string]any{"inputTokenCount": input, "outputTokenCount": k.completion, "invocationLatency": 42, "firstByteLatency": 7,
			"cacheReadInputTokenCount": k.cached, "cacheWriteInputTokenCount": k.cacheWrite}
		if family == "anthropic" {
			es.chunk(map[string]any{"type": "message_start", "message": map[string]any{"id": "msg_bdrk_fake", "type": "message", "role": "assistant",
				"model": "claude-fake", "content": []any{}, "usage": map[string]any{"input_tokens": input, "cache_creation_input_tokens": k.cacheWrite,
					"cache_read_input_tokens": k.cached, "output_tokens": 1}}})
		}
		for n, word := range words(k.chunks) {
			if n > 0 && !wait(r, k.chunkDelay) {
				s.streamsCut.Add(1)
				return
			}
			if family == "anthropic" {
				es.chunk(map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": "text_delta", "text": word}})
			} else {
				es.chunk(map[string]any{"generation": word, "generation_token_count": n + 1, "stop_reason": nil})
			}
		}
		if family == "anthropic" {
			es.chunk(map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": "end_turn"}, "usage": map[string]any{"output_tokens": k.completion}})
			es.chunk(map[string]any{"type": "message_stop", "amazon-bedrock-invocationMetrics": metrics})
		} else {
			es.chunk(map[string]any{"generation": "", "stop_reason": "stop", "amazon-bedrock-invocationMetrics": metrics})
		}
	default:
		awsError(w, 404, "UnknownOperationException", "no such operation: "+action)
	}
}

func awsError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("X-Amzn-ErrorType", typ)
	writeJSON(w, status, map[string]any{"message": msg})
}

// eventStream writes AWS event-stream messages.
type eventStream struct {
	sse
	enc *eventstream.Encoder
}

func (s *Server) startEventStream(w http.ResponseWriter) eventStream {
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(200)
	f, _ := w.(http.Flusher)
	return eventStream{sse{w, f, &s.streamEvents}, eventstream.NewEncoder()}
}

// event writes one ConverseStream event.
func (e eventStream) event(typ string, v any) {
	payload, _ := json.Marshal(v)
	msg := eventstream.Message{Payload: payload}
	msg.Headers.Set(":event-type", eventstream.StringValue(typ))
	msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	msg.Headers.Set(":message-type", eventstream.StringValue("event"))
	_ = e.enc.Encode(e.w, msg)
	e.flush()
}

// chunk writes one InvokeModelWithResponseStream chunk: the model family's
// event, base64-encoded in {"bytes":...}.
func (e eventStream) chunk(v any) {
	b, _ := json.Marshal(v)
	e.event("chunk", map[string]any{"bytes": base64.StdEncoding.EncodeToString(b)})
}

// verifySigV4 recomputes the request's SigV4 signature with the AWS SDK's
// signer over exactly the headers it says it signed, the path, query and
// the body as received; "" when it matches.
func verifySigV4(r *http.Request, body []byte, creds aws.Credentials) string {
	authz := r.Header.Get("Authorization")
	if !strings.HasPrefix(authz, "AWS4-HMAC-SHA256 ") {
		return "missing SigV4 Authorization header"
	}
	field := func(name string) string {
		_, v, _ := strings.Cut(authz, name+"=")
		v, _, _ = strings.Cut(v, ",")
		return strings.TrimSpace(v)
	}
	scope := strings.Split(field("Credential"), "/") // AKID/date/region/service/aws4_request
	if len(scope) != 5 || scope[0] != creds.AccessKeyID {
		return "unknown credential scope " + field("Credential")
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "bad X-Amz-Date"
	}
	clone, _ := http.NewRequestWithContext(context.Background(), r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	clone.Header = http.Header{}
	clone.ContentLength = 0
	for _, h := range strings.Split(field("SignedHeaders"), ";") {
		switch h {
		case "host":
		case "content-length":
			clone.ContentLength = int64(len(body))
		default:
			clone.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, clone, hex.EncodeToString(sum[:]), scope[3], scope[2], at); err != nil {
		return err.Error()
	}
	if clone.Header.Get("Authorization") != authz {
		return "The request signature we calculated does not match the signature you provided."
	}
	return ""
}
