package main

import (
	"context"
	"log/slog"

	"github.com/spendgate/spendgate/internal/fakeprovider"
)

func runFakeProvider(ctx context.Context, args []string) error {
	fs := newFlagSet("fakeprovider")
	listen := fs.String("listen", "127.0.0.1:9999", "listen address")
	prompt := fs.Int("prompt-tokens", 12, "default prompt tokens per call")
	completion := fs.Int("completion-tokens", 7, "default completion tokens per call")
	chunks := fs.Int("chunks", 3, "default content chunks per stream")
	latency := fs.Duration("latency", 0, "delay before each response")
	chunkDelay := fs.Duration("chunk-delay", 0, "delay between stream chunks")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	fp := fakeprovider.New(fakeprovider.Config{PromptTokens: *prompt, CompletionTokens: *completion, Chunks: *chunks,
		Latency: *latency, ChunkDelay: *chunkDelay, KeepRequests: 100})
	slog.Info("fake provider: OpenAI at /v1, Anthropic at /v1/messages, Gemini at /v1beta/models/<m>:generateContent",
		"addr", *listen, "chunk_delay", chunkDelay.String(), "latency", latency.String())
	return serveUntilDone(ctx, slog.Default(), "fakeprovider", *listen, fp, nil)
}
