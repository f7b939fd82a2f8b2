package meter

import "strings"

// Cloud provider ids (Azure OpenAI, AWS Bedrock Runtime, Google Vertex AI):
// the ids of events, policy allow-lists and the pricing catalogue.
const (
	ProviderAzureOpenAI = "azure_openai"
	ProviderBedrock     = "bedrock"
	ProviderVertexAI    = "vertex_ai"
)

// Bedrock Runtime operations (POST /model/{modelId}/<action>).
const (
	OpInvokeModel       = "invoke_model"
	OpInvokeModelStream = "invoke_model_with_response_stream"
	OpConverse          = "converse"
	OpConverseStream    = "converse_stream"
)

// cloudPrefixRoute resolves a prefix route of a cloud provider, whose
// upstream host is named by the call:
//
//	/v1/azure_openai/{resource}/openai/...  -> https://{resource}.openai.azure.com/openai/...
//	/v1/bedrock/{region}/model/...          -> https://bedrock-runtime.{region}.amazonaws.com/model/...
//	/v1/vertex_ai/v1/projects/{p}/locations/{l}/... -> https://{l}-aiplatform.googleapis.com/v1/projects/...
//	                                           (location "global": https://aiplatform.googleapis.com)
//
// The resource and region must be one DNS label, so a call can only ever
// reach the provider's own domain. ok is false for anything else.
func cloudPrefixRoute(p *Provider, tail string) (Route, bool) {
	switch p.ID {
	case ProviderAzureOpenAI, ProviderBedrock:
		seg, rest, found := strings.Cut(tail, "/")
		if !found || !isDNSLabel(seg) {
			return Route{}, false
		}
		host := seg + ".openai.azure.com"
		if p.ID == ProviderBedrock {
			host = "bedrock-runtime." + seg + ".amazonaws.com"
		}
		r := newRoute(p, "/"+rest)
		r.UpstreamBase = "https://" + host
		return r, true
	case ProviderVertexAI:
		r := newRoute(p, "/"+tail)
		host, ok := vertexHost(r.UpstreamPath)
		if !ok {
			return Route{}, false
		}
		r.UpstreamBase = "https://" + host
		return r, true
	}
	return Route{}, false
}

// vertexLocation is the location of a Vertex AI path
// (.../projects/{p}/locations/{l}/...), "" when it names none.
func vertexLocation(path string) string {
	i := strings.Index(path, "/locations/")
	if i < 0 {
		return ""
	}
	loc, _, _ := strings.Cut(path[i+len("/locations/"):], "/")
	return loc
}

// vertexRegionalPremium lists the Claude models (catalogue ids) Vertex AI
// bills 10 % higher on a regional location than on "global"; each has a
// "<model>-regional" catalogue entry. Earlier Claude models cost the same
// everywhere (https://cloud.google.com/vertex-ai/generative-ai/pricing#claude-models).
var vertexRegionalPremium = [...]string{"claude-sonnet-4-5", "claude-haiku-4-5"}

// VertexRegionalModel is the catalogue id a Vertex AI Claude call on
// location loc is priced as when that differs from its model m
// ("claude-sonnet-4-5@20250929" on "us-east5" -> "claude-sonnet-4-5-regional"),
// else "". The path's model is the snapshot "<model>@<date>" or the bare model.
func VertexRegionalModel(loc, m string) string {
	if loc == "" || loc == "global" {
		return ""
	}
	base, _, _ := strings.Cut(m, "@")
	for _, p := range vertexRegionalPremium {
		if base == p {
			return p + "-regional"
		}
	}
	return ""
}

// vertexHost is the regional API host of a Vertex AI path
// (.../projects/{p}/locations/{l}/...).
func vertexHost(path string) (string, bool) {
	if !strings.Contains(path, "/locations/") {
		return "", false
	}
	loc := vertexLocation(path)
	if !isDNSLabel(loc) {
		return "", false
	}
	if loc == "global" {
		return "aiplatform.googleapis.com", true
	}
	return loc + "-aiplatform.googleapis.com", true
}

