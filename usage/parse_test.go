package usage

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseProviders(t *testing.T) {
	tests := []struct {
		name  string
		parse func([]byte) (Tokens, error)
		in    string
		want  Tokens
	}{
		{
			name:  "openai chat with cached, reasoning and audio details",
			parse: ParseOpenAI,
			in: `{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,
			 "prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0},
			 "completion_tokens_details":{"reasoning_tokens":192,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`,
			want: Tokens{Input: 86, CachedInput: 1920, Output: 108, Reasoning: 192},
		},
		{
			name:  "openai audio model",
			parse: ParseOpenAI,
			in: `{"prompt_tokens":120,"completion_tokens":500,"total_tokens":620,
			 "prompt_tokens_details":{"cached_tokens":0,"audio_tokens":100,"text_tokens":20},
			 "completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":450,"text_tokens":50}}`,
			want: Tokens{Input: 20, AudioInput: 100, Output: 50, AudioOutput: 450},
		},
		{
			name:  "openai responses api",
			parse: ParseOpenAI,
			in: `{"input_tokens":328,"input_tokens_details":{"cached_tokens":128},"output_tokens":52,
			 "output_tokens_details":{"reasoning_tokens":20},"total_tokens":380}`,
			want: Tokens{Input: 200, CachedInput: 128, Output: 32, Reasoning: 20},
		},
		{
			name:  "openai embeddings",
			parse: ParseOpenAI,
			in:    `{"prompt_tokens":8,"total_tokens":8}`,
			want:  Tokens{Input: 8},
		},
		{
			name:  "openai image generation",
			parse: ParseOpenAI,
			in: `{"total_tokens":100,"input_tokens":50,"output_tokens":50,
			 "input_tokens_details":{"text_tokens":10,"image_tokens":40}}`,
			want: Tokens{Input: 10, ImageInput: 40, ImageOutput: 50},
		},
		{
			name:  "deepseek cache hit and miss",
			parse: ParseOpenAI,
			in: `{"prompt_tokens":1000,"completion_tokens":20,"total_tokens":1020,
			 "prompt_cache_hit_tokens":640,"prompt_cache_miss_tokens":360,
			 "completion_tokens_details":{"reasoning_tokens":5}}`,
			want: Tokens{Input: 360, CachedInput: 640, Output: 15, Reasoning: 5},
		},
		{
			name:  "openrouter with reported cost",
			parse: ParseOpenAI,
			in: `{"prompt_tokens":194,"completion_tokens":2,"total_tokens":196,"cost":0.000195,"is_byok":false,
			 "prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}`,
			want: Tokens{Input: 194, Output: 2, ProviderCostNanoUSD: 195000, HasProviderCost: true},
		},
		{
			name:  "openrouter exponent cost",
			parse: ParseOpenAI,
			in:    `{"prompt_tokens":10,"completion_tokens":1,"cost":1.5e-05}`,
			want:  Tokens{Input: 10, Output: 1, ProviderCostNanoUSD: 15000, HasProviderCost: true},
		},
		{
			name:  "xai sources",
			parse: ParseOpenAI,
			in: `{"prompt_tokens":37,"completion_tokens":530,"total_tokens":800,"prompt_tokens_details":{"text_tokens":37,"audio_tokens":0,"image_tokens":0,"cached_tokens":6},
			 "completion_tokens_details":{"reasoning_tokens":233,"audio_tokens":0},"num_sources_used":3}`,
			want: Tokens{Input: 31, CachedInput: 6, Output: 530, Reasoning: 233, WebSearches: 3},
		},
		{
			name:  "xai reasoning beside completion, no total",
			parse: ParseOpenAI,
			in:    `{"prompt_tokens":14,"completion_tokens":2,"completion_tokens_details":{"reasoning_tokens":317}}`,
			want:  Tokens{Input: 14, Output: 2, Reasoning: 317},
		},
		{
			name:  "openai reasoning inside completion (total = prompt + completion)",
			parse: ParseOpenAI,
			in:    `{"prompt_tokens":14,"completion_tokens":400,"total_tokens":414,"completion_tokens_details":{"reasoning_tokens":317}}`,
			want:  Tokens{Input: 14, Output: 83, Reasoning: 317},
		},
		{
			name:  "perplexity cost breakdown object",
			parse: ParseOpenAI,
			in: `{"prompt_tokens":9,"completion_tokens":250,"total_tokens":259,"search_context_size":"low",
			 "cost":{"input_tokens_cost":0.000009,"output_tokens_cost":0.00025,"request_cost":0.005,"total_cost":0.005259}}`,
			want: Tokens{Input: 9, Output: 250, ProviderCostNanoUSD: 5259000, HasProviderCost: true},
		},
		{
			name:  "perplexity deep research",
			parse: ParseOpenAI,
			in: `{"prompt_tokens":19,"completion_tokens":9000,"total_tokens":9019,"citation_tokens":11000,
			 "num_search_queries":20,"reasoning_tokens":70000}`,
			want: Tokens{Input: 11019, Output: 9000, Reasoning: 70000, WebSearches: 20},
		},
		{
			name:  "groq timing floats are ignored",
			parse: ParseOpenAI,
			in: `{"queue_time":0.017,"prompt_tokens":40,"prompt_time":0.0023,"completion_tokens":12,"completion_time":0.048,
			 "total_tokens":52,"total_time":0.05}`,
			want: Tokens{Input: 40, Output: 12},
		},
		{
			name:  "anthropic with cache split",
			parse: ParseAnthropic,
			in: `{"input_tokens":50,"cache_creation_input_tokens":1000,"cache_read_input_tokens":2000,
			 "cache_creation":{"ephemeral_5m_input_tokens":400,"ephemeral_1h_input_tokens":600},
			 "output_tokens":300,"service_tier":"standard","server_tool_use":{"web_search_requests":2}}`,
			want: Tokens{Input: 50, CachedInput: 2000, CacheWrite5m: 400, CacheWrite1h: 600, Output: 300, WebSearches: 2},
		},
		{
			name:  "anthropic without split",
			parse: ParseAnthropic,
			in:    `{"input_tokens":12,"cache_creation_input_tokens":7,"cache_read_input_tokens":0,"output_tokens":1}`,
			want:  Tokens{Input: 12, CacheWrite5m: 7, Output: 1},
		},
		{
			name:  "anthropic message_delta",
			parse: ParseAnthropic,
			in:    `{"output_tokens":15}`,
			want:  Tokens{Output: 15},
		},
		{
			name:  "gemini thoughts and cache",
			parse: ParseGemini,
			in: `{"promptTokenCount":1200,"candidatesTokenCount":80,"totalTokenCount":1380,"cachedContentTokenCount":1000,
			 "thoughtsTokenCount":100,"promptTokensDetails":[{"modality":"TEXT","tokenCount":1200}],
			 "cacheTokensDetails":[{"modality":"TEXT","tokenCount":1000}]}`,
			want: Tokens{Input: 200, CachedInput: 1000, Output: 80, Reasoning: 100},
		},
		{
			name:  "gemini audio input",
			parse: ParseGemini,
			in: `{"promptTokenCount":500,"candidatesTokenCount":10,"totalTokenCount":510,
			 "promptTokensDetails":[{"modality":"TEXT","tokenCount":20},{"modality":"AUDIO","tokenCount":480}]}`,
			want: Tokens{Input: 20, AudioInput: 480, Output: 10},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got != tt.want {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	bad := []string{`[]`, `nope`, `{"prompt_tokens":-3}`, `{"prompt_tokens":"12"}`, `{"prompt_tokens":1.5}`, `{"cost":"abc"}`, `{"cost":{"total_cost":"x"}}`, `{"cost":-1}`, `{"prompt_tokens":9223372036854775807}`, `{"prompt_tokens":1e300}`,
		`{"type":"duration","seconds":-1}`, `{"type":"duration","seconds":"3"}`, `{"cost_in_usd_ticks":-5}`, `{"cost_in_usd_ticks":1.5}`,
		`{"cost":0.1,"is_byok":true,"cost_details":{"upstream_inference_cost":"x"}}`,
		`{"server_side_tool_usage_details":{"web_search_calls":-1}}`}
	for _, in := range bad {
		if _, err := ParseOpenAI([]byte(in)); err == nil {
			t.Errorf("ParseOpenAI(%s): want error", in)
		}
	}
	if _, err := ParseAnthropic([]byte(`{"input_tokens":true}`)); err == nil {
		t.Error("ParseAnthropic: want error for bool count")
	}
	if _, err := ParseGemini([]byte(`{"promptTokenCount":{}}`)); err == nil {
		t.Error("ParseGemini: want error for object count")
	}
}

// TestXAITicksRoundHalfUp: xAI reports cost in 1e-10 USD ticks; nano-USD is
// ticks/10 rounded half up, and a zero cost is still a reported cost.
func TestXAITicksRoundHalfUp(t *testing.T) {
	for ticks, want := range map[string]int64{"0": 0, "4": 0, "5": 1, "14": 1, "15": 2, "232856000": 23285600} {
		got, err := ParseOpenAI([]byte(`{"prompt_tokens":1,"completion_tokens":1,"cost_in_usd_ticks":` + ticks + `}`))
		if err != nil || !got.HasProviderCost || got.ProviderCostNanoUSD != want {
			t.Errorf("ticks %s: %+v %v, want %d nano", ticks, got, err, want)
		}
	}
}

func TestParseHints(t *testing.T) {
	tests := []struct {
		in   string
		want Hints
	}{
		{`{"prompt_tokens":9,"completion_tokens":250,"search_context_size":"low","cost":{"total_cost":0.005259}}`, Hints{SearchContextSize: "low"}},
		{`{"input_tokens":12,"output_tokens":3,"service_tier":"priority"}`, Hints{ServiceTier: "priority"}},
		{`{"input_tokens":12,"service_tier":null,"search_context_size":3}`, Hints{}},
		{`[1]`, Hints{}},
		{`not json`, Hints{}},
		{``, Hints{}},
	}
	for _, tt := range tests {
		if got := ParseHints([]byte(tt.in)); got != tt.want {
			t.Errorf("ParseHints(%s) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestDecimalUSDToNano(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"1", 1_000_000_000, true}, {"0.000195", 195_000, true}, {"1.5e-05", 15_000, true},
		{"\"0.25\"", 250_000_000, true}, {"0.0000000004", 0, true}, {"0.0000000005", 1, true},
		{"12.3456789012", 12_345_678_901, true}, {"2E2", 200_000_000_000, true}, {"-1", 0, false}, {"x", 0, false},
		{"", 0, false}, {"1e99", 0, false}, {"1e-50", 0, true},
	}
	for _, tt := range tests {
		got, ok := DecimalUSDToNano(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("DecimalUSDToNano(%q) = %d,%v want %d,%v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMergeTakesCumulativeMaximum(t *testing.T) {
	start, _ := ParseAnthropic([]byte(`{"input_tokens":25,"cache_read_input_tokens":100,"output_tokens":1}`))
	delta, _ := ParseAnthropic([]byte(`{"output_tokens":42}`))
	got := Merge(start, delta)
	want := Tokens{Input: 25, CachedInput: 100, Output: 42}
	if got != want {
		t.Fatalf("got %+v want %+v", got, want)
	}
}

// fuzzParser seeds a fuzz target with the captured payloads of the given
// testdata folders and checks that a parser never panics and never returns a
// negative quantity.
func fuzzParser(f *testing.F, parse func([]byte) (Tokens, error), dirs ...string) {
	for _, d := range dirs {
		files, _ := filepath.Glob(filepath.Join("testdata", d, "*.json"))
		for _, path := range files {
			if b, err := os.ReadFile(path); err == nil && !strings.HasSuffix(path, ".want.json") {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := parse(b)
		if err != nil {
			if tok != (Tokens{}) {
				t.Fatalf("error %v with non-zero tokens %+v", err, tok)
			}
			return
		}
		for _, q := range []int64{tok.Input, tok.CachedInput, tok.CacheWrite5m, tok.CacheWrite1h, tok.Output, tok.Reasoning,
			tok.AudioInput, tok.AudioOutput, tok.ImageInput, tok.ImageOutput, tok.WebSearches, tok.ProviderCostNanoUSD} {
			if q < 0 {
				t.Fatalf("negative quantity in %+v", tok)
			}
		}
	})
}

func FuzzParseOpenAI(f *testing.F) {
	f.Add([]byte(`{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":3},"cost":0.1}`))
	fuzzParser(f, ParseOpenAI, "openai", "deepseek", "openrouter", "xai", "groq", "mistral", "perplexity")
}

func FuzzParseAnthropic(f *testing.F) {
	f.Add([]byte(`{"input_tokens":1,"cache_creation":{"ephemeral_1h_input_tokens":3},"cache_creation_input_tokens":2}`))
	fuzzParser(f, ParseAnthropic, "anthropic")
}

func FuzzParseGemini(f *testing.F) {
	f.Add([]byte(`{"promptTokenCount":10,"cachedContentTokenCount":20,"promptTokensDetails":[{"modality":"AUDIO","tokenCount":5}]}`))
	fuzzParser(f, ParseGemini, "gemini")
}

func FuzzParseBedrock(f *testing.F) {
	f.Add([]byte(`{"inputTokens":12,"outputTokens":41,"cacheReadInputTokens":1600,"cacheWriteInputTokens":500,"cacheDetails":[{"ttl":"1h","inputTokens":300}]}`))
	f.Add([]byte(`{"inputTextTokenCount":5,"results":[{"tokenCount":23},{"tokenCount":4}]}`))
	fuzzParser(f, ParseBedrock, "bedrock")
}

func FuzzParseHints(f *testing.F) {
	f.Add([]byte(`{"service_tier":"batch","search_context_size":"high"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h := ParseHints(b)
		if h != (Hints{}) && !json.Valid(b) {
			t.Fatalf("hints %+v from invalid JSON %q", h, b)
		}
	})
}

func FuzzDecimalUSDToNano(f *testing.F) {
	f.Add("0.000195")
	f.Fuzz(func(t *testing.T, s string) {
		if n, ok := DecimalUSDToNano(s); ok && n < 0 {
			t.Fatalf("negative %d for %q", n, s)
		}
	})
}
