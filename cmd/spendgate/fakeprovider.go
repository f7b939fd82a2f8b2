package main

import (
	"context"
	"log/slog"

	"github.com/spendgate/spendgate/internal/fakeprovider"
	"github.com/spendgate/spendgate/pricing"
)

func runFakeProvider(ctx context.Context, args []string) error {
	fs := newFlagSet("fakeprovider")
	listen := fs.String("listen", "127.0.0.1:9999", "listen address")
	prompt := fs.Int("prompt-tokens", 12, "default prompt tokens per call")
	completion := fs.Int("completion-tokens", 7, "default completion tokens per call")
	chunks := fs.Int("chunks", 3, "default content chunks per stream")
	latency := fs.Duration("latency", 0, "delay before each response")
	chunkDelay := fs.Duration("chunk-delay", 0, "delay between stream chunks")
	adminKey := fs.String("admin-key", "", "the admin key its OpenAI and Anthropic usage and cost report endpoints require (empty: any)")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	fp := fakeprovider.New(fakeprovider.Config{PromptTokens: *prompt, CompletionTokens: *completion, Chunks: *chunks,
		Latency: *latency, ChunkDelay: *chunkDelay, KeepRequests: 100})
	// The admin report endpoints report what it served, at list prices.
	fp.TallyServed(demoPrice(pricing.Default()))
	if *adminKey != "" {
		fp.SetAdminKey("openai", *adminKey)
		fp.SetAdminKey("anthropic", *adminKey)
	}
	slog.Info("fake provider: OpenAI at /v1, Anthropic at /v1/messages, Gemini at /v1beta/models/<m>:generateContent; "+
		"usage and cost reports at /v1/organization/usage/completions, /v1/organization/costs, /v1/organizations/usage_report/messages, /v1/organizations/cost_report",
		"addr", *listen, "chunk_delay", chunkDelay.String(), "latency", latency.String())
	return serveUntilDone(ctx, slog.Default(), "fakeprovider", *listen, fp, nil)
}
