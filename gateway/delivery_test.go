package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spendgate/spendgate/event"
)

// TestRefusedBatchesAreDroppedNotRetried: the gateway follows the data
// plane's one delivery rule (dataplane.Retryable, as the filter's outbox
// does): a batch ingest refuses as such (a 4xx other than auth and
// throttling) is dropped and counted at once, while an unavailable or
// throttling ingest keeps the events for another attempt.
func TestRefusedBatchesAreDroppedNotRetried(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for name, tt := range map[string]struct {
		status      int
		wantDropped int64
		wantRetries bool
	}{
		"refused (413)":     {413, 3, false},
		"refused (422)":     {422, 3, false},
		"throttled (429)":   {429, 0, true},
		"unavailable (503)": {503, 0, true},
	} {
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			b := NewBatcher(&HTTPSink{URL: srv.URL, ServiceToken: "svc"}, 10, 100, 5*time.Millisecond, log)
			for i := 0; i < 3; i++ {
				b.Add(event.Event{EventID: "e" + string(rune('a'+i))})
			}
			deadline := time.Now().Add(5 * time.Second)
			for calls.Load() < 2 && time.Now().Before(deadline) && tt.wantRetries {
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond) // time for retries, were there any
			_, dropped, _ := b.Stats()
			if dropped != tt.wantDropped {
				t.Fatalf("dropped %d, want %d", dropped, tt.wantDropped)
			}
			if n := calls.Load(); tt.wantRetries != (n > 1) || n == 0 {
				t.Fatalf("%d attempts (retries wanted: %v)", n, tt.wantRetries)
			}
			b.Close()
		})
	}
}

// TestRejectedEventsCounted: events ingest takes in a batch but lists as
// rejected (invalid) are counted apart from the sent ones and never
// retried, through the HTTP sink as through the filter (the outbox reads
// ingest's answer).
func TestRejectedEventsCounted(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.WriteString(w, `{"accepted":2,"duplicates":0,"rejected":[{"index":1,"event_id":"eb","error":"invalid provider"}]}`)
	}))
	defer srv.Close()
	b := NewBatcher(&HTTPSink{URL: srv.URL, ServiceToken: "svc"}, 3, 100, 5*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, id := range []string{"ea", "eb", "ec"} {
		b.Add(event.Event{EventID: id})
	}
	b.Close()
	if c := b.Counters(); c.Sent != 2 || c.Rejected != 1 || c.Dropped != 0 || c.Failures != 0 || calls.Load() != 1 {
		t.Fatalf("%+v after %d calls", c, calls.Load())
	}
}
