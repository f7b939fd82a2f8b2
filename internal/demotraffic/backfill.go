package demotraffic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spendgate/spendgate/meter"
	"github.com/spendgate/spendgate/recordapi"
)

// Backfill history: the gateway stamps every call with the time it passes,
// so a fresh installation's charts would show one bar at "now". Backfill
// records the past days through the record API (POST /v1/usage:batch), the
// same ingest path every recorded call takes, with each record's own time:
// office-hours and weekday patterns, slow growth, and one spike, so trends,
// forecasts and anomalies show on first run.

// MaxBackfillDays is how far back records may go: the record API accepts
// times up to a year old.
const MaxBackfillDays = 364

// BackfillConfig of a backfill run.
type BackfillConfig struct {
	// APIURL is the spendgate API's base URL (the record API), e.g. http://127.0.0.1:8080.
	APIURL string
	Key    string
	// Days of history before the current hour, 1..MaxBackfillDays.
	Days int
	// CallsPerDay on a weekday at the end of the range (weekends are quieter,
	// the start of the range too). Default 400.
	CallsPerDay int
	// Now ends the history at the start of its hour (default time.Now()).
	Now time.Time
	// Seed picks the history. The same seed gives each hour the same
	// records under the same idempotency keys, so running again records
	// only the hours not recorded yet (exactly once). Default 1.
	Seed uint64
	// Client sends the batches (default: a client with a minute's timeout).
	Client *http.Client
	// Progress, when set, hears after every batch.
	Progress func(sent, total int)
}

// BackfillResult says what was recorded.
type BackfillResult struct {
	From, To time.Time
	// Spike is the hour the runaway batch job starts.
	Spike time.Time
	// Records planned; Recorded new ones; Duplicates were recorded before.
	Records, Recorded, Duplicates int
}

func (c *BackfillConfig) validate() error {
	var errs []error
	if c.APIURL == "" {
		errs = append(errs, errors.New("the API URL is required (the record API, e.g. http://127.0.0.1:8080)"))
	}
	if c.Key == "" {
		errs = append(errs, errors.New("a spendgate API key is required"))
	}
	if c.Days < 1 || c.Days > MaxBackfillDays {
		errs = append(errs, fmt.Errorf("days must be 1..%d (the record API takes times up to a year old), not %d", MaxBackfillDays, c.Days))
	}
	if c.CallsPerDay < 0 || c.CallsPerDay > 100_000 {
		errs = append(errs, fmt.Errorf("calls per day must be 1..100000, not %d", c.CallsPerDay))
	}
	return errors.Join(errs...)
}

// recorded is one kind of call of the history's mix.
type recorded struct {
	provider, model, operation string
	weight                     int
	// prompt and completion token ranges.
	promptMin, promptMax, outMin, outMax int
}

var history = []recorded{
	{"openai", "gpt-4o-mini", meter.OpChatCompletions, 34, 200, 6000, 20, 800},
	{"openai", "gpt-4o", meter.OpChatCompletions, 10, 500, 8000, 100, 1200},
	{"openai", "text-embedding-3-small", meter.OpEmbeddings, 12, 50, 3000, 0, 0},
	{"anthropic", "claude-sonnet-4-5", meter.OpMessages, 12, 800, 12000, 200, 2000},
	{"anthropic", "claude-haiku-4-5", meter.OpMessages, 14, 200, 4000, 50, 600},
	{"gemini", "gemini-2.5-flash", meter.OpGenerateContent, 14, 200, 6000, 50, 900},
	{"gemini", "gemini-2.5-pro", meter.OpGenerateContent, 4, 1000, 16000, 200, 2500},
}

// hourShape is relative traffic per UTC hour: quiet nights, a morning
// ramp, the afternoon peak.
var hourShape = [24]float64{0.15, 0.12, 0.1, 0.1, 0.12, 0.2, 0.35, 0.6, 0.9, 1.2, 1.35, 1.4, 1.3, 1.45, 1.5, 1.4, 1.25, 1.0, 0.75, 0.55, 0.45, 0.35, 0.25, 0.2}

