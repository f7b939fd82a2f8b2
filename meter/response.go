package meter

import (
	"bytes"
	"strconv"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/spendgate/spendgate/money"
	"github.com/spendgate/spendgate/usage"
)

// Bounds of what the meter keeps. A response body is never held whole unless
// it fits in headCap+tailCap; SSE lines longer than maxLine are skipped (usage
// events are small).
const (
	headCap    = 8 << 10
	tailCap    = 64 << 10
	maxLine    = 256 << 10
	maxRawUsed = 4 << 10
)

// Result is what a response revealed.
type Result struct {
	Tokens usage.Tokens
	// UsageFound is false when no usage was seen (an error body, a stream cut
	// before its usage event).
	UsageFound bool
	// Complete is true when the response ended as the protocol says it should
	// ([DONE], message_stop, response.completed, a Gemini finishReason, or a
	// whole JSON body).
	Complete    bool
	ServedModel string
	ResponseID  string
	// RawUsage is the last provider usage object seen (bounded), for audit.
	RawUsage string
	// ParseError describes a usage object that could not be used.
	ParseError string
}

// ResponseMeter extracts usage from a response fed to it chunk by chunk. It
// copies at most a bounded head and tail of JSON bodies and one SSE line at a
// time. Not safe for concurrent use.
type ResponseMeter struct {
	style     APIStyle
	operation string
	sse       bool

	// JSON mode.
	head  []byte
	tail  []byte // ring of the last tailCap bytes
	tpos  int
	total int

	// SSE mode.
	line      []byte
	skipping  bool
	eventName []byte
	data      []byte
	hasData   bool
	// finished is set when an OpenAI-style chunk carried a finish_reason.
	finished bool

	// rawUsage is the last usage object seen, copied into Result.RawUsage
	// by Finish.
	rawUsage []byte

	// Bedrock: the AWS event-stream framing of its streams, the scratch
	// its base64 chunks decode into, and the token counts of the
	// x-amzn-bedrock-*-token-count response headers.
	eventStream bool
	es          EventStreamDecoder
	esEmit      func(*EventStreamMessage)
	scratch     []byte
	hdrTokens   usage.Tokens
	hdrFound    bool

	res Result
}

// NewResponseMeter returns a meter for a response of the given route. sse
// selects the stream parser (Content-Type text/event-stream).
func NewResponseMeter(rt *Route, sse bool) *ResponseMeter {
	return &ResponseMeter{sse: sse, operation: rt.Operation, style: rt.Style}
}

// Reset prepares the meter for another response, keeping its buffers.
func (m *ResponseMeter) Reset(rt *Route, sse bool) {
	m.es.Reset()
	*m = ResponseMeter{head: m.head[:0], tail: m.tail[:0], line: m.line[:0], data: m.data[:0], eventName: m.eventName[:0],
		rawUsage: m.rawUsage[:0], scratch: m.scratch[:0], es: m.es, sse: sse, operation: rt.Operation, style: rt.Style}
}

// Header takes one response header (any case). Bedrock answers with its
// event-stream framing (content-type application/vnd.amazon.eventstream)
// and reports InvokeModel's tokens in x-amzn-bedrock-*-token-count
// headers, whatever the model family's body says; other providers' headers
// are ignored. Call it before Write.
func (m *ResponseMeter) Header(name, value string) {
	if m.style != StyleBedrock {
		return
	}
	var dst *int64
	switch strings.ToLower(name) {
	case "content-type":
		m.eventStream = strings.HasPrefix(strings.ToLower(value), "application/vnd.amazon.eventstream")
		if m.eventStream {
			m.sse = false
		}
		return
	case "x-amzn-bedrock-input-token-count":
		dst = &m.hdrTokens.Input
	case "x-amzn-bedrock-output-token-count":
		dst = &m.hdrTokens.Output
	case "x-amzn-bedrock-cache-read-input-token-count":
		dst = &m.hdrTokens.CachedInput
	case "x-amzn-bedrock-cache-write-input-token-count":
		dst = &m.hdrTokens.CacheWrite5m
	default:
		return
	}
	n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
	if err != nil || n < 0 || n > usage.MaxCount {
		m.res.ParseError = "usage: header " + name + " is not a non-negative integer: " + value
		return
	}
	*dst = n
	m.hdrFound = true
}

