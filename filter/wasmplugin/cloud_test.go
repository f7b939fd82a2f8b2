package wasmplugin

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/policy"
	"github.com/spendgate/spendgate/usage"
)

const sigV4 = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261204/us-east-1/bedrock/aws4_request, " +
	"SignedHeaders=accept-encoding;content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"

// cloudCall is one cloud call through the filter: Envoy as the egress
// proxy (the provider's own Host) or a prefix route.
type cloudCall struct {
	authority, path, body string
	headers               [][2]string
}

// sendCloud runs a cloud call up to the policy decision, answering the
// policy call with answer.
func sendCloud(t *testing.T, host proxytest.HostEmulator, c cloudCall, key string, answer policy.Answer) uint32 {
	t.Helper()
	h := [][2]string{{":method", "POST"}, {":path", c.path}, {":authority", c.authority}, {"content-type", "application/json"},
		{"accept-encoding", "gzip"}}
	if key != "" {
		h = append(h, [2]string{"x-spendgate-key", key})
	}
	h = append(h, c.headers...)
	id := newContext(host)
	if act := host.CallOnRequestHeaders(id, h, false); act == types.ActionPause && host.GetSentLocalResponse(id) == nil {
		host.CallOnRequestBody(id, []byte(c.body), true)
	}
	for _, co := range host.GetCalloutAttributesFromContext(id) {
		if co.Upstream == "spendgate_api" && hv(co.Headers, ":path") == "/internal/v1/policy" {
			host.CallOnHttpCallResponse(co.CalloutID, [][2]string{{":status", "200"}}, nil, answerJSON(answer))
		}
	}
	return id
}

// respondWith answers with headers and the body in pieces of size n.
func respondWith(host proxytest.HostEmulator, id uint32, headers [][2]string, body []byte, n int) {
	host.CallOnResponseHeaders(id, append([][2]string{{":status", "200"}}, headers...), false)
	for i := 0; i < len(body); i += n {
		end := min(i+n, len(body))
		host.CallOnResponseBody(id, body[i:end], end == len(body))
	}
	host.CompleteHttpContext(id)
}

func cloudAnswer() policy.Answer {
	a := allowAll()
	a.Policy.AzureDeployments = map[string]string{"prod-4o": "gpt-4o"}
	return a
}

