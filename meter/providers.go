// Package meter is the metering core shared by the Envoy filter and the
// embedded gateway: provider and operation from the route, model and stream
// flag from the request, usage from JSON and SSE responses (incrementally),
// dimensions from headers, and the usage/denial events. It does no I/O and is
// TinyGo-safe: no encoding/json, no reflection, no goroutines, no net/http.
package meter

import "strings"

// APIStyle is the wire dialect a provider speaks.
type APIStyle int

// API styles.
const (
	StyleOpenAI APIStyle = iota // OpenAI and the OpenAI-compatible providers
	StyleAnthropic
	StyleGemini
	// StyleBedrock is AWS Bedrock Runtime: per-family InvokeModel bodies,
	// Converse, and the AWS event-stream framing of their streams.
	StyleBedrock
)

// String names the style as in denial bodies and docs.
func (s APIStyle) String() string {
	switch s {
	case StyleAnthropic:
		return "anthropic"
	case StyleGemini:
		return "gemini"
	case StyleBedrock:
		return "bedrock"
	default:
		return "openai"
	}
}

// Provider is an upstream AI API.
type Provider struct {
	ID string
	// BaseURL is the provider's API root; a gateway path /v1/<id>/<rest> is
	// forwarded to BaseURL + "/" + <rest>.
	BaseURL string
	Style   APIStyle
	// Hosts are the API host names, for host-based routing.
	Hosts []string
	// HostPatterns are host names with one "*" standing for one DNS label
	// (a customer's resource, a region, a location): the cloud providers,
	// whose API host depends on the call (cloud.go).
	HostPatterns []string
	// Cloud is set for the cloud providers (Azure OpenAI, Bedrock, Vertex
	// AI): their upstream host comes from the call, not from BaseURL.
	Cloud bool
}

var providers = []Provider{
	{ID: "openai", BaseURL: "https://api.openai.com/v1", Style: StyleOpenAI, Hosts: []string{"api.openai.com"}},
	{ID: "anthropic", BaseURL: "https://api.anthropic.com", Style: StyleAnthropic, Hosts: []string{"api.anthropic.com"}},
	{ID: "gemini", BaseURL: "https://generativelanguage.googleapis.com", Style: StyleGemini, Hosts: []string{"generativelanguage.googleapis.com"}},
	{ID: "openrouter", BaseURL: "https://openrouter.ai/api/v1", Style: StyleOpenAI, Hosts: []string{"openrouter.ai"}},
	{ID: "xai", BaseURL: "https://api.x.ai/v1", Style: StyleOpenAI, Hosts: []string{"api.x.ai"}},
	{ID: "groq", BaseURL: "https://api.groq.com/openai/v1", Style: StyleOpenAI, Hosts: []string{"api.groq.com"}},
	{ID: "deepinfra", BaseURL: "https://api.deepinfra.com/v1/openai", Style: StyleOpenAI, Hosts: []string{"api.deepinfra.com"}},
	{ID: "novita", BaseURL: "https://api.novita.ai/v3/openai", Style: StyleOpenAI, Hosts: []string{"api.novita.ai"}},
	{ID: "fireworks", BaseURL: "https://api.fireworks.ai/inference/v1", Style: StyleOpenAI, Hosts: []string{"api.fireworks.ai"}},
	{ID: "perplexity", BaseURL: "https://api.perplexity.ai", Style: StyleOpenAI, Hosts: []string{"api.perplexity.ai"}},
	{ID: "cerebras", BaseURL: "https://api.cerebras.ai/v1", Style: StyleOpenAI, Hosts: []string{"api.cerebras.ai"}},
	{ID: "mistral", BaseURL: "https://api.mistral.ai/v1", Style: StyleOpenAI, Hosts: []string{"api.mistral.ai"}},
	{ID: "deepseek", BaseURL: "https://api.deepseek.com", Style: StyleOpenAI, Hosts: []string{"api.deepseek.com"}},
	{ID: "nebius", BaseURL: "https://api.studio.nebius.com/v1", Style: StyleOpenAI, Hosts: []string{"api.studio.nebius.com", "api.studio.nebius.ai"}},
	{ID: ProviderAzureOpenAI, BaseURL: "https://{resource}.openai.azure.com", Style: StyleOpenAI, Cloud: true,
		HostPatterns: []string{"*.openai.azure.com", "*.cognitiveservices.azure.com"}},
	{ID: ProviderBedrock, BaseURL: "https://bedrock-runtime.{region}.amazonaws.com", Style: StyleBedrock, Cloud: true,
		HostPatterns: []string{"bedrock-runtime.*.amazonaws.com", "bedrock-runtime-fips.*.amazonaws.com"}},
	{ID: ProviderVertexAI, BaseURL: "https://{location}-aiplatform.googleapis.com", Style: StyleGemini, Cloud: true,
		Hosts: []string{"aiplatform.googleapis.com"}, HostPatterns: []string{"*-aiplatform.googleapis.com"}},
}

