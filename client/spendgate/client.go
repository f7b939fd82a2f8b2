// Package spendgate is the Go client of spendgate's public record API
// (docs/record-api.md): check a call against the key's budgets before making
// it (Preflight), and record what it used — synchronously (Record) or through
// an on-disk outbox that never blocks or fails the caller's AI pipeline
// (Enqueue).
//
// The outbox keeps each record in a file before Enqueue returns (fsync'd),
// and a background sender delivers them in order, up to 100 a request
// (POST /v1/usage:batch), retrying with exponential backoff and jitter while
// the server is unreachable or busy; records left in it when the process
// stops are sent by the next process that opens the same directory. Every record carries an idempotency key (one is made when
// the caller gives none) and its time, so a record sent twice — a crash
// between sending and forgetting it, a retry of a request whose answer was
// lost — is counted once by the server.
//
// The outbox is bounded (Config.OutboxMaxBytes). When it is full, Enqueue
// follows Config.Overflow: DropOldest (the default) discards the oldest
// records, a segment at a time (1/16 of the outbox), so the newest spend is
// kept; RefuseNew keeps what is queued and returns ErrOutboxFull. Both are
// counted in Stats, and neither blocks. A record the server refuses for good
// (invalid, or its idempotency key reused for another record) is dropped and
// counted in Stats.Rejected, with the reason in Stats.LastError.
//
// Example:
//
//	c, err := spendgate.New(spendgate.Config{
//		BaseURL:   "http://127.0.0.1:8080",
//		Key:       os.Getenv("SPENDGATE_KEY"),
//		OutboxDir: "/var/lib/myapp/spendgate-outbox",
//	})
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	pf, err := c.Preflight(ctx, recordapi.PreflightRequest{Provider: "elevenlabs", Model: "eleven_v3", MaxCostUSD: "0.30"})
//	if err != nil {
//		return err // *spendgate.APIError, Detail.Code "budget_exceeded" when a hard budget is full
//	}
//	audio, chars := synthesise(text) // the call itself, any vendor
//	_ = c.Enqueue(recordapi.UsageRecord{Provider: "elevenlabs", Model: "eleven_v3",
//		Usage: recordapi.Usage{Characters: chars}, ReportedCostUSD: "0.24", ReservationID: pf.ReservationID})
package spendgate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/spendgate/spendgate/recordapi"
	"github.com/spendgate/spendgate/spool"
)

// Overflow says what Enqueue does when the outbox is full.
type Overflow int

// Overflow policies.
const (
	// DropOldest discards the oldest queued records to make room.
	DropOldest Overflow = iota
	// RefuseNew keeps the queue and refuses the new record (ErrOutboxFull).
	RefuseNew
)

// ErrOutboxFull is Enqueue's answer under RefuseNew when the outbox is full.
var ErrOutboxFull = errors.New("spendgate: outbox full; record refused")

// ErrNoOutbox is Enqueue's answer for a client without Config.OutboxDir.
var ErrNoOutbox = errors.New("spendgate: no outbox configured (Config.OutboxDir)")

// Config configures a client.
type Config struct {
	// BaseURL is the spendgate API, e.g. http://127.0.0.1:8080.
	BaseURL string
	// Key is a spendgate API key (sg_…).
	Key string
	// HTTP is the HTTP client (nil: one with a 30 s timeout).
	HTTP *http.Client
	// OutboxDir holds the outbox; empty: Enqueue is not available. One
	// process uses a directory at a time.
	OutboxDir string
	// OutboxMaxBytes bounds the outbox on disk (default 64 MiB, about
	// 200,000 records).
	OutboxMaxBytes int64
	// Overflow is what Enqueue does when the outbox is full.
	Overflow Overflow
	// MinBackoff and MaxBackoff bound the delay between attempts to send
	// (defaults 500 ms and 2 min); the delay doubles per failed attempt,
	// with jitter, and a server's Retry-After is respected.
	MinBackoff, MaxBackoff time.Duration
	// Log receives the sender's warnings (nil: slog.Default()).
	Log *slog.Logger
}

