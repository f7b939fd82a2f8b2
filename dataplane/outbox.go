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
type Outbox struct {
	cfg OutboxConfig

	pending  []event.Event // oldest first
	inFlight int           // events in batches awaiting an answer

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
	// beyond the buffer bound): the host may persist them.
	Dropped []event.Event
}

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

// Add queues one event; false when the buffer is full and the event is
// dropped (counted; the host may persist it).
func (o *Outbox) Add(e *event.Event) bool {
	if len(o.pending)+o.inFlight >= o.cfg.MaxBufferedEvents {
		o.stats.Dropped++
		return false
	}
	o.pending = append(o.pending, *e)
	return true
}

// Next returns the next batch to send at now, or nil: full batches at once,
// the partial rest once per flush interval; while ingest fails, nothing
// until the back-off has passed (strictly: a host ticking once per interval
// waits that many whole ticks), then one probe batch at a time.
func (o *Outbox) Next(now time.Time) *Batch {
	if o.failStreak > 0 && (o.inFlight > 0 || !now.After(o.retryAt)) {
		return nil
	}
	due := now.Sub(o.lastFlush) >= o.cfg.FlushInterval
	if due && len(o.pending) < o.cfg.BatchMaxEvents {
		o.lastFlush = now // the partial batch goes now; the next waits an interval
	}
	if len(o.pending) == 0 || !due && len(o.pending) < o.cfg.BatchMaxEvents {
		return nil
	}
	n := min(len(o.pending), o.cfg.BatchMaxEvents)
	evs := o.pending[:n:n]
	o.pending = o.pending[n:]
	o.inFlight += n
	if len(o.pending) == 0 {
		o.pending = nil // let the backing array go once drained
	}
	return &Batch{Events: evs}
}

// Settle records ingest's answer to b at now: status 0 when none came
// (dispatch failed, timeout, connection refused), and the answer's body.
func (o *Outbox) Settle(b *Batch, status int, body []byte, now time.Time) Outcome {
	n := len(b.Events)
	o.inFlight -= n
	if status == 200 {
		rejected := 0
		if len(body) > 0 {
			rejected = int(gjson.GetBytes(body, "rejected.#").Int())
		}
		rejected = min(max(rejected, 0), n)
		o.stats.Sent += uint64(n - rejected)
		o.stats.Rejected += uint64(rejected)
		o.failStreak, o.retryAt = 0, time.Time{}
		return Outcome{Delivered: true, Rejected: rejected}
	}
	o.stats.Failures++
	if !Retryable(status) {
		o.stats.Dropped += uint64(n)
		return Outcome{Dropped: b.Events}
	}
	out := Outcome{Retry: true}
	room := max(o.cfg.MaxBufferedEvents-len(o.pending)-o.inFlight, 0)
	keep := b.Events
	if room < len(keep) {
		out.Dropped = keep[room:]
		o.stats.Dropped += uint64(len(keep) - room)
		keep = keep[:room]
	}
	o.pending = append(append(make([]event.Event, 0, len(keep)+len(o.pending)), keep...), o.pending...)
	o.failStreak++
	o.retryAt = now.Add(o.backoff())
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
