package ingest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/requestid"
)

// Rejected is one event refused from a batch.
type Rejected struct {
	Index   int    `json:"index"`
	EventID string `json:"event_id,omitempty"`
	Error   string `json:"error"`
}

// Result answers a batch.
type Result struct {
	Accepted   int        `json:"accepted"`
	Duplicates int        `json:"duplicates"`
	Rejected   []Rejected `json:"rejected"`
}

// Receiver validates event batches and publishes them to JetStream.
type Receiver struct {
	cfg Config
	js  jetstream.JetStream
	log *slog.Logger
	now func() time.Time

	// PublishTimeout bounds how long a batch waits for JetStream to
	// acknowledge it (a caller's shorter deadline wins). Past it the batch
	// is answered 503, so a caller with a short timeout of its own learns
	// "retry" instead of timing out while NATS is down. Set before serving.
	PublishTimeout time.Duration
	// Observer, when set, learns each batch's result (metrics). Set before
	// serving.
	Observer ReceiverObserver
	// subjects[p] is partition p's subject up to the tenant, built once:
	// per event only the tenant is appended.
	subjects []string
	// events holds *[]event.Event, a request's decoded events, reused by
	// the next request: 500 events are ~300 KB. Nothing keeps them once
	// the request is answered (the payloads published are the body's
	// bytes, not the events).
	events sync.Pool
}

// ReceiverObserver learns what the receiver did with each batch: how many
// events were accepted, already stored (duplicates) and rejected, or that
// JetStream did not take the batch (err, answered 503).
type ReceiverObserver interface {
	BatchReceived(accepted, duplicates, rejected int, err error)
}

func (r *Receiver) observe(res *Result, err error) {
	if r.Observer != nil {
		r.Observer.BatchReceived(res.Accepted, res.Duplicates, len(res.Rejected), err)
	}
}

// DefaultPublishTimeout is Receiver.PublishTimeout unless set: JetStream
// acknowledges a healthy batch within milliseconds, and data planes time
// their batches out after 10 s.
const DefaultPublishTimeout = 5 * time.Second

// NewReceiver returns a receiver; call EnsureStreams first.
func NewReceiver(cfg Config, js jetstream.JetStream, log *slog.Logger) *Receiver {
	r := &Receiver{cfg: cfg, js: js, log: log, now: time.Now, PublishTimeout: DefaultPublishTimeout,
		subjects: make([]string, cfg.partitions())}
	for p := range r.subjects {
		r.subjects[p] = cfg.partitionSubjectPrefix(p)
	}
	return r
}

// ErrUnavailable wraps JetStream failures: the caller should retry the batch.
var ErrUnavailable = errors.New("event store unavailable")

// publishWindow bounds the messages one call has in flight: JetStream's
// client holds at most its async limit (4,000 by default) across all
// calls at once, and stalls publishers beyond it.
const publishWindow = 1000

// Publish validates events and publishes the valid ones, grouped into
// messages by subject (message.go), returning only after JetStream
// acknowledged them. Rejected lists invalid events; they do not hold up the
// valid ones.
func (r *Receiver) Publish(ctx context.Context, events []event.Event) (Result, error) {
	res, err := r.publish(ctx, events, encodePayloads(events))
	r.observe(&res, err)
	return res, err
}

// encodePayloads encodes each event into one buffer sized for the batch:
// serve's gateway publishes every event here, and a slice grown per event
// (AppendJSON(nil, …): several allocations each) was garbage the process
// shares with the gateway's requests. The payloads are sub-slices, capped
// so none can grow into the next.
func encodePayloads(events []event.Event) [][]byte {
	payloads := make([][]byte, len(events))
	buf := make([]byte, 0, payloadGuess*len(events))
	for i := range events {
		start := len(buf)
		buf = event.AppendJSON(buf, &events[i])
		payloads[i] = buf[start:len(buf):len(buf)]
	}
	return payloads
}

// payloadGuess is the size of a typical encoded usage event, with room for
// dimensions and a raw usage object.
const payloadGuess = 768

// outMsg is one message of a call: its subject, payload and Nats-Msg-Id,
// and how many events it carries.
type outMsg struct {
	subject, id string
	data        []byte
	events      int
}

