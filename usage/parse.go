package usage

import (
	"errors"
	"strconv"

	"github.com/spendgate/spendgate/money"

	"github.com/tidwall/gjson"
)

// ErrNotObject is returned when a usage payload is not a JSON object.
var ErrNotObject = errors.New("usage: payload is not a JSON object")

// fieldError names the field whose value could not be used.
type fieldError struct {
	field string
	raw   string
}

func (e *fieldError) Error() string {
	return "usage: field " + e.field + " is not a non-negative integer: " + e.raw
}

// count reads a non-negative integer count. Absent fields are 0. Floats with a
// fraction, negatives and non-numbers are errors: a guess would corrupt money.
func count(obj gjson.Result, path string, err *error) int64 {
	v := Get(obj, path)
	if !v.Exists() || v.Type == gjson.Null {
		return 0
	}
	if v.Type != gjson.Number {
		setErr(err, path, v.Raw)
		return 0
	}
	n, perr := strconv.ParseInt(v.Raw, 10, 64)
	if perr != nil {
		// Accept integral numbers written with an exponent or ".0".
		f := v.Num
		if f < 0 || f > MaxCount || f != float64(int64(f)) {
			setErr(err, path, v.Raw)
			return 0
		}
		return int64(f)
	}
	if n < 0 || n > MaxCount {
		setErr(err, path, v.Raw)
		return 0
	}
	return n
}

// MaxCount bounds every count read from a payload (10^15 units). Real calls
// are many orders of magnitude below it; the bound keeps sums of counts and
// count × rate products far from int64 overflow.
const MaxCount = 1_000_000_000_000_000

func setErr(err *error, field, raw string) {
	if *err == nil {
		if len(raw) > 64 {
			raw = raw[:64] + "..."
		}
		*err = &fieldError{field: field, raw: raw}
	}
}

// sub subtracts parts from a total, never going below zero: providers are
// occasionally inconsistent and a negative count is never right.
func sub(total int64, parts ...int64) int64 {
	for _, p := range parts {
		total -= p
	}
	if total < 0 {
		return 0
	}
	return total
}

func parseObject(obj []byte) (gjson.Result, error) {
	if !gjson.ValidBytes(obj) {
		return gjson.Result{}, ErrNotObject
	}
	r := gjson.ParseBytes(obj)
	if !r.IsObject() {
		return gjson.Result{}, ErrNotObject
	}
	return r, nil
}

