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

// EventSink delivers one batch of events to ingest: I/O only. What its
// answer means (delivered, retried, refused) is the data plane's outbox's
// decision (dataplane.Outbox), the rule the Envoy filter follows too.
type EventSink interface {
	// Publish returns, when ingest took the batch, how many of its events
	// ingest rejected as invalid; otherwise an error: a
	// *svcclient.StatusError carries ingest's status, any other error means
	// no answer came.
	Publish(ctx context.Context, events []event.Event) (rejected int, err error)
}

// HTTPSink posts batches to the ingest endpoint (POST /internal/v1/events).
type HTTPSink struct {
	URL          string
	ServiceToken string
	Client       *http.Client
}

// Publish implements EventSink.
func (s *HTTPSink) Publish(ctx context.Context, events []event.Event) (int, error) {
	body := event.AppendBatch(make([]byte, 0, 512*len(events)), events)
	// The answer lists every rejected event: room for a whole batch of them.
	c := svcclient.Client{Token: s.ServiceToken, HTTP: s.Client, MaxAnswerBytes: 1 << 20}
	answer, err := c.Expect(ctx, http.StatusOK, http.MethodPost, s.URL, body)
	if err != nil {
		return 0, fmt.Errorf("ingest: %w", err)
	}
	return dataplane.RejectedCount(answer), nil
}

// ingestStatus is the HTTP status of a sink's answer: 200 when it took the
// batch, 0 when no answer came.
func ingestStatus(err error) int {
	var se *svcclient.StatusError
	switch {
	case err == nil:
		return http.StatusOK
	case errors.As(err, &se):
		return se.Status
	}
	return 0
}

// Batcher delivers the gateway's events to a sink by driving the data
// plane's outbox (dataplane.Outbox: batching, when batches go, the
// retry/drop rule and its back-off, over this process's clock); the
// batcher itself does the I/O: a goroutine that publishes what the outbox
// says is due, and the disk spool. It never blocks the caller on the sink.
//
// Without a spool, events wait in memory: past MaxBuffered (waiting and in
// flight) they are dropped and counted. With a spool (NewSpoolingBatcher),
// the events that wait while the sink is down and a full buffer's newest
// batch go to disk instead, and are replayed once the sink answers again
// (after the buffer's full batches: those go first). Events are dropped
// only when the spool is full or failing too, or when ingest refuses their
// batch as such. Delivery is at least once: ingest deduplicates by event id.
type Batcher struct {
	sink     EventSink
	spool    *spool.Spool // nil: memory only
	maxBatch int
	interval time.Duration
	log      *slog.Logger

	mu     sync.Mutex
	outbox *dataplane.Outbox

	kick    chan struct{}
	done    chan struct{}
	stopped chan struct{}

	lost, spooled, replayed atomic.Int64
	reported                BatcherStats // counts at the last loss report (run's goroutine)
	reportedAt              time.Time
}

// BatcherStats are a batcher's counters since it started, for logs and
// metrics.
type BatcherStats struct {
	Sent     int64 // events the sink accepted, replayed ones included
	Rejected int64 // events ingest took in a batch but refused as invalid
	Dropped  int64 // events lost: buffer full without room in a spool, or their batch refused
	Spooled  int64 // events written to the spool
	Replayed int64 // spooled events the sink accepted
	Failures int64 // failed publish attempts
	// Buffered is how many events wait in memory now (in flight included).
	Buffered int64
	// Spool is what the spool holds now (zero without one).
	Spool spool.Stats
}

// lossReportEvery spaces the log lines that report spooled or dropped
// events, so an outage logs a line per interval rather than per batch.
const lossReportEvery = 10 * time.Second

// maxRetryInterval caps the back-off while ingest fails.
const maxRetryInterval = 10 * time.Second

// NewBatcher starts a batcher that buffers in memory only; Close drains it.
func NewBatcher(sink EventSink, maxBatch, maxBuffered int, interval time.Duration, log *slog.Logger) *Batcher {
	return NewSpoolingBatcher(sink, nil, maxBatch, maxBuffered, interval, log)
}