// messages groups the valid events (their indexes in events, in order) by
// subject, and each group into messages within the bounds of message.go,
// in order of first appearance. The grouping depends only on the events
// and their order, so a retried call publishes the same messages (ids).
func (r *Receiver) messages(events []event.Event, payloads [][]byte, valid []int) []outMsg {
	type subject struct {
		partition int
		tenant    string
	}
	groups := map[subject][]int{}
	var order []subject
	total := 0
	for _, i := range valid {
		e := &events[i]
		s := subject{r.cfg.PartitionOf(e.EventID), e.TenantID}
		if _, seen := groups[s]; !seen {
			order = append(order, s)
		}
		groups[s] = append(groups[s], i)
		total += len(payloads[i])
	}
	// One buffer for every batch message of the call (within a few bytes
	// per event of its size), sub-sliced.
	buf := make([]byte, 0, total+(len(batchPrefix)+3)*len(order)+len(valid))
	msgs := make([]outMsg, 0, len(order))
	var raws [][]byte
	var ids []string
	for _, key := range order {
		group := groups[key]
		s := r.subjects[key.partition] + key.tenant
		for len(group) > 0 {
			raws, ids = raws[:0], ids[:0]
			size := 0
			for _, i := range group {
				if len(raws) == maxMessageEvents || len(raws) > 0 && batchMessageSize(len(raws)+1, size+len(payloads[i])) > maxMessageBytes {
					break
				}
				raws = append(raws, payloads[i])
				ids = append(ids, events[i].EventID)
				size += len(payloads[i])
			}
			group = group[len(raws):]
			if len(raws) == 1 {
				msgs = append(msgs, outMsg{subject: s, id: ids[0], data: raws[0], events: 1})
				continue
			}
			start := len(buf)
			buf = appendBatchMessage(buf, raws)
			msgs = append(msgs, outMsg{subject: s, id: batchMsgID(ids), data: buf[start:len(buf):len(buf)], events: len(raws)})
		}
	}
	return msgs
}

// publish is Publish with each event's JSON given (as received, or encoded).
func (r *Receiver) publish(ctx context.Context, events []event.Event, payloads [][]byte) (Result, error) {
	res := Result{Rejected: []Rejected{}}
	// A lost PubAck, or NATS down (the client buffers publishes while it
	// reconnects), must not hold the caller beyond the bound.
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(r.PublishTimeout, DefaultPublishTimeout))
	defer cancel()
	now := r.now()
	valid := make([]int, 0, len(events))
	for i := range events {
		if err := Validate(&events[i], now); err != nil {
			res.Rejected = append(res.Rejected, Rejected{Index: i, EventID: events[i].EventID, Error: err.Error()})
			continue
		}
		valid = append(valid, i)
	}
	type pending struct {
		f      jetstream.PubAckFuture
		events int
	}
	msgs := r.messages(events, payloads, valid)
	futures := make([]pending, 0, min(len(msgs), publishWindow))
	var failed []pending
	count := func(ack *jetstream.PubAck, events int) {
		if ack.Duplicate {
			res.Duplicates += events
		} else {
			res.Accepted += events
		}
	}
	wait := func() error {
		giveUp, _ := ctx.Deadline() // PublishTimeout, or the caller's earlier one
		delay := publishRetryDelay
		for attempt := 1; len(futures) > 0; attempt++ {
			// Whatever has no answer when the timer fires is published again:
			// a stream leader that died holding the publish never answers.
			timer := time.NewTimer(publishAckWait)
			expired := false
			failed = failed[:0]
			var lastErr error
			for _, p := range futures {
				var err error
				if expired { // the others had their time: take what is there
					select {
					case ack := <-p.f.Ok():
						count(ack, p.events)
						continue
					case err = <-p.f.Err():
					default:
						err = errNoAck
					}
				} else {
					select {
					case ack := <-p.f.Ok():
						count(ack, p.events)
						continue
					case err = <-p.f.Err():
					case <-timer.C:
						expired, err = true, errNoAck
					case <-ctx.Done():
						timer.Stop()
						return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
					}
				}
				lastErr = err
				failed = append(failed, p)
			}
			timer.Stop()
			futures = futures[:0]
			if len(failed) == 0 {
				return nil
			}
			// A stream leader failover (seconds) fails publishes or leaves
			// them unanswered: publish them again with the same Nats-Msg-Id,
			// which JetStream deduplicates if the first one was stored.
			if time.Now().Add(delay).After(giveUp) {
				n := 0
				for _, p := range failed {
					n += p.events
				}
				return fmt.Errorf("%w: %d events after %d attempts: %w", ErrUnavailable, n, attempt, lastErr)
			}
			r.log.Warn("ingest: JetStream did not acknowledge publishes; publishing them again", "messages", len(failed),
				"attempt", attempt, "err", lastErr)
			sleep(ctx, delay)
			delay = min(2*delay, time.Second)
			for _, p := range failed {
				nf, err := r.js.PublishMsgAsync(p.f.Msg())
				if err != nil {
					return fmt.Errorf("%w: %w", ErrUnavailable, err)
				}
				futures = append(futures, pending{nf, p.events})
			}
		}
		return nil
	}
	for _, m := range msgs {
		if len(futures) == publishWindow {
			if err := wait(); err != nil {
				return res, err
			}
		}
		// When all calls together fill the client's async window for long
		// (JetStream is slow), this fails and the call is answered 503:
		// back-pressure the data plane retries safely.
		f, err := r.js.PublishAsync(m.subject, m.data, jetstream.WithMsgID(m.id))
		if err != nil {
			return res, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		futures = append(futures, pending{f, m.events})
	}
	return res, wait()
}