func weekdayShape(d time.Weekday) float64 {
	switch d {
	case time.Saturday:
		return 0.3
	case time.Sunday:
		return 0.25
	}
	return 1
}

// PlanBackfill is the history a config asks for: every record with its
// time and idempotency key, oldest first. It is deterministic in cfg
// (Seed, Days, Now's hour, CallsPerDay) and sends nothing.
func PlanBackfill(cfg BackfillConfig) ([]recordapi.UsageRecord, BackfillResult) {
	cfg = withDefaults(cfg)
	to := cfg.Now.UTC().Truncate(time.Hour)
	from := to.Add(-time.Duration(cfg.Days) * 24 * time.Hour)
	// The spike: a batch job runs away for four afternoon hours, a third of
	// the way back but at most three days, so the dashboard's default week
	// shows it (yesterday in a short history).
	spikeDay := to.Add(-time.Duration(min(max(cfg.Days/3, 1), 3)) * 24 * time.Hour).Truncate(24 * time.Hour)
	spike := spikeDay.Add(13 * time.Hour)
	var sumShape float64
	for _, s := range hourShape {
		sumShape += s
	}
	total := 0
	for _, c := range history {
		total += c.weight
	}
	var recs []recordapi.UsageRecord
	span := to.Sub(from).Hours()
	for h := from; h.Before(to); h = h.Add(time.Hour) {
		// Each hour draws from its own generator, so an hour's records do
		// not depend on the range around it (re-runs match by key).
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(h.Unix())))
		growth := 0.7 + 0.3*(h.Sub(from).Hours()/span)
		mean := float64(cfg.CallsPerDay) * hourShape[h.Hour()] / sumShape * weekdayShape(h.Weekday()) * growth
		n := int(mean*(0.8+0.4*rng.Float64()) + rng.Float64())
		inSpike := !h.Before(spike) && h.Before(spike.Add(4*time.Hour))
		for i := range n {
			recs = append(recs, record(cfg.Seed, h, i, rng, pickRecorded(rng, total), "", ""))
		}
		if inSpike {
			// gpt-4o with long prompts for one team: several times a normal afternoon's spend.
			for i := range int(mean*3) + 20 {
				recs = append(recs, record(cfg.Seed, h, n+i, rng, recorded{"openai", "gpt-4o", meter.OpChatCompletions, 0, 20000, 60000, 500, 2000}, "research", "batch"))
			}
		}
	}
	return recs, BackfillResult{From: from, To: to, Spike: spike, Records: len(recs)}
}

func withDefaults(cfg BackfillConfig) BackfillConfig {
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.CallsPerDay == 0 {
		cfg.CallsPerDay = 400
	}
	return cfg
}

func pickRecorded(rng *rand.Rand, total int) recorded {
	n := rng.IntN(total)
	for _, c := range history {
		if n < c.weight {
			return c
		}
		n -= c.weight
	}
	return history[0]
}

func record(seed uint64, hour time.Time, i int, rng *rand.Rand, c recorded, team, app string) recordapi.UsageRecord {
	if team == "" {
		team = teams[rng.IntN(len(teams))]
	}
	if app == "" {
		app = apps[rng.IntN(len(apps))]
	}
	at := hour.Add(time.Duration(rng.IntN(3600)) * time.Second)
	prompt := int64(c.promptMin + rng.IntN(c.promptMax-c.promptMin+1))
	u := recordapi.Usage{Input: prompt}
	if c.outMax > 0 {
		u.Output = int64(c.outMin + rng.IntN(c.outMax-c.outMin+1))
		if rng.IntN(3) == 0 {
			u.CachedInput = prompt / 2
			u.Input = prompt - u.CachedInput
		}
	}
	return recordapi.UsageRecord{
		IdempotencyKey: "demo-backfill-" + strconv.FormatUint(seed, 10) + "-" + hour.Format("2006010215") + "-" + strconv.Itoa(i),
		Provider:       c.provider,
		Model:          c.model,
		Operation:      c.operation,
		Time:           &at,
		Dimensions:     map[string]string{"team": team, "app": app},
		Usage:          u,
		StatusCode:     200,
		LatencyMs:      int64(300 + rng.IntN(4000)),
	}
}

