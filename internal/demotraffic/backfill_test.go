package demotraffic

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spendgate/spendgate/recordapi"
)

// A Wednesday afternoon, so the last week holds a whole weekend.
var backfillNow = time.Date(2026, 3, 18, 15, 40, 0, 0, time.UTC)

func TestPlanBackfillShape(t *testing.T) {
	recs, res := PlanBackfill(BackfillConfig{Days: 28, Now: backfillNow, CallsPerDay: 400})
	if !res.To.Equal(time.Date(2026, 3, 18, 15, 0, 0, 0, time.UTC)) || !res.From.Equal(res.To.AddDate(0, 0, -28)) {
		t.Fatalf("range %s – %s", res.From, res.To)
	}
	byDay := map[time.Weekday]int{}
	byHour := map[int]int{}
	keys := map[string]bool{}
	spikeGPT4o := 0
	for _, r := range recs {
		at := *r.Time
		if at.Before(res.From) || !at.Before(res.To) {
			t.Fatalf("record %s at %s outside the range", r.IdempotencyKey, at)
		}
		if keys[r.IdempotencyKey] {
			t.Fatalf("idempotency key %s twice", r.IdempotencyKey)
		}
		keys[r.IdempotencyKey] = true
		if err := r.Validate("", backfillNow); len(err) > 0 {
			t.Fatalf("record %s is invalid for the record API: %v", r.IdempotencyKey, err)
		}
		if r.Dimensions["team"] == "" || r.Dimensions["app"] == "" || r.Usage.Input <= 0 {
			t.Fatalf("record without dimensions or tokens: %+v", r)
		}
		byDay[at.Weekday()]++
		byHour[at.Hour()]++
		if !at.Before(res.Spike) && at.Before(res.Spike.Add(4*time.Hour)) && r.Model == "gpt-4o" && r.Dimensions["team"] == "research" {
			spikeGPT4o++
		}
	}
	// About CallsPerDay on weekdays (growing towards the end), far fewer at weekends and at night.
	if n := len(recs); n < 28*200 || n > 28*500 {
		t.Fatalf("%d records over 28 days at 400 a weekday", n)
	}
	if byDay[time.Sunday]*2 > byDay[time.Tuesday] || byDay[time.Saturday]*2 > byDay[time.Thursday] {
		t.Fatalf("weekends are not quieter: %v", byDay)
	}
	if byHour[3]*4 > byHour[14] {
		t.Fatalf("nights are not quieter than afternoons: 03h %d, 14h %d", byHour[3], byHour[14])
	}
	if want := time.Date(2026, 3, 15, 13, 0, 0, 0, time.UTC); !res.Spike.Equal(want) {
		t.Fatalf("spike at %s, want %s (three days back at most, 13:00)", res.Spike, want)
	}
	if spikeGPT4o < 4*20 {
		t.Fatalf("the spike holds %d runaway gpt-4o calls", spikeGPT4o)
	}

	// The same seed plans the same records; another seed another history.
	again, _ := PlanBackfill(BackfillConfig{Days: 28, Now: backfillNow.Add(10 * time.Minute), CallsPerDay: 400})
	a, _ := json.Marshal(recs)
	b, _ := json.Marshal(again)
	if string(a) != string(b) {
		t.Fatal("the same seed and hour planned a different history")
	}
	other, _ := PlanBackfill(BackfillConfig{Days: 28, Now: backfillNow, CallsPerDay: 400, Seed: 2})
	if other[0].IdempotencyKey == recs[0].IdempotencyKey {
		t.Fatal("another seed reuses the idempotency keys")
	}
	// A day later the shared hours are the same records: a re-run records only the new ones.
	later, _ := PlanBackfill(BackfillConfig{Days: 28, Now: backfillNow.Add(24 * time.Hour), CallsPerDay: 400})
	old := map[string]string{}
	for _, r := range recs {
		j, _ := json.Marshal(r)
		old[r.IdempotencyKey] = string(j)
	}
	shared := 0
	for _, r := range later {
		if prev, ok := old[r.IdempotencyKey]; ok {
			// The spike moved with the range: its hours differ, all others match.
			if j, _ := json.Marshal(r); string(j) != prev && r.Dimensions["team"] != "research" {
				t.Fatalf("record %s changed between runs", r.IdempotencyKey)
			}
			shared++
		}
	}
	if shared < len(recs)*9/10 {
		t.Fatalf("only %d of %d records shared with the run a day later", shared, len(recs))
	}
}

// The sender against a stand-in of POST /v1/usage:batch that answers in the
// API's own shapes: batches within the limit, the key as bearer token, a
// rate limit retried, duplicates counted, a refused record stops the run.
func TestBackfillSends(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	limited := false
	refuse := ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != recordapi.BatchPath || r.Header.Get("Authorization") != "Bearer sg_demo_x" {
			http.Error(w, "wrong path or key", http.StatusNotFound)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !limited {
			limited = true
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			_ = json.NewEncoder(w).Encode(recordapi.ErrorBody{Error: recordapi.Error{Code: recordapi.CodeRateLimited, Message: "slow down"}})
			return
		}
		body, _ := io.ReadAll(r.Body)
		var req recordapi.BatchRequest
		if err := json.Unmarshal(body, &req); err != nil || len(req.Records) > recordapi.MaxBatchRecords {
			http.Error(w, "bad batch", http.StatusBadRequest)
			return
		}
		out := recordapi.BatchResult{}
		for _, rec := range req.Records {
			res := recordapi.UsageResult{Status: http.StatusAccepted, IdempotencyKey: rec.IdempotencyKey, Duplicate: seen[rec.IdempotencyKey]}
			if rec.IdempotencyKey == refuse {
				res = recordapi.UsageResult{Status: http.StatusBadRequest, Error: &recordapi.Error{Code: recordapi.CodeInvalidRequest, Message: "/time: too old"}}
			}
			seen[rec.IdempotencyKey] = true
			out.Results = append(out.Results, res)
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	defer srv.Close()

	cfg := BackfillConfig{APIURL: srv.URL + "/", Key: "sg_demo_x", Days: 3, Now: backfillNow, CallsPerDay: 300}
	res, err := Backfill(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records == 0 || res.Recorded != res.Records || res.Duplicates != 0 || !limited {
		t.Fatalf("first run %+v (rate limited once: %v)", res, limited)
	}
	again, err := Backfill(context.Background(), cfg)
	if err != nil || again.Recorded != 0 || again.Duplicates != res.Records {
		t.Fatalf("second run %+v, %v: every record should be a duplicate", again, err)
	}
	recs, _ := PlanBackfill(cfg)
	refuse = recs[len(recs)/2].IdempotencyKey
	_, err = Backfill(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), refuse) || !strings.Contains(err.Error(), "/time: too old") {
		t.Fatalf("a refused record: %v", err)
	}
}

func TestBackfillRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]BackfillConfig{
		"no URL":      {Key: "k", Days: 1},
		"no key":      {APIURL: "http://x", Days: 1},
		"no days":     {APIURL: "http://x", Key: "k"},
		"over a year": {APIURL: "http://x", Key: "k", Days: 400},
		"negative":    {APIURL: "http://x", Key: "k", Days: 2, CallsPerDay: -1},
	} {
		if _, err := Backfill(context.Background(), cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
