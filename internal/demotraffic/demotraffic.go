// Package demotraffic sends realistic AI API traffic through a spendgate
// gateway so a demo installation's dashboards have something to show: a mix
// of providers, models, operations, streaming and JSON answers, teams and
// apps as dimensions, token counts that vary like real prompts do, and a few
// calls that the key's policy or the provider refuse. The token counts are
// asked of the fake provider (x-fake-* headers); a real provider ignores
// them.
package demotraffic

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config of a traffic run.
type Config struct {
	GatewayURL  string // e.g. http://127.0.0.1:8081
	Key         string // spendgate API key
	Requests    int
	Concurrency int
	// Seed makes a run repeatable (0: random).
	Seed   uint64
	Client *http.Client
}

// Result counts what happened: answered, denied by spendgate (the
// X-Spendgate-Denial header), refused by the provider, or not sent.
type Result struct {
	Sent, OK, Denied, ProviderErrors, Failed int64
	ByCall                                   map[string]int64
}

// call is one kind of request of the mix.
type call struct {
	name, path, model string
	weight            int
	stream            bool
	body              func(model string, stream bool) string
}

func chatBody(model string, stream bool) string {
	return `{"model":"` + model + `","stream":` + strconv.FormatBool(stream) +
		`,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Summarise our Q3 numbers."}]}`
}

func anthropicBody(model string, stream bool) string {
	return `{"model":"` + model + `","max_tokens":1024,"stream":` + strconv.FormatBool(stream) +
		`,"messages":[{"role":"user","content":"Draft a reply to this customer email."}]}`
}

func geminiBody(string, bool) string {
	return `{"contents":[{"role":"user","parts":[{"text":"Classify this support ticket."}]}]}`
}

func converseBody(string, bool) string {
	return `{"messages":[{"role":"user","content":[{"text":"Extract the invoice fields."}]}],"inferenceConfig":{"maxTokens":512}}`
}

func embeddingBody(model string, _ bool) string {
	return `{"model":"` + model + `","input":["refund policy","shipping times","warranty"]}`
}

// mix is the demo's traffic: mostly cheap chat, some premium models, some
// streaming, embeddings, and one model the demo key's policy may refuse.
var mix = []call{
	{"openai chat gpt-4o-mini", "/v1/openai/chat/completions", "gpt-4o-mini", 30, false, chatBody},
	{"openai chat gpt-4o-mini stream", "/v1/openai/chat/completions", "gpt-4o-mini", 15, true, chatBody},
	{"openai chat gpt-4o", "/v1/openai/chat/completions", "gpt-4o", 10, false, chatBody},
	{"openai embeddings", "/v1/openai/embeddings", "text-embedding-3-small", 10, false, embeddingBody},
	{"anthropic sonnet stream", "/v1/anthropic/v1/messages", "claude-sonnet-4-5", 10, true, anthropicBody},
	{"anthropic haiku", "/v1/anthropic/v1/messages", "claude-haiku-4-5", 10, false, anthropicBody},
	{"gemini flash", "/v1/gemini/v1beta/models/gemini-2.5-flash:generateContent", "gemini-2.5-flash", 10, false, geminiBody},
	// The clouds (docs/cloud.md): an Azure deployment named after its model,
	// Bedrock's Converse (a Bedrock API key as bearer token), Vertex Gemini.
	{"azure chat gpt-4o deployment", "/v1/azure_openai/demo/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", "gpt-4o", 5, false, chatBody},
	{"bedrock converse sonnet", "/v1/bedrock/us-east-1/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/converse", "", 4, false, converseBody},
	{"bedrock converse stream nova", "/v1/bedrock/us-east-1/model/us.amazon.nova-lite-v1:0/converse-stream", "", 3, true, converseBody},
	{"vertex gemini pro", "/v1/vertex_ai/v1/projects/demo/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent", "gemini-2.5-pro", 3, false, geminiBody},
	{"unpriced model", "/v1/openai/chat/completions", "acme-internal-llm", 2, false, chatBody},
	{"provider error", "/v1/openai/chat/completions", "gpt-4o-mini", 3, false, chatBody},
}

var (
	teams = []string{"search", "support", "growth", "research"}
	apps  = []string{"web", "batch", "slackbot"}
)

// Run sends cfg.Requests requests, cfg.Concurrency at a time, until done or
// ctx ends.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.GatewayURL == "" || cfg.Key == "" {
		return Result{}, fmt.Errorf("demotraffic: the gateway URL and a key are required")
	}
	if cfg.Requests <= 0 {
		return Result{}, fmt.Errorf("demotraffic: requests must be positive")
	}
	cfg.Concurrency = max(cfg.Concurrency, 1)
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: time.Minute}
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	total := 0
	for _, c := range mix {
		total += c.weight
	}
	res := Result{ByCall: map[string]int64{}}
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, cfg.Concurrency)
	for w := range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for next.Add(1) <= int64(cfg.Requests) && ctx.Err() == nil {
				c := pick(rng, total)
				status, denied, err := send(ctx, cfg, rng, c)
				mu.Lock()
				res.Sent++
				res.ByCall[c.name]++
				switch {
				case err != nil:
					res.Failed++
				case denied:
					res.Denied++
				case status < 300:
					res.OK++
				default:
					res.ProviderErrors++
				}
				mu.Unlock()
				if err != nil && ctx.Err() == nil {
					select {
					case errc <- err:
					default:
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return res, err
	default:
	}
	return res, ctx.Err()
}

func pick(rng *rand.Rand, total int) call {
	n := rng.IntN(total)
	for _, c := range mix {
		if n < c.weight {
			return c
		}
		n -= c.weight
	}
	return mix[0]
}

func send(ctx context.Context, cfg Config, rng *rand.Rand, c call) (status int, denied bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(cfg.GatewayURL, "/")+c.path,
		strings.NewReader(c.body(c.model, c.stream)))
	if err != nil {
		return 0, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-spendgate-key", cfg.Key)
	req.Header.Set("Authorization", "Bearer sk-demo-provider-key")
	req.Header.Set("x-api-key", "sk-ant-demo-provider-key")
	req.Header.Set("anthropic-version", "2023-06-01")
	req.Header.Set("api-key", "azure-demo-resource-key")
	req.Header.Set("x-spendgate-dim-team", teams[rng.IntN(len(teams))])
	req.Header.Set("x-spendgate-dim-app", apps[rng.IntN(len(apps))])
	// Prompt sizes spread over two orders of magnitude, like real traffic.
	prompt := 200 + rng.IntN(20)*rng.IntN(400)
	req.Header.Set("x-fake-prompt-tokens", strconv.Itoa(prompt))
	req.Header.Set("x-fake-completion-tokens", strconv.Itoa(20+rng.IntN(800)))
	if rng.IntN(3) == 0 {
		req.Header.Set("x-fake-cached-tokens", strconv.Itoa(prompt/2))
	}
	if c.name == "provider error" {
		req.Header.Set("x-fake-status", "429")
	}
	res, err := cfg.Client.Do(req)
	if err != nil {
		return 0, false, fmt.Errorf("demotraffic: %s: %w", c.name, err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, res.Header.Get("X-Spendgate-Denial") != "", nil
}