// cloudRoute fills the operation, model and dialect of a cloud provider's
// call from its path (query and trailing slash removed).
func cloudRoute(r *Route, path string) {
	switch r.Provider.ID {
	case ProviderAzureOpenAI:
		// /openai/deployments/{deployment}/chat/completions: the deployment
		// (a name the customer chose) stands for the model; the v1 surface
		// (/openai/v1/chat/completions) names it as the body's model.
		if i := strings.Index(path, "/deployments/"); i >= 0 {
			dep, _, _ := strings.Cut(path[i+len("/deployments/"):], "/")
			r.Deployment = percentDecode(dep)
		}
		r.Operation = openAIOperation(path)
		r.ModelFixed = true
	case ProviderBedrock:
		r.ModelFixed = true
		r.Operation = OpUnknown
		rest, ok := strings.CutPrefix(path, "/model/")
		if !ok {
			return
		}
		i := strings.LastIndexByte(rest, '/')
		if i < 0 {
			return
		}
		r.PathModel = BedrockModelID(percentDecode(rest[:i]))
		switch rest[i+1:] {
		case "invoke":
			r.Operation = OpInvokeModel
		case "invoke-with-response-stream":
			r.Operation, r.PathStream = OpInvokeModelStream, true
		case "converse":
			r.Operation = OpConverse
		case "converse-stream":
			r.Operation, r.PathStream = OpConverseStream, true
		case "count-tokens":
			r.Operation = OpModels
		}
	case ProviderVertexAI:
		vertexRoute(r, path)
	}
}

// vertexRoute: publishers/google models speak Gemini, publishers/anthropic
// models Anthropic Messages (rawPredict, streamRawPredict), and the
// endpoints/openapi surface OpenAI chat completions.
func vertexRoute(r *Route, path string) {
	r.ModelFixed = true
	if strings.Contains(path, "/endpoints/openapi/") {
		r.Style = StyleOpenAI
		r.Operation = openAIOperation(path)
		r.ModelFixed = false // the body names the model, as "google/gemini-2.5-flash"
		return
	}
	i := strings.Index(path, "/publishers/")
	if i < 0 {
		r.Operation = OpUnknown
		return
	}
	pub, rest, _ := strings.Cut(path[i+len("/publishers/"):], "/")
	if pub != "anthropic" {
		// Gemini's own rules (style Gemini) already set model and operation.
		return
	}
	r.Style = StyleAnthropic
	r.Operation = OpUnknown
	m, method, ok := strings.Cut(strings.TrimPrefix(rest, "models/"), ":")
	if !ok {
		r.Operation = OpModels
		return
	}
	r.PathModel = m
	r.PricedModel = VertexRegionalModel(vertexLocation(path), m)
	switch {
	case m == "count-tokens":
		r.Operation, r.PathModel = OpCountTokens, ""
	case method == "rawPredict":
		r.Operation = OpMessages
	case method == "streamRawPredict":
		r.Operation, r.PathStream = OpMessages, true
	}
}

// BedrockModelID is the model a Bedrock modelId names: the id itself
// ("anthropic.claude-sonnet-4-5-20250929-v1:0", or a cross-region
// inference profile such as "us.anthropic.claude-..." or "global.anthropic..."),
// or for an ARN its resource id (".../foundation-model/<id>",
// ".../inference-profile/<id>"; application inference profiles and
// provisioned models have opaque ids, which no price names).
func BedrockModelID(id string) string {
	if !strings.HasPrefix(id, "arn:") {
		return id
	}
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		return id[i+1:]
	}
	return id
}

// bedrockGeoPrefixes are the cross-region inference profile prefixes.
var bedrockGeoPrefixes = [...]string{"us.", "eu.", "apac.", "us-gov.", "ca.", "jp.", "au.", "global."}

// BedrockFoundationModel strips a cross-region inference profile's
// geography ("us.anthropic.claude-..." -> "anthropic.claude-..."), for
// rules about the model family.
func BedrockFoundationModel(id string) string {
	for _, p := range bedrockGeoPrefixes {
		if strings.HasPrefix(id, p) {
			return id[len(p):]
		}
	}
	return id
}

// percentDecode undoes the percent-encoding of one path segment (Bedrock
// model ARNs travel as arn%3Aaws%3A...%2F...); a malformed escape is kept
// as it is.
func percentDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b = append(b, hi<<4|lo)
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return string(b)
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// AzureDeployment is the Azure OpenAI deployment a call goes to: the one in
// its path, or on the v1 surface the body's model. "" for other providers.
func (r *Route) AzureDeployment(req *RequestInfo) string {
	if r.Provider == nil || r.Provider.ID != ProviderAzureOpenAI {
		return ""
	}
	if r.Deployment != "" {
		return r.Deployment
	}
	return req.Model
}

// SigV4SignsHeader reports whether an AWS Signature Version 4
// Authorization header ("AWS4-HMAC-SHA256 Credential=..., SignedHeaders=a;b;c,
// Signature=...") covers header name (lower case). A proxy must not remove
// or change a signed header: the provider would refuse the signature.
func SigV4SignsHeader(authorization, name string) bool {
	if !strings.HasPrefix(authorization, "AWS4-HMAC-SHA256 ") {
		return false
	}
	_, rest, ok := strings.Cut(authorization, "SignedHeaders=")
	if !ok {
		return false
	}
	if i := strings.IndexAny(rest, ", "); i >= 0 {
		rest = rest[:i]
	}
	for _, h := range strings.Split(rest, ";") {
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}
