package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/spool"
)

// switchSink refuses every batch while down is set.
type switchSink struct {
	captureSink
	down atomic.Bool
}

func (s *switchSink) Publish(ctx context.Context, evs []event.Event) (int, error) {
	if s.down.Load() {
		return 0, errors.New("ingest down")
	}
	return s.captureSink.Publish(ctx, evs)
}

func openSpool(t *testing.T, dir string) *spool.Spool {
	t.Helper()
	sp, err := spool.Open(dir, spool.Options{SegmentBytes: 4 << 10, MaxBytes: 1 << 20})
	testenv.Must(t, err, "spool")
	return sp
}

func numbered(i int) event.Event {
	return event.Event{SchemaVersion: 1, Type: event.TypeUsage, EventID: fmt.Sprintf("0190f3c4-7a2b-7c3d-8e4f-%012d", i),
		Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Provider: "openai", ModelRequested: "gpt-4o", Complete: true}
}

// onceEach fails the test unless got holds each of the n numbered events
// exactly once, equal to what was added.
func onceEach(t *testing.T, got []event.Event, n int) {
	t.Helper()
	seen := map[string]int{}
	for _, e := range got {
		seen[e.EventID]++
	}
	for i := range n {
		want := numbered(i)
		if seen[want.EventID] != 1 {
			t.Fatalf("event %d delivered %d times (%d events in all)", i, seen[want.EventID], len(got))
		}
	}
	if len(got) != n {
		t.Fatalf("%d events delivered, want %d", len(got), n)
	}
	for _, e := range got {
		if e.Time != numbered(0).Time || e.Provider != "openai" || !e.Complete {
			t.Fatalf("event changed on its way through the spool: %+v", e)
		}
	}
}

// With the sink down and a buffer of 4, 50 events go to the spool instead
// of being dropped, a log line says so, and once the sink answers every
// event arrives once and the spool is empty on disk.
func TestBatcherSpoolsWhileSinkDownAndReplays(t *testing.T) {
	t.Parallel()
	var logs testenv.LogBuffer
	sink := &switchSink{}
	sink.down.Store(true)
	sp := openSpool(t, t.TempDir())
	defer sp.Close()
	b := NewSpoolingBatcher(sink, sp, 2, 4, 5*time.Millisecond, slog.New(slog.NewTextHandler(&logs, nil)))
	for i := range 50 {
		b.Add(numbered(i))
	}
	testenv.WaitFor(t, 10*time.Second, "all events spooled", func() bool { return b.Counters().Spooled == 50 })
	if c := b.Counters(); c.Dropped != 0 || c.Sent != 0 || c.Spool.Records == 0 {
		t.Fatalf("sink down: %+v", c)
	}
	testenv.WaitFor(t, 15*time.Second, "a log line reporting the spooled events", func() bool {
		return strings.Contains(logs.String(), "events kept in the spool")
	})

	sink.down.Store(false)
	onceEach(t, sink.wait(t, 50), 50)
	b.Close()
	c := b.Counters()
	if c.Sent != 50 || c.Replayed != 50 || c.Dropped != 0 || c.Spool.Records != 0 || c.Spool.Segments != 0 {
		t.Fatalf("after recovery: %+v", c)
	}
}

// Events buffered when the batcher closes with the sink down stay in the
// spool; the next batcher on the directory (a restart) delivers them once.
func TestBatcherSpoolOutlivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	down := &switchSink{}
	down.down.Store(true)
	sp := openSpool(t, dir)
	b := NewSpoolingBatcher(down, sp, 10, 100, time.Hour, quiet)
	for i := range 25 {
		b.Add(numbered(i))
	}
	b.Close()
	if c := b.Counters(); c.Dropped != 0 || c.Spooled != 25 {
		t.Fatalf("closed while down: %+v", c)
	}
	testenv.Must(t, sp.Close(), "close spool")

	up := &switchSink{}
	sp = openSpool(t, dir)
	defer sp.Close()
	b = NewSpoolingBatcher(up, sp, 10, 100, 5*time.Millisecond, quiet)
	onceEach(t, up.wait(t, 25), 25)
	b.Close()
	if c := b.Counters(); c.Replayed != 25 || c.Spool.Records != 0 {
		t.Fatalf("after restart: %+v", c)
	}
}

// Without a spool, or with a full one, drops are counted and logged as an
// error: never silent.
func TestBatcherReportsDrops(t *testing.T) {
	t.Parallel()
	for name, withSpool := range map[string]bool{"memory only": false, "spool full": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs testenv.LogBuffer
			sink := &switchSink{}
			sink.down.Store(true)
			var sp *spool.Spool
			if withSpool {
				var err error
				sp, err = spool.Open(t.TempDir(), spool.Options{SegmentBytes: 2000, MaxBytes: 2000})
				testenv.Must(t, err, "spool")
				defer sp.Close()
			}
			b := NewSpoolingBatcher(sink, sp, 2, 4, 5*time.Millisecond, slog.New(slog.NewTextHandler(&logs, nil)))
			for i := range 30 {
				b.Add(numbered(i))
			}
			testenv.WaitFor(t, 15*time.Second, "an error line reporting drops", func() bool {
				return strings.Contains(logs.String(), "level=ERROR msg=\"gateway: events DROPPED")
			})
			b.Close()
			c := b.Counters()
			if c.Dropped == 0 || c.Dropped+c.Spooled+int64(len(sink.events)) < 30 {
				t.Fatalf("%+v", c)
			}
			if withSpool && (c.Spooled == 0 || c.Spool.Bytes > 2000) {
				t.Fatalf("spool bound: %+v", c)
			}
		})
	}
}

