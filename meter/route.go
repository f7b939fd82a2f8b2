package meter

import "strings"

// Operations the core recognises. Unmetered operations (model lists) pass
// through without a usage event.
const (
	OpChatCompletions       = "chat.completions"
	OpCompletions           = "completions"
	OpResponses             = "responses"
	OpEmbeddings            = "embeddings"
	OpAudioSpeech           = "audio.speech"
	OpAudioTranscriptions   = "audio.transcriptions"
	OpAudioTranslations     = "audio.translations"
	OpImagesGenerations     = "images.generations"
	OpImagesEdits           = "images.edits"
	OpImagesVariations      = "images.variations"
	OpMessages              = "messages"
	OpCountTokens           = "messages.count_tokens"
	OpGenerateContent       = "generateContent"
	OpStreamGenerateContent = "streamGenerateContent"
	OpEmbedContent          = "embedContent"
	OpModels                = "models"
	OpUnknown               = "unknown"
)

// Route is where a request goes and what it does.
type Route struct {
	Provider *Provider
	// Style is the wire dialect of this call: the provider's own, except on
	// the OpenAI-compatible surfaces Gemini (/v1beta/openai/...) and Anthropic
	// (/v1/chat/completions) also offer, which speak OpenAI. Responses are
	// metered and denials shaped in this dialect.
	Style APIStyle
	// Operation is one of the Op* constants.
	Operation string
	// UpstreamPath is the path (with query) to send to the provider, relative
	// to the provider's host: for prefix routing it is the base URL's path +
	// the rest of the request path; for host routing the path unchanged.
	UpstreamPath string
	// PathModel is the model named in the path (Gemini models/<m>:<method>,
	// Bedrock /model/<id>/..., Vertex publishers/<p>/models/<m>:...).
	PathModel string
	// PathStream is set when the path alone says the answer streams
	// (Bedrock's *-stream actions, Vertex streamRawPredict).
	PathStream bool
	// Deployment is the Azure OpenAI deployment named in the path.
	Deployment string
	// ModelFixed is set when the path (or the deployment) decides the model
	// and its price: the model a response names is then not recorded as
	// served (Bedrock answers "claude-..." for "global.anthropic.claude-...",
	// Azure "gpt-4o-2024-11-20" for a data-zone deployment).
	ModelFixed bool
	// PricedModel, when set, is the catalogue id the call is priced as,
	// recorded as the event's model_served while model_requested keeps the
	// caller's model (Vertex Claude on a regional location:
	// VertexRegionalModel).
	PricedModel string
	// UpstreamBase is the scheme and host to forward to when the call
	// names it (the cloud providers); "" means Provider.BaseURL.
	UpstreamBase string
	// HostRouted is set when the call arrived with the provider's own Host
	// (egress proxy): the Host is forwarded as it came, which SigV4
	// signatures cover.
	HostRouted bool
}

// Metered reports whether calls on this route produce usage events.
func (r *Route) Metered() bool {
	return r.Operation != OpModels && r.Operation != OpCountTokens
}

// IsImageOperation reports whether the route creates images (billed per
// image where the provider reports no token usage, as DALL·E does).
func (r *Route) IsImageOperation() bool {
	return r.Operation == OpImagesGenerations || r.Operation == OpImagesEdits || r.Operation == OpImagesVariations
}

// PrefixRoutePrefix is the path prefix of prefix routing: /v1/<provider>/...
const PrefixRoutePrefix = "/v1/"

// Resolve maps a request to a route. A Host that is a provider's own API
// host (a client sending to Envoy as its egress proxy) selects that provider
// and keeps the path: host routing comes first because provider paths can
// look like prefix routes (DeepInfra's /v1/openai/chat/completions). Any
// other host uses prefix routing, /v1/<provider>/<rest>.
func Resolve(host, pathAndQuery string) (Route, bool) {
	if p, ok := ProviderByHost(host); ok {
		r := newRoute(p, pathAndQuery)
		r.HostRouted = true
		if p.Cloud {
			r.UpstreamBase = "https://" + hostOnly(host)
		}
		return r, true
	}
	if strings.HasPrefix(pathAndQuery, PrefixRoutePrefix) {
		rest := pathAndQuery[len(PrefixRoutePrefix):]
		id, tail, _ := strings.Cut(rest, "/")
		if i := strings.IndexAny(id, "?#"); i >= 0 {
			id = id[:i]
		}
		if p, ok := ProviderByID(id); ok && p.Cloud {
			return cloudPrefixRoute(p, tail)
		} else if ok {
			up := basePath(p.BaseURL) + "/" + tail
			return newRoute(p, up), true
		}
	}
	return Route{}, false
}

