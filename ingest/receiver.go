package ingest

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/spendgate/spendgate/event"
)

// Config names the streams and limits.
type Config struct {
	// Prefix names streams and subjects: stream <PREFIX>_EVENTS on subjects
	// <prefix>.events.<tenant>, dead letters in <PREFIX>_DLQ.
	Prefix string
	// ServiceToken authenticates the data plane.
	ServiceToken string
	// MaxBodyBytes caps one batch (413 beyond); MaxEvents caps its events.
	MaxBodyBytes int64
	MaxEvents    int
	// DedupWindow is how long JetStream remembers event ids.
	DedupWindow time.Duration
}

// DefaultConfig returns production defaults.
func DefaultConfig() Config {
	return Config{Prefix: "SPENDGATE", MaxBodyBytes: 8 << 20, MaxEvents: 10_000, DedupWindow: 2 * time.Hour}
}

func (c Config) eventsStream() string { return strings.ToUpper(c.Prefix) + "_EVENTS" }
func (c Config) dlqStream() string    { return strings.ToUpper(c.Prefix) + "_DLQ" }
func (c Config) dlqSubject() string   { return strings.ToLower(c.Prefix) + ".dlq.events" }
func (c Config) subject(tenant string) string {
	return strings.ToLower(c.Prefix) + ".events." + tenant
}

// EnsureStreams creates or updates the event and dead-letter streams; safe to
// call at every start-up.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: cfg.eventsStream(), Subjects: []string{strings.ToLower(cfg.Prefix) + ".events.>"},
		Storage: jetstream.FileStorage, Retention: jetstream.LimitsPolicy, Duplicates: cfg.DedupWindow,
		MaxAge: 30 * 24 * time.Hour, Discard: jetstream.DiscardOld,
	})
	if err != nil {
		return fmt.Errorf("ingest: stream %s: %w", cfg.eventsStream(), err)
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: cfg.dlqStream(), Subjects: []string{strings.ToLower(cfg.Prefix) + ".dlq.>"},
		Storage: jetstream.FileStorage, MaxAge: 90 * 24 * time.Hour,
	})
	if err != nil {
		return fmt.Errorf("ingest: stream %s: %w", cfg.dlqStream(), err)
	}
	return nil
}

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
}

// NewReceiver returns a receiver; call EnsureStreams first.
func NewReceiver(cfg Config, js jetstream.JetStream, log *slog.Logger) *Receiver {
	return &Receiver{cfg: cfg, js: js, log: log, now: time.Now}
}

// ErrUnavailable wraps JetStream failures: the caller should retry the batch.
var ErrUnavailable = errors.New("event store unavailable")

// Publish validates events and publishes the valid ones, each with
// Nats-Msg-Id = event_id, returning only after JetStream acknowledged them.
// rejected lists invalid events; they do not hold up the valid ones.
func (r *Receiver) Publish(ctx context.Context, events []event.Event) (Result, error) {
	res := Result{Rejected: []Rejected{}}
	if _, ok := ctx.Deadline(); !ok {
		// A lost PubAck must not hang the caller forever.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	now := r.now()
	futures := make([]jetstream.PubAckFuture, 0, len(events))
	for i := range events {
		e := &events[i]
		if err := Validate(e, now); err != nil {
			res.Rejected = append(res.Rejected, Rejected{Index: i, EventID: e.EventID, Error: err.Error()})
			continue
		}
		payload := event.AppendJSON(nil, e)
		f, err := r.js.PublishAsync(r.cfg.subject(e.TenantID), payload, jetstream.WithMsgID(e.EventID))
		if err != nil {
			return res, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case ack := <-f.Ok():
			if ack.Duplicate {
				res.Duplicates++
			} else {
				res.Accepted++
			}
		case err := <-f.Err():
			return res, fmt.Errorf("%w: %v", ErrUnavailable, err)
		case <-ctx.Done():
			return res, fmt.Errorf("%w: %v", ErrUnavailable, ctx.Err())
		}
	}
	return res, nil
}

// ServeHTTP is POST /internal/v1/events with body {"events":[...]}.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		writeJSONError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	got := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
	if r.cfg.ServiceToken == "" || subtle.ConstantTimeCompare([]byte(got), []byte(r.cfg.ServiceToken)) != 1 {
		writeJSONError(w, http.StatusUnauthorized, "wrong or missing service token")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSONError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("batch larger than %d bytes: send smaller batches", r.cfg.MaxBodyBytes))
			return
		}
		writeJSONError(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	var batch struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(body, &batch); err != nil {
		writeJSONError(w, http.StatusBadRequest, `body must be {"events":[...]}: `+err.Error())
		return
	}
	if len(batch.Events) > r.cfg.MaxEvents {
		writeJSONError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("at most %d events per batch", r.cfg.MaxEvents))
		return
	}
	// Decode each event on its own, so one bad event does not sink the batch.
	events := make([]event.Event, 0, len(batch.Events))
	index := make([]int, 0, len(batch.Events))
	var rejected []Rejected
	for i, raw := range batch.Events {
		var e event.Event
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			rejected = append(rejected, Rejected{Index: i, Error: "not a valid event: " + err.Error()})
			continue
		}
		events = append(events, e)
		index = append(index, i)
	}
	res, err := r.Publish(req.Context(), events)
	if err != nil {
		r.log.Error("ingest: publishing to JetStream failed", "err", err)
		writeJSONError(w, http.StatusServiceUnavailable, "event store unavailable; retry the batch (events are deduplicated by event_id)")
		return
	}
	for i := range res.Rejected {
		res.Rejected[i].Index = index[res.Rejected[i].Index]
	}
	res.Rejected = append(rejected, res.Rejected...)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