// Stats count what the client did since it was made.
type Stats struct {
	Queued     int   // records in the outbox now
	Enqueued   int64 // records Enqueue accepted
	Sent       int64 // records the server accepted (duplicates included)
	Duplicates int64 // ... of which it had already recorded
	Rejected   int64 // records the server refused for good (dropped)
	Dropped    int64 // records discarded by DropOldest
	Refused    int64 // records refused by RefuseNew
	Retries    int64 // failed attempts that will be retried
	LastError  string
}

// Client talks to the record API. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
	log  *slog.Logger

	outbox *spool.Spool
	// reader serialises the outbox's reader side (the sender's Next/Ack
	// and DropOldest's).
	reader sync.Mutex
	wake   chan struct{}
	stop   context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	stats Stats
}

// New makes a client; with OutboxDir it opens the outbox (sending what an
// earlier process left there) and starts its sender.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" || cfg.Key == "" {
		return nil, errors.New("spendgate: BaseURL and Key are required")
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.OutboxMaxBytes == 0 {
		cfg.OutboxMaxBytes = 64 << 20
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(2*time.Minute, cfg.MinBackoff)
	}
	c := &Client{cfg: cfg, http: cfg.HTTP, log: cfg.Log, wake: make(chan struct{}, 1)}
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if cfg.OutboxDir == "" {
		return c, nil
	}
	seg := max(cfg.OutboxMaxBytes/16, 64<<10)
	// A record is at most what the server takes in one (64 KiB), so a
	// batch of them stays within its batch limit.
	ob, err := spool.Open(cfg.OutboxDir, spool.Options{MaxBytes: cfg.OutboxMaxBytes, SegmentBytes: min(seg, cfg.OutboxMaxBytes),
		MaxRecordBytes: 64 << 10})
	if err != nil {
		return nil, fmt.Errorf("spendgate: outbox: %w", err)
	}
	c.outbox = ob
	ctx, stop := context.WithCancel(context.Background())
	c.stop, c.done = stop, make(chan struct{})
	go c.send(ctx)
	return c, nil
}

// Close stops the sender (a request in flight is abandoned: its record
// stays queued) and closes the outbox. Queued records stay on disk.
func (c *Client) Close() error {
	if c.outbox == nil {
		return nil
	}
	c.stop()
	<-c.done
	return c.outbox.Close()
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	s := c.stats
	c.mu.Unlock()
	if c.outbox != nil {
		s.Queued = c.outbox.Stats().Records
	}
	return s
}

func (c *Client) count(f func(*Stats)) {
	c.mu.Lock()
	f(&c.stats)
	c.mu.Unlock()
}

// APIError is an error answer of the API.
type APIError struct {
	Status int
	// Detail is the answer's error object: Code, Message, Fields (bad
	// input), Budget (budget_exceeded).
	Detail recordapi.Error
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("spendgate: HTTP %d %s: %s", e.Status, e.Detail.Code, e.Detail.Message)
	for _, f := range e.Detail.Fields {
		s += "; " + f.Path + ": " + f.Message
	}
	return s
}

// Preflight asks whether a call fits the key's policy and hard budgets and
// reserves its worst case; pass the reservation id to the record of the
// call. A refusal is an *APIError (Code budget_exceeded, with Budget; or a
// policy code such as model_not_allowed).
func (c *Client) Preflight(ctx context.Context, r recordapi.PreflightRequest) (recordapi.Preflight, error) {
	var out recordapi.Preflight
	status, body, _, err := c.post(ctx, recordapi.PreflightPath, r)
	if err != nil {
		return out, err
	}
	if status != http.StatusOK {
		return out, apiError(status, body)
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return out, fmt.Errorf("spendgate: preflight answer: %w", err)
	}
	return out, nil
}

