package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/usage"
)

// pricingStdout runs f with os.Stdout redirected and returns what it printed.
// Not parallel: it swaps the process-wide os.Stdout.
func pricingStdout(t *testing.T, f func() error) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	runErr := f()
	os.Stdout = old
	w.Close()
	return <-done, runErr
}

// TestPricingSyncRealLiteLLMFile runs the sync command on a public copy of
// LiteLLM's price file (218 entries) against the shipped catalogue, from a
// file and over HTTP.
func TestPricingSyncRealLiteLLMFile(t *testing.T) {
	const src = "../../pricing/testdata/litellm_model_prices.json"
	body, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
	t.Cleanup(srv.Close)
	for _, from := range []string{src, srv.URL + "/model_prices_and_context_window.json"} {
		out := filepath.Join(t.TempDir(), "catalogue.yaml")
		var stdout, stderr bytes.Buffer
		err := pricingSync(context.Background(), []string{"--from", from, "--out", out, "--effective-from", "2026-11-25",
			"--checked", "2026-11-25"}, &stdout, &stderr)
		if err != nil {
			t.Fatalf("%s: %v\n%s", from, err, stderr.String())
		}
		report := stderr.String()
		if !strings.Contains(report, "importing 218/218 entries") {
			t.Errorf("no progress line:\n%s", report)
		}
		m := regexp.MustCompile(`pricing sync: (\d+) added, (\d+) changed, (\d+) unchanged, (\d+) pinned, (\d+) skipped`).FindStringSubmatch(report)
		if m == nil {
			t.Fatalf("no summary line:\n%s", report)
		}
		// The shipped catalogue is generated from LiteLLM's own, newer file:
		// nothing to add; the mirror still lists the two Gemini 3.1 Flash
		// Image prices LiteLLM has corrected since; every other difference is
		// a reviewed (pinned or provider-page) entry.
		if m[1] != "0" || m[2] != "2" || m[3] == "0" || m[4] == "0" || m[5] == "0" {
			t.Errorf("summary %q", m[0])
		}
		for _, want := range []string{"pinned, kept: anthropic/claude-3-haiku-20240307", "ignored cost field the catalogue cannot express: output_cost_per_second",
			"changed: gemini/gemini-3.1-flash-image\n", "changed gemini/gemini-3.1-flash-image from 2026-11-25", "input                              0.25 → 0.5 per 1M tokens"} {
			if !strings.Contains(report, want) {
				t.Errorf("report lacks %q:\n%s", want, report)
			}
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		cat, err := pricing.LoadCatalogue(data)
		if err != nil {
			t.Fatalf("written catalogue does not load: %v", err)
		}
		if len(cat.Models()) != len(pricing.Default().Models()) {
			t.Errorf("sync changed the model count: %d vs %d", len(cat.Models()), len(pricing.Default().Models()))
		}
	}
}

// TestPricingSyncReportsChanges syncs the small sample into an older
// catalogue: the changed price gets a new effective date.
func TestPricingSyncReportsChanges(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.yaml")
	if err := os.WriteFile(base, []byte(`models:
- provider: anthropic
  model: claude-3-7-sonnet-20250219
  source: hand
  checked: "2025-01-01"
  prices:
  - effective_from: "2025-02-24"
    rates: {input: "2", output: "10"}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.yaml")
	var stdout, stderr bytes.Buffer
	err := pricingSync(context.Background(), []string{"--from", "../../pricing/testdata/litellm_sample.json", "--catalogue", base,
		"--out", out, "--effective-from", "2026-09-01", "--providers", "anthropic"}, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "changed: anthropic/claude-3-7-sonnet-20250219") {
		t.Fatalf("report:\n%s", stderr.String())
	}
	data, _ := os.ReadFile(out)
	cat, err := pricing.LoadCatalogue(data)
	if err != nil {
		t.Fatal(err)
	}
	before := cat.Cost(pricing.Request{Provider: "anthropic", Model: "claude-3-7-sonnet-20250219", Time: time.Date(2026, 8, 31, 0, 0, 0, 0, time.UTC)}, usage.Tokens{Input: 1_000_000}, nil)
	after := cat.Cost(pricing.Request{Provider: "anthropic", Model: "claude-3-7-sonnet-20250219", Time: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)}, usage.Tokens{Input: 1_000_000}, nil)
	if before.ListNanoUSD != 2_000_000_000 || after.ListNanoUSD != 3_000_000_000 {
		t.Errorf("re-pricing across the sync date: before %d after %d", before.ListNanoUSD, after.ListNanoUSD)
	}
}

func TestPricingSyncErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`["not", "a", "price", "file"]`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"sync"},
		{"sync", "--from", "/nonexistent/prices.json"},
		{"sync", "--from", bad, "--out", filepath.Join(t.TempDir(), "x.yaml")},
		{"sync", "--from", "../../pricing/testdata/litellm_sample.json", "--effective-from", "yesterday"},
		{"frobnicate"},
		{},
	} {
		if _, err := pricingStdout(t, func() error { return runPricing(context.Background(), args) }); err == nil {
			t.Errorf("%v: expected an error", args)
		}
	}
}

func TestPricingCostAndShow(t *testing.T) {
	// Claude Sonnet 4.5: 100 input × $3/M + 1000 cache reads × $0.30/M + 50 output × $15/M = $0.00135.
	got, err := pricingStdout(t, func() error {
		return runPricing(context.Background(), []string{"cost", "--provider", "anthropic", "--model", "claude-sonnet-4-5-20250929",
			"--raw", "anthropic", "--usage", `{"input_tokens":100,"cache_read_input_tokens":1000,"output_tokens":50}`})
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "total $0.00135\n") || !strings.Contains(got, "by alias") {
		t.Errorf("cost output:\n%s", got)
	}
	got, err = pricingStdout(t, func() error {
		return runPricing(context.Background(), []string{"cost", "--provider", "openai", "--model", "gpt-4o",
			"--usage", `{"input":1000000,"output":1000000}`})
	})
	if err != nil || !strings.Contains(got, "total $12.5\n") {
		t.Errorf("normalised usage cost: %v\n%s", err, got)
	}
	// Perplexity: the usage object's search_context_size picks the fee, and
	// the computed figure agrees with the cost Perplexity reported.
	got, err = pricingStdout(t, func() error {
		return runPricing(context.Background(), []string{"cost", "--provider", "perplexity", "--model", "sonar", "--raw", "openai",
			"--usage", `{"prompt_tokens":9,"completion_tokens":250,"search_context_size":"low","cost":{"total_cost":0.005259}}`})
	})
	if err != nil || !strings.Contains(got, "request fee $0.005\n") || !strings.Contains(got, "computed $0.005259; the provider reported $0.005259") {
		t.Errorf("perplexity cost: %v\n%s", err, got)
	}
	got, err = pricingStdout(t, func() error {
		return runPricing(context.Background(), []string{"cost", "--provider", "deepseek", "--model", "deepseek-chat",
			"--usage", `{"input":1000,"web_searches":2}`})
	})
	if err != nil || !strings.Contains(got, "no rate for web_searches: this cost is incomplete") {
		t.Errorf("unrated class: %v\n%s", err, got)
	}
	got, err = pricingStdout(t, func() error {
		return runPricing(context.Background(), []string{"show", "--provider", "deepseek", "deepseek-reasoner"})
	})
	if err != nil || !strings.Contains(got, "from 2025-09-05T16:00:00Z to 2026-04-24T00:00:00Z") || !strings.Contains(got, "pinned: ") {
		t.Errorf("show history: %v\n%s", err, got)
	}
	got, err = pricingStdout(t, func() error {
		return runPricing(context.Background(), []string{"show", "--provider", "openai", "gpt-4o-2024-08-06"})
	})
	if err != nil || !strings.Contains(got, "openai/gpt-4o (matched by alias") || !strings.Contains(got, "$2.5 / 1M") {
		t.Errorf("show output: %v\n%s", err, got)
	}
	for _, args := range [][]string{
		{"cost", "--provider", "nobody", "--model", "nothing", "--usage", `{"input":1}`},
		{"cost", "--provider", "openai", "--model", "gpt-4o", "--raw", "openai", "--usage", `{"prompt_tokens":-1}`},
		{"cost", "--provider", "openai", "--model", "gpt-4o", "--raw", "cohere", "--usage", `{}`},
		{"cost", "--provider", "openai", "--model", "gpt-4o"},
		{"show", "--provider", "openai", "no-such-model"},
	} {
		if _, err := pricingStdout(t, func() error { return runPricing(context.Background(), args) }); err == nil {
			t.Errorf("%v: expected an error", args)
		}
	}
}

// TestPricingRevisionCommands: sync proposes a revision in Postgres and
// prints its diff; apply puts it in force; a second apply and a bad id are
// refused; revisions and diff list it.
func TestPricingRevisionCommands(t *testing.T) {
	dsn := testenv.Postgres(t)
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "litellm.json")
	if err := os.WriteFile(src, []byte(`{"gpt-4o":{"litellm_provider":"openai","mode":"chat","input_cost_per_token":3e-06,"output_cost_per_token":1e-05},
		"tts-9":{"litellm_provider":"openai","mode":"audio_speech","input_cost_per_character":2e-05}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err := pricingSync(ctx, []string{"--from", src, "--postgres-dsn", dsn, "--effective-from", "2026-12-01", "--providers", "openai"}, &out, &errOut)
	if err != nil {
		t.Fatalf("sync: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"proposed revision 2 (from revision 1, effective 2026-12-01T00:00:00Z): 1 added, 1 changed, 0 removed",
		"changed openai/gpt-4o from 2026-12-01T00:00:00Z", "input                              2.5 → 3 per 1M tokens",
		"added openai/tts-9", "characters                         - → 0.00002 per character", "spendgate pricing apply 2"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("sync output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := pricingDecide(ctx, "apply", []string{"--postgres-dsn", dsn, "2"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "revision 2 is applied") {
		t.Errorf("apply: %s", out.String())
	}
	if err := pricingDecide(ctx, "apply", []string{"--postgres-dsn", dsn, "2"}, &out); err == nil || !strings.Contains(err.Error(), "is applied, not proposed") {
		t.Errorf("second apply: %v", err)
	}
	if err := pricingDecide(ctx, "reject", []string{"--postgres-dsn", dsn, "x"}, &out); err == nil {
		t.Error("bad id accepted")
	}
	out.Reset()
	testenv.Must(t, pricingRevisions(ctx, []string{"--postgres-dsn", dsn}, &out), "revisions")
	if !strings.Contains(out.String(), "    2  applied") || !strings.Contains(out.String(), "    1  applied") {
		t.Errorf("revisions:\n%s", out.String())
	}
	out.Reset()
	testenv.Must(t, pricingRevisionDiff(ctx, []string{"--postgres-dsn", dsn, "2"}, &out), "diff")
	if !strings.Contains(out.String(), "diff: 1 added, 1 changed, 0 removed") {
		t.Errorf("diff:\n%s", out.String())
	}
	// The same file again changes nothing.
	if err := pricingSync(ctx, []string{"--from", src, "--postgres-dsn", dsn, "--effective-from", "2026-12-02", "--providers", "openai"}, &out, &errOut); err == nil ||
		!strings.Contains(err.Error(), "changes nothing") {
		t.Errorf("re-sync: %v", err)
	}
}
