package meter

import (
	"testing"

	"github.com/spendgate/spendgate/pricing"
)

// TestResolveCloud: the cloud providers by prefix and by their own hosts:
// upstream host from the call, operation, model, dialect; a host or path
// segment that is not one DNS label is no route.
func TestResolveCloud(t *testing.T) {
	tests := map[string]struct {
		host, path                    string
		provider, op, up, base, model string
		deployment                    string
		style                         APIStyle
		stream, hostRouted            bool
	}{
		"azure deployment by prefix": {"gw", "/v1/azure_openai/contoso/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21",
			"azure_openai", OpChatCompletions, "/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21", "https://contoso.openai.azure.com", "", "prod-4o", StyleOpenAI, false, false},
		"azure embeddings by host": {"contoso.openai.azure.com", "/openai/deployments/emb%20small/embeddings?api-version=2024-10-21",
			"azure_openai", OpEmbeddings, "/openai/deployments/emb%20small/embeddings?api-version=2024-10-21", "https://contoso.openai.azure.com", "", "emb small", StyleOpenAI, false, true},
		"azure responses v1": {"contoso.cognitiveservices.azure.com:443", "/openai/v1/responses",
			"azure_openai", OpResponses, "/openai/v1/responses", "https://contoso.cognitiveservices.azure.com", "", "", StyleOpenAI, false, true},
		"bedrock converse by prefix": {"gw", "/v1/bedrock/us-east-1/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/converse",
			"bedrock", OpConverse, "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/converse", "https://bedrock-runtime.us-east-1.amazonaws.com", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "", StyleBedrock, false, false},
		"bedrock stream ARN by host": {"bedrock-runtime.eu-west-1.amazonaws.com", "/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Ainference-profile%2Feu.anthropic.claude-3-7-sonnet-20250219-v1%3A0/invoke-with-response-stream",
			"bedrock", OpInvokeModelStream, "/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Ainference-profile%2Feu.anthropic.claude-3-7-sonnet-20250219-v1%3A0/invoke-with-response-stream", "https://bedrock-runtime.eu-west-1.amazonaws.com", "eu.anthropic.claude-3-7-sonnet-20250219-v1:0", "", StyleBedrock, true, true},
		"bedrock converse stream": {"bedrock-runtime-fips.us-east-1.amazonaws.com", "/model/global.anthropic.claude-sonnet-4-5-20250929-v1:0/converse-stream",
			"bedrock", OpConverseStream, "/model/global.anthropic.claude-sonnet-4-5-20250929-v1:0/converse-stream", "https://bedrock-runtime-fips.us-east-1.amazonaws.com", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", "", StyleBedrock, true, true},
		"bedrock invoke": {"gw", "/v1/bedrock/us-west-2/model/meta.llama3-1-70b-instruct-v1:0/invoke",
			"bedrock", OpInvokeModel, "/model/meta.llama3-1-70b-instruct-v1:0/invoke", "https://bedrock-runtime.us-west-2.amazonaws.com", "meta.llama3-1-70b-instruct-v1:0", "", StyleBedrock, false, false},
		"vertex gemini regional": {"gw", "/v1/vertex_ai/v1/projects/acme/locations/europe-west4/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
			"vertex_ai", OpStreamGenerateContent, "/v1/projects/acme/locations/europe-west4/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse", "https://europe-west4-aiplatform.googleapis.com", "gemini-2.5-pro", "", StyleGemini, true, false},
		"vertex gemini global by host": {"aiplatform.googleapis.com", "/v1/projects/acme/locations/global/publishers/google/models/gemini-2.5-flash:generateContent",
			"vertex_ai", OpGenerateContent, "/v1/projects/acme/locations/global/publishers/google/models/gemini-2.5-flash:generateContent", "https://aiplatform.googleapis.com", "gemini-2.5-flash", "", StyleGemini, false, true},
		"vertex claude stream": {"us-east5-aiplatform.googleapis.com", "/v1/projects/acme/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict",
			"vertex_ai", OpMessages, "/v1/projects/acme/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict", "https://us-east5-aiplatform.googleapis.com", "claude-sonnet-4-5@20250929", "", StyleAnthropic, true, true},
		"vertex claude global": {"gw", "/v1/vertex_ai/v1/projects/acme/locations/global/publishers/anthropic/models/claude-opus-4-1@20250805:rawPredict",
			"vertex_ai", OpMessages, "/v1/projects/acme/locations/global/publishers/anthropic/models/claude-opus-4-1@20250805:rawPredict", "https://aiplatform.googleapis.com", "claude-opus-4-1@20250805", "", StyleAnthropic, false, false},
		"vertex claude count tokens": {"gw", "/v1/vertex_ai/v1/projects/acme/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict",
			"vertex_ai", OpCountTokens, "/v1/projects/acme/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict", "https://us-east5-aiplatform.googleapis.com", "", "", StyleAnthropic, false, false},
		"vertex openapi": {"gw", "/v1/vertex_ai/v1beta1/projects/acme/locations/us-central1/endpoints/openapi/chat/completions",
			"vertex_ai", OpChatCompletions, "/v1beta1/projects/acme/locations/us-central1/endpoints/openapi/chat/completions", "https://us-central1-aiplatform.googleapis.com", "", "", StyleOpenAI, false, false},
	}
	for name, tt := range tests {
		r, ok := Resolve(tt.host, tt.path)
		if !ok {
			t.Errorf("%s: not resolved", name)
			continue
		}
		info := ParseRequest(&r, []byte(`{"model":"body-model","max_tokens":64}`))
		if r.Provider.ID != tt.provider || r.Operation != tt.op || r.UpstreamPath != tt.up || r.Upstream("") != tt.base ||
			r.PathModel != tt.model || r.Deployment != tt.deployment || r.Style != tt.style || info.Stream != tt.stream || r.HostRouted != tt.hostRouted {
			t.Errorf("%s: got %+v stream=%v", name, r, info.Stream)
		}
		if info.MaxTokens != 64 && r.Style != StyleGemini { // Gemini's is generationConfig.maxOutputTokens
			t.Errorf("%s: max tokens %d", name, info.MaxTokens)
		}
		if r.Upstream("http://127.0.0.1:9") != "http://127.0.0.1:9" || r.UpstreamURL("http://fake") != "http://fake"+tt.up {
			t.Errorf("%s: upstream override: %s", name, r.UpstreamURL("http://fake"))
		}
	}
	for _, bad := range [][2]string{
		{"gw", "/v1/azure_openai/evil.example.com/openai/deployments/x/chat/completions"},
		{"gw", "/v1/azure_openai/-x/openai/v1/chat/completions"},
		{"gw", "/v1/bedrock/us-east-1.evil/model/x/converse"},
		{"gw", "/v1/bedrock/"},
		{"gw", "/v1/vertex_ai/v1/projects/p/locations/a.b/publishers/google/models/m:generateContent"},
		{"gw", "/v1/vertex_ai/v1/projects/p/publishers/google/models/m:generateContent"},
		{"a.b.openai.azure.com", "/openai/v1/chat/completions"},
		{"bedrock-runtime.amazonaws.com", "/model/x/converse"},
	} {
		if r, ok := Resolve(bad[0], bad[1]); ok && r.Provider.Cloud {
			t.Errorf("%s %s resolved: %+v", bad[0], bad[1], r)
		}
	}
}

// TestCloudRequestModel: the path (or the Azure deployment) names the
// model, not the body; Azure's v1 surface names the deployment as the
// body's model; Bedrock request bodies give their output caps.
func TestCloudRequestModel(t *testing.T) {
	for _, tt := range []struct {
		path, body, model, deployment string
		maxTokens                     int64
	}{
		{"/v1/azure_openai/c/openai/deployments/prod-4o/chat/completions", `{"model":"gpt-4o","messages":[]}`, "prod-4o", "prod-4o", 0},
		{"/v1/azure_openai/c/openai/v1/chat/completions", `{"model":"prod-mini","max_completion_tokens":9}`, "prod-mini", "prod-mini", 9},
		{"/v1/bedrock/us-east-1/model/amazon.nova-pro-v1:0/converse", `{"inferenceConfig":{"maxTokens":300}}`, "amazon.nova-pro-v1:0", "", 300},
		{"/v1/bedrock/us-east-1/model/amazon.nova-lite-v1:0/invoke", `{"inferenceConfig":{"max_new_tokens":200}}`, "amazon.nova-lite-v1:0", "", 200},
		{"/v1/bedrock/us-east-1/model/meta.llama3-1-8b-instruct-v1:0/invoke", `{"prompt":"hi","max_gen_len":128}`, "meta.llama3-1-8b-instruct-v1:0", "", 128},
		{"/v1/bedrock/us-east-1/model/amazon.titan-text-express-v1/invoke", `{"inputText":"hi","textGenerationConfig":{"maxTokenCount":512}}`, "amazon.titan-text-express-v1", "", 512},
		{"/v1/vertex_ai/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-3-5-haiku@20241022:rawPredict", `{"anthropic_version":"vertex-2023-10-16","max_tokens":100}`, "claude-3-5-haiku@20241022", "", 100},
	} {
		r, _ := Resolve("gw", tt.path)
		info := ParseRequest(&r, []byte(tt.body))
		if info.Model != tt.model || r.AzureDeployment(&info) != tt.deployment || info.MaxTokens != tt.maxTokens {
			t.Errorf("%s: model %q deployment %q max %d", tt.path, info.Model, r.AzureDeployment(&info), info.MaxTokens)
		}
	}
	if got := BedrockFoundationModel("apac.anthropic.claude-3-5-sonnet-20240620-v1:0"); got != "anthropic.claude-3-5-sonnet-20240620-v1:0" {
		t.Errorf("foundation model: %s", got)
	}
}

// TestVertexRegionalClaudePricedModel: a Vertex Claude call with the regional
// premium is priced as "<model>-regional" on any location but global, and
// the event still says which model the caller asked for.
func TestVertexRegionalClaudePricedModel(t *testing.T) {
	const prefix = "/v1/vertex_ai/v1/projects/p/locations/"
	for _, tt := range []struct {
		loc, model, served, catalogue string
	}{
		{"global", "claude-sonnet-4-5@20250929", "", "claude-sonnet-4-5"},
		{"us-east5", "claude-sonnet-4-5@20250929", "claude-sonnet-4-5-regional", "claude-sonnet-4-5-regional"},
		{"europe-west1", "claude-haiku-4-5@20251001", "claude-haiku-4-5-regional", "claude-haiku-4-5-regional"},
		{"europe-west1", "claude-haiku-4-5", "claude-haiku-4-5-regional", "claude-haiku-4-5-regional"},
		{"global", "claude-haiku-4-5@20251001", "", "claude-haiku-4-5"},
		// Earlier models cost the same everywhere.
		{"us-east5", "claude-3-5-haiku@20241022", "", "claude-3-5-haiku"},
	} {
		r, ok := Resolve("gw", prefix+tt.loc+"/publishers/anthropic/models/"+tt.model+":rawPredict")
		if !ok {
			t.Fatalf("%s %s: not resolved", tt.loc, tt.model)
		}
		c := Call{Route: r, Request: ParseRequest(&r, []byte(`{"max_tokens":10}`))}
		e := c.UsageEvent("id", 200, &Result{ServedModel: "claude-sonnet-4-5-20250929"}, 0, 0, "")
		if e.ModelRequested != tt.model || e.ModelServed != tt.served {
			t.Errorf("%s %s: requested %q served %q, want %q %q", tt.loc, tt.model, e.ModelRequested, e.ModelServed, tt.model, tt.served)
		}
		m, _, ok := pricing.Default().Lookup(ProviderVertexAI, e.Model())
		if !ok || m.ID != tt.catalogue {
			t.Errorf("%s %s: priced as %v (found %v), want %s", tt.loc, tt.model, m, ok, tt.catalogue)
		}
	}
}
