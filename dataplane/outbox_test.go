package dataplane

import (
	"testing"
	"time"

	"github.com/spendgate/spendgate/event"
)

func ev(id string) *event.Event { return &event.Event{EventID: id} }

// TestOutboxRule pins the one delivery rule both hosts follow, on a clock
// the test moves: full batches at once, the rest once per flush interval;
// a 200 delivers (rejected events counted, not retried); a retryable
// failure waits a doubling back-off, then one batch probes; a refusal drops
// the batch and hands its events back; the buffer bound drops new events.
func TestOutboxRule(t *testing.T) {
	t0 := time.Unix(1000, 0)
	o := NewOutbox(OutboxConfig{BatchMaxEvents: 2, MaxBufferedEvents: 4, FlushInterval: time.Second, MaxRetryInterval: 3 * time.Second}, t0)
	o.Add(ev("a"))
	if b := o.Next(t0.Add(500 * time.Millisecond)); b != nil {
		t.Fatal("a lone event went before the flush interval")
	}
	o.Add(ev("b"))
	b := o.Next(t0.Add(500 * time.Millisecond))
	if b == nil || len(b.Events) != 2 || string(b.AppendBody(nil))[:11] != `{"events":[` {
		t.Fatalf("full batch not sent at once: %+v", b)
	}
	if out := o.Settle(b, 200, []byte(`{"accepted":1,"duplicates":0,"rejected":[{"index":1,"error":"bad"}]}`), t0); !out.Delivered || out.Rejected != 1 {
		t.Fatalf("200 with a rejection: %+v", out)
	}

	// Ingest down: back-off of one interval, then two, capped at three.
	o.Add(ev("c"))
	now := t0.Add(2 * time.Second)
	b = o.Next(now)
	if b == nil || len(b.Events) != 1 {
		t.Fatal("partial batch not sent once the interval passed")
	}
	if out := o.Settle(b, 503, nil, now); !out.Retry || len(out.Dropped) != 0 {
		t.Fatalf("503: %+v", out)
	}
	if o.Next(now.Add(time.Second)) != nil {
		t.Fatal("retried before the back-off passed")
	}
	b = o.Next(now.Add(time.Second + time.Millisecond))
	if b == nil || b.Events[0].EventID != "c" {
		t.Fatal("the failed batch was not retried after the back-off")
	}
	o.Add(ev("d"))
	o.Add(ev("e"))
	if o.Next(now.Add(time.Hour)) != nil {
		t.Fatal("a second batch went while the probe is out")
	}
	now = now.Add(2 * time.Second)
	o.Settle(b, 0, nil, now) // no answer at all
	if o.Next(now.Add(2*time.Second)) != nil || o.Next(now.Add(2*time.Second+time.Millisecond)) == nil {
		t.Fatal("second back-off is not two intervals")
	}

	// A refusal: dropped and handed back, not retried.
	o2 := NewOutbox(OutboxConfig{BatchMaxEvents: 2, MaxBufferedEvents: 3, FlushInterval: time.Second}, t0)
	o2.Add(ev("x"))
	o2.Add(ev("y"))
	b = o2.Next(t0)
	if out := o2.Settle(b, 413, []byte("too large"), t0); out.Retry || out.Delivered || len(out.Dropped) != 2 {
		t.Fatalf("413: %+v", out)
	}
	if o2.Pending() != 0 {
		t.Fatal("a refused batch came back")
	}
	// The bound counts pending and in-flight events.
	for _, id := range []string{"1", "2", "3"} {
		o2.Add(ev(id))
	}
	b = o2.Next(t0.Add(2 * time.Second))
	if o2.Add(ev("4")) {
		t.Fatal("an event past the bound was queued")
	}
	if st := o2.Stats(); st.Dropped != 3 || st.Failures != 1 {
		t.Fatalf("stats %+v", st)
	}
	_ = b
}

// TestRetryable: what a failed delivery is worth retrying.
func TestRetryable(t *testing.T) {
	for status, want := range map[int]bool{0: true, 500: true, 503: true, 401: true, 403: true, 408: true, 429: true, 400: false, 404: false, 413: false, 422: false} {
		if Retryable(status) != want {
			t.Errorf("Retryable(%d) = %v", status, !want)
		}
	}
}

// TestOutboxHostStorage: what a host that keeps events on disk (the
// gateway's spool) relies on. Spill takes the newest waiting batch out and
// frees room; Resend delivers a stored batch under the same rule without
// taking it in on failure, and its failure starts the back-off that Ready
// reports; Flush sends a partial batch at once for a last attempt.
func TestOutboxHostStorage(t *testing.T) {
	t0 := time.Unix(1000, 0)
	o := NewOutbox(OutboxConfig{BatchMaxEvents: 2, MaxBufferedEvents: 3, FlushInterval: time.Second}, t0)
	for _, id := range []string{"a", "b", "c"} {
		o.Add(ev(id))
	}
	if !o.Full() || o.Buffered() != 3 {
		t.Fatalf("full %v buffered %d", o.Full(), o.Buffered())
	}
	spilled := o.Spill()
	if len(spilled) != 2 || spilled[0].EventID != "b" || spilled[1].EventID != "c" || o.Full() {
		t.Fatalf("spilled %+v, full %v", spilled, o.Full())
	}
	o.Add(ev("d"))
	if spilled[0].EventID != "b" {
		t.Fatal("an Add wrote over spilled events")
	}

	// A stored batch fails: nothing comes back into memory, the back-off
	// starts, and only a probe goes once it has passed.
	if !o.Ready(t0) {
		t.Fatal("not ready while ingest answers")
	}
	r := o.Resend(spilled)
	if out := o.Settle(r, 503, nil, t0); !out.Retry || len(out.Dropped) != 0 || o.Buffered() != 2 {
		t.Fatalf("failed resend %+v, buffered %d", out, o.Buffered())
	}
	if o.Ready(t0.Add(time.Second)) || o.Next(t0.Add(time.Second)) != nil {
		t.Fatal("ready during the back-off")
	}
	probe := o.Resend(spilled)
	if o.Ready(t0.Add(time.Hour)) {
		t.Fatal("a second batch may go while the probe is out")
	}
	if out := o.Settle(probe, 200, []byte(`{"rejected":[{"index":0}]}`), t0.Add(2*time.Second)); !out.Delivered || out.Rejected != 1 {
		t.Fatalf("resend delivered: %+v", out)
	}
	if st := o.Stats(); st.Sent != 1 || st.Rejected != 1 || st.Failures != 1 {
		t.Fatalf("stats %+v", st)
	}
	// A refused stored batch is dropped, for the host to discard.
	if out := o.Settle(o.Resend(spilled), 400, nil, t0); !out.Refused() || len(out.Dropped) != 2 {
		t.Fatalf("refused resend %+v", out)
	}

	// The last attempt: a partial batch at once.
	b := o.Flush()
	if b == nil || len(b.Events) != 2 || o.Flush() != nil {
		t.Fatalf("flush %+v", b)
	}
	if o.Buffered() != 2 {
		t.Fatalf("in-flight events not counted: %d", o.Buffered())
	}
}
