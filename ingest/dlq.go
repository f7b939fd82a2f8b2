package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DeadLetter is one event the consumer could not store, as admins see it.
type DeadLetter struct {
	// Sequence names the dead letter in the DLQ stream (for Replay).
	Sequence uint64
	// Time is when the event was dead-lettered.
	Time time.Time
	// TenantID is the tenant the event was published for (the last part of
	// its subject; not necessarily a valid id for a malformed event).
	TenantID string
	// EventID is set when the payload decodes far enough to have one.
	EventID string
	// Reason says why: undecodable, invalid (with the validation error),
	// pricing panicked, or not acknowledged after the maximum deliveries.
	Reason string
	// Deliveries is how often JetStream had delivered the event.
	Deliveries uint64
	// StreamSequence is the event's sequence in the events stream.
	StreamSequence uint64
	// Payload is the event as published (empty when a max-deliveries event
	// has aged out of the events stream).
	Payload []byte
}

// ErrDeadLetterNotFound is returned for an unknown sequence, or one of
// another tenant.
var ErrDeadLetterNotFound = errors.New("ingest: dead letter not found")

// DLQ lists and replays dead letters, for admins (GraphQL) and operators.
type DLQ struct {
	js  jetstream.JetStream
	cfg Config
}

// NewDLQ reads the DLQ of the streams named by cfg.
func NewDLQ(js jetstream.JetStream, cfg Config) *DLQ { return &DLQ{js: js, cfg: cfg} }

