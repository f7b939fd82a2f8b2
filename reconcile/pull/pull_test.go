package pull_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/internal/fakeprovider"
	"github.com/spendgate/spendgate/reconcile"
	"github.com/spendgate/spendgate/reconcile/pull"
)

var day0 = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)

func usage(d int, model string, in, out, cost int64) fakeprovider.AdminUsage {
	return fakeprovider.AdminUsage{Day: day0.AddDate(0, 0, d), Model: model, InputTokens: in, CachedTokens: in / 4, OutputTokens: out,
		Requests: 3, CostNanoUSD: cost}
}

type recorded struct{ pages []reconcile.Page }

func (r *recorded) rec(_ context.Context, p reconcile.Page) error {
	r.pages = append(r.pages, p)
	return nil
}

func client() (*pull.Client, *[]time.Duration) {
	c := pull.New(nil)
	var waits []time.Duration
	c.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	return c, &waits
}

func byKey(rows []reconcile.ReportedRow) map[string]reconcile.ReportedRow {
	m := map[string]reconcile.ReportedRow{}
	for _, r := range rows {
		m[r.Day.Format(time.DateOnly)+" "+r.Model] = r
	}
	return m
}

// Every provider's report, across pages, lands on the right day × model with
// the exact cost, and each page is recorded as received.
func TestFetchMultiPage(t *testing.T) {
	for _, p := range []reconcile.Provider{reconcile.OpenAI, reconcile.Anthropic} {
		t.Run(string(p), func(t *testing.T) {
			fp := fakeprovider.New(fakeprovider.Config{})
			fp.SetAdminKey(string(p), "sk-admin-test-key-1234")
			fp.AdminPageBuckets(2)
			// $1.234567891 and $0.000000007: nano-exact through both shapes
			// (OpenAI: USD numbers split in two line items; Anthropic: cents).
			fp.SetAdminUsage(string(p), []fakeprovider.AdminUsage{usage(0, "m-a", 1000, 200, 1_234_567_891), usage(0, "m-b", 10, 2, 7),
				usage(3, "m-a", 5, 5, 500_000_000), usage(4, "m-a", 1, 1, 1)})
			srv := httptest.NewServer(fp)
			defer srv.Close()
			c, _ := client()
			var rec recorded
			rows, err := c.Fetch(context.Background(), p, srv.URL, "sk-admin-test-key-1234", day0, day0.AddDate(0, 0, 5), rec.rec)
			if err != nil {
				t.Fatal(err)
			}
			// 5 days at 2 buckets a page: 3 usage pages + 3 cost pages.
			if len(rec.pages) != 6 {
				t.Fatalf("%d pages recorded, want 6", len(rec.pages))
			}
			for _, pg := range rec.pages {
				if pg.Status != 200 || len(pg.Body) == 0 || strings.Contains(pg.RequestURL, "sk-admin") {
					t.Errorf("page %+v", pg)
				}
			}
			if u, _ := url.Parse(rec.pages[1].RequestURL); u.Query().Get("page") == "" {
				t.Errorf("second page requested without page=: %s", rec.pages[1].RequestURL)
			}
			got := byKey(rows)
			want := map[string]int64{"2026-11-28 m-a": 1_234_567_891, "2026-11-28 m-b": 7, "2026-12-01 m-a": 500_000_000, "2026-12-02 m-a": 1}
			if len(got) != len(want) {
				t.Fatalf("rows %+v", rows)
			}
			for k, cost := range want {
				if r := got[k]; r.CostNanoUSD != cost || !r.HasCost {
					t.Errorf("%s: cost %d (has %v), want %d", k, r.CostNanoUSD, r.HasCost, cost)
				}
			}
			if r := got["2026-11-28 m-a"]; r.InputTokens != 1000 || r.OutputTokens != 200 {
				t.Errorf("tokens %+v", r)
			}
		})
	}
}

// A second pull after the provider revised a bucket answers the revision.
func TestFetchRevisedBucket(t *testing.T) {
	fp := fakeprovider.New(fakeprovider.Config{})
	srv := httptest.NewServer(fp)
	defer srv.Close()
	c, _ := client()
	var rec recorded
	fp.SetAdminUsage("openai", []fakeprovider.AdminUsage{usage(1, "gpt-4o-mini", 100, 10, 1_000)})
	first, err := c.Fetch(context.Background(), reconcile.OpenAI, srv.URL, "sk-admin-xxxxxxxx", day0, day0.AddDate(0, 0, 3), rec.rec)
	if err != nil {
		t.Fatal(err)
	}
	fp.SetAdminUsage("openai", []fakeprovider.AdminUsage{usage(1, "gpt-4o-mini", 150, 15, 1_600)})
	second, err := c.Fetch(context.Background(), reconcile.OpenAI, srv.URL, "sk-admin-xxxxxxxx", day0, day0.AddDate(0, 0, 3), rec.rec)
	if err != nil {
		t.Fatal(err)
	}
	if first[0].CostNanoUSD != 1_000 || second[0].CostNanoUSD != 1_600 || second[0].InputTokens != 150 {
		t.Fatalf("first %+v second %+v", first, second)
	}
	if rec.pages[0].SHA256 != "" {
		t.Error("the client does not hash; the store does")
	}
}

