// Package usage defines the provider-neutral token counts that every other part
// of spendgate speaks: the metering core fills them from provider payloads, the
// pricing engine turns them into money, ClickHouse stores them column by column.
//
// The classes are disjoint: each token is counted in exactly one field, so a
// cost is simply the sum over fields of quantity × rate. Provider quirks (OpenAI
// reporting cached tokens as a subset of prompt_tokens, Anthropic reporting them
// beside input_tokens, ...) are resolved when a Tokens value is built, never
// later. The package is TinyGo-safe: no reflection, no encoding/json.
package usage

// Tokens holds disjoint usage quantities of one API call.
type Tokens struct {
	// Input is text input billed at the plain input rate: prompt tokens minus
	// cache reads, cache writes, audio and image input.
	Input int64 `json:"input"`
	// CachedInput is input read from the provider's prompt cache.
	CachedInput int64 `json:"cached_input"`
	// CacheWrite5m and CacheWrite1h are input written to the prompt cache with
	// Anthropic's 5-minute and 1-hour lifetimes (other providers' writes count as 5m).
	CacheWrite5m int64 `json:"cache_write_5m"`
	CacheWrite1h int64 `json:"cache_write_1h"`
	// Output is text output excluding reasoning, audio and image output.
	Output int64 `json:"output"`
	// Reasoning is hidden reasoning/thinking output. Priced at the reasoning
	// rate where a model has one, else at the output rate.
	Reasoning   int64 `json:"reasoning"`
	AudioInput  int64 `json:"audio_input"`
	AudioOutput int64 `json:"audio_output"`
	ImageInput  int64 `json:"image_input"`
	ImageOutput int64 `json:"image_output"`
	// WebSearches counts billed search/grounding requests.
	WebSearches int64 `json:"web_searches"`
	// Non-token units for APIs billed otherwise (TTS characters, transcription
	// seconds, generated images).
	Characters int64 `json:"characters"`
	Seconds    int64 `json:"seconds"`
	Images     int64 `json:"images"`
	// ProviderCostNanoUSD is a cost the provider itself reported (OpenRouter's
	// usage.cost), in nano-USD; valid only when HasProviderCost.
	ProviderCostNanoUSD int64 `json:"provider_cost_nano_usd"`
	HasProviderCost     bool  `json:"has_provider_cost"`
}

// TotalInput is every input-side token, whatever its class.
func (t Tokens) TotalInput() int64 {
	return t.Input + t.CachedInput + t.CacheWrite5m + t.CacheWrite1h + t.AudioInput + t.ImageInput
}

// TotalOutput is every output-side token, whatever its class.
func (t Tokens) TotalOutput() int64 {
	return t.Output + t.Reasoning + t.AudioOutput + t.ImageOutput
}

// IsZero reports whether no usage at all was recorded.
func (t Tokens) IsZero() bool { return t == Tokens{} }