// ParseOpenAI normalises an OpenAI-style usage object: Chat Completions,
// Responses, embeddings, images, and the OpenAI-compatible providers
// (DeepSeek cache hit/miss, OpenRouter cost, xAI sources, Groq, Mistral, ...).
//
// Quirks resolved here: cached_tokens and audio/image input are subsets of
// prompt_tokens (input_tokens in the Responses API); reasoning and audio output
// are subsets of completion_tokens (output_tokens).
func ParseOpenAI(obj []byte) (Tokens, error) {
	u, err := parseObject(obj)
	if err != nil {
		return Tokens{}, err
	}
	var perr error
	var t Tokens

	responsesAPI := Get(u, "input_tokens").Exists() || Get(u, "output_tokens").Exists()
	var prompt, completion, cached, audioIn, imageIn, reasoning, audioOut, imageOut int64
	if responsesAPI {
		// Responses API: input_tokens_details / output_tokens_details. The
		// Realtime API and audio transcriptions write the singular
		// input_token_details / output_token_details.
		in, out := "input_tokens_details", "output_tokens_details"
		if !Get(u, in).Exists() && Get(u, "input_token_details").Exists() {
			in = "input_token_details"
		}
		if !Get(u, out).Exists() && Get(u, "output_token_details").Exists() {
			out = "output_token_details"
		}
		prompt = count(u, "input_tokens", &perr)
		completion = count(u, "output_tokens", &perr)
		cached = count(u, in+".cached_tokens", &perr)
		audioIn = count(u, in+".audio_tokens", &perr)
		imageIn = count(u, in+".image_tokens", &perr)
		reasoning = count(u, out+".reasoning_tokens", &perr)
		audioOut = count(u, out+".audio_tokens", &perr)
		imageOut = count(u, out+".image_tokens", &perr)
		if Get(u, "input_tokens_details.text_tokens").Exists() && !Get(u, "output_tokens_details").Exists() {
			// Image generation reports output as image tokens without details.
			imageOut = completion
		}
		if in == "input_token_details" && cached > 0 {
			// Realtime: cached_tokens overlap the text and audio counts; the
			// cached audio part is billed as cached input, not as audio.
			audioIn = sub(audioIn, count(u, in+".cached_tokens_details.audio_tokens", &perr))
		}
	} else {
		prompt = count(u, "prompt_tokens", &perr)
		completion = count(u, "completion_tokens", &perr)
		cached = count(u, "prompt_tokens_details.cached_tokens", &perr)
		audioIn = count(u, "prompt_tokens_details.audio_tokens", &perr)
		imageIn = count(u, "prompt_tokens_details.image_tokens", &perr)
		reasoning = count(u, "completion_tokens_details.reasoning_tokens", &perr)
		audioOut = count(u, "completion_tokens_details.audio_tokens", &perr)
		imageOut = count(u, "completion_tokens_details.image_tokens", &perr)
		// DeepSeek: prompt_cache_hit_tokens + prompt_cache_miss_tokens = prompt_tokens.
		if hit := Get(u, "prompt_cache_hit_tokens"); hit.Exists() && cached == 0 {
			cached = count(u, "prompt_cache_hit_tokens", &perr)
		}
		if !Get(u, "prompt_tokens").Exists() && Get(u, "total_tokens").Exists() {
			prompt = count(u, "total_tokens", &perr)
		}
	}
	// Audio transcription billed by duration (whisper-1):
	// {"type":"duration","seconds":3.2}; OpenAI rounds to the nearest second.
	if Get(u, "type").String() == "duration" {
		t.Seconds = seconds(u, "seconds", &perr)
	}
	// OpenRouter and some gateways report prompt-cache writes.
	cacheWrite := count(u, "prompt_tokens_details.cache_write_tokens", &perr)
	if cacheWrite == 0 {
		cacheWrite = count(u, "cache_write_tokens", &perr)
	}

	t.CachedInput = cached
	t.CacheWrite5m = cacheWrite
	t.AudioInput = audioIn
	t.ImageInput = imageIn
	t.Input = sub(prompt, cached, cacheWrite, audioIn, imageIn)
	t.Reasoning = reasoning
	t.AudioOutput = audioOut
	t.ImageOutput = imageOut
	if reasoningBeside(u, prompt, completion, reasoning) {
		// xAI: completion_tokens excludes reasoning_tokens (total_tokens =
		// prompt + completion + reasoning), unlike OpenAI where it is a subset.
		t.Output = sub(completion, audioOut, imageOut)
	} else {
		t.Output = sub(completion, reasoning, audioOut, imageOut)
	}
	// xAI: legacy Live Search bills num_sources_used; agentic server-side
	// tools report calls per tool (web and X search are billed alike).
	t.WebSearches = count(u, "num_sources_used", &perr)
	if d := Get(u, "server_side_tool_usage_details"); d.IsObject() {
		t.WebSearches += count(d, "web_search_calls", &perr) + count(d, "x_search_calls", &perr)
	}
	if ws := count(u, "server_tool_use.web_search_requests", &perr); ws > 0 {
		t.WebSearches = ws
	}

	// Perplexity: citation tokens are billed as input beside prompt_tokens,
	// deep-research reasoning_tokens and num_search_queries sit at top level.
	t.Input += count(u, "citation_tokens", &perr)
	t.Reasoning += count(u, "reasoning_tokens", &perr)
	if q := count(u, "num_search_queries", &perr); q > t.WebSearches {
		t.WebSearches = q
	}

	providerCost(u, &t, &perr)
	if perr != nil {
		return Tokens{}, perr
	}
	return t, nil
}