// Write feeds the next chunk of the response body.
func (m *ResponseMeter) Write(p []byte) {
	if m.eventStream {
		if m.esEmit == nil {
			m.esEmit = m.eventStreamMessage
		}
		m.es.Write(p, m.esEmit)
		return
	}
	if m.sse {
		m.writeSSE(p)
		return
	}
	m.total += len(p)
	if room := headCap - len(m.head); room > 0 {
		n := min(room, len(p))
		m.head = append(m.head, p[:n]...)
		p = p[n:]
	}
	for len(p) > 0 {
		if len(m.tail) < tailCap {
			n := min(tailCap-len(m.tail), len(p))
			m.tail = append(m.tail, p[:n]...)
			p = p[n:]
			continue
		}
		n := copy(m.tail[m.tpos:], p)
		m.tpos = (m.tpos + n) % tailCap
		p = p[n:]
	}
}

// Finish ends the response and returns what it revealed.
func (m *ResponseMeter) Finish() Result {
	m.finish()
	if m.hdrFound {
		m.res.Tokens = usage.Merge(m.res.Tokens, m.hdrTokens)
		m.res.UsageFound = true
	}
	if len(m.rawUsage) > 0 {
		m.res.RawUsage = string(m.rawUsage)
	}
	return m.res
}

// FinishCut ends a response whose body did not arrive to its end (the caller
// or the provider went away first) and returns what it revealed. A JSON body
// is then incomplete, whatever it looked like (a cut Gemini array stream
// carries usage in every element). An SSE stream whose terminal event
// ([DONE], message_stop, response.completed, ...) arrived is complete: the
// SDKs hang up as soon as they read it, which can cancel the read of the
// upstream's end of body. Both data planes call this, so they agree.
func (m *ResponseMeter) FinishCut() Result {
	r := m.Finish()
	if !m.sse && !m.eventStream {
		r.Complete = false
	}
	return r
}

func (m *ResponseMeter) finish() {
	if m.eventStream {
		if err := m.es.Err(); err != nil {
			m.res.ParseError = err.Error()
			m.res.Complete = false
		}
		return
	}
	if m.sse {
		// A final event without its blank line still counts.
		if len(m.line) > 0 && !m.skipping {
			m.processLine(m.line)
			m.line = m.line[:0]
		}
		if m.hasData {
			m.dispatch()
		}
		// Providers that end OpenAI-style streams without [DONE] (Perplexity
		// among them) are complete once a finish_reason and the usage arrived.
		if m.finished && m.res.UsageFound {
			m.res.Complete = true
		}
		return
	}
	m.finishJSON()
}

func (m *ResponseMeter) tailBytes() []byte {
	if len(m.tail) < tailCap || m.tpos == 0 {
		return m.tail
	}
	out := make([]byte, 0, tailCap)
	out = append(out, m.tail[m.tpos:]...)
	return append(out, m.tail[:m.tpos]...)
}

func (m *ResponseMeter) finishJSON() {
	var body []byte
	whole := m.total <= headCap+tailCap
	if whole {
		body = append(m.head, m.tailBytes()...) //nolint:gocritic // into head's spare capacity on purpose: no copy; m.head itself is unchanged
	}
	if whole && gjson.ValidBytes(body) {
		m.res.Complete = true
		m.readJSONBody(parseInPlace(body))
		return
	}
	// Too big to keep (a long completion, embeddings of a large batch): the
	// model and id sit at the start, usage at the end.
	m.readHead(m.head)
	m.readTail(m.tailBytes())
	// A body too large to keep is judged complete when its usage (which
	// providers write last) arrived; a cut body of any size is not.
	m.res.Complete = !whole && m.res.UsageFound
}

// readJSONBody reads a whole JSON response in one pass over its top-level
// members.
func (m *ResponseMeter) readJSONBody(r gjson.Result) {
	if m.style == StyleBedrock {
		m.readBedrockBody(r)
		return
	}
	if m.style == StyleGemini && r.IsArray() {
		// streamGenerateContent without alt=sse answers with a JSON array of
		// the chunks an SSE stream would carry; usage is cumulative.
		r.ForEach(func(_, chunk gjson.Result) bool {
			m.readJSONBody(chunk)
			return true
		})
		return
	}
	// The pass's state is one object, not variables the callback captures:
	// TinyGo puts each captured variable on the heap.
	sc := bodyScan{m: m, modelKey: "model", idKey: "id", usageKey: "usage"}
	if m.style == StyleGemini {
		sc.modelKey, sc.idKey, sc.usageKey = "modelVersion", "responseId", "usageMetadata"
	}
	r.ForEach(sc.member)
	m.noteDuration(sc.duration)
}