// A publish not acknowledged within publishAckWait is published again
// (same message id), after publishRetryDelay doubling up to a second, until
// the batch's PublishTimeout would pass before the next attempt.
var errNoAck = errors.New("no acknowledgement from JetStream")

const (
	publishAckWait    = 2 * time.Second
	publishRetryDelay = 100 * time.Millisecond
)

// ServeHTTP is POST /internal/v1/events with body {"events":[...]}.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		writeJSONError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	got, bearer := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	if !bearer || r.cfg.ServiceToken == "" || subtle.ConstantTimeCompare([]byte(got), []byte(r.cfg.ServiceToken)) != 1 {
		writeJSONError(w, http.StatusUnauthorized, "wrong or missing service token (Authorization: Bearer <token>)")
		return
	}
	body, err := readBody(http.MaxBytesReader(w, req.Body, r.cfg.MaxBodyBytes), req.ContentLength, r.cfg.MaxBodyBytes)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSONError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("batch larger than %d bytes: send smaller batches", r.cfg.MaxBodyBytes))
			return
		}
		writeJSONError(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	raws, validJSON, err := batchEvents(body)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, `body must be {"events":[...]}: `+err.Error())
		return
	}
	if len(raws) > r.cfg.MaxEvents {
		writeJSONError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("at most %d events per batch", r.cfg.MaxEvents))
		return
	}
	// Decode each event on its own, so one bad event does not sink the batch.
	// The event is published as received: decoding with unknown fields
	// disallowed and validating it make the bytes as good as re-encoded ones.
	pooled, _ := r.events.Get().(*[]event.Event)
	if pooled == nil {
		pooled = new([]event.Event)
	}
	events := slices.Grow((*pooled)[:0], len(raws))
	defer func() {
		clear(events) // the events share the body's memory: do not keep it
		*pooled = events[:0]
		r.events.Put(pooled)
	}()
	payloads := make([][]byte, 0, len(raws))
	index := make([]int, 0, len(raws))
	var rejected []Rejected
	for i, raw := range raws {
		events = append(events, event.Event{})
		if err := decodeEventInto(raw, true, validJSON, &events[len(events)-1]); err != nil {
			events = events[:len(events)-1]
			rejected = append(rejected, Rejected{Index: i, EventID: eventIDOf(raw), Error: "not a valid event: " + err.Error()})
			continue
		}
		payloads = append(payloads, raw)
		index = append(index, i)
	}
	res, err := r.publish(req.Context(), events, payloads)
	if err != nil {
		r.observe(&res, err)
		r.log.Error("ingest: publishing to JetStream failed", "err", err, "request_id", requestid.From(req.Context()))
		writeJSONError(w, http.StatusServiceUnavailable, "event store unavailable; retry the batch (events are deduplicated by event_id)")
		return
	}
	for i := range res.Rejected {
		res.Rejected[i].Index = index[res.Rejected[i].Index]
	}
	res.Rejected = append(rejected, res.Rejected...)
	slices.SortFunc(res.Rejected, func(a, b Rejected) int { return a.Index - b.Index })
	r.observe(&res, nil)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}

// batchEvents takes a batch body apart into its raw events; validJSON
// says they are known to be valid JSON. The fast path (splitBatch) takes
// bodies as the data plane writes them; anything else is encoding/json's
// to accept or refuse, with its words.
func batchEvents(body []byte) (raws [][]byte, validJSON bool, err error) {
	if raws, ok := splitBatch(body); ok {
		return raws, true, nil
	}
	var batch struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(body, &batch); err != nil {
		return nil, false, err
	}
	if batch.Events == nil {
		return nil, false, errors.New(`"events" is missing`)
	}
	raws = make([][]byte, len(batch.Events))
	for i, e := range batch.Events {
		raws[i] = e
	}
	return raws, false, nil
}

// readBody reads a request body into one buffer sized from its
// Content-Length (when given and within limit): io.ReadAll's doubling from
// 512 bytes copied a 500-event batch several times over.
func readBody(body io.Reader, contentLength, limit int64) ([]byte, error) {
	if contentLength <= 0 || contentLength > limit {
		return io.ReadAll(body)
	}
	var b bytes.Buffer
	b.Grow(int(contentLength) + bytes.MinRead) // room to read the EOF without growing
	_, err := b.ReadFrom(body)
	return b.Bytes(), err
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body := map[string]string{"error": msg}
	if id := w.Header().Get(requestid.Header); id != "" {
		body["request_id"] = id // set by the listener's request id middleware
	}
	_ = json.NewEncoder(w).Encode(body)
}
