package ingest

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/testenv"
)

// A call's events are grouped by subject (partition × tenant) into
// messages within the bounds, each event once, in order; the same call
// gives the same messages and ids; a lone event keeps the one-event format.
func TestMessagesGroupBySubjectWithinBounds(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Partitions = 3
	r := NewReceiver(cfg, nil, quietLog)
	other := "33333333-3333-4333-8333-333333333333"
	evs := make([]event.Event, 0, 2601)
	for i := range 2600 {
		e := ev(idN(i + 1))
		if i%2 == 1 {
			e.TenantID = other
		}
		if i < 20 {
			e.RawUsage = `{"pad":"` + strings.Repeat("x", 15_000) + `"}` // large events: the byte bound cuts
		}
		evs = append(evs, e)
	}
	lone := ev(idN(9999))
	lone.TenantID = "44444444-4444-4444-8444-444444444444"
	evs = append(evs, lone)
	payloads := encodePayloads(evs)
	valid := make([]int, len(evs))
	for i := range valid {
		valid[i] = i
	}
	msgs := r.messages(evs, payloads, valid)
	seen := map[string][]string{} // subject → event ids in message order
	for _, m := range msgs {
		raws, validJSON, err := messageEvents(m.data)
		if err != nil || len(raws) != m.events || m.events > maxMessageEvents || len(m.data) > maxMessageBytes {
			t.Fatalf("message on %s: %d events (%d decoded, %v), %d bytes", m.subject, m.events, len(raws), err, len(m.data))
		}
		ids := make([]string, len(raws))
		for i, raw := range raws {
			e, err := decodeEvent(raw, true)
			if err != nil || !validJSON && m.events > 1 {
				t.Fatalf("event %d of a message: %v", i, err)
			}
			if got := cfg.subject(e.EventID, e.TenantID); got != m.subject {
				t.Fatalf("event %s of subject %s in a message on %s", e.EventID, got, m.subject)
			}
			ids[i] = e.EventID
		}
		switch {
		case m.events == 1 && (m.id != ids[0] || isBatchMessage(m.data)):
			t.Fatalf("a lone event: id %s, payload %.40s", m.id, m.data)
		case m.events > 1 && m.id != batchMsgID(ids):
			t.Fatalf("batch message id %s", m.id)
		}
		seen[m.subject] = append(seen[m.subject], ids...)
	}
	total := 0
	for subject, ids := range seen {
		var want []string
		for _, e := range evs {
			if cfg.subject(e.EventID, e.TenantID) == subject {
				want = append(want, e.EventID)
			}
		}
		if !slices.Equal(ids, want) {
			t.Fatalf("%s: %d events in messages, want %d in call order", subject, len(ids), len(want))
		}
		total += len(ids)
	}
	if total != len(evs) || len(seen) != 7 {
		t.Fatalf("%d events on %d subjects, want %d on 7", total, len(seen), len(evs))
	}
	again := r.messages(evs, payloads, valid)
	if len(again) != len(msgs) {
		t.Fatalf("the same call again: %d messages, want %d", len(again), len(msgs))
	}
	for i := range msgs {
		if again[i].id != msgs[i].id || again[i].subject != msgs[i].subject || string(again[i].data) != string(msgs[i].data) {
			t.Fatalf("message %d differs the second time", i)
		}
	}
	if batchMsgID([]string{"a", "b"}) == batchMsgID([]string{"b", "a"}) || batchMsgID([]string{"ab"}) == batchMsgID([]string{"a", "b"}) {
		t.Fatal("batch ids collide on order or concatenation")
	}
}

// A retry composed differently (the data plane added events, or split the
// batch) puts an event in two messages with different ids, both of which
// JetStream keeps: the consumer stores it once and counts it once against
// the budget, whether the copies meet in one consumer batch or not.
func TestEventInTwoDifferentlyComposedBatchesCountsOnce(t *testing.T) {
	t.Parallel()
	p := newPipeline(t, pipelineOpts{migrate: true, budgets: true})
	evs := usageEvents(9, 900)
	ctx := context.Background()
	first, err := p.recv.Publish(ctx, evs[:4])
	testenv.Must(t, err, "publish 0-3")
	second, err := p.recv.Publish(ctx, evs[2:7])
	testenv.Must(t, err, "publish 2-6")
	if first.Accepted != 4 || second.Accepted != 5 || second.Duplicates != 0 {
		t.Fatalf("answers %+v, %+v: the second message is new to JetStream", first, second)
	}
	ids, msgs := streamEvents(t, p.js, p.cfg)
	if msgs != 2 || len(ids) != 9 {
		t.Fatalf("stream: %d events in %d messages, want 9 (2 and 3 twice) in 2", len(ids), msgs)
	}
	p.start(nil)
	p.waitDrained()
	p.assertExactly(7)
	// Copies in a later consumer batch than the stored originals.
	_, err = p.recv.Publish(ctx, evs[5:9])
	testenv.Must(t, err, "publish 5-8")
	p.waitDrained()
	p.assertExactly(9)
}

// A poison event inside a batch message is dead-lettered alone (with its
// place in the message) and its siblings are stored; a batch message that
// cannot be taken apart is dead-lettered whole; one-event messages, as an
// older receiver wrote them, are still consumed.
func TestPoisonEventInABatchMessageDeadLetteredAlone(t *testing.T) {
	t.Parallel()
	p := newPipeline(t, pipelineOpts{migrate: true, budgets: true})
	ctx := context.Background()
	good := usageEvents(3, 950)
	bad := usageEvents(1, 960)[0]
	bad.Provider = "acme"
	raws := [][]byte{event.AppendJSON(nil, &good[0]), event.AppendJSON(nil, &bad), event.AppendJSON(nil, &good[1])}
	subject := p.cfg.subject(good[0].EventID, tenant)
	publish := func(data []byte, id string) {
		t.Helper()
		msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
		msg.Header.Set(nats.MsgIdHdr, id)
		_, err := p.js.PublishMsg(ctx, msg)
		testenv.Must(t, err, "publish")
	}
	publish(appendBatchMessage(nil, raws), "batch-with-poison")
	publish([]byte(`{"events":[{"event_id":"x"},`), "torn-batch")
	publish(event.AppendJSON(nil, &good[2]), good[2].EventID) // the one-event format
	p.start(nil)
	p.waitDrained()
	p.assertExactly(3)
	list := p.deadLetters(tenant)
	if len(list) != 2 {
		t.Fatalf("dead letters %+v", list)
	}
	torn, poison := list[0], list[1] // newest first
	if poison.EventID != bad.EventID || !strings.Contains(poison.Reason, `unknown provider "acme"`) || string(poison.Payload) != string(raws[1]) {
		t.Errorf("the poison event: %+v", poison)
	}
	if !strings.Contains(torn.Reason, "undecodable batch message") || !strings.HasPrefix(string(torn.Payload), `{"events":`) {
		t.Errorf("the torn batch: %+v", torn)
	}
	// The dead letter names the event's place in its message.
	dlq, err := p.js.Stream(ctx, p.cfg.dlqStream())
	testenv.Must(t, err, "dlq stream")
	raw, err := dlq.GetMsg(ctx, poison.Sequence)
	testenv.Must(t, err, "dead letter")
	if raw.Header.Get(HeaderOriginalIndex) != "1" || raw.Header.Get(nats.MsgIdHdr) != "dlq-"+raw.Header.Get(HeaderOriginalSeq)+"-1" {
		t.Errorf("dead letter headers %v", raw.Header)
	}
}