// backfillBatch is how many records go in one request (the API takes up to
// recordapi.MaxBatchRecords); smaller batches keep each request quick.
const backfillBatch = 500

// Backfill records the planned history through the record API. Records the
// API already has (an earlier run with the same seed) count as duplicates;
// a record the API refuses stops the run with its message.
func Backfill(ctx context.Context, cfg BackfillConfig) (BackfillResult, error) {
	if err := cfg.validate(); err != nil {
		return BackfillResult{}, fmt.Errorf("demotraffic: %w", err)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: time.Minute}
	}
	recs, res := PlanBackfill(cfg)
	url := strings.TrimRight(cfg.APIURL, "/") + recordapi.BatchPath
	for start := 0; start < len(recs); start += backfillBatch {
		batch := recs[start:min(start+backfillBatch, len(recs))]
		out, err := sendBatch(ctx, cfg, url, batch)
		if err != nil {
			return res, err
		}
		for i, r := range out.Results {
			switch {
			case r.Status == http.StatusAccepted && r.Duplicate:
				res.Duplicates++
			case r.Status == http.StatusAccepted:
				res.Recorded++
			default:
				msg := ""
				if r.Error != nil {
					msg = r.Error.Code + ": " + r.Error.Message
				}
				return res, fmt.Errorf("demotraffic: record %s (%s/%s at %s) refused with %d %s",
					batch[i].IdempotencyKey, batch[i].Provider, batch[i].Model, batch[i].Time.Format(time.RFC3339), r.Status, msg)
			}
		}
		if cfg.Progress != nil {
			cfg.Progress(start+len(batch), len(recs))
		}
	}
	return res, nil
}

func sendBatch(ctx context.Context, cfg BackfillConfig, url string, batch []recordapi.UsageRecord) (recordapi.BatchResult, error) {
	body, err := json.Marshal(recordapi.BatchRequest{Records: batch})
	if err != nil {
		return recordapi.BatchResult{}, err
	}
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return recordapi.BatchResult{}, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+cfg.Key)
		resp, err := cfg.Client.Do(req)
		if err != nil {
			return recordapi.BatchResult{}, fmt.Errorf("demotraffic: %s: %w", url, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close() //nolint:errcheck // read fully
		if err != nil {
			return recordapi.BatchResult{}, fmt.Errorf("demotraffic: reading the answer of %s: %w", url, err)
		}
		// Rate limited or briefly unavailable: the same batch again is safe (idempotency keys).
		if (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) && attempt < 5 {
			wait := time.Second
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
				wait = time.Duration(min(s, 60)) * time.Second
			}
			select {
			case <-ctx.Done():
				return recordapi.BatchResult{}, ctx.Err()
			case <-time.After(wait):
			}
			continue
		}
		if resp.StatusCode != http.StatusOK {
			var e recordapi.ErrorBody
			if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
				return recordapi.BatchResult{}, fmt.Errorf("demotraffic: %s answered %d %s: %s", url, resp.StatusCode, e.Error.Code, e.Error.Message)
			}
			return recordapi.BatchResult{}, fmt.Errorf("demotraffic: %s answered %d: %.200s", url, resp.StatusCode, b)
		}
		var out recordapi.BatchResult
		if err := json.Unmarshal(b, &out); err != nil {
			return recordapi.BatchResult{}, fmt.Errorf("demotraffic: the answer of %s: %w", url, err)
		}
		if len(out.Results) != len(batch) {
			return recordapi.BatchResult{}, fmt.Errorf("demotraffic: %s answered %d results for %d records", url, len(out.Results), len(batch))
		}
		return out, nil
	}
}