// bodyScan is readJSONBody's pass over a JSON body's members.
type bodyScan struct {
	m                         *ResponseMeter
	modelKey, idKey, usageKey string
	duration                  gjson.Result
}

func (s *bodyScan) member(k, v gjson.Result) bool {
	switch k.Str {
	case s.usageKey:
		s.m.noteUsage(v)
	case s.modelKey:
		s.m.noteModel(v)
	case s.idKey:
		s.m.noteID(v)
	case "response":
		// Responses API events wrap the response object.
		if s.m.operation == OpResponses && v.IsObject() {
			s.m.readJSONBody(v)
		}
	case "duration":
		s.duration = v
	}
	return true
}

// readHead takes model and id (and a transcription's duration) from the
// beginning of a truncated JSON body.
func (m *ResponseMeter) readHead(head []byte) {
	modelKey, idKey := `"model"`, `"id"`
	if m.style == StyleGemini {
		modelKey, idKey = `"modelVersion"`, `"responseId"`
	}
	if i := bytes.Index(head, []byte(modelKey)); i >= 0 {
		m.noteModel(valueAfterKey(head[i+len(modelKey):]))
	}
	if i := bytes.Index(head, []byte(idKey)); i >= 0 {
		m.noteID(valueAfterKey(head[i+len(idKey):]))
	}
	if isTranscription(m.operation) {
		if i := bytes.Index(head, []byte(`"duration"`)); i >= 0 {
			m.noteDuration(valueAfterKey(head[i+len(`"duration"`):]))
		}
	}
}

// readTail finds the last usage object in the tail of a truncated JSON body,
// and the model and id where providers write them last (OpenAI embeddings
// end with "model", Gemini with "modelVersion" and "responseId").
func (m *ResponseMeter) readTail(tail []byte) {
	modelKey, idKey, usageKey := `"model"`, `"id"`, `"usage"`
	if m.style == StyleGemini {
		modelKey, idKey, usageKey = `"modelVersion"`, `"responseId"`, `"usageMetadata"`
	}
	if i := bytes.LastIndex(tail, []byte(modelKey)); i >= 0 {
		m.noteModel(valueAfterKey(tail[i+len(modelKey):]))
	}
	if m.style == StyleGemini {
		if i := bytes.LastIndex(tail, []byte(idKey)); i >= 0 {
			m.noteID(valueAfterKey(tail[i+len(idKey):]))
		}
	}
	if i := bytes.LastIndex(tail, []byte(usageKey)); i >= 0 {
		m.noteUsage(valueAfterKey(tail[i+len(usageKey):]))
	}
}

func isTranscription(op string) bool {
	return op == OpAudioTranscriptions || op == OpAudioTranslations
}

// noteDuration takes billed seconds from a transcription's verbose_json
// "duration" when no usage object reported them (Groq's Whisper answers carry
// none): rounded to the nearest second, half up, as usage.ParseOpenAI rounds
// {"type":"duration","seconds":...}.
func (m *ResponseMeter) noteDuration(v gjson.Result) {
	if !isTranscription(m.operation) || v.Type != gjson.Number || m.res.Tokens.Seconds > 0 {
		return
	}
	sec, err := money.ParseScaled(v.Raw, 0)
	if err != nil || sec <= 0 || sec > usage.MaxCount {
		return
	}
	m.res.Tokens.Seconds = sec
	m.res.UsageFound = true
}

// parseInPlace parses b without copying it. Results point into b, so every
// string the meter keeps is cloned (noteModel, noteID, noteUsage): b is a
// buffer reused for the next response.
func parseInPlace(b []byte) gjson.Result {
	return gjson.Parse(unsafe.String(unsafe.SliceData(b), len(b)))
}

