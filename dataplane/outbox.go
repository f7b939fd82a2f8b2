package dataplane

import (
	"time"

	"github.com/tidwall/gjson"

	"github.com/spendgate/spendgate/event"
)

// OutboxConfig bounds and paces event delivery.
type OutboxConfig struct {
	// BatchMaxEvents is the most events a batch carries.
	BatchMaxEvents int
	// MaxBufferedEvents bounds the events waiting or in flight; beyond it
	// new events are dropped (and counted) rather than slowing traffic.
	MaxBufferedEvents int
	// FlushInterval is the longest an event waits for its batch to fill.
	FlushInterval time.Duration
	// MaxRetryInterval caps the back-off while ingest fails (the wait
	// doubles from one flush interval per failed delivery).
	MaxRetryInterval time.Duration
}

// Outbox holds a host's events until ingest takes them: the one owner of
// batch framing, of when batches go out, and of what a failed delivery
// means. The host adds events, asks Next for the batches due at its clock's
// now, sends each, and reports ingest's answer to Settle. Not safe for
// concurrent use: the gateway holds a lock around it, the filter's VM is
// single-threaded.
//
// Delivery rule: a 200 answer delivers the batch (events listed as
// rejected are invalid, counted and never retried); no answer, a timeout,
// throttling, a server error or an authentication failure (a token fixed in
// the control plane makes the retry succeed) is retried, whole, as far as
// the buffer bound allows, after a back-off during which one batch at a
// time probes; any other answer refuses the batch itself (malformed, too
// large): it is dropped. Ingest deduplicates by event id, so a retry of a
// batch that was in fact stored counts once.
//
// A host with storage of its own (the gateway's disk spool) moves events
// out with Spill when memory is short or ingest is down, and brings them
// back one stored batch at a time with Resend when Ready: the same rule
// then judges those deliveries, and their failures drive the same back-off.
type Outbox struct {
	cfg OutboxConfig

	pending []event.Event // oldest first
	// spare is the array of a delivered full batch, reused for the next
	// batch's events: under TinyGo a batch-sized allocation means a scan
	// of the fragmented heap for a free run that long, per batch.
	spare    []event.Event
	inFlight int // events of Next's batches awaiting an answer
	out      int // batches awaiting an answer (Resend's too)

	lastFlush  time.Time // when a flush interval last began
	failStreak int       // consecutive failed deliveries
	retryAt    time.Time // no delivery before this while failing

	stats OutboxStats
}

// OutboxStats counts events by fate, and failed deliveries.
type OutboxStats struct {
	Sent, Dropped, Rejected, Failures uint64
}

// Batch is one delivery of events to ingest.
type Batch struct {
	Events []event.Event
	// held: the host keeps these events (Resend), not the outbox.
	held bool
}

// AppendBody appends the batch's wire form, {"events":[...]}, POSTed to
// ingest (contract.EventsPath).
func (b *Batch) AppendBody(dst []byte) []byte { return event.AppendBatch(dst, b.Events) }

// Outcome is what Settle made of ingest's answer.
type Outcome struct {
	// Delivered is set for a 200 answer; Rejected of the batch's events
	// were refused as invalid.
	Delivered bool
	Rejected  int
	// Retry is set when the batch waits for another attempt.
	Retry bool
	// Dropped holds the events given up on (a refused batch, or a retry
	// beyond the buffer bound): the host may persist them. A refused
	// batch's events are lost for good: persisting them cannot help.
	Dropped []event.Event
}

// Refused reports a batch ingest refused as such (malformed, too large):
// its events are dropped and must not be sent again.
func (o *Outcome) Refused() bool { return !o.Delivered && !o.Retry }

// NewOutbox starts an empty outbox at now.
func NewOutbox(cfg OutboxConfig, now time.Time) *Outbox {
	cfg.BatchMaxEvents = max(cfg.BatchMaxEvents, 1)
	cfg.MaxBufferedEvents = max(cfg.MaxBufferedEvents, cfg.BatchMaxEvents)
	return &Outbox{cfg: cfg, lastFlush: now}
}

// Stats returns the counts so far.
func (o *Outbox) Stats() OutboxStats { return o.stats }

// Pending is the number of events waiting (not in flight).
func (o *Outbox) Pending() int { return len(o.pending) }

// Buffered is the number of events the outbox holds in memory: waiting or
// in flight (what MaxBufferedEvents bounds).
func (o *Outbox) Buffered() int { return len(o.pending) + o.inFlight }

// Full reports whether Add would drop an event now.
func (o *Outbox) Full() bool { return o.Buffered() >= o.cfg.MaxBufferedEvents }

// Add queues one event; false when the buffer is full and the event is
// dropped (counted; the host may persist it).
func (o *Outbox) Add(e *event.Event) bool {
	if o.Full() {
		o.stats.Dropped++
		return false
	}
	if o.pending == nil {
		// A batch's worth at once: growing by doubling from nothing would
		// allocate and copy twice that for every batch.
		if o.pending, o.spare = o.spare, nil; o.pending == nil {
			o.pending = make([]event.Event, 0, o.cfg.BatchMaxEvents)
		}
	}
	o.pending = append(o.pending, *e)
	return true
}

