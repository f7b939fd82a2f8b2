package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spendgate/spendgate/dataplane"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/svcclient"
	"github.com/spendgate/spendgate/spool"
)

// EventSink receives batches of events.
type EventSink interface {
	Publish(ctx context.Context, events []event.Event) error
}

// HTTPSink posts batches to the ingest endpoint (POST /internal/v1/events).
type HTTPSink struct {
	URL          string
	ServiceToken string
	Client       *http.Client
}

// Publish implements EventSink. Any non-200 answer is an error; ingest
// deduplicates by event id, so the batch can be retried as a whole.
func (s *HTTPSink) Publish(ctx context.Context, events []event.Event) error {
	body := event.AppendBatch(make([]byte, 0, 512*len(events)), events)
	c := svcclient.Client{Token: s.ServiceToken, HTTP: s.Client, MaxAnswerBytes: 4096}
	if _, err := c.Expect(ctx, http.StatusOK, http.MethodPost, s.URL, body); err != nil {
		var se *svcclient.StatusError
		if errors.As(err, &se) && !dataplane.Retryable(se.Status) {
			// The batch itself is refused (malformed, too large): sending it
			// again cannot help. The data plane's one delivery rule
			// (dataplane.Retryable, the filter's outbox's too) decides.
			return &RejectedBatchError{Err: fmt.Errorf("ingest: %w", err)}
		}
		return fmt.Errorf("ingest: %w", err)
	}
	return nil
}

// RejectedBatchError is a sink's refusal of a batch as such (malformed, too
// large), as opposed to the sink being unavailable: the batcher drops the
// batch, counted and logged, instead of retrying it forever and holding
// every spooled batch behind it.
type RejectedBatchError struct{ Err error }

func (e *RejectedBatchError) Error() string { return "batch rejected: " + e.Err.Error() }
func (e *RejectedBatchError) Unwrap() error { return e.Err }

// Batcher buffers events and hands them to a sink in batches, on size or
// interval, retrying failed batches with backoff. It never blocks the caller
// on the sink.
//
// Without a spool, events wait in memory: past MaxBuffered they are dropped
// and counted. With a spool (NewSpoolingBatcher), a batch the sink refused,
// the events that arrive while the sink is down, and a full buffer go to
// disk instead, and are replayed once the sink answers again (before newer
// events pile up: the buffer is served first). Events are dropped only when
// the spool is full or failing too. Delivery is at least once: ingest
// deduplicates by event id.
type Batcher struct {
	sink        EventSink
	spool       *spool.Spool // nil: memory only
	maxBatch    int
	maxBuffered int
	interval    time.Duration
	log         *slog.Logger

	mu      sync.Mutex
	pending []event.Event
	kick    chan struct{}
	done    chan struct{}
	stopped chan struct{}

	sent, dropped, failures, spooled, replayed atomic.Int64
	reported                                   BatcherStats // counts at the last loss report (run's goroutine)
	reportedAt                                 time.Time
}

// BatcherStats are a batcher's counters since it started, for logs and
// metrics.
type BatcherStats struct {
	Sent     int64 // events the sink accepted, replayed ones included
	Dropped  int64 // events lost: buffer full without room in a spool
	Spooled  int64 // events written to the spool
	Replayed int64 // spooled events the sink accepted
	Failures int64 // failed publish attempts
	// Buffered is how many events wait in memory now.
	Buffered int64
	// Spool is what the spool holds now (zero without one).
	Spool spool.Stats
}

// lossReportEvery spaces the log lines that report spooled or dropped
// events, so an outage logs a line per interval rather than per batch.
const lossReportEvery = 10 * time.Second

// NewBatcher starts a batcher that buffers in memory only; Close drains it.
func NewBatcher(sink EventSink, maxBatch, maxBuffered int, interval time.Duration, log *slog.Logger) *Batcher {
	return NewSpoolingBatcher(sink, nil, maxBatch, maxBuffered, interval, log)
}

