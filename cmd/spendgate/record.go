package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spendgate/spendgate/client/spendgate"
	"github.com/spendgate/spendgate/recordapi"
)

// dimFlag collects repeated --dim name=value.
type dimFlag map[string]string

func (d dimFlag) String() string { return "" }

func (d dimFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return errors.New("want name=value")
	}
	d[k] = v
	return nil
}

// runRecord records usage through the public record API with the Go
// client's outbox: the records are queued on disk first, then sent; what
// cannot be sent now (the server is down) stays queued for the next run or
// `spendgate record --flush`.
func runRecord(ctx context.Context, args []string) error {
	fs := newFlagSet("record")
	home, _ := os.UserHomeDir()
	url := fs.String("url", "http://127.0.0.1:8080", "spendgate API (the api or serve listener)")
	key := fs.String("key", "", "spendgate API key (sg_…; or SPENDGATE_KEY)")
	outbox := fs.String("outbox", filepath.Join(home, ".local", "share", "spendgate", "record-outbox"), "outbox directory: records wait here until the server has them")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to try sending before leaving the rest queued")
	flush := fs.Bool("flush", false, "only send what the outbox holds")
	fromJSON := fs.Bool("json", false, "read records from standard input: one JSON object, an array of them, or one object per line (docs/record-api.md)")
	var rec recordapi.UsageRecord
	fs.StringVar(&rec.Provider, "provider", "", "provider (openai, elevenlabs, …)")
	fs.StringVar(&rec.Model, "model", "", "model or product the usage is priced by")
	fs.StringVar(&rec.Operation, "operation", "", "operation label (default: record)")
	fs.StringVar(&rec.IdempotencyKey, "idempotency-key", "", "names the record for retries (default: a new random key)")
	at := fs.String("time", "", "when the call happened, RFC 3339 (default: now)")
	fs.Int64Var(&rec.Usage.Input, "input", 0, "input tokens")
	fs.Int64Var(&rec.Usage.Output, "output", 0, "output tokens")
	fs.Int64Var(&rec.Usage.Characters, "characters", 0, "characters (text-to-speech)")
	fs.Int64Var(&rec.Usage.Seconds, "seconds", 0, "seconds (speech-to-text)")
	fs.Int64Var(&rec.Usage.Images, "images", 0, "generated images")
	usageJSON := fs.String("usage", "", `usage as JSON, any class: '{"cached_input":100,"reasoning":20}' (added to the flags above)`)
	fs.StringVar(&rec.ReportedCostUSD, "reported-cost-usd", "", "the cost the vendor billed, decimal USD")
	fs.StringVar(&rec.ReservationID, "reservation-id", "", "a preflight's reservation to settle")
	dims := dimFlag{}
	fs.Var(dims, "dim", "attribution dimension name=value (repeatable)")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if *key == "" {
		return errors.New("record: --key (or SPENDGATE_KEY) is required")
	}
	var recs []recordapi.UsageRecord
	switch {
	case *flush:
	case *fromJSON:
		var err error
		if recs, err = readRecords(os.Stdin); err != nil {
			return fmt.Errorf("record: %w", err)
		}
	default:
		if *at != "" {
			t, err := time.Parse(time.RFC3339Nano, *at)
			if err != nil {
				return fmt.Errorf("record: --time: %w", err)
			}
			rec.Time = &t
		}
		if *usageJSON != "" {
			var extra recordapi.Usage
			if errs := recordapi.Decode([]byte(*usageJSON), &extra); len(errs) > 0 {
				return fmt.Errorf("record: --usage: %s", fieldErrors(errs))
			}
			addUsage(&rec.Usage, &extra)
		}
		if len(dims) > 0 {
			rec.Dimensions = dims
		}
		recs = []recordapi.UsageRecord{rec}
	}
	now := time.Now()
	for i := range recs {
		key := recs[i].IdempotencyKey
		if key == "" {
			recs[i].IdempotencyKey = "-" // checked below, filled by the client
		}
		if errs := recs[i].Validate(fmt.Sprintf("/%d", i), now); len(errs) > 0 {
			return fmt.Errorf("record: %s", fieldErrors(errs))
		}
		recs[i].IdempotencyKey = key
	}
	c, err := spendgate.New(spendgate.Config{BaseURL: *url, Key: *key, OutboxDir: *outbox})
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	defer c.Close()
	for _, r := range recs {
		if err := c.Enqueue(r); err != nil {
			return fmt.Errorf("record: %w", err)
		}
	}
	fctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	flushErr := c.Flush(fctx)
	s := c.Stats()
	out, _ := json.Marshal(map[string]any{"queued": s.Queued, "sent": s.Sent, "duplicates": s.Duplicates, "rejected": s.Rejected,
		"last_error": s.LastError})
	fmt.Println(string(out))
	switch {
	case s.Rejected > 0:
		return fmt.Errorf("record: the server refused %d record(s): %s", s.Rejected, s.LastError)
	case flushErr != nil:
		fmt.Fprintf(os.Stderr, "spendgate record: %d record(s) stay queued in %s; run 'spendgate record --flush' later (%s)\n", s.Queued, *outbox, s.LastError)
	}
	return nil
}

// readRecords reads one record, an array of them, or one per line.
func readRecords(r io.Reader) ([]recordapi.UsageRecord, error) {
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, err
	}
	data = bytes.TrimSpace(data)
	var raws []json.RawMessage
	switch {
	case len(data) == 0:
		return nil, errors.New("no records on standard input")
	case data[0] == '[':
		if err := json.Unmarshal(data, &raws); err != nil {
			return nil, fmt.Errorf("standard input: %w", err)
		}
	default:
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
				raws = append(raws, bytes.Clone(line))
			}
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
		if len(raws) > 1 || json.Valid(data) {
			break
		}
		raws = []json.RawMessage{data} // one object over several lines
	}
	recs := make([]recordapi.UsageRecord, len(raws))
	for i, raw := range raws {
		if errs := recordapi.DecodeAt(raw, &recs[i], fmt.Sprintf("/%d", i)); len(errs) > 0 {
			return nil, errors.New(fieldErrors(errs))
		}
	}
	return recs, nil
}

func fieldErrors(errs []recordapi.FieldError) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Path + ": " + e.Message
	}
	return strings.Join(parts, "; ")
}

func addUsage(u, extra *recordapi.Usage) {
	u.Input += extra.Input
	u.CachedInput += extra.CachedInput
	u.CacheWrite5m += extra.CacheWrite5m
	u.CacheWrite1h += extra.CacheWrite1h
	u.Output += extra.Output
	u.Reasoning += extra.Reasoning
	u.AudioInput += extra.AudioInput
	u.AudioOutput += extra.AudioOutput
	u.ImageInput += extra.ImageInput
	u.ImageOutput += extra.ImageOutput
	u.WebSearches += extra.WebSearches
	u.Characters += extra.Characters
	u.Seconds += extra.Seconds
	u.Images += extra.Images
}
