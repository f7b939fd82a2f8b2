package meter

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// TestEventStreamAWSVectors runs the AWS SDK's own event-stream test
// vectors through the decoder, fed whole and byte by byte: positive ones
// decode, the corrupted ones are refused by a checksum.
func TestEventStreamAWSVectors(t *testing.T) {
	for _, kind := range []string{"positive", "negative"} {
		files, _ := filepath.Glob("testdata/eventstream/encoded/" + kind + "/*")
		if len(files) < 4 {
			t.Fatalf("%s vectors missing", kind)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, step := range []int{len(b), 1, 7} {
				var d EventStreamDecoder
				n := 0
				for i := 0; i < len(b); i += step {
					d.Write(b[i:min(i+step, len(b))], func(*EventStreamMessage) { n++ })
				}
				switch {
				case kind == "positive" && (d.Err() != nil || n != 1 || d.Mid()):
					t.Errorf("%s (step %d): %d messages, err %v", f, step, n, d.Err())
				case kind == "negative" && (d.Err() == nil || n != 0):
					t.Errorf("%s (step %d): accepted (%d messages)", f, step, n)
				}
			}
		}
	}
}

// TestEventStreamAgreesWithAWSEncoder: messages the AWS SDK encodes decode
// to their headers and payload, at every split; the decoder's own encoder
// (used by the fake provider) writes the same bytes as the SDK's.
func TestEventStreamAgreesWithAWSEncoder(t *testing.T) {
	var stream bytes.Buffer
	enc := eventstream.NewEncoder()
	payloads := []string{`{"bytes":"eyJ0eXBlIjoibWVzc2FnZV9zdG9wIn0="}`, ``, `{"usage":{"inputTokens":3}}`}
	for i, p := range payloads {
		msg := eventstream.Message{Payload: []byte(p)}
		msg.Headers.Set(":event-type", eventstream.StringValue([]string{"chunk", "messageStop", "metadata"}[i]))
		msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
		msg.Headers.Set(":message-type", eventstream.StringValue("event"))
		if err := enc.Encode(&stream, msg); err != nil {
			t.Fatal(err)
		}
	}
	b := stream.Bytes()
	var own []byte
	for i, p := range payloads {
		own = AppendEventStreamMessage(own, [][2]string{{":event-type", []string{"chunk", "messageStop", "metadata"}[i]},
			{":content-type", "application/json"}, {":message-type", "event"}}, []byte(p))
	}
	if !bytes.Equal(own, b) {
		t.Fatalf("AppendEventStreamMessage differs from the AWS encoder:\n%x\n%x", own, b)
	}
	for i := 0; i <= len(b); i++ {
		var d EventStreamDecoder
		var got []string
		emit := func(m *EventStreamMessage) { got = append(got, m.MessageType+"/"+m.EventType+"/"+string(m.Payload)) }
		d.Write(b[:i], emit)
		d.Write(b[i:], emit)
		if d.Err() != nil || len(got) != 3 || got[0] != "event/chunk/"+payloads[0] || got[2] != "event/metadata/"+payloads[2] {
			t.Fatalf("split %d: %v %v", i, got, d.Err())
		}
	}
}