// Next returns the next batch to send at now, or nil: full batches at once,
// the partial rest once per flush interval; while ingest fails, nothing
// until the back-off has passed (strictly: a host ticking once per interval
// waits that many whole ticks), then one probe batch at a time.
func (o *Outbox) Next(now time.Time) *Batch {
	if !o.Ready(now) {
		return nil
	}
	due := now.Sub(o.lastFlush) >= o.cfg.FlushInterval
	if due && len(o.pending) < o.cfg.BatchMaxEvents {
		o.lastFlush = now // the partial batch goes now; the next waits an interval
	}
	if len(o.pending) == 0 || !due && len(o.pending) < o.cfg.BatchMaxEvents {
		return nil
	}
	return o.take()
}

// Flush returns the next waiting batch at once, whatever the flush
// interval and the back-off: a host's last attempt before it stops.
func (o *Outbox) Flush() *Batch {
	if len(o.pending) == 0 {
		return nil
	}
	return o.take()
}

func (o *Outbox) take() *Batch {
	n := min(len(o.pending), o.cfg.BatchMaxEvents)
	evs := o.pending[:n:n]
	o.pending = o.pending[n:]
	o.inFlight += n
	o.out++
	if len(o.pending) == 0 {
		o.pending = nil // let the backing array go once drained
	}
	return &Batch{Events: evs}
}

// Ready reports whether a delivery may go at now: always while ingest
// answers; while it fails, once the back-off has passed and no other batch
// is out (the one probe).
func (o *Outbox) Ready(now time.Time) bool {
	return o.failStreak == 0 || o.out == 0 && now.After(o.retryAt)
}

// Resend makes a batch of events the host kept outside the outbox (the
// gateway's disk spool) into a delivery, when Ready allows one. They do
// not count against the buffer bound, and Settle never takes them in: on
// a retryable failure the host keeps them for a later Resend; their fate
// is counted as any batch's.
func (o *Outbox) Resend(evs []event.Event) *Batch {
	o.out++
	return &Batch{Events: evs, held: true}
}

// Spill takes up to one batch of the newest waiting events out of the
// outbox, for a host that keeps them elsewhere (the gateway's disk spool)
// rather than in memory; nil when none wait.
func (o *Outbox) Spill() []event.Event {
	n := min(len(o.pending), o.cfg.BatchMaxEvents)
	if n == 0 {
		return nil
	}
	evs := o.pending[len(o.pending)-n:]
	o.pending = o.pending[: len(o.pending)-n : len(o.pending)-n] // a later Add must not write over evs
	if len(o.pending) == 0 {
		o.pending = nil
	}
	return evs
}

// Settle records ingest's answer to b at now: status 0 when none came
// (dispatch failed, timeout, connection refused), and the answer's body.
func (o *Outbox) Settle(b *Batch, status int, body []byte, now time.Time) Outcome {
	return o.SettleRejected(b, status, RejectedCount(body), now)
}

// RejectedCount is how many events ingest's 200 answer body lists as
// rejected ({"accepted":N,"duplicates":N,"rejected":[...]}).
func RejectedCount(body []byte) int {
	if len(body) == 0 {
		return 0
	}
	return int(gjson.GetBytes(body, "rejected.#").Int())
}

// SettleRejected is Settle for a host that learnt the count of rejected
// events otherwise (the gateway's in-process ingest).
//
// A delivered batch's events are done with: the outbox reuses their
// array, so b.Events is nil afterwards.
func (o *Outbox) SettleRejected(b *Batch, status, rejected int, now time.Time) Outcome {
	n := len(b.Events)
	o.out--
	if !b.held {
		o.inFlight -= n
	}
	if status == 200 {
		rejected = min(max(rejected, 0), n)
		o.stats.Sent += uint64(n - rejected)
		o.stats.Rejected += uint64(rejected)
		o.failStreak, o.retryAt = 0, time.Time{}
		if !b.held && cap(b.Events) == o.cfg.BatchMaxEvents {
			// Delivered: nobody reads these events again (the batch's
			// capacity is its length, so its array is its own).
			clear(b.Events)
			o.spare, b.Events = b.Events[:0], nil
		}
		return Outcome{Delivered: true, Rejected: rejected}
	}
	o.stats.Failures++
	if !Retryable(status) {
		o.stats.Dropped += uint64(n)
		return Outcome{Dropped: b.Events}
	}
	out := Outcome{Retry: true}
	o.failStreak++
	o.retryAt = now.Add(o.backoff())
	if b.held {
		return out // the host still has them
	}
	room := max(o.cfg.MaxBufferedEvents-len(o.pending)-o.inFlight, 0)
	keep := b.Events
	if room < len(keep) {
		out.Dropped = keep[room:]
		o.stats.Dropped += uint64(len(keep) - room)
		keep = keep[:room]
	}
	o.pending = append(append(make([]event.Event, 0, len(keep)+len(o.pending)), keep...), o.pending...)
	return out
}

// backoff is the wait after failStreak consecutive failures: one flush
// interval, doubling, at most MaxRetryInterval (never below one interval).
func (o *Outbox) backoff() time.Duration {
	limit := max(o.cfg.FlushInterval, o.cfg.MaxRetryInterval)
	if o.failStreak > 20 {
		return limit
	}
	return min(o.cfg.FlushInterval<<(o.failStreak-1), limit)
}

// Retryable reports whether a delivery answered with status is worth
// another attempt.
func Retryable(status int) bool {
	switch {
	case status == 0, status >= 500, status == 401, status == 403, status == 408, status == 429:
		return true
	}
	return false
}