// maxDeliveriesAdvisory is JetStream's io.nats.jetstream.advisory.v1.max_deliver.
type maxDeliveriesAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// List returns the newest dead letters of a tenant (all tenants when
// tenantID is empty), newest first, at most limit (1..1000, default 100).
// It reads the tenant's DLQ subject and the max-deliveries advisories, so its
// cost grows with the tenant's dead letters: the DLQ holds only poison.
func (d *DLQ) List(ctx context.Context, tenantID string, limit int) ([]DeadLetter, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	if strings.ContainsAny(tenantID, ".*> \t") {
		return nil, fmt.Errorf("ingest: %q is not a tenant id", tenantID)
	}
	dlq, err := d.js.Stream(ctx, d.cfg.dlqStream())
	if err != nil {
		return nil, fmt.Errorf("ingest: DLQ stream: %w", err)
	}
	subject := d.cfg.dlqSubject(tenantID)
	if tenantID == "" {
		subject = d.cfg.dlqSubject(">")
	}
	var out []DeadLetter
	keep := func(l DeadLetter) {
		out = append(out, l)
		if len(out) > 2*limit { // keep memory bounded: only the newest matter
			slices.SortFunc(out, func(a, b DeadLetter) int { return compareSeqDesc(a.Sequence, b.Sequence) })
			out = out[:limit]
		}
	}
	err = d.scan(ctx, dlq, subject, func(m jetstream.Msg) error {
		meta, err := m.Metadata()
		if err != nil {
			return err
		}
		keep(d.fromDLQMsg(meta.Sequence.Stream, meta.Timestamp, m.Headers(), m.Data()))
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = d.scan(ctx, dlq, d.cfg.maxDeliveriesSubject(), func(m jetstream.Msg) error {
		meta, err := m.Metadata()
		if err != nil {
			return err
		}
		l, err := d.fromAdvisory(ctx, meta.Sequence.Stream, meta.Timestamp, m.Data())
		if err != nil {
			return err
		}
		if tenantID == "" || l.TenantID == tenantID {
			keep(l)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b DeadLetter) int { return compareSeqDesc(a.Sequence, b.Sequence) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func compareSeqDesc(a, b uint64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// scan feeds every message of subject in the DLQ to f, oldest first.
func (d *DLQ) scan(ctx context.Context, dlq jetstream.Stream, subject string, f func(jetstream.Msg) error) error {
	info, err := dlq.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return fmt.Errorf("ingest: DLQ info: %w", err)
	}
	var total uint64
	for _, n := range info.State.Subjects {
		total += n
	}
	if total == 0 {
		return nil
	}
	cons, err := dlq.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		return fmt.Errorf("ingest: DLQ reader: %w", err)
	}
	for {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return fmt.Errorf("ingest: DLQ read: %w", err)
		}
		got := 0
		last := false
		for m := range batch.Messages() {
			got++
			if err := f(m); err != nil {
				return err
			}
			if meta, err := m.Metadata(); err == nil && meta.NumPending == 0 {
				last = true
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return fmt.Errorf("ingest: DLQ read: %w", err)
		}
		if last || got == 0 {
			return nil
		}
	}
}

func (d *DLQ) fromDLQMsg(seq uint64, at time.Time, h nats.Header, data []byte) DeadLetter {
	l := DeadLetter{Sequence: seq, Time: at.UTC(), Reason: h.Get(HeaderDLQReason), Payload: data,
		TenantID: d.cfg.tenantOfSubject(h.Get(HeaderOriginalSubject))}
	l.Deliveries, _ = strconv.ParseUint(h.Get(HeaderDeliveries), 10, 64)
	l.StreamSequence, _ = strconv.ParseUint(h.Get(HeaderOriginalSeq), 10, 64)
	l.EventID = eventIDOf(data)
	return l
}

// fromAdvisory resolves a max-deliveries advisory to the event it names.
func (d *DLQ) fromAdvisory(ctx context.Context, seq uint64, at time.Time, data []byte) (DeadLetter, error) {
	var a maxDeliveriesAdvisory
	if err := json.Unmarshal(data, &a); err != nil {
		return DeadLetter{}, fmt.Errorf("ingest: undecodable max-deliveries advisory %d: %w", seq, err)
	}
	l := DeadLetter{Sequence: seq, Time: at.UTC(), Deliveries: a.Deliveries, StreamSequence: a.StreamSeq,
		Reason: fmt.Sprintf("not acknowledged after %d deliveries (consumer %s kept failing or was killed while holding it)", a.Deliveries, a.Consumer)}
	events, err := d.js.Stream(ctx, d.cfg.eventsStream())
	if err != nil {
		return DeadLetter{}, fmt.Errorf("ingest: events stream: %w", err)
	}
	m, err := events.GetMsg(ctx, a.StreamSeq)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		l.Reason += "; the event has aged out of the events stream"
	case err != nil:
		return DeadLetter{}, fmt.Errorf("ingest: event %d of a max-deliveries advisory: %w", a.StreamSeq, err)
	default:
		l.TenantID = d.cfg.tenantOfSubject(m.Subject)
		l.Payload = m.Data
		l.EventID = eventIDOf(m.Data)
		if isBatchMessage(m.Data) {
			// Every event of the message was held by the killed consumers:
			// the dead letter is the message (Replay publishes it again).
			raws, _, err := batchEvents(m.Data)
			l.Reason += fmt.Sprintf("; a batch message of %d events", len(raws))
			if err == nil && len(raws) > 0 {
				l.EventID = eventIDOf(raws[0])
			}
		}
	}
	return l, nil
}

func eventIDOf(data []byte) string {
	var head struct {
		EventID string `json:"event_id"`
	}
	if json.Unmarshal(data, &head) != nil {
		return ""
	}
	return head.EventID
}

// Replay publishes a dead letter's event again on its original subject and
// removes it from the DLQ. The consumer then treats it like any event: a
// fixed one is stored (once: the writer and budgets skip event ids they
// have), a still-poisonous one comes back to the DLQ with a new reason.
// tenantID, when not empty, must own the dead letter.
func (d *DLQ) Replay(ctx context.Context, tenantID string, seq uint64) error {
	dlq, err := d.js.Stream(ctx, d.cfg.dlqStream())
	if err != nil {
		return fmt.Errorf("ingest: DLQ stream: %w", err)
	}
	raw, err := dlq.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("%w: %d", ErrDeadLetterNotFound, seq)
	}
	if err != nil {
		return fmt.Errorf("ingest: DLQ message %d: %w", seq, err)
	}
	var l DeadLetter
	if strings.HasPrefix(raw.Subject, "$JS.EVENT.ADVISORY.") {
		if l, err = d.fromAdvisory(ctx, seq, raw.Time, raw.Data); err != nil {
			return err
		}
	} else {
		l = d.fromDLQMsg(seq, raw.Time, raw.Header, raw.Data)
	}
	if tenantID != "" && l.TenantID != tenantID {
		return fmt.Errorf("%w: %d", ErrDeadLetterNotFound, seq)
	}
	if len(l.Payload) == 0 || l.TenantID == "" {
		return fmt.Errorf("ingest: dead letter %d has no event left to replay", seq)
	}
	// A batch message's events are all of the first one's partition.
	msg := &nats.Msg{Subject: d.cfg.subject(l.EventID, l.TenantID), Data: l.Payload, Header: nats.Header{}}
	// Not the event id: JetStream would drop the replay as a duplicate of
	// the original inside the dedup window. The replay's own id makes a
	// repeated Replay call harmless.
	msg.Header.Set(nats.MsgIdHdr, "replay-"+d.cfg.dlqStream()+"-"+strconv.FormatUint(seq, 10))
	if _, err := d.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("ingest: replay %d: %w", seq, err)
	}
	if err := dlq.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("ingest: replayed %d but could not remove it from the DLQ: %w", seq, err)
	}
	return nil
}
