package meter

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// AWS event-stream framing (application/vnd.amazon.eventstream), which
// Bedrock's InvokeModelWithResponseStream and ConverseStream answer with.
// A message is
//
//	total length (uint32 BE) | headers length (uint32 BE) | prelude CRC32 (of the 8 bytes before)
//	headers | payload | message CRC32 (of every byte before it)
//
// and a header is name length (1 byte), name, value type (1 byte), value.
// Both CRCs are IEEE CRC-32.
const (
	esPreludeLen  = 12
	esTrailerLen  = 4
	esMinMessage  = esPreludeLen + esTrailerLen
	esMaxMessage  = 16 << 20  // the format's limit
	esMaxHeaders  = 128 << 10 // the format's limit
	esMaxPayload  = maxLine   // larger payloads are checked, not kept
	esStringValue = 7
)

// Errors of the event-stream decoder; after one, the decoder ignores the
// rest of the stream (the framing is lost).
var (
	ErrEventStreamPreludeCRC = errors.New("eventstream: prelude checksum mismatch")
	ErrEventStreamMessageCRC = errors.New("eventstream: message checksum mismatch")
	ErrEventStreamLength     = errors.New("eventstream: invalid message or headers length")
	ErrEventStreamHeader     = errors.New("eventstream: malformed header")
)

// EventStreamMessage is one decoded message. Its slices are valid until the
// decoder is written to again.
type EventStreamMessage struct {
	// MessageType is the :message-type header: "event", "exception" or "error".
	MessageType string
	// EventType is :event-type ("chunk", "metadata", "messageStop", ...),
	// ExceptionType :exception-type on exceptions.
	EventType, ExceptionType string
	Payload                  []byte
	// Truncated is set when the payload was larger than the decoder keeps
	// (its checksum was still verified); Payload is then empty.
	Truncated bool
}

// EventStreamDecoder decodes event-stream messages from a byte stream fed
// in chunks of any size, verifying both checksums. It holds at most one
// message's headers and a bounded payload. TinyGo-safe. The zero value is
// ready to use.
type EventStreamDecoder struct {
	prelude  [esPreludeLen]byte
	nPrelude int
	trailer  [esTrailerLen]byte
	nTrailer int

	total, headersLen uint32
	bodyLeft          uint32 // headers + payload bytes still to read
	crc               uint32 // running CRC of the current message
	body              []byte // headers + the kept payload
	truncated         bool
	err               error
}

// Err is the error that stopped decoding, if any.
func (d *EventStreamDecoder) Err() error { return d.err }

// Mid reports whether a message has begun and not ended (a stream cut
// there lost it).
func (d *EventStreamDecoder) Mid() bool { return d.err == nil && d.nPrelude > 0 }

// Reset prepares the decoder for another stream, keeping its buffer.
func (d *EventStreamDecoder) Reset() {
	*d = EventStreamDecoder{body: d.body[:0]}
}

// Write decodes p, calling emit for every complete, verified message.
func (d *EventStreamDecoder) Write(p []byte, emit func(*EventStreamMessage)) {
	for len(p) > 0 && d.err == nil {
		switch {
		case d.nPrelude < esPreludeLen:
			n := copy(d.prelude[d.nPrelude:], p)
			d.nPrelude += n
			p = p[n:]
			if d.nPrelude == esPreludeLen {
				d.startMessage()
			}
		case d.bodyLeft > 0:
			n := min(int(d.bodyLeft), len(p))
			d.crc = crc32.Update(d.crc, crc32.IEEETable, p[:n])
			keep := min(n, max(0, int(d.headersLen)+esMaxPayload-len(d.body)))
			if keep < n {
				d.truncated = true
			}
			d.body = append(d.body, p[:keep]...)
			d.bodyLeft -= uint32(n)
			p = p[n:]
		default:
			n := copy(d.trailer[d.nTrailer:], p)
			d.nTrailer += n
			p = p[n:]
			if d.nTrailer == esTrailerLen {
				d.endMessage(emit)
			}
		}
	}
}