// NewSpoolingBatcher starts a batcher that keeps what it cannot deliver in
// sp (nil: memory only) and first replays what sp holds from earlier runs.
// The batcher does not close sp.
func NewSpoolingBatcher(sink EventSink, sp *spool.Spool, maxBatch, maxBuffered int, interval time.Duration, log *slog.Logger) *Batcher {
	b := &Batcher{sink: sink, spool: sp, maxBatch: maxBatch, maxBuffered: maxBuffered, interval: interval, log: log,
		kick: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
	if sp != nil {
		if st := sp.Stats(); st.Records > 0 || st.DiscardedBytes > 0 {
			log.Warn("gateway: replaying event batches spooled by an earlier run", "dir", sp.Dir(),
				"batches", st.Records, "bytes", st.Bytes, "torn_bytes_discarded", st.DiscardedBytes)
		}
	}
	go b.run()
	return b
}

// Add queues one event.
func (b *Batcher) Add(e event.Event) {
	b.mu.Lock()
	if len(b.pending) >= b.maxBuffered {
		if b.spool == nil {
			b.mu.Unlock()
			b.dropped.Add(1)
			return
		}
		// The sink cannot keep up (the loop is waiting on it): this caller
		// moves a batch to disk rather than lose it — one fsync of at most
		// maxBatch events, paid by one call in maxBatch. The newest are
		// taken: cutting the tail copies only them (order does not matter).
		n := min(len(b.pending), b.maxBatch)
		batch := append([]event.Event(nil), b.pending[len(b.pending)-n:]...)
		b.pending = b.pending[:len(b.pending)-n]
		b.mu.Unlock()
		if !b.toSpool(batch) {
			b.dropped.Add(int64(n))
		}
		b.mu.Lock()
	}
	b.pending = append(b.pending, e)
	full := len(b.pending) >= b.maxBatch
	b.mu.Unlock()
	if full {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

// Stats returns events sent, dropped and failed publish attempts.
func (b *Batcher) Stats() (sent, dropped, failures int64) {
	return b.sent.Load(), b.dropped.Load(), b.failures.Load()
}

// Counters returns every counter of the batcher and what its spool holds.
func (b *Batcher) Counters() BatcherStats {
	st := BatcherStats{Sent: b.sent.Load(), Dropped: b.dropped.Load(), Spooled: b.spooled.Load(),
		Replayed: b.replayed.Load(), Failures: b.failures.Load()}
	b.mu.Lock()
	st.Buffered = int64(len(b.pending))
	b.mu.Unlock()
	if b.spool != nil {
		st.Spool = b.spool.Stats()
	}
	return st
}

func (b *Batcher) run() {
	defer close(b.stopped)
	t := time.NewTicker(b.interval)
	defer t.Stop()
	backoff := time.Duration(0)
	var retryAt time.Time // while in the future, the sink is taken as down
	for {
		select {
		case <-b.done:
			b.final(time.Now().Before(retryAt))
			return
		case <-t.C:
		case <-b.kick:
		}
		for {
			if time.Now().Before(retryAt) {
				// Down: keep new events on disk rather than in memory.
				b.spoolPending()
				break
			}
			ok, more := b.deliver()
			if !ok {
				backoff = min(max(2*backoff, 100*time.Millisecond), 10*time.Second)
				retryAt = time.Now().Add(backoff)
				break
			}
			backoff = 0
			if !more {
				break
			}
			select {
			case <-b.done:
				b.final(false)
				return
			default: // a backlog is left: go on without waiting for a tick
			}
		}
		b.reportLoss(false)
	}
}

// deliver sends the pending batches, then replays spooled ones while few
// new events wait. ok is false when a publish failed; more is true when
// the spool still holds batches.
func (b *Batcher) deliver() (ok, more bool) {
	if !b.flush() {
		return false, false
	}
	if b.spool == nil {
		return true, false
	}
	for {
		b.mu.Lock()
		busy := len(b.pending) >= b.maxBatch
		b.mu.Unlock()
		if busy {
			return true, true // serve the buffer first, then come back
		}
		rec, err := b.spool.Next()
		if errors.Is(err, spool.ErrEmpty) {
			return true, false
		}
		if err != nil {
			b.log.Error("gateway: reading the event spool failed; its batches wait", "dir", b.spool.Dir(), "err", err)
			return false, false
		}
		evs, err := decodeBatch(rec.Data)
		if err != nil {
			// Checksummed on disk, so only a bug writes this: keep going.
			b.log.Error("gateway: dropping an undecodable spooled batch (a bug)", "err", err)
			_ = b.spool.Ack(rec)
			continue
		}
		handled, delivered := b.publish(evs)
		if !handled {
			return false, true
		}
		if delivered {
			b.replayed.Add(int64(len(evs)))
		}
		if err := b.spool.Ack(rec); err != nil {
			// The batch may be delivered again after a restart: harmless.
			b.log.Error("gateway: acknowledging a spooled batch failed", "err", err)
			return false, true
		}
	}
}

// publish sends one batch. handled is false when the sink could not take it
// (retry later); a batch the sink rejects as such is handled, not
// delivered: dropped, counted and logged.
func (b *Batcher) publish(batch []event.Event) (handled, delivered bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := b.sink.Publish(ctx, batch)
	cancel()
	var rejected *RejectedBatchError
	switch {
	case err == nil:
		b.sent.Add(int64(len(batch)))
		return true, true
	case errors.As(err, &rejected):
		b.dropped.Add(int64(len(batch)))
		b.log.Error("gateway: events DROPPED: ingest refused their batch (a bug or a misconfiguration)", "events", len(batch), "err", err)
		return true, false
	default:
		b.failures.Add(1)
		b.log.Warn("gateway: publishing events failed; will retry", "events", len(batch), "err", err)
		return false, false
	}
}

// flush sends pending batches; it returns false when a batch failed (the
// batch goes to the spool, or back in front of the buffer).
func (b *Batcher) flush() bool {
	for {
		batch := b.take()
		if batch == nil {
			return true
		}
		if handled, _ := b.publish(batch); handled {
			continue
		}
		b.keep(batch)
		return false
	}
}

// take removes the next batch from the buffer; nil when it is empty.
func (b *Batcher) take() []event.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pending) == 0 {
		return nil
	}
	n := min(len(b.pending), b.maxBatch)
	batch := append([]event.Event(nil), b.pending[:n]...)
	b.pending = b.pending[n:]
	return batch
}

// keep holds an undelivered batch: in the spool, else in front of the
// buffer as far as it has room (the rest is dropped).
func (b *Batcher) keep(batch []event.Event) {
	if b.spool != nil && b.toSpool(batch) {
		return
	}
	b.mu.Lock()
	room := b.maxBuffered - len(b.pending)
	if room < len(batch) {
		b.dropped.Add(int64(len(batch) - max(room, 0)))
		batch = batch[:max(room, 0)]
	}
	b.pending = append(batch, b.pending...)
	b.mu.Unlock()
}

// spoolPending moves the buffer to the spool while the sink is down.
func (b *Batcher) spoolPending() {
	if b.spool == nil {
		return
	}
	for {
		batch := b.take()
		if batch == nil {
			return
		}
		if !b.toSpool(batch) {
			b.keep(batch) // the spool is full: memory, as far as it goes
			return
		}
	}
}

// toSpool writes one batch to the spool; false when it could not (full or
// failing), leaving the batch to the caller.
func (b *Batcher) toSpool(batch []event.Event) bool {
	err := b.spool.Append(event.AppendBatch(make([]byte, 0, 512*len(batch)), batch))
	if err != nil {
		if !errors.Is(err, spool.ErrFull) {
			b.log.Error("gateway: writing events to the spool failed", "dir", b.spool.Dir(), "events", len(batch), "err", err)
		}
		return false
	}
	b.spooled.Add(int64(len(batch)))
	return true
}

// final runs at Close: one last attempt for the buffer (none when the sink
// is known to be down), whose failure goes to the spool, or is lost and
// counted without one.
func (b *Batcher) final(down bool) {
	if (down && b.spool != nil) || !b.flush() {
		b.spoolPending()
		b.mu.Lock()
		b.dropped.Add(int64(len(b.pending)))
		b.pending = nil
		b.mu.Unlock()
	}
	b.reportLoss(true)
}

// reportLoss logs, at most every lossReportEvery (or when final), how many
// events went to the spool, were replayed or were dropped since the last
// line: losses must never be silent.
func (b *Batcher) reportLoss(final bool) {
	now := time.Now()
	if !final && now.Sub(b.reportedAt) < lossReportEvery {
		return
	}
	st := b.Counters()
	last := b.reported
	dropped, spooled, replayed := st.Dropped-last.Dropped, st.Spooled-last.Spooled, st.Replayed-last.Replayed
	if dropped == 0 && spooled == 0 && replayed == 0 && !(final && st.Spool.Records > 0) {
		return
	}
	b.reported, b.reportedAt = st, now
	attrs := []any{"dropped", dropped, "spooled", spooled, "replayed", replayed,
		"dropped_total", st.Dropped, "spooled_total", st.Spooled, "replayed_total", st.Replayed,
		"spool_batches", st.Spool.Records, "spool_bytes", st.Spool.Bytes}
	switch {
	case dropped > 0:
		b.log.Error("gateway: events DROPPED: ingest unreachable and the buffer and spool are full (or there is no spool)", attrs...)
	case spooled > 0 || st.Spool.Records > 0:
		b.log.Warn("gateway: events kept in the spool until ingest answers", attrs...)
	default:
		b.log.Info("gateway: spooled events delivered", attrs...)
	}
}

// decodeBatch reads a batch in the ingest wire format (event.AppendBatch).
func decodeBatch(b []byte) ([]event.Event, error) {
	var batch struct {
		Events []event.Event `json:"events"`
	}
	if err := json.Unmarshal(b, &batch); err != nil {
		return nil, err
	}
	return batch.Events, nil
}

// Close stops the batcher after one last flush attempt.
func (b *Batcher) Close() {
	select {
	case <-b.done:
	default:
		close(b.done)
	}
	<-b.stopped
}