// providerCost reads a cost the provider reported itself:
//   - OpenRouter usage.cost (USD). With a bring-your-own-key call (is_byok)
//     cost is only OpenRouter's fee; the upstream provider bills
//     cost_details.upstream_inference_cost to the customer's own key, so the
//     call costs both.
//   - Perplexity cost.total_cost (a breakdown object).
//   - xAI cost_in_usd_ticks (1 tick = 1e-10 USD), rounded half up to nano-USD.
func providerCost(u gjson.Result, t *Tokens, perr *error) {
	if ticks := Get(u, "cost_in_usd_ticks"); ticks.Exists() && ticks.Type != gjson.Null {
		n := count(u, "cost_in_usd_ticks", perr)
		t.ProviderCostNanoUSD = n/10 + (n%10+5)/10
		t.HasProviderCost = *perr == nil
		return
	}
	c := Get(u, "cost")
	if c.IsObject() {
		c = Get(c, "total_cost")
	}
	if !c.Exists() || c.Type == gjson.Null {
		return
	}
	nano, ok := DecimalUSDToNano(c.Raw)
	if !ok {
		setErr(perr, "cost", c.Raw)
		return
	}
	if Get(u, "is_byok").Bool() {
		if up := Get(u, "cost_details.upstream_inference_cost"); up.Exists() && up.Type != gjson.Null {
			upNano, ok := DecimalUSDToNano(up.Raw)
			if !ok {
				setErr(perr, "cost_details.upstream_inference_cost", up.Raw)
				return
			}
			nano += upNano
		}
	}
	t.ProviderCostNanoUSD = nano
	t.HasProviderCost = true
}

// seconds reads a non-negative duration in seconds, rounded half up to whole
// seconds (the provider's billing rule for audio durations).
func seconds(obj gjson.Result, path string, err *error) int64 {
	v := Get(obj, path)
	if !v.Exists() || v.Type == gjson.Null {
		return 0
	}
	n, perr := money.ParseScaled(v.Raw, 0)
	if v.Type != gjson.Number || perr != nil || n > MaxCount {
		setErr(err, path, v.Raw)
		return 0
	}
	return n
}

// reasoningBeside reports whether reasoning tokens are reported beside
// completion_tokens rather than inside them. OpenAI counts reasoning inside
// completion_tokens; xAI counts it beside, which shows in total_tokens being
// prompt + completion + reasoning, or in reasoning exceeding completion.
func reasoningBeside(u gjson.Result, prompt, completion, reasoning int64) bool {
	if reasoning == 0 {
		return false
	}
	if reasoning > completion {
		return true
	}
	total := Get(u, "total_tokens")
	if total.Type != gjson.Number {
		return false
	}
	n, err := strconv.ParseInt(total.Raw, 10, 64)
	return err == nil && n == prompt+completion+reasoning
}

// ParseAnthropic normalises an Anthropic Messages usage object. Quirk: unlike
// OpenAI, input_tokens EXCLUDES cache reads and writes, which are reported
// beside it; cache_creation splits writes into 5-minute and 1-hour lifetimes.
func ParseAnthropic(obj []byte) (Tokens, error) {
	u, err := parseObject(obj)
	if err != nil {
		return Tokens{}, err
	}
	var perr error
	var t Tokens
	t.Input = count(u, "input_tokens", &perr)
	t.CachedInput = count(u, "cache_read_input_tokens", &perr)
	write := count(u, "cache_creation_input_tokens", &perr)
	if split := Get(u, "cache_creation"); split.Exists() && split.IsObject() {
		t.CacheWrite5m = count(u, "cache_creation.ephemeral_5m_input_tokens", &perr)
		t.CacheWrite1h = count(u, "cache_creation.ephemeral_1h_input_tokens", &perr)
		// Anything not covered by the split is a default (5-minute) write.
		t.CacheWrite5m += sub(write, t.CacheWrite5m, t.CacheWrite1h)
	} else {
		t.CacheWrite5m = write
	}
	out := count(u, "output_tokens", &perr)
	// output_tokens_details.thinking_tokens is a subset of output_tokens.
	t.Reasoning = min(count(u, "output_tokens_details.thinking_tokens", &perr), out)
	t.Output = out - t.Reasoning
	t.WebSearches = count(u, "server_tool_use.web_search_requests", &perr)
	if perr != nil {
		return Tokens{}, perr
	}
	return t, nil
}