// valueAfterKey parses the JSON value after `"key"` and its colon.
func valueAfterKey(b []byte) gjson.Result {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	if i >= len(b) || b[i] != ':' {
		return gjson.Result{}
	}
	b = b[i+1:]
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	if len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		// gjson.Parse takes the rest of the input as the raw value; cut the
		// value out so trailing JSON of the enclosing object is not part of it.
		end := compositeEnd(b)
		if end < 0 {
			return gjson.Result{}
		}
		b = b[:end]
	}
	return parseInPlace(b)
}

// compositeEnd returns the length of the JSON object or array at the start of
// b, or -1 when it does not end within b.
func compositeEnd(b []byte) int {
	depth := 0
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

func (m *ResponseMeter) noteModel(v gjson.Result) {
	if v.Type == gjson.String && v.Str != "" && m.res.ServedModel == "" {
		m.res.ServedModel = strings.Clone(v.Str)
	}
}

func (m *ResponseMeter) noteID(v gjson.Result) {
	if v.Type == gjson.String && v.Str != "" && m.res.ResponseID == "" {
		m.res.ResponseID = strings.Clone(v.Str)
	}
}

// noteUsage merges a usage object. Streams repeat cumulative counts, so the
// field-wise maximum is the final figure.
func (m *ResponseMeter) noteUsage(v gjson.Result) {
	if !v.IsObject() {
		return
	}
	// The parsers only read raw: no need to copy it.
	raw := unsafe.Slice(unsafe.StringData(v.Raw), len(v.Raw))
	var t usage.Tokens
	var err error
	switch m.style {
	case StyleAnthropic:
		t, err = usage.ParseAnthropic(raw)
	case StyleGemini:
		t, err = usage.ParseGemini(raw)
	case StyleBedrock:
		t, err = usage.ParseBedrock(raw)
	default:
		t, err = usage.ParseOpenAI(raw)
	}
	if err != nil {
		m.res.ParseError = err.Error()
		return
	}
	m.res.Tokens = usage.Merge(m.res.Tokens, t)
	m.res.UsageFound = true
	if len(v.Raw) <= maxRawUsed {
		// Kept in a reused buffer, made a string once in Finish: streams
		// that repeat their usage on every chunk (Gemini) allocate nothing.
		m.rawUsage = append(m.rawUsage[:0], v.Raw...)
	}
}

// --- SSE ---

func (m *ResponseMeter) writeSSE(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			m.appendLine(p)
			return
		}
		m.appendLine(p[:i])
		p = p[i+1:]
		if !m.skipping {
			line := m.line
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			m.processLine(line)
		}
		m.line = m.line[:0]
		m.skipping = false
	}
}

func (m *ResponseMeter) appendLine(p []byte) {
	if m.skipping {
		return
	}
	if len(m.line)+len(p) > maxLine {
		m.skipping = true
		m.line = m.line[:0]
		return
	}
	m.line = append(m.line, p...)
}

func (m *ResponseMeter) processLine(line []byte) {
	if len(line) == 0 {
		if m.hasData {
			m.dispatch()
		}
		m.eventName = m.eventName[:0]
		return
	}
	if line[0] == ':' {
		return // comment / keep-alive
	}
	field, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		field, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	// Compared as bytes: under TinyGo, string(field) in a switch copies.
	switch {
	case isField(field, "data"):
		if m.hasData {
			m.data = append(m.data, '\n')
		}
		m.data = append(m.data, value...)
		m.hasData = true
	case isField(field, "event"):
		m.eventName = append(m.eventName[:0], value...)
	}
}

// isField reports b == name without converting b (TinyGo copies
// string(b) even in a comparison).
func isField(b []byte, name string) bool {
	if len(b) != len(name) {
		return false
	}
	for i := range b {
		if b[i] != name[i] {
			return false
		}
	}
	return true
}

// index is bytes.Index without its bytes.Equal, which TinyGo compiles to
// string(a) == string(b), two copies at every place the first two bytes
// match: the SSE path looks for keys in every event.
func index(s, sep []byte) int {
	n := len(sep)
	if n == 0 {
		return 0
	}
	for i := 0; i+n <= len(s); i++ {
		j := bytes.IndexByte(s[i:len(s)-n+1], sep[0])
		if j < 0 {
			return -1
		}
		i += j
		k := 1
		for k < n && s[i+k] == sep[k] {
			k++
		}
		if k == n {
			return i
		}
	}
	return -1
}