func capture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../meter/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCloudCallsMetered: Azure OpenAI, Bedrock (the binary event stream,
// fed in small pieces) and Vertex AI through the filter as egress proxy and
// by prefix: the provider's credentials pass untouched, the spendgate key
// does not, a SigV4-signed Accept-Encoding is kept, and each event carries
// the model the deployment or path names and the captured usage.
func TestCloudCallsMetered(t *testing.T) {
	tests := map[string]struct {
		call     cloudCall
		resp     [][2]string
		body     string // capture under meter/testdata
		provider string
		op       string
		model    string
		// served: the catalogue id a regional Vertex Claude call is priced
		// as (meter.VertexRegionalModel); "" elsewhere.
		served string
		stream bool
		usage  usage.Tokens
		// keepsAcceptEncoding: the SigV4 signature covers it.
		keepsAcceptEncoding bool
		requestID           string
	}{
		"azure deployment (egress)": {
			call: cloudCall{"contoso.openai.azure.com", "/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21", `{"messages":[{"role":"user","content":"hi"}]}`,
				[][2]string{{"api-key", "azure-key"}}},
			resp: [][2]string{{"content-type", "application/json"}, {"x-request-id", "azure-req-1"}}, body: "azure_openai/chat_deployment.json",
			provider: "azure_openai", op: "chat.completions", model: "gpt-4o", usage: usage.Tokens{Input: 19, CachedInput: 1024, Output: 10}, requestID: "azure-req-1"},
		"azure v1 stream (prefix)": {
			call: cloudCall{"gateway.local", "/v1/azure_openai/contoso/openai/v1/chat/completions", `{"model":"dev-mini","stream":true,"stream_options":{"include_usage":true},"messages":[]}`,
				[][2]string{{"api-key", "azure-key"}}},
			resp: [][2]string{{"content-type", "text/event-stream"}}, body: "azure_openai/stream_v1.sse",
			provider: "azure_openai", op: "chat.completions", model: "dev-mini", stream: true, usage: usage.Tokens{Input: 9, Output: 2}, requestID: "chatcmpl-AaZ4"},
		"bedrock converse stream (egress, SigV4)": {
			call: cloudCall{"bedrock-runtime.eu-central-1.amazonaws.com", "/model/eu.amazon.nova-pro-v1:0/converse-stream", `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`,
				[][2]string{{"authorization", sigV4}, {"x-amz-date", "20261204T101010Z"}}},
			resp: [][2]string{{"content-type", "application/vnd.amazon.eventstream"}, {"x-amzn-requestid", "aws-req-1"}}, body: "bedrock/converse_stream.bin",
			provider: "bedrock", op: "converse_stream", model: "eu.amazon.nova-pro-v1:0", stream: true, usage: usage.Tokens{Input: 31, CacheWrite5m: 2048, Output: 9},
			keepsAcceptEncoding: true, requestID: "aws-req-1"},
		"bedrock invoke stream (prefix, ARN)": {
			call: cloudCall{"gateway.local", "/v1/bedrock/us-east-1/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke-with-response-stream", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"messages":[]}`,
				[][2]string{{"authorization", "Bearer bedrock-api-key-abc"}}},
			resp: [][2]string{{"content-type", "application/vnd.amazon.eventstream"}, {"x-amzn-requestid", "aws-req-2"}}, body: "bedrock/invoke_stream_anthropic.bin",
			provider: "bedrock", op: "invoke_model_with_response_stream", model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", stream: true,
			usage: usage.Tokens{Input: 14, CachedInput: 1200, Output: 19}, requestID: "aws-req-2"},
		"bedrock invoke, usage in headers only": {
			call: cloudCall{"bedrock-runtime.eu-west-3.amazonaws.com", "/model/mistral.mistral-7b-instruct-v0:2/invoke", `{"prompt":"<s>[INST] hi [/INST]","max_tokens":50}`,
				[][2]string{{"authorization", sigV4}}},
			resp: [][2]string{{"content-type", "application/json"}, {"x-amzn-bedrock-input-token-count", "23"}, {"x-amzn-bedrock-output-token-count", "11"}},
			body: "bedrock/invoke_mistral_headers_only.json", provider: "bedrock", op: "invoke_model", model: "mistral.mistral-7b-instruct-v0:2",
			usage: usage.Tokens{Input: 23, Output: 11}, keepsAcceptEncoding: true},
		"vertex claude stream (egress)": {
			call: cloudCall{"us-east5-aiplatform.googleapis.com", "/v1/projects/acme/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict",
				`{"anthropic_version":"vertex-2023-10-16","max_tokens":64,"stream":true,"messages":[]}`, [][2]string{{"authorization", "Bearer ya29.token"}}},
			resp: [][2]string{{"content-type", "text/event-stream"}}, body: "vertex_ai/claude_stream.sse",
			provider: "vertex_ai", op: "messages", model: "claude-sonnet-4-5@20250929", served: "claude-sonnet-4-5-regional", stream: true, usage: usage.Tokens{Input: 21, CacheWrite5m: 1500, Output: 15}, requestID: "msg_vrtx_01K9"},
		"vertex gemini (prefix)": {
			call: cloudCall{"gateway.local", "/v1/vertex_ai/v1/projects/acme/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent",
				`{"contents":[]}`, [][2]string{{"authorization", "Bearer ya29.token"}}},
			resp: [][2]string{{"content-type", "application/json"}}, body: "vertex_ai/gemini_generate.json",
			provider: "vertex_ai", op: "generateContent", model: "gemini-2.5-flash", usage: usage.Tokens{Input: 8, Output: 11, Reasoning: 26}, requestID: "N7dQaZvTGY6Ah8wP2N2d6Ak"},
	}
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		for name, tt := range tests {
			t.Run(name, func(t *testing.T) {
				host := newHost(t, vm, testConfig)
				id := sendCloud(t, host, tt.call, "sg_abcd1234_secret", cloudAnswer())
				if lr := host.GetSentLocalResponse(id); lr != nil {
					t.Fatalf("denied: %s", lr.Data)
				}
				hs := host.GetCurrentRequestHeaders(id)
				if hv(hs, "x-spendgate-key") != "" || (hv(hs, "accept-encoding") != "") != tt.keepsAcceptEncoding {
					t.Fatalf("forwarded headers %v", hs)
				}
				for _, h := range tt.call.headers {
					if hv(hs, h[0]) != h[1] {
						t.Fatalf("%s changed: %q", h[0], hv(hs, h[0]))
					}
				}
				if string(host.GetCurrentRequestBody(id)) != tt.call.body {
					t.Fatalf("body changed: %s", host.GetCurrentRequestBody(id))
				}
				respondWith(host, id, tt.resp, capture(t, tt.body), 13)
				batches := ingestBatches(t, host, "200")
				if len(batches) != 1 || len(batches[0]) != 1 {
					t.Fatalf("batches %v", batches)
				}
				e := batches[0][0]
				if e.Provider != tt.provider || e.Operation != tt.op || e.ModelRequested != tt.model || e.ModelServed != tt.served || e.Streaming != tt.stream ||
					e.Usage != tt.usage || !e.Complete || e.StatusCode != 200 || e.RequestID != tt.requestID || e.Source != event.SourceEnvoy {
					t.Fatalf("event %+v", e)
				}
			})
		}
	})
}

// TestCloudDenials: a SigV4 signature over the spendgate key, an unknown
// key and a provider allow-list, answered in the AWS shape the AWS SDKs
// read on Bedrock routes (and OpenAI's on Azure).
func TestCloudDenials(t *testing.T) {
	signedKey := strings.Replace(sigV4, "host;", "host;x-spendgate-key;", 1)
	onlyAzure := cloudAnswer()
	onlyAzure.Policy.AllowedProviders = []string{"azure_openai"}
	tests := map[string]struct {
		call           cloudCall
		answer         policy.Answer
		status         int
		reason, awsTyp string
	}{
		"signed key header": {cloudCall{"bedrock-runtime.us-east-1.amazonaws.com", "/model/amazon.nova-lite-v1:0/converse", `{}`,
			[][2]string{{"authorization", signedKey}}}, cloudAnswer(), 400, event.DenialSignedKeyHeader, "ValidationException"},
		"unknown key": {cloudCall{"bedrock-runtime.us-east-1.amazonaws.com", "/model/amazon.nova-lite-v1:0/converse", `{}`,
			[][2]string{{"authorization", sigV4}}}, policy.Answer{Valid: false, Reason: "unknown_key"}, 401, event.DenialUnknownKey, "AccessDeniedException"},
		"provider not allowed": {cloudCall{"gateway.local", "/v1/bedrock/us-east-1/model/amazon.nova-lite-v1:0/converse", `{}`, nil},
			onlyAzure, 403, event.DenialProviderNotAllowed, "AccessDeniedException"},
		"vertex not allowed": {cloudCall{"aiplatform.googleapis.com", "/v1/projects/p/locations/global/publishers/google/models/gemini-2.5-pro:generateContent", `{}`, nil},
			onlyAzure, 403, event.DenialProviderNotAllowed, ""},
	}
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		for name, tt := range tests {
			t.Run(name, func(t *testing.T) {
				host := newHost(t, vm, testConfig)
				id := sendCloud(t, host, tt.call, "sg_abcd1234_secret", tt.answer)
				lr := host.GetSentLocalResponse(id)
				if lr == nil || int(lr.StatusCode) != tt.status || hv(lr.Headers, "x-spendgate-denial") != tt.reason {
					t.Fatalf("got %+v", lr)
				}
				var body map[string]any
				if err := json.Unmarshal(lr.Data, &body); err != nil {
					t.Fatalf("denial body: %s", lr.Data)
				}
				if tt.awsTyp != "" && (body["__type"] != tt.awsTyp || !strings.HasPrefix(body["message"].(string), "spendgate: ")) {
					t.Fatalf("AWS shape: %s", lr.Data)
				}
			})
		}
	})
}