// Release gives back a preflight's reservation whose call was not made, so
// it stops holding budget before it expires. A reservation already settled,
// released or expired stays as it is.
func (c *Client) Release(ctx context.Context, reservationID string) error {
	status, body, _, err := c.post(ctx, recordapi.ReleasePath(url.PathEscape(reservationID)), struct{}{})
	if err != nil {
		return err
	}
	if status != http.StatusNoContent {
		return apiError(status, body)
	}
	return nil
}

// Record sends one record now and returns the server's answer (no outbox,
// no retries: Enqueue is the fire-and-forget way). An empty idempotency key
// is filled with a new random one, an absent time with now.
func (c *Client) Record(ctx context.Context, r recordapi.UsageRecord) (recordapi.UsageResult, error) {
	prepare(&r)
	var out recordapi.UsageResult
	status, body, _, err := c.post(ctx, recordapi.UsagePath, r)
	if err != nil {
		return out, err
	}
	if status != http.StatusAccepted {
		return out, apiError(status, body)
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return out, fmt.Errorf("spendgate: record answer: %w", err)
	}
	return out, nil
}

// prepare gives a record what makes resending it safe: an idempotency key
// and its time.
func prepare(r *recordapi.UsageRecord) {
	if r.IdempotencyKey == "" {
		r.IdempotencyKey = uuid.NewString()
	}
	if r.Time == nil {
		now := time.Now().UTC()
		r.Time = &now
	}
}