func (d *EventStreamDecoder) startMessage() {
	d.total = binary.BigEndian.Uint32(d.prelude[0:4])
	d.headersLen = binary.BigEndian.Uint32(d.prelude[4:8])
	if crc32.ChecksumIEEE(d.prelude[:8]) != binary.BigEndian.Uint32(d.prelude[8:12]) {
		d.err = ErrEventStreamPreludeCRC
		return
	}
	if d.total < esMinMessage || d.total > esMaxMessage || d.headersLen > esMaxHeaders || d.headersLen > d.total-esMinMessage {
		d.err = ErrEventStreamLength
		return
	}
	d.bodyLeft = d.total - esMinMessage
	d.crc = crc32.Update(0, crc32.IEEETable, d.prelude[:])
	d.body = d.body[:0]
	d.truncated = false
	d.nTrailer = 0
}

func (d *EventStreamDecoder) endMessage(emit func(*EventStreamMessage)) {
	if d.crc != binary.BigEndian.Uint32(d.trailer[:]) {
		d.err = ErrEventStreamMessageCRC
		return
	}
	d.nPrelude = 0
	var msg EventStreamMessage
	if err := parseEventStreamHeaders(d.body[:d.headersLen], &msg); err != nil {
		d.err = err
		return
	}
	msg.Truncated = d.truncated
	if !d.truncated {
		msg.Payload = d.body[d.headersLen:]
	}
	emit(&msg)
}

// parseEventStreamHeaders reads the string headers the meter needs and
// steps over every other value type.
func parseEventStreamHeaders(h []byte, msg *EventStreamMessage) error {
	for len(h) > 0 {
		nameLen := int(h[0])
		if nameLen == 0 || len(h) < 1+nameLen+1 {
			return ErrEventStreamHeader
		}
		name := h[1 : 1+nameLen]
		typ := h[1+nameLen]
		h = h[2+nameLen:]
		var size int
		switch typ {
		case 0, 1: // bool true / false: no value
		case 2: // byte
			size = 1
		case 3: // int16
			size = 2
		case 4: // int32
			size = 4
		case 5, 8: // int64, timestamp
			size = 8
		case 9: // uuid
			size = 16
		case 6, esStringValue: // bytes, string: uint16 length
			if len(h) < 2 {
				return ErrEventStreamHeader
			}
			size = 2 + int(binary.BigEndian.Uint16(h))
		default:
			return ErrEventStreamHeader
		}
		if len(h) < size {
			return ErrEventStreamHeader
		}
		if typ == esStringValue {
			v := string(h[2:size])
			switch string(name) {
			case ":message-type":
				msg.MessageType = v
			case ":event-type":
				msg.EventType = v
			case ":exception-type":
				msg.ExceptionType = v
			}
		}
		h = h[size:]
	}
	return nil
}

// AppendEventStreamMessage appends one event-stream message with string
// headers (name, value pairs) and payload: the encoder of the fake provider
// and the tests, kept beside the decoder it must agree with.
func AppendEventStreamMessage(b []byte, headers [][2]string, payload []byte) []byte {
	hlen := 0
	for _, h := range headers {
		hlen += 1 + len(h[0]) + 1 + 2 + len(h[1])
	}
	total := esMinMessage + hlen + len(payload)
	start := len(b)
	b = binary.BigEndian.AppendUint32(b, uint32(total))
	b = binary.BigEndian.AppendUint32(b, uint32(hlen))
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:start+8]))
	for _, h := range headers {
		b = append(b, byte(len(h[0])))
		b = append(b, h[0]...)
		b = append(b, esStringValue)
		b = binary.BigEndian.AppendUint16(b, uint16(len(h[1])))
		b = append(b, h[1]...)
	}
	b = append(b, payload...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}