// 429s are retried after the provider's retry-after; too many give up with
// the status.
func TestFetchRateLimited(t *testing.T) {
	fp := fakeprovider.New(fakeprovider.Config{})
	srv := httptest.NewServer(fp)
	defer srv.Close()
	fp.SetAdminUsage("anthropic", []fakeprovider.AdminUsage{usage(0, "claude-sonnet-4-5", 10, 10, 42)})
	c, waits := client()
	fp.RateLimitAdmin(2, "7")
	var rec recorded
	rows, err := c.Fetch(context.Background(), reconcile.Anthropic, srv.URL, "sk-ant-admin-key", day0, day0.AddDate(0, 0, 1), rec.rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(*waits) != 2 || (*waits)[0] != 7*time.Second || (*waits)[1] != 7*time.Second {
		t.Errorf("waits %v, want two of 7s (retry-after)", *waits)
	}
	if len(rows) != 1 || rows[0].CostNanoUSD != 42 {
		t.Errorf("rows %+v", rows)
	}
	if _, limited := fp.AdminStats(); limited != 2 {
		t.Errorf("fake rate limited %d times", limited)
	}

	// Without a usable retry-after: exponential backoff, then the error.
	c, waits = client()
	c.MaxAttempts = 3
	fp.RateLimitAdmin(5, "soon")
	_, err = c.Fetch(context.Background(), reconcile.Anthropic, srv.URL, "sk-ant-admin-key", day0, day0.AddDate(0, 0, 1), rec.rec)
	var se *pull.StatusError
	if !errors.As(err, &se) || se.Status != 429 {
		t.Fatalf("err %v, want a 429 StatusError", err)
	}
	if len(*waits) != 2 || (*waits)[0] != time.Second || (*waits)[1] != 2*time.Second {
		t.Errorf("waits %v, want 1s, 2s", *waits)
	}
}

// A refused key answers the provider's status and message, never the key.
func TestFetchRefusedKey(t *testing.T) {
	fp := fakeprovider.New(fakeprovider.Config{})
	fp.SetAdminKey("openai", "sk-admin-right-key")
	srv := httptest.NewServer(fp)
	defer srv.Close()
	c, _ := client()
	var rec recorded
	_, err := c.Fetch(context.Background(), reconcile.OpenAI, srv.URL, "sk-admin-wrong-key", day0, day0.AddDate(0, 0, 1), rec.rec)
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong-key") {
		t.Fatalf("err %v", err)
	}
}

func TestParseBillingExport(t *testing.T) {
	jsonl := `{"service":{"description":"Vertex AI"},"sku":{"description":"Gemini 2.5 Flash Input Text Tokens"},"usage_start_time":"2026-11-28T05:00:00Z","cost":0.123456789,"currency":"USD","usage":{"amount":1000,"unit":"count"}}
{"service":{"description":"Vertex AI"},"sku":{"description":"Gemini 2.5 Flash Output Text Tokens"},"usage_start_time":"2026-11-28 23:00:00 UTC","cost":1.000000001,"currency":"USD","usage":{"amount":50,"unit":"count"}}
{"service":{"description":"Compute Engine"},"sku":{"description":"N1 core"},"usage_start_time":"2026-11-28T05:00:00Z","cost":99,"currency":"USD"}
`
	rows, err := pull.ParseBillingExport([]byte(jsonl), "jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Model != "gemini-2.5-flash" || rows[0].CostNanoUSD != 1_123_456_790 || rows[0].InputTokens != 1000 || rows[0].OutputTokens != 50 {
		t.Fatalf("rows %+v", rows)
	}
	csv := "billing_account_id,service.description,sku.description,usage_start_time,cost,currency,usage.amount,usage.unit\n" +
		"x,Gemini API,Gemini 2.0 Flash Input Tokens,2026-11-29 00:00:00 UTC,0.5,USD,10,count\n"
	rows, err = pull.ParseBillingExport([]byte(csv), "csv")
	if err != nil || len(rows) != 1 || rows[0].CostNanoUSD != 500_000_000 || !rows[0].Day.Equal(day0.AddDate(0, 0, 1)) {
		t.Fatalf("rows %+v err %v", rows, err)
	}
	for name, c := range map[string]struct{ body, format string }{
		"CSV without cost": {"service.description,sku.description,usage_start_time,currency\n", "csv"},
		"euro export":      {`{"service":{"description":"Vertex AI"},"usage_start_time":"2026-11-28T05:00:00Z","cost":1,"currency":"EUR"}`, "jsonl"},
		"unknown format":   {"", "parquet"},
		"bad time":         {`{"service":{"description":"Vertex AI"},"usage_start_time":"yesterday","cost":1,"currency":"USD"}`, "jsonl"},
		"not json":         {"{", "jsonl"},
	} {
		if _, err := pull.ParseBillingExport([]byte(c.body), c.format); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzParseBillingExport(f *testing.F) {
	f.Add([]byte(`{"service":{"description":"Vertex AI"},"sku":{"description":"Gemini"},"usage_start_time":"2026-11-28T05:00:00Z","cost":1,"currency":"USD"}`), "jsonl")
	f.Add([]byte("service.description,sku.description,usage_start_time,cost,currency\nVertex AI,x,2026-11-28T00:00:00Z,1e3,USD\n"), "csv")
	f.Fuzz(func(_ *testing.T, body []byte, format string) {
		_, _ = pull.ParseBillingExport(body, format)
	})
}
