package usage

import (
	"strconv"

	"github.com/tidwall/gjson"
)

// ParseBedrock normalises a usage report of AWS Bedrock Runtime, whichever
// of its shapes the model family answers with:
//   - Converse / ConverseStream usage and Amazon Nova's InvokeModel usage:
//     inputTokens, outputTokens, cacheReadInputTokens (Nova:
//     cacheReadInputTokenCount), cacheWriteInputTokens (Nova:
//     cacheWriteInputTokenCount);
//   - amazon-bedrock-invocationMetrics of InvokeModelWithResponseStream's
//     last chunk: inputTokenCount, outputTokenCount, cacheRead/WriteInputTokenCount;
//   - Meta Llama's InvokeModel body: prompt_token_count, generation_token_count;
//   - Amazon Titan text: inputTextTokenCount and results[].tokenCount;
//   - Anthropic's Messages usage (input_tokens, ...) as ParseAnthropic;
//   - OpenAI-style usage (prompt_tokens, ...; Mistral Large 2 and the
//     OpenAI gpt-oss models) as ParseOpenAI.
//
// Quirk: like Anthropic's, Bedrock's input count EXCLUDES cache reads and
// writes, which are reported beside it (totalTokens = input + output +
// cache read + cache write). Cache writes count as 5-minute writes.
func ParseBedrock(obj []byte) (Tokens, error) {
	u, err := parseObject(obj)
	if err != nil {
		return Tokens{}, err
	}
	switch {
	case Get(u, "input_tokens").Exists() || Get(u, "output_tokens").Exists():
		return ParseAnthropic(obj)
	case Get(u, "prompt_tokens").Exists():
		return ParseOpenAI(obj)
	}
	var perr error
	var t Tokens
	t.Input = first(u, &perr, "inputTokens", "inputTokenCount", "prompt_token_count", "inputTextTokenCount")
	t.Output = first(u, &perr, "outputTokens", "outputTokenCount", "generation_token_count")
	if res := Get(u, "results"); res.IsArray() && !Get(u, "outputTokens").Exists() {
		// Titan text: one result per completion, each with its tokenCount.
		res.ForEach(func(_, r gjson.Result) bool {
			t.Output += count(r, "tokenCount", &perr)
			if t.Output > MaxCount {
				setErr(&perr, "results.tokenCount", "sum over "+strconv.FormatInt(MaxCount, 10))
				return false
			}
			return true
		})
	}
	t.CachedInput = first(u, &perr, "cacheReadInputTokens", "cacheReadInputTokenCount")
	t.CacheWrite5m = first(u, &perr, "cacheWriteInputTokens", "cacheWriteInputTokenCount")
	if d := Get(u, "cacheDetails"); d.IsArray() {
		// Converse splits cache writes by lifetime: [{"ttl":"1h","inputTokens":N},{"ttl":"5m",...}].
		d.ForEach(func(_, c gjson.Result) bool {
			if Get(c, "ttl").Str == "1h" {
				t.CacheWrite1h += count(c, "inputTokens", &perr)
			}
			return t.CacheWrite1h <= MaxCount
		})
		t.CacheWrite1h = min(t.CacheWrite1h, t.CacheWrite5m)
		t.CacheWrite5m -= t.CacheWrite1h
	}
	if perr != nil {
		return Tokens{}, perr
	}
	return t, nil
}

// first reads the first of the named counts that is present.
func first(u gjson.Result, perr *error, names ...string) int64 {
	for _, n := range names {
		if v := Get(u, n); v.Exists() && v.Type != gjson.Null {
			return count(u, n, perr)
		}
	}
	return 0
}

// IsBedrockUsage reports whether a Bedrock response body's top level is
// itself the usage report (Meta Llama, Amazon Titan) rather than holding a
// usage object.
func IsBedrockUsage(body gjson.Result) bool {
	return Get(body, "prompt_token_count").Exists() || Get(body, "inputTextTokenCount").Exists()
}