// Providers lists every supported provider.
func Providers() []Provider { return providers }

// ProviderByID finds a provider by its id ("openai", "anthropic", ...).
func ProviderByID(id string) (*Provider, bool) {
	for i := range providers {
		if providers[i].ID == id {
			return &providers[i], true
		}
	}
	return nil, false
}

// ProviderByHost finds a provider by API host name (port ignored).
func ProviderByHost(host string) (*Provider, bool) {
	host = hostOnly(host)
	for i := range providers {
		for _, h := range providers[i].Hosts {
			if h == host {
				return &providers[i], true
			}
		}
		for _, pat := range providers[i].HostPatterns {
			if matchHostPattern(pat, host) {
				return &providers[i], true
			}
		}
	}
	return nil, false
}

// matchHostPattern matches host against a pattern whose "*" stands for one
// non-empty DNS label ([a-z0-9-], no dot): "*.openai.azure.com" matches
// "contoso.openai.azure.com", not "a.b.openai.azure.com".
func matchHostPattern(pattern, host string) bool {
	pre, post, ok := strings.Cut(pattern, "*")
	if !ok {
		return pattern == host
	}
	if len(host) <= len(pre)+len(post) || !strings.HasPrefix(host, pre) || !strings.HasSuffix(host, post) {
		return false
	}
	return isDNSLabel(host[len(pre) : len(host)-len(post)])
}

// isDNSLabel reports whether s is one DNS label of lower-case letters,
// digits and inner hyphens (at most 63 bytes): the only text a call may put
// into an upstream host name.
func isDNSLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// recordOnlyProviders are vendors the gateway does not route but whose usage
// the record API accepts and the catalogue prices (text-to-speech and
// speech-to-text). A tenant may name them wherever it names providers (key
// allow-lists, provider-scoped budgets, pricing overrides); no gateway call
// can ever match them, since ProviderByID and ProviderByHost do not know them.
var recordOnlyProviders = []string{"google_tts", "google_stt", "elevenlabs", "deepgram"}

// RecordOnlyProviders lists the record-only provider ids.
func RecordOnlyProviders() []string { return recordOnlyProviders }

// KnownProvider reports whether id names a provider a tenant may refer to:
// a routed provider or a record-only one. It is the one check behind every
// place a tenant names providers.
func KnownProvider(id string) bool {
	if _, ok := ProviderByID(id); ok {
		return true
	}
	for _, p := range recordOnlyProviders {
		if p == id {
			return true
		}
	}
	return false
}

// KnownProviderIDs lists every id KnownProvider accepts, routed first.
func KnownProviderIDs() []string {
	ids := make([]string, 0, len(providers)+len(recordOnlyProviders))
	for _, p := range providers {
		ids = append(ids, p.ID)
	}
	return append(ids, recordOnlyProviders...)
}
