package meter

import (
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/spendgate/spendgate/usage"
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
	// Images is the number of images an image operation asks for (n, default
	// 1); 0 on other operations.
	Images int64
	// InputCharacters is the length in characters of the text a speech
	// (text-to-speech) request reads out; 0 on other operations.
	InputCharacters int64
}

// ParseRequest reads the model, stream flag, output cap, service tier and,
// for image and speech operations, the billed units the request names.
// Bodies that are not JSON (multipart audio and image uploads) yield what the
// route, the query and the small form fields know.
//
// A key that appears twice in the body counts with its last value, as in the
// JSON parsers providers run (Python, Node, Go): the model checked against
// the key's policy is the model the provider will use.
func ParseRequest(rt *Route, body []byte) RequestInfo {
	info := parseRequest(rt, body)
	// The cloud providers name the model (or the deployment standing for
	// it) in the path; Azure ignores a body's model on deployment routes.
	switch {
	case rt.PathModel != "":
		info.Model = rt.PathModel
	case rt.Deployment != "":
		info.Model = rt.Deployment
	}
	if rt.PathStream {
		info.Stream = true
	}
	return info
}

func parseRequest(rt *Route, body []byte) RequestInfo {
	var info RequestInfo
	if rt.IsImageOperation() {
		info.Images = 1
	}
	if rt.Style == StyleGemini && rt.PathModel != "" {
		info.Model = rt.PathModel
		info.Stream = rt.Operation == OpStreamGenerateContent
		if len(body) > 0 {
			info.MaxTokens = gjson.GetBytes(body, "generationConfig.maxOutputTokens").Int()
		}
		return info
	}
	first := firstNonSpace(body)
	if first >= len(body) {
		return info
	}
	if body[first] != '{' {
		info.Model = multipartField(body, "model")
		if n, err := strconv.ParseInt(multipartField(body, "n"), 10, 64); err == nil && n > 0 && info.Images > 0 {
			info.Images = n
		}
		return info
	}
	// One pass over the top-level members; the body is read in place (it
	// can be megabytes of prompt), only the few strings kept are copied.
	// The scan's state is one object, not variables the callback captures:
	// TinyGo puts each captured variable on the heap.
	sc := requestScan{rt: rt, info: info}
	gjson.Parse(unsafe.String(unsafe.SliceData(body), len(body))).ForEach(sc.member)
	info = sc.info
	for _, n := range [...]int64{sc.maxTokens, sc.maxCompletion, sc.maxOutput} {
		if n > 0 {
			info.MaxTokens = n
			break
		}
	}
	return info
}

// requestScan is parseRequest's pass over a JSON body's members.
type requestScan struct {
	rt                                  *Route
	info                                RequestInfo
	maxTokens, maxCompletion, maxOutput int64
}

func (s *requestScan) member(k, v gjson.Result) bool {
	switch k.Str {
	case "model":
		s.info.Model = strings.Clone(v.String())
	case "stream":
		s.info.Stream = v.Type == gjson.True
	case "max_tokens":
		s.maxTokens = v.Int()
	case "max_completion_tokens":
		s.maxCompletion = v.Int()
	case "max_output_tokens":
		s.maxOutput = v.Int()
	case "max_gen_len", "max_new_tokens": // Bedrock: Meta Llama, Amazon Nova
		s.maxOutput = v.Int()
	case "inferenceConfig": // Bedrock Converse (maxTokens), Nova InvokeModel (max_new_tokens)
		if n := usage.Get(v, "maxTokens").Int(); n > 0 {
			s.maxOutput = n
		} else if n := usage.Get(v, "max_new_tokens").Int(); n > 0 {
			s.maxOutput = n
		}
	case "textGenerationConfig": // Bedrock: Amazon Titan
		s.maxOutput = usage.Get(v, "maxTokenCount").Int()
	case "service_tier":
		s.info.ServiceTier = strings.Clone(v.String())
	case "stream_options":
		s.info.StreamUsageRequested = false
		v.ForEach(func(ok, ov gjson.Result) bool {
			if ok.Str == "include_usage" {
				s.info.StreamUsageRequested = ov.Type == gjson.True
			}
			return true
		})
	case "n":
		if n := v.Int(); n > 0 && s.info.Images > 0 {
			s.info.Images = n
		}
	case "input":
		if s.rt.Operation == OpAudioSpeech && v.Type == gjson.String {
			s.info.InputCharacters = int64(utf8.RuneCountInString(v.Str))
		}
	}
	return true
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
	if rt.Provider == nil || rt.Style != StyleOpenAI || !info.Stream || info.StreamUsageRequested {
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
	first := firstNonSpace(body)
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return body, false
	}
	// Offsets of every value below are offsets into body.
	root.Index = first
	// The provider reads the last stream_options (and the last include_usage
	// in it) when a key repeats, so that is the one to set.
	opts := lastMember(root, "stream_options")
	switch {
	case opts.Exists() && opts.IsObject():
		inc := lastMember(opts, "include_usage")
		if inc.Exists() {
			if inc.Type == gjson.True {
				return body, true
			}
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
	sep := ","
	if emptyObject(root) {
		sep = ""
	}
	return splice(body, first+1, first+1, `"stream_options":{"include_usage":true}`+sep), true
}

// lastMember returns the value of the last member named key of object obj,
// with its Index (offset) relative to obj's.
func lastMember(obj gjson.Result, key string) gjson.Result {
	var found gjson.Result
	obj.ForEach(func(k, v gjson.Result) bool {
		if k.Str == key {
			found = v
		}
		return true
	})
	return found
}

func emptyObject(r gjson.Result) bool {
	empty := true
	r.ForEach(func(_, _ gjson.Result) bool {
		empty = false
		return false
	})
	return empty
}

// firstNonSpace returns the offset of the first byte that is not JSON
// whitespace, len(b) when there is none.
func firstNonSpace(b []byte) int {
	for i, c := range b {
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
			return i
		}
	}
	return len(b)
}

func splice(b []byte, from, to int, insert string) []byte {
	out := make([]byte, 0, len(b)-(to-from)+len(insert))
	out = append(out, b[:from]...)
	out = append(out, insert...)
	return append(out, b[to:]...)
}