// NewSpoolingBatcher starts a batcher that keeps what it cannot deliver in
// sp (nil: memory only) and first replays what sp holds from earlier runs.
// The batcher does not close sp.
func NewSpoolingBatcher(sink EventSink, sp *spool.Spool, maxBatch, maxBuffered int, interval time.Duration, log *slog.Logger) *Batcher {
	ob := dataplane.NewOutbox(dataplane.OutboxConfig{BatchMaxEvents: maxBatch, MaxBufferedEvents: maxBuffered,
		FlushInterval: interval, MaxRetryInterval: maxRetryInterval}, time.Now())
	b := &Batcher{sink: sink, spool: sp, maxBatch: max(maxBatch, 1), interval: interval, log: log, outbox: ob,
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
	if b.spool != nil && b.outbox.Full() {
		// The sink cannot keep up (the loop is waiting on it): this caller
		// moves the newest batch to disk rather than lose an event — one
		// fsync of at most maxBatch events, paid by one call in maxBatch.
		spilled := b.outbox.Spill()
		b.mu.Unlock()
		if len(spilled) == 0 {
			// Every event held is in the batch being sent (a buffer of one
			// batch): this one goes to disk itself.
			if !b.toSpool([]event.Event{e}) {
				b.lost.Add(1)
			}
			return
		}
		if !b.toSpool(spilled) {
			b.lost.Add(int64(len(spilled)))
		}
		b.mu.Lock()
	}
	queued := b.outbox.Add(&e)
	full := b.outbox.Pending() >= b.maxBatch
	b.mu.Unlock()
	if !queued {
		b.lost.Add(1)
	}
	if full {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

// Stats returns events sent, dropped and failed publish attempts.
func (b *Batcher) Stats() (sent, dropped, failures int64) {
	st := b.Counters()
	return st.Sent, st.Dropped, st.Failures
}

// Counters returns every counter of the batcher and what its spool holds.
func (b *Batcher) Counters() BatcherStats {
	b.mu.Lock()
	ob, buffered := b.outbox.Stats(), b.outbox.Buffered()
	b.mu.Unlock()
	st := BatcherStats{Sent: int64(ob.Sent), Rejected: int64(ob.Rejected), Failures: int64(ob.Failures),
		Dropped: b.lost.Load(), Spooled: b.spooled.Load(), Replayed: b.replayed.Load(), Buffered: int64(buffered)}
	if b.spool != nil {
		st.Spool = b.spool.Stats()
	}
	return st
}

// run is the delivery loop. The outbox's clock is the ticker's: a tick
// passes its scheduled time, so flush intervals and back-offs count whole
// ticks however late the loop wakes, and a kick (a full batch) runs at the
// last tick's time, sending full batches only.
func (b *Batcher) run() {
	defer close(b.stopped)
	t := time.NewTicker(b.interval)
	defer t.Stop()
	lastTick := time.Now()
	for {
		select {
		case <-b.done:
			b.final()
			return
		case lastTick = <-t.C:
		case <-b.kick:
		}
		if !b.deliver(lastTick) {
			b.final()
			return
		}
		b.reportLoss(false)
	}
}

// deliver publishes the batches the outbox says are due at now, then
// replays spooled ones while no full batch waits; while ingest is backing
// off, it moves the waiting events to the spool. false when Close was
// called.
func (b *Batcher) deliver(now time.Time) bool {
	for {
		select {
		case <-b.done:
			return false
		default:
		}
		b.mu.Lock()
		batch := b.outbox.Next(now)
		ready := b.outbox.Ready(now)
		b.mu.Unlock()
		switch {
		case batch != nil:
			b.publish(batch, now)
		case !ready:
			b.spoolPending() // down: new events wait on disk rather than in memory
			return true
		case b.spool == nil || !b.replay(now):
			return true
		}
	}
}

// replay publishes the oldest spooled batch; false when there is none or
// it could not go (it stays in the spool).
func (b *Batcher) replay(now time.Time) bool {
	rec, err := b.spool.Next()
	if errors.Is(err, spool.ErrEmpty) {
		return false
	}
	if err != nil {
		b.log.Error("gateway: reading the event spool failed; its batches wait", "dir", b.spool.Dir(), "err", err)
		return false
	}
	evs, err := decodeBatch(rec.Data)
	if err != nil {
		// Checksummed on disk, so only a bug writes this: keep going.
		b.log.Error("gateway: dropping an undecodable spooled batch (a bug)", "err", err)
		_ = b.spool.Ack(rec)
		return true
	}
	b.mu.Lock()
	batch := b.outbox.Resend(evs)
	b.mu.Unlock()
	out := b.publish(batch, now)
	if out.Retry {
		return false
	}
	if out.Delivered {
		b.replayed.Add(int64(len(evs) - out.Rejected))
	}
	if err := b.spool.Ack(rec); err != nil {
		// The batch may be delivered again after a restart: harmless.
		b.log.Error("gateway: acknowledging a spooled batch failed", "err", err)
		return false
	}
	return true
}

// publish sends one batch and settles ingest's answer with the outbox at
// now; the events it gives up on go to the spool, or are lost and counted.
func (b *Batcher) publish(batch *dataplane.Batch, now time.Time) dataplane.Outcome {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	rejected, err := b.sink.Publish(ctx, batch.Events)
	cancel()
	n := len(batch.Events)
	b.mu.Lock()
	out := b.outbox.SettleRejected(batch, ingestStatus(err), rejected, now)
	b.mu.Unlock()
	switch {
	case out.Delivered:
		if out.Rejected > 0 {
			b.log.Error("gateway: ingest rejected events as invalid (a bug)", "events", n, "rejected", out.Rejected)
		}
	case out.Retry:
		b.log.Warn("gateway: publishing events failed; will retry", "events", n, "err", err)
		b.keep(out.Dropped) // beyond the buffer bound
	default:
		b.lost.Add(int64(len(out.Dropped)))
		b.log.Error("gateway: events DROPPED: ingest refused their batch (a bug or a misconfiguration)", "events", n, "err", err)
	}
	return out
}

// keep writes events the outbox gave up on to the spool, else counts them
// lost.
func (b *Batcher) keep(evs []event.Event) {
	if len(evs) == 0 {
		return
	}
	if b.spool == nil || !b.toSpool(evs) {
		b.lost.Add(int64(len(evs)))
	}
}

// spoolPending moves the waiting events to the spool, a batch at a time;
// when the spool is full they go back to memory, as far as it has room.
func (b *Batcher) spoolPending() {
	if b.spool == nil {
		return
	}
	for {
		b.mu.Lock()
		evs := b.outbox.Spill()
		b.mu.Unlock()
		if evs == nil {
			return
		}
		if !b.toSpool(evs) {
			b.mu.Lock()
			for i := range evs {
				if !b.outbox.Add(&evs[i]) {
					b.lost.Add(1)
				}
			}
			b.mu.Unlock()
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

// final runs at Close: one last attempt for the buffer (none when ingest
// is backing off and there is a spool), whose failure goes to the spool,
// or is lost and counted without one.
func (b *Batcher) final() {
	now := time.Now()
	b.mu.Lock()
	down := !b.outbox.Ready(now)
	b.mu.Unlock()
	if !down || b.spool == nil {
		for {
			b.mu.Lock()
			batch := b.outbox.Flush()
			b.mu.Unlock()
			if batch == nil || b.publish(batch, now).Retry {
				break
			}
		}
	}
	b.spoolPending()
	b.mu.Lock()
	for evs := b.outbox.Spill(); evs != nil; evs = b.outbox.Spill() {
		b.lost.Add(int64(len(evs)))
	}
	b.mu.Unlock()
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