// ParseGemini normalises a Gemini usageMetadata object. Quirks:
// promptTokenCount INCLUDES cachedContentTokenCount; thoughtsTokenCount is NOT
// included in candidatesTokenCount; toolUsePromptTokenCount is extra input;
// modality details move audio and image tokens into their classes.
func ParseGemini(obj []byte) (Tokens, error) {
	u, err := parseObject(obj)
	if err != nil {
		return Tokens{}, err
	}
	var perr error
	var t Tokens
	prompt := count(u, "promptTokenCount", &perr) + count(u, "toolUsePromptTokenCount", &perr)
	cached := count(u, "cachedContentTokenCount", &perr)
	candidates := count(u, "candidatesTokenCount", &perr)
	t.Reasoning = count(u, "thoughtsTokenCount", &perr)

	audioIn, imageIn := modalities(Get(u, "promptTokensDetails"), &perr)
	toolAudio, toolImage := modalities(Get(u, "toolUsePromptTokensDetails"), &perr)
	audioIn += toolAudio
	imageIn += toolImage
	cachedAudio, cachedImage := modalities(Get(u, "cacheTokensDetails"), &perr)
	audioOut, imageOut := modalities(Get(u, "candidatesTokensDetails"), &perr)

	// Cached tokens of a modality are counted once, as cached input.
	t.AudioInput = sub(audioIn, cachedAudio)
	t.ImageInput = sub(imageIn, cachedImage)
	t.CachedInput = cached
	t.Input = sub(prompt, cached, t.AudioInput, t.ImageInput)
	t.AudioOutput = audioOut
	t.ImageOutput = imageOut
	t.Output = sub(candidates, audioOut, imageOut)
	if perr != nil {
		return Tokens{}, perr
	}
	return t, nil
}

func modalities(details gjson.Result, perr *error) (audio, image int64) {
	if !details.IsArray() {
		return 0, 0
	}
	details.ForEach(func(_, d gjson.Result) bool {
		n := count(d, "tokenCount", perr)
		switch Get(d, "modality").String() {
		case "AUDIO":
			audio += n
		case "IMAGE", "VIDEO":
			image += n
		}
		return true
	})
	return audio, image
}

// Merge combines two usage reports of the same call. Streams repeat
// cumulative counts in later events (Anthropic message_start then
// message_delta, Gemini usageMetadata on every chunk), so each field is the
// maximum of the two, with two groups taken as a whole because a later event
// may report them less finely than an earlier one:
//   - cache writes: Anthropic's message_delta repeats cache_creation_input_tokens
//     without the 5m/1h split that message_start carried, so the total write is
//     the maximum of the totals and the 1h part the maximum of the 1h parts;
//   - output and reasoning: the total output is the maximum of the totals and
//     reasoning the maximum of the reasoning parts.
//
// For cumulative (monotone) reports this equals the later report.
func Merge(a, b Tokens) Tokens {
	write := max(a.CacheWrite5m+a.CacheWrite1h, b.CacheWrite5m+b.CacheWrite1h)
	write1h := max(a.CacheWrite1h, b.CacheWrite1h)
	out := max(a.Output+a.Reasoning, b.Output+b.Reasoning)
	reasoning := max(a.Reasoning, b.Reasoning)
	return Tokens{
		Input:               max(a.Input, b.Input),
		CachedInput:         max(a.CachedInput, b.CachedInput),
		CacheWrite5m:        write - write1h,
		CacheWrite1h:        write1h,
		Output:              out - reasoning,
		Reasoning:           reasoning,
		AudioInput:          max(a.AudioInput, b.AudioInput),
		AudioOutput:         max(a.AudioOutput, b.AudioOutput),
		ImageInput:          max(a.ImageInput, b.ImageInput),
		ImageOutput:         max(a.ImageOutput, b.ImageOutput),
		WebSearches:         max(a.WebSearches, b.WebSearches),
		Characters:          max(a.Characters, b.Characters),
		Seconds:             max(a.Seconds, b.Seconds),
		Images:              max(a.Images, b.Images),
		ProviderCostNanoUSD: max(a.ProviderCostNanoUSD, b.ProviderCostNanoUSD),
		HasProviderCost:     a.HasProviderCost || b.HasProviderCost,
	}
}

// DecimalUSDToNano converts a decimal USD amount as written in JSON ("0.0001234",
// "1.5e-05") to nano-USD exactly, rounding half up beyond nine decimals.
func DecimalUSDToNano(s string) (int64, bool) {
	n, err := money.ParseScaled(s, 9)
	return n, err == nil
}