var (
	usageKey    = []byte(`"usage`) // matches "usage" and "usageMetadata"
	finishKey   = []byte(`"finishReason"`)
	typeMsgStop = []byte(`"message_stop"`)
)

// dispatch handles one complete SSE event. Only events that can carry usage,
// the model or the end marker are parsed; content deltas are skipped with a
// substring check, so the common chunk costs no JSON parsing.
func (m *ResponseMeter) dispatch() {
	data := m.data
	m.data = m.data[:0]
	m.hasData = false
	if isField(data, "[DONE]") {
		m.res.Complete = true
		return
	}
	if len(data) == 0 || data[0] != '{' {
		return
	}
	needModel := m.res.ServedModel == ""
	hasUsage := hasUsageObject(data)
	switch m.style {
	case StyleAnthropic:
		if index(data, typeMsgStop) >= 0 || isField(m.eventName, "message_stop") {
			m.res.Complete = true
			return
		}
		if !hasUsage && !needModel {
			return
		}
		r := parseInPlace(data)
		if usage.Get(r, "type").Str == "message_start" {
			msg := usage.Get(r, "message")
			m.noteModel(usage.Get(msg, "model"))
			m.noteID(usage.Get(msg, "id"))
			m.noteUsage(usage.Get(msg, "usage"))
			return
		}
		m.noteUsage(usage.Get(r, "usage"))
	case StyleGemini:
		if !hasUsage && !needModel && index(data, finishKey) < 0 {
			return
		}
		r := parseInPlace(data)
		m.noteUsage(usage.Get(r, "usageMetadata"))
		m.noteModel(usage.Get(r, "modelVersion"))
		m.noteID(usage.Get(r, "responseId"))
		if index(data, finishKey) >= 0 {
			m.res.Complete = true
		}
	default:
		if m.operation == OpResponses {
			if !hasUsage && !needModel {
				return
			}
			r := parseInPlace(data)
			resp := usage.Get(r, "response")
			m.noteModel(usage.Get(resp, "model"))
			m.noteID(usage.Get(resp, "id"))
			switch usage.Get(r, "type").Str {
			case "response.completed", "response.incomplete", "response.failed":
				// Each terminal event carries the final usage: an
				// incomplete response (max_output_tokens reached) is billed
				// for what it produced.
				m.noteUsage(usage.Get(resp, "usage"))
				m.res.Complete = true
			}
			return
		}
		if !m.finished && hasFinishReason(data) {
			m.finished = true
		}
		if !hasUsage && !needModel {
			return
		}
		r := parseInPlace(data)
		m.noteModel(usage.Get(r, "model"))
		m.noteID(usage.Get(r, "id"))
		if u := usage.Get(r, "usage"); u.IsObject() {
			m.noteUsage(u)
		} else {
			// Groq streams report usage in x_groq.usage of the last chunk.
			m.noteUsage(usage.Get(r, "x_groq.usage"))
		}
	}
}

var finishReasonKey = []byte(`"finish_reason"`)

// hasUsageObject reports whether a chunk has a key starting with "usage"
// ("usage", "usageMetadata") whose value is an object: OpenAI streams send
// "usage":null on every content chunk, which needs no parsing.
func hasUsageObject(data []byte) bool {
	for {
		i := index(data, usageKey)
		if i < 0 {
			return false
		}
		data = data[i+len(usageKey):]
		j := bytes.IndexByte(data, '"')
		if j < 0 {
			return false
		}
		data = data[j+1:]
		k := 0
		for k < len(data) && (data[k] == ' ' || data[k] == ':' || data[k] == '\t' || data[k] == '\n' || data[k] == '\r') {
			k++
		}
		if k < len(data) && data[k] == '{' {
			return true
		}
	}
}

// hasFinishReason reports whether a chunk carries a string finish_reason
// (not null), without parsing the chunk.
func hasFinishReason(data []byte) bool {
	for {
		i := index(data, finishReasonKey)
		if i < 0 {
			return false
		}
		data = data[i+len(finishReasonKey):]
		j := 0
		for j < len(data) && (data[j] == ' ' || data[j] == ':' || data[j] == '\t') {
			j++
		}
		if j < len(data) && data[j] == '"' {
			return true
		}
	}
}