func basePath(baseURL string) string {
	s := baseURL
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return strings.TrimRight(s[i:], "/")
	}
	return ""
}

func newRoute(p *Provider, upstream string) Route {
	r := providerRoute(p, upstream)
	if p.Cloud {
		path := upstream
		if i := strings.IndexAny(path, "?#"); i >= 0 {
			path = path[:i]
		}
		cloudRoute(&r, strings.TrimRight(path, "/"))
	}
	return r
}

// providerRoute applies the rules of the provider's own dialect.
func providerRoute(p *Provider, upstream string) Route {
	r := Route{Provider: p, Style: p.Style, UpstreamPath: upstream, Operation: OpUnknown}
	path := upstream
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	path = strings.TrimRight(path, "/")
	switch p.Style {
	case StyleGemini:
		// /v1beta/models/gemini-2.5-pro:generateContent
		if i := strings.LastIndex(path, "/models/"); i >= 0 {
			m, method, ok := strings.Cut(path[i+len("/models/"):], ":")
			if ok {
				r.PathModel = m
				switch method {
				case "generateContent":
					r.Operation = OpGenerateContent
				case "streamGenerateContent":
					r.Operation = OpStreamGenerateContent
				case "embedContent", "batchEmbedContents":
					r.Operation = OpEmbedContent
				case "countTokens":
					r.Operation = OpModels
				}
				return r
			}
			r.Operation = OpModels
			return r
		}
		if strings.HasSuffix(path, "/models") {
			r.Operation = OpModels
		}
		// Gemini also offers an OpenAI-compatible surface under /v1beta/openai.
		if strings.Contains(path, "/openai/") {
			r.Style = StyleOpenAI
			r.Operation = openAIOperation(path)
		}
		return r
	case StyleAnthropic:
		switch {
		case strings.HasSuffix(path, "/chat/completions"):
			// Anthropic's OpenAI SDK compatibility endpoint.
			r.Style = StyleOpenAI
			r.Operation = OpChatCompletions
		case strings.HasSuffix(path, "/messages/count_tokens"):
			r.Operation = OpCountTokens
		case strings.HasSuffix(path, "/messages"):
			r.Operation = OpMessages
		case strings.HasSuffix(path, "/models") || strings.Contains(path, "/models/"):
			r.Operation = OpModels
		}
		return r
	}
	r.Operation = openAIOperation(path)
	return r
}

func openAIOperation(path string) string {
	suffixes := []struct{ suffix, op string }{
		{"/chat/completions", OpChatCompletions},
		{"/completions", OpCompletions},
		{"/responses", OpResponses},
		{"/embeddings", OpEmbeddings},
		{"/audio/speech", OpAudioSpeech},
		{"/audio/transcriptions", OpAudioTranscriptions},
		{"/audio/translations", OpAudioTranslations},
		{"/images/generations", OpImagesGenerations},
		{"/images/edits", OpImagesEdits},
		{"/images/variations", OpImagesVariations},
		{"/models", OpModels},
	}
	for _, s := range suffixes {
		if strings.HasSuffix(path, s.suffix) {
			return s.op
		}
	}
	if strings.Contains(path, "/models/") {
		return OpModels
	}
	return OpUnknown
}

// UpstreamURL returns the URL to forward to when the provider lives at base
// (the provider's BaseURL, or an override such as a test server's
// "http://127.0.0.1:9999/v1"): base + the request path after the provider's
// own base path, query included.
func (r *Route) UpstreamURL(base string) string {
	rest := r.UpstreamPath
	if !r.Provider.Cloud {
		rest = strings.TrimPrefix(rest, basePath(r.Provider.BaseURL))
	}
	if rest != "" && rest[0] != '/' && rest[0] != '?' {
		rest = "/" + rest
	}
	return strings.TrimRight(base, "/") + rest
}

// Upstream is the URL root to forward to: override when set (tests and
// demos point a provider at a fake), else the host the call named (cloud
// providers), else the provider's base URL.
func (r *Route) Upstream(override string) string {
	switch {
	case override != "":
		return override
	case r.UpstreamBase != "":
		return r.UpstreamBase
	}
	return r.Provider.BaseURL
}

// hostOnly drops a port from a host.
func hostOnly(host string) string {
	if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	return strings.ToLower(host)
}