// Enqueue puts a record in the outbox and returns once it is on disk; the
// sender delivers it. It never waits for the network. It fails only when the
// outbox is full under RefuseNew (ErrOutboxFull), when the disk fails, or
// without an outbox; callers that must never fail may ignore the error
// (Stats counts it).
func (c *Client) Enqueue(r recordapi.UsageRecord) error {
	if c.outbox == nil {
		return ErrNoOutbox
	}
	prepare(&r)
	data, err := json.Marshal(&r)
	if err != nil {
		return fmt.Errorf("spendgate: %w", err)
	}
	for {
		err = c.outbox.Append(data)
		if !errors.Is(err, spool.ErrFull) {
			break
		}
		if c.cfg.Overflow == RefuseNew || !c.dropOldest() {
			c.count(func(s *Stats) { s.Refused++ })
			return ErrOutboxFull
		}
	}
	if err != nil {
		return fmt.Errorf("spendgate: outbox: %w", err)
	}
	c.count(func(s *Stats) { s.Enqueued++ })
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// dropOldest discards the oldest segment's records (the outbox frees disk a
// segment at a time); false when there is nothing to drop.
func (c *Client) dropOldest() bool {
	c.reader.Lock()
	defer c.reader.Unlock()
	before := c.outbox.Stats().Segments
	dropped := int64(0)
	for c.outbox.Stats().Segments == before {
		rec, err := c.outbox.Next()
		if err != nil {
			break
		}
		if c.outbox.Ack(rec) != nil {
			break
		}
		dropped++
	}
	if dropped > 0 {
		c.count(func(s *Stats) { s.Dropped += dropped })
		c.log.Warn("spendgate: outbox full; dropped the oldest records", "dropped", dropped)
	}
	return dropped > 0
}

// Flush waits until the outbox is empty (every record sent or rejected) or
// ctx ends; then it returns an error naming the last failure.
func (c *Client) Flush(ctx context.Context) error {
	if c.outbox == nil {
		return nil
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if c.outbox.Stats().Records == 0 {
			return nil
		}
		select {
		case c.wake <- struct{}{}:
		default:
		}
		select {
		case <-ctx.Done():
			s := c.Stats()
			return fmt.Errorf("spendgate: %d records still queued (last error: %s): %w", s.Queued, s.LastError, ctx.Err())
		case <-t.C:
		}
	}
}

// sendBatch is how many queued records one request carries.
const sendBatch = 100

// send delivers the outbox in order until ctx ends, up to sendBatch records
// a request (POST /v1/usage:batch).
func (c *Client) send(ctx context.Context) {
	defer close(c.done)
	attempt := 0
	for ctx.Err() == nil {
		c.reader.Lock()
		recs, err := c.outbox.Peek(sendBatch)
		c.reader.Unlock()
		if errors.Is(err, spool.ErrEmpty) {
			select {
			case <-ctx.Done():
			case <-c.wake:
			}
			continue
		}
		if err != nil {
			c.fail(err.Error())
			c.sleep(ctx, c.backoff(attempt, 0))
			attempt++
			continue
		}
		retry, wait := c.deliver(ctx, recs)
		if retry {
			if ctx.Err() != nil {
				return
			}
			c.count(func(s *Stats) { s.Retries++ })
			c.sleep(ctx, c.backoff(attempt, wait))
			attempt++
			continue
		}
		attempt = 0
		c.reader.Lock()
		for _, rec := range recs {
			// Fails only when DropOldest took the records meanwhile.
			if c.outbox.Ack(rec) != nil {
				break
			}
		}
		c.reader.Unlock()
	}
}

// deliver sends queued records as one batch: retry when all of them should
// be sent again (after at least wait, the server's Retry-After); otherwise
// each was accepted or refused for good.
func (c *Client) deliver(ctx context.Context, recs []spool.Record) (retry bool, wait time.Duration) {
	var body bytes.Buffer
	body.WriteString(`{"records":[`)
	for i, r := range recs {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(r.Data)
	}
	body.WriteString(`]}`)
	status, answer, h, err := c.post(ctx, recordapi.BatchPath, json.RawMessage(body.Bytes()))
	if err != nil {
		c.fail(err.Error())
		return true, 0
	}
	var res recordapi.BatchResult
	if status != http.StatusOK || json.Unmarshal(answer, &res) != nil || len(res.Results) != len(recs) {
		// 401 (a key being fixed), 429, 5xx, anything else: keep them.
		c.fail(apiError(status, answer).Error())
		secs, _ := strconv.Atoi(h.Get("Retry-After"))
		return true, time.Duration(secs) * time.Second
	}
	for _, r := range res.Results {
		if r.Status == http.StatusAccepted {
			c.count(func(s *Stats) {
				s.Sent++
				if r.Duplicate {
					s.Duplicates++
				}
			})
			continue
		}
		// Invalid, or its key reused for another record: it can never be
		// accepted, and keeping it would stop the queue behind it.
		e := &APIError{Status: r.Status}
		if r.Error != nil {
			e.Detail = *r.Error
		}
		c.reject(e.Error())
		c.log.Error("spendgate: the server refused a queued record; dropped", "idempotency_key", r.IdempotencyKey, "err", e)
	}
	return false, 0
}

func (c *Client) fail(msg string) { c.count(func(s *Stats) { s.LastError = msg }) }

func (c *Client) reject(msg string) {
	c.count(func(s *Stats) { s.Rejected++; s.LastError = msg })
}

// backoff is the delay before attempt n+1: MinBackoff·2ⁿ capped at
// MaxBackoff, half of it random (so many clients do not retry in step), and
// at least the server's wish.
func (c *Client) backoff(n int, atLeast time.Duration) time.Duration {
	d := c.cfg.MinBackoff
	for range min(n, 30) {
		if d >= c.cfg.MaxBackoff {
			break
		}
		d *= 2
	}
	d = min(d, c.cfg.MaxBackoff)
	d = d/2 + rand.N(d/2+1) //nolint:gosec // jitter, not a secret
	return max(d, atLeast)
}

func (c *Client) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// post sends v as JSON with the key.
func (c *Client) post(ctx context.Context, path string, v any) (int, []byte, http.Header, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("spendgate: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("spendgate: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.cfg.Key)
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("spendgate: %w", err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("spendgate: reading the answer: %w", err)
	}
	return res.StatusCode, raw, res.Header, nil
}

func apiError(status int, body []byte) *APIError {
	var e recordapi.ErrorBody
	if json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
		msg := strings.TrimSpace(string(body))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		return &APIError{Status: status, Detail: recordapi.Error{Code: "http_" + strconv.Itoa(status), Message: msg}}
	}
	return &APIError{Status: status, Detail: e.Error}
}
