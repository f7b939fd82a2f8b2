package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
)

// A message of the events stream carries one event or a batch of them.
//
//   - One event: the event's JSON, Nats-Msg-Id = event_id. Receivers before
//     batching wrote only these; a receiver still writes one when a call
//     has one event for a subject, so that its id deduplicates against any
//     other one-event publish of the same event.
//   - A batch: {"events":[e1,e2,…]}, the shape of the receiver's HTTP body,
//     each event as received (or encoded), all of one subject (partition ×
//     tenant), at most maxMessageEvents events and about maxMessageBytes.
//     Nats-Msg-Id = batchMsgID of the ordered event ids, so a re-publication
//     of the same batch (the receiver's own after a lost PubAck, a data
//     plane's retry of the very same request) is dropped by JetStream.
//
// One JetStream message, dedup entry and ack per batch instead of per
// event is what the receiver, the consumer and nats-server spent most of
// their NATS time on. An event may still reach the consumer in two
// messages (a retry composed differently, copies after the dedup window):
// the writer and the budgets skip ids they have (docs/ingest.md, Exactly
// once in effect).

// Bounds of a batch message. An event is at most ~40 KB (raw_usage 16 KiB,
// dimensions, names), so a message stays far below NATS's max_payload (1 MiB
// by default, the embedded server's too); the event bound keeps a message a
// small share of a consumer batch (DefaultConsumerConfig: 10,000 events).
const (
	maxMessageEvents = 1_000
	maxMessageBytes  = 256 << 10
)

// batchPrefix starts every batch message (as appendBatchMessage writes it):
// an event's JSON never starts so, it has no "events" member.
var batchPrefix = []byte(`{"events":[`)

// isBatchMessage says whether a payload is a batch message.
func isBatchMessage(data []byte) bool { return bytes.HasPrefix(data, batchPrefix) }

// appendBatchMessage appends a batch message of raws (each one event's JSON).
func appendBatchMessage(dst []byte, raws [][]byte) []byte {
	dst = append(dst, batchPrefix...)
	for i, raw := range raws {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, raw...)
	}
	return append(dst, ']', '}')
}

// batchMessageSize is the length of appendBatchMessage's output for events
// of n bytes in all.
func batchMessageSize(events, n int) int { return len(batchPrefix) + n + max(events-1, 0) + 2 }

// messageEvents returns a message's events as slices of data; validJSON says
// they are known to be valid JSON. A one-event message is returned whole; a
// batch message that cannot be taken apart is an error (the message is
// dead-lettered whole).
func messageEvents(data []byte) (raws [][]byte, validJSON bool, err error) {
	if !isBatchMessage(data) {
		return [][]byte{data}, false, nil
	}
	return batchEvents(data)
}

// batchMsgID is a batch message's Nats-Msg-Id: 128 bits of SHA-256 over its
// event ids in order. The same ids in the same order give the same id; any
// other composition another, whose common events the writer deduplicates.
// 128 bits: a collision would drop a batch as a duplicate, and the dedup
// window holds millions of ids.
func batchMsgID(ids []string) string {
	h := sha256.New()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{'\n'})
	}
	var sum [sha256.Size]byte
	return "batch-" + hex.EncodeToString(h.Sum(sum[:0])[:16])
}