// blockingSink holds its first batch until released, as an ingest that
// accepts the connection and never answers.
type blockingSink struct {
	captureSink
	entered, release chan struct{}
	once             sync.Once
}

func (s *blockingSink) Publish(ctx context.Context, evs []event.Event) (int, error) {
	s.once.Do(func() {
		close(s.entered)
		<-s.release
	})
	return s.captureSink.Publish(ctx, evs)
}

// While the loop waits on a sink that does not answer, calls that find the
// buffer full move a batch each to the spool instead of dropping; all
// events arrive once the sink answers. The buffer bound counts the 2 events
// in flight (the outbox's rule, the filter's too), so of the 20 added 2 wait
// in memory and 18 go to disk.
func TestBatcherFullBufferSpillsToSpool(t *testing.T) {
	t.Parallel()
	sink := &blockingSink{entered: make(chan struct{}), release: make(chan struct{})}
	sp := openSpool(t, t.TempDir())
	defer sp.Close()
	b := NewSpoolingBatcher(sink, sp, 2, 4, 5*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	b.Add(numbered(0))
	b.Add(numbered(1))
	<-sink.entered
	for i := 2; i < 22; i++ {
		b.Add(numbered(i))
	}
	if c := b.Counters(); c.Spooled != 18 || c.Dropped != 0 || c.Buffered != 4 {
		t.Fatalf("buffer of 4 while the sink hangs, 20 more events: %+v", c)
	}
	close(sink.release)
	onceEach(t, sink.wait(t, 22), 22)
	b.Close()
}

// With a buffer of one batch, the batch being sent fills it: while the sink
// hangs on it, every new event goes to the spool rather than being lost.
func TestBatcherOneBatchBufferSpillsWhileSending(t *testing.T) {
	t.Parallel()
	sink := &blockingSink{entered: make(chan struct{}), release: make(chan struct{})}
	sp := openSpool(t, t.TempDir())
	defer sp.Close()
	b := NewSpoolingBatcher(sink, sp, 5, 5, 5*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for i := range 5 {
		b.Add(numbered(i))
	}
	<-sink.entered
	for i := 5; i < 12; i++ {
		b.Add(numbered(i))
	}
	if c := b.Counters(); c.Spooled != 7 || c.Dropped != 0 {
		t.Fatalf("buffer of 5 with 5 in flight, 7 more events: %+v", c)
	}
	close(sink.release)
	onceEach(t, sink.wait(t, 12), 12)
	b.Close()
}

// A spooled batch ingest refuses as such (HTTP 400) is dropped, counted and
// logged, and does not hold back the batches behind it; an unavailable
// ingest (503) is retried.
func TestBatcherDropsRejectedBatchAndGoesOn(t *testing.T) {
	t.Parallel()
	var logs testenv.LogBuffer
	var mu sync.Mutex
	var got []event.Event
	var unavailable atomic.Bool
	unavailable.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		evs, err := decodeBatch(mustRead(r))
		switch {
		case unavailable.Load():
			http.Error(w, `{"error":"event store unavailable"}`, http.StatusServiceUnavailable)
		case err != nil || len(evs) == 0 || evs[0].EventID == numbered(0).EventID: // the "poison" batch
			http.Error(w, `{"error":"body must be {\"events\":[...]}"}`, http.StatusBadRequest)
		default:
			mu.Lock()
			got = append(got, evs...)
			mu.Unlock()
			_, _ = io.WriteString(w, `{"accepted":1,"duplicates":0,"rejected":[]}`)
		}
	}))
	defer srv.Close()
	sp := openSpool(t, t.TempDir())
	defer sp.Close()
	b := NewSpoolingBatcher(&HTTPSink{URL: srv.URL, ServiceToken: "svc"}, sp, 1, 10, 5*time.Millisecond, slog.New(slog.NewTextHandler(&logs, nil)))
	for i := range 5 {
		b.Add(numbered(i))
	}
	testenv.WaitFor(t, 10*time.Second, "all spooled", func() bool { return b.Counters().Spooled == 5 })
	unavailable.Store(false)
	testenv.WaitFor(t, 15*time.Second, "the others delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 4
	})
	b.Close()
	if c := b.Counters(); c.Dropped != 1 || c.Sent != 4 || c.Replayed != 4 || c.Spool.Records != 0 {
		t.Fatalf("%+v", c)
	}
	if !strings.Contains(logs.String(), "ingest refused their batch") {
		t.Fatalf("the dropped batch was not logged:\n%s", logs.String())
	}
}

func mustRead(r *http.Request) []byte {
	b, _ := io.ReadAll(r.Body)
	return b
}
