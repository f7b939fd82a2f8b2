package meter

import (
	"strings"

	"github.com/tidwall/gjson"
)

// RequestInfo is what the core reads from a request body.
type RequestInfo struct {
	Model  string
	Stream bool
	// MaxTokens is the output cap the caller set (max_tokens,
	// max_completion_tokens, max_output_tokens, generationConfig.maxOutputTokens);
	// 0 when absent. Budget reservations estimate from it.
	MaxTokens   int64
	ServiceTier string
	// StreamUsageRequested is true when an OpenAI-style stream already asks
	// for usage (stream_options.include_usage=true).
	StreamUsageRequested bool
}

// ParseRequest reads the model, stream flag, output cap and service tier.
// Bodies that are not JSON (multipart audio uploads) yield what the route and
// query know.
func ParseRequest(rt *Route, body []byte) RequestInfo {
	var info RequestInfo
	if rt.Provider != nil && rt.Provider.Style == StyleGemini && rt.PathModel != "" {
		info.Model = rt.PathModel
		info.Stream = rt.Operation == OpStreamGenerateContent
		if len(body) > 0 && gjson.ValidBytes(body) {
			info.MaxTokens = gjson.GetBytes(body, "generationConfig.maxOutputTokens").Int()
		}
		return info
	}
	if len(body) == 0 {
		return info
	}
	if body[0] != '{' && body[0] != ' ' && body[0] != '\n' && body[0] != '\t' && body[0] != '\r' {
		info.Model = multipartField(body, "model")
		return info
	}
	res := gjson.GetManyBytes(body, "model", "stream", "max_tokens", "max_completion_tokens", "max_output_tokens",
		"service_tier", "stream_options.include_usage")
	info.Model = res[0].String()
	info.Stream = res[1].Bool()
	for _, r := range res[2:5] {
		if n := r.Int(); n > 0 {
			info.MaxTokens = n
			break
		}
	}
	info.ServiceTier = res[5].String()
	info.StreamUsageRequested = res[6].Bool()
	return info
}

// multipartField finds a small form field in a multipart body (audio
// transcription uploads put the model there) without parsing the upload.
func multipartField(body []byte, name string) string {
	needle := `name="` + name + `"`
	s := string(body[:min(len(body), 64<<10)])
	i := strings.Index(s, needle)
	if i < 0 {
		return ""
	}
	s = s[i+len(needle):]
	j := strings.Index(s, "\r\n\r\n")
	if j < 0 {
		return ""
	}
	s = s[j+4:]
	if k := strings.Index(s, "\r\n"); k >= 0 {
		return strings.TrimSpace(s[:k])
	}
	return ""
}

// NeedsStreamUsageInjection reports whether an OpenAI-style streaming request
// must be asked for its usage: without stream_options.include_usage the
// provider sends no usage in the stream and the call could not be costed.
func NeedsStreamUsageInjection(rt *Route, info *RequestInfo) bool {
	if rt.Provider == nil || rt.Provider.Style != StyleOpenAI || !info.Stream || info.StreamUsageRequested {
		return false
	}
	return rt.Operation == OpChatCompletions || rt.Operation == OpCompletions
}

// InjectStreamUsage returns body with stream_options.include_usage set to true.
// Everything else stays byte for byte: the option is spliced in (or an
// include_usage:false flipped) without re-encoding the body. ok is false when
// the body is not a JSON object.
func InjectStreamUsage(body []byte) (out []byte, ok bool) {
	if !gjson.ValidBytes(body) {
		return body, false
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return body, false
	}
	opts := root.Get("stream_options")
	switch {
	case opts.Exists() && opts.IsObject():
		inc := opts.Get("include_usage")
		if inc.Exists() {
			if inc.Type == gjson.True {
				return body, true
			}
			// gjson indexes are offsets into the whole body.
			return splice(body, inc.Index, inc.Index+len(inc.Raw), "true"), true
		}
		// Insert as the first member of stream_options.
		brace := opts.Index
		sep := ","
		if emptyObject(opts) {
			sep = ""
		}
		return splice(body, brace+1, brace+1, `"include_usage":true`+sep), true
	case opts.Exists():
		// stream_options: null or another scalar: replace it.
		return splice(body, opts.Index, opts.Index+len(opts.Raw), `{"include_usage":true}`), true
	}
	first := firstNonSpace(body)
	sep := ","
	if emptyObject(root) {
		sep = ""
	}
	return splice(body, first+1, first+1, `"stream_options":{"include_usage":true}`+sep), true
}

func emptyObject(r gjson.Result) bool {
	empty := true
	r.ForEach(func(_, _ gjson.Result) bool {
		empty = false
		return false
	})
	return empty
}

func firstNonSpace(b []byte) int {
	for i, c := range b {
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
			return i
		}
	}
	return 0
}

func splice(b []byte, from, to int, insert string) []byte {
	out := make([]byte, 0, len(b)-(to-from)+len(insert))
	out = append(out, b[:from]...)
	out = append(out, insert...)
	return append(out, b[to:]...)
}
