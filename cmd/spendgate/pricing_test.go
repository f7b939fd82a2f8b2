package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spendgate/spendgate/pricing"
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

func TestPricingSyncWritesValidCatalogue(t *testing.T) {
	out := filepath.Join(t.TempDir(), "catalogue.yaml")
	err := runPricing(context.Background(), []string{"sync", "--from", "../../pricing/testdata/litellm_sample.json",
		"--out", out, "--effective-from", "2026-09-01", "--checked", "2026-09-01"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := pricing.LoadCatalogue(data)
	if err != nil {
		t.Fatalf("written catalogue does not load: %v", err)
	}
	if len(cat.Models()) < len(pricing.Default().Models()) {
		t.Errorf("sync lost models: %d < %d", len(cat.Models()), len(pricing.Default().Models()))
	}
	if _, _, ok := cat.Lookup("openai", "gpt-4o"); !ok {
		t.Error("gpt-4o missing after sync")
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
		if err := runPricing(context.Background(), args); err == nil {
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