// bedrockStreams are the Bedrock stream captures: the event payloads of
// the shapes AWS documents (InvokeModelWithResponseStream chunks wrap the
// model family's own stream event in base64; ConverseStream sends its
// events as they are), framed by the AWS SDK's encoder into
// testdata/bedrock/<name>.bin. SPENDGATE_UPDATE_CAPTURES=1 rewrites them.
var bedrockStreams = map[string][][2]string{
	"invoke_stream_anthropic": {
		{"chunk", `{"type":"message_start","message":{"id":"msg_bdrk_01Q1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":14,"cache_creation_input_tokens":0,"cache_read_input_tokens":1200,"output_tokens":1}}}`},
		{"chunk", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`},
		{"chunk", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}`},
		{"chunk", `{"type":"content_block_stop","index":0}`},
		{"chunk", `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":19}}`},
		{"chunk", `{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":14,"outputTokenCount":19,"invocationLatency":1410,"firstByteLatency":520,"cacheReadInputTokenCount":1200,"cacheWriteInputTokenCount":0}}`},
	},
	"invoke_stream_meta": {
		{"chunk", `{"generation":"Paris","prompt_token_count":24,"generation_token_count":1,"stop_reason":null}`},
		{"chunk", `{"generation":".","prompt_token_count":null,"generation_token_count":2,"stop_reason":"stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":24,"outputTokenCount":2,"invocationLatency":410,"firstByteLatency":230}}`},
	},
	"converse_stream": {
		{"messageStart", `{"p":"abcdefghijk","role":"assistant"}`},
		{"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hello"},"p":"abcdefghij"}`},
		{"contentBlockStop", `{"contentBlockIndex":0,"p":"abcdefgh"}`},
		{"messageStop", `{"p":"abcdefghijklmnopqrstu","stopReason":"end_turn"}`},
		{"metadata", `{"metrics":{"latencyMs":812},"p":"abcdefghi","usage":{"cacheReadInputTokens":0,"cacheWriteInputTokens":2048,"inputTokens":31,"outputTokens":9,"totalTokens":2088}}`},
	},
}

func TestBedrockStreamCapturesFresh(t *testing.T) {
	for name, events := range bedrockStreams {
		var stream bytes.Buffer
		enc := eventstream.NewEncoder()
		for _, ev := range events {
			payload := ev[1]
			if ev[0] == "chunk" {
				b, _ := json.Marshal(map[string]string{"bytes": base64.StdEncoding.EncodeToString([]byte(ev[1])), "p": "abcd"})
				payload = string(b)
			}
			msg := eventstream.Message{Payload: []byte(payload)}
			msg.Headers.Set(":event-type", eventstream.StringValue(ev[0]))
			msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
			msg.Headers.Set(":message-type", eventstream.StringValue("event"))
			if err := enc.Encode(&stream, msg); err != nil {
				t.Fatal(err)
			}
		}
		path := "testdata/bedrock/" + name + ".bin"
		if os.Getenv("SPENDGATE_UPDATE_CAPTURES") != "" {
			if err := os.WriteFile(path, stream.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if have, err := os.ReadFile(path); err != nil || !bytes.Equal(have, stream.Bytes()) {
			t.Errorf("%s is stale or missing (SPENDGATE_UPDATE_CAPTURES=1 go test -run TestBedrockStreamCapturesFresh ./meter): %v", path, err)
		}
	}
}

// TestBedrockStreamException: an exception message ends the stream
// incomplete, with the exception named.
func TestBedrockStreamException(t *testing.T) {
	rt, _ := Resolve("bedrock-runtime.us-east-1.amazonaws.com", "/model/anthropic.claude-3-haiku-20240307-v1:0/converse-stream")
	m := NewResponseMeter(&rt, false)
	m.Header("Content-Type", "application/vnd.amazon.eventstream")
	b := AppendEventStreamMessage(nil, [][2]string{{":event-type", "messageStart"}, {":message-type", "event"}}, []byte(`{"role":"assistant"}`))
	b = AppendEventStreamMessage(b, [][2]string{{":exception-type", "throttlingException"}, {":message-type", "exception"}}, []byte(`{"message":"Too many tokens"}`))
	m.Write(b)
	if r := m.Finish(); r.Complete || r.UsageFound || r.ParseError != "bedrock stream exception: throttlingException" {
		t.Fatalf("%+v", r)
	}
	// A corrupted checksum stops the decoder: incomplete, error named.
	m.Reset(&rt, false)
	m.Header("content-type", "application/vnd.amazon.eventstream")
	b = AppendEventStreamMessage(nil, [][2]string{{":event-type", "metadata"}, {":message-type", "event"}}, []byte(`{"usage":{"inputTokens":3,"outputTokens":4}}`))
	b[len(b)-1] ^= 1
	m.Write(b)
	if r := m.Finish(); r.Complete || r.UsageFound || r.ParseError != ErrEventStreamMessageCRC.Error() {
		t.Fatalf("corrupted: %+v", r)
	}
}

func FuzzEventStreamDecoder(f *testing.F) {
	files, _ := filepath.Glob("testdata/eventstream/encoded/*/*")
	more, _ := filepath.Glob("testdata/bedrock/*.bin")
	for _, p := range append(files, more...) {
		b, _ := os.ReadFile(p)
		f.Add(b, uint8(5))
	}
	f.Fuzz(func(t *testing.T, b []byte, step uint8) {
		// Any split gives the same messages; nothing panics.
		var whole []string
		var d EventStreamDecoder
		d.Write(b, func(m *EventStreamMessage) { whole = append(whole, m.EventType+string(m.Payload)) })
		s := int(step%64) + 1
		var parts []string
		var d2 EventStreamDecoder
		for i := 0; i < len(b); i += s {
			d2.Write(b[i:min(i+s, len(b))], func(m *EventStreamMessage) { parts = append(parts, m.EventType+string(m.Payload)) })
		}
		if len(whole) != len(parts) || (d.Err() == nil) != (d2.Err() == nil) {
			t.Fatalf("split %d: %d vs %d messages, %v vs %v", s, len(whole), len(parts), d.Err(), d2.Err())
		}
		for i := range whole {
			if whole[i] != parts[i] {
				t.Fatalf("message %d differs", i)
			}
		}
	})
}
