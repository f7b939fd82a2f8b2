package meter

import (
	"encoding/base64"

	"github.com/tidwall/gjson"

	"github.com/spendgate/spendgate/usage"
)

// readBedrockBody reads a whole Bedrock JSON answer: Converse's usage,
// the usage object of the Anthropic, Amazon Nova and OpenAI-style families,
// or the top-level counts of Meta Llama and Amazon Titan. (Every family's
// InvokeModel answer also carries its counts in headers: Header.)
func (m *ResponseMeter) readBedrockBody(r gjson.Result) {
	if usage.IsBedrockUsage(r) {
		m.noteUsage(r)
	}
	m.noteUsage(usage.Get(r, "usage"))
	m.noteID(usage.Get(r, "id"))
}

// eventStreamMessage handles one message of a Bedrock stream:
//   - InvokeModelWithResponseStream: "chunk" events whose payload is
//     {"bytes":"<base64 of the model family's own stream chunk>"}; the
//     last chunk carries amazon-bedrock-invocationMetrics, the call's
//     token counts whatever the family;
//   - ConverseStream: a "metadata" event with the call's usage, after
//     messageStop;
//   - exceptions (:message-type exception), which end the stream
//     incomplete.
func (m *ResponseMeter) eventStreamMessage(msg *EventStreamMessage) {
	if msg.MessageType != "event" {
		m.res.ParseError = "bedrock stream " + msg.MessageType + ": " + msg.ExceptionType
		return
	}
	if msg.Truncated || len(msg.Payload) == 0 {
		return
	}
	switch msg.EventType {
	case "chunk":
		r := parseInPlace(msg.Payload)
		b64 := usage.Get(r, "bytes")
		if b64.Type != gjson.String {
			return
		}
		decoded, err := base64.StdEncoding.AppendDecode(m.scratch[:0], []byte(b64.Str))
		m.scratch = decoded[:0]
		if err != nil {
			m.res.ParseError = "bedrock stream chunk: " + err.Error()
			return
		}
		m.bedrockChunk(decoded)
	case "metadata":
		r := parseInPlace(msg.Payload)
		m.noteUsage(usage.Get(r, "usage"))
		m.res.Complete = true
	}
}

// bedrockChunk reads one model-family chunk of InvokeModelWithResponseStream.
func (m *ResponseMeter) bedrockChunk(c []byte) {
	r := parseInPlace(c)
	if !r.IsObject() {
		return
	}
	if metrics := usage.Get(r, "amazon-bedrock-invocationMetrics"); metrics.IsObject() {
		m.noteUsage(metrics)
		m.res.Complete = true
	}
	switch usage.Get(r, "type").Str {
	case "message_start": // Anthropic
		msg := usage.Get(r, "message")
		m.noteID(usage.Get(msg, "id"))
		m.noteUsage(usage.Get(msg, "usage"))
	case "message_delta":
		m.noteUsage(usage.Get(r, "usage"))
	}
	// Amazon Nova: {"metadata":{"usage":{...}}}.
	m.noteUsage(usage.Get(r, "metadata.usage"))
}
