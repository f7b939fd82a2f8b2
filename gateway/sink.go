package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spendgate/spendgate/event"
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.ServiceToken)
	req.Header.Set("Content-Type", "application/json")
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ingest answered HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}

// Batcher buffers events and hands them to a sink in batches, on size or
// interval, retrying failed batches with backoff. It never blocks the caller:
// past MaxBuffered events are dropped and counted.
type Batcher struct {
	sink        EventSink
	maxBatch    int
	maxBuffered int
	interval    time.Duration
	log         *slog.Logger

	mu      sync.Mutex
	pending []event.Event
	kick    chan struct{}
	done    chan struct{}
	stopped chan struct{}

	sent, dropped, failures atomic.Int64
}

// NewBatcher starts a batcher; Close drains it.
func NewBatcher(sink EventSink, maxBatch, maxBuffered int, interval time.Duration, log *slog.Logger) *Batcher {
	b := &Batcher{sink: sink, maxBatch: maxBatch, maxBuffered: maxBuffered, interval: interval, log: log,
		kick: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
	go b.run()
	return b
}

// Add queues one event.
func (b *Batcher) Add(e event.Event) {
	b.mu.Lock()
	if len(b.pending) >= b.maxBuffered {
		b.mu.Unlock()
		b.dropped.Add(1)
		return
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

func (b *Batcher) run() {
	defer close(b.stopped)
	t := time.NewTicker(b.interval)
	defer t.Stop()
	backoff := time.Duration(0)
	for {
		select {
		case <-b.done:
			b.flush(context.Background(), true)
			return
		case <-t.C:
		case <-b.kick:
		}
		if backoff > 0 {
			select {
			case <-time.After(backoff):
			case <-b.done:
				b.flush(context.Background(), true)
				return
			}
		}
		if b.flush(context.Background(), false) {
			backoff = 0
		} else {
			backoff = min(max(2*backoff, 100*time.Millisecond), 10*time.Second)
		}
	}
}

// flush sends pending batches; it returns false when a batch failed (the
// batch is put back in front).
func (b *Batcher) flush(ctx context.Context, final bool) bool {
	for {
		b.mu.Lock()
		if len(b.pending) == 0 {
			b.mu.Unlock()
			return true
		}
		n := min(len(b.pending), b.maxBatch)
		batch := append([]event.Event(nil), b.pending[:n]...)
		b.pending = b.pending[n:]
		b.mu.Unlock()

		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := b.sink.Publish(cctx, batch)
		cancel()
		if err == nil {
			b.sent.Add(int64(n))
			continue
		}
		b.failures.Add(1)
		b.log.Warn("gateway: publishing events failed; will retry", "events", n, "err", err)
		b.mu.Lock()
		room := b.maxBuffered - len(b.pending)
		if room < len(batch) {
			b.dropped.Add(int64(len(batch) - max(room, 0)))
			batch = batch[:max(room, 0)]
		}
		b.pending = append(batch, b.pending...)
		b.mu.Unlock()
		if final {
			return false
		}
		return false
	}
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
