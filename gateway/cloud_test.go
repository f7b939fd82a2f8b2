package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	brtypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/fakeprovider"
	"github.com/spendgate/spendgate/policy"
	"github.com/spendgate/spendgate/usage"
)

var testAWSCreds = aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", Source: "test"}

const azureKey = "azure-resource-key-1"

// pricedSet answers the priced question from a fixed set of provider/model.
type pricedSet map[string]bool

func (p pricedSet) Priced(_ context.Context, _, provider, model string) (bool, error) {
	return p[provider+"/"+model], nil
}

type cloudEnv struct {
	gw   *httptest.Server
	fake *fakeprovider.Server
	sink *captureSink
}

// setupCloud serves a gateway whose cloud providers go to a fake provider
// that checks Azure's api-key and Bedrock's SigV4 signatures.
func setupCloud(t *testing.T, answers map[string]policy.Answer, priced PricedSource) *cloudEnv {
	t.Helper()
	fake := fakeprovider.New(fakeprovider.Config{AzureAPIKey: azureKey, AWSCredentials: &testAWSCreds})
	fakeSrv := httptest.NewServer(fake)
	t.Cleanup(fakeSrv.Close)
	cfg := DefaultConfig()
	cfg.Upstreams = map[string]string{"azure_openai": fakeSrv.URL, "bedrock": fakeSrv.URL, "vertex_ai": fakeSrv.URL}
	cfg.Priced = priced
	pol := policyServer(t, answers)
	src := NewCachedPolicySource(&HTTPPolicySource{URL: pol.URL + "/internal/v1/policy", ServiceToken: "svc"}, time.Minute, 10*time.Second)
	sink := &captureSink{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	gw := New(cfg, src, NewBatcher(sink, 100, 10000, 20*time.Millisecond, log), log)
	srv := httptest.NewServer(gw)
	t.Cleanup(func() {
		srv.Close()
		gw.Shutdown(context.Background())
	})
	return &cloudEnv{gw: srv, fake: fake, sink: sink}
}

func cloudAnswers(mutate func(*policy.Policy)) map[string]policy.Answer {
	a := policy.Answer{Valid: true, TenantID: tenantID, KeyID: keyID, KeyPrefix: "good0001", CacheTTLSeconds: 60,
		Policy: policy.Policy{AzureDeployments: map[string]string{"prod-4o": "gpt-4o", "prod-emb": "text-embedding-3-small"}}}
	if mutate != nil {
		mutate(&a.Policy)
	}
	return map[string]policy.Answer{goodKey: a}
}

func (e *cloudEnv) azureClient(key string) openai.Client {
	return openai.NewClient(azure.WithEndpoint(e.gw.URL+"/v1/azure_openai/contoso", "2024-10-21"), azure.WithAPIKey(azureKey),
		azure.WithUnsafeAllowHTTP(), option.WithHeader("x-spendgate-key", key), option.WithMaxRetries(0))
}

// TestAzureOpenAIThroughGateway: the openai-go client in Azure mode, its
// api-key reaching the provider untouched; deployments resolve through the
// tenant's mapping to models, which events carry; an unmapped deployment
// is metered under its own name, and refused for a key that requires
// priced models.
func TestAzureOpenAIThroughGateway(t *testing.T) {
	e := setupCloud(t, cloudAnswers(nil), nil)
	ctx := context.Background()
	client := e.azureClient(goodKey)

	chat, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "prod-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}},
		option.WithHeader("x-fake-prompt-tokens", "40"), option.WithHeader("x-fake-cached-tokens", "16"), option.WithHeader("x-fake-completion-tokens", "5"))
	if err != nil {
		t.Fatal(err)
	}
	if chat.Usage.PromptTokens != 40 {
		t.Fatalf("answer: %+v", chat.Usage)
	}
	last, _ := e.fake.Last()
	if last.Path != "/openai/deployments/prod-4o/chat/completions" || last.RawQuery != "api-version=2024-10-21" ||
		last.Header.Get("api-key") != azureKey || last.Header.Get("x-spendgate-key") != "" {
		t.Fatalf("upstream request: %s?%s api-key=%q key=%q", last.Path, last.RawQuery, last.Header.Get("api-key"), last.Header.Get("x-spendgate-key"))
	}

	stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "prod-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}, option.WithHeader("x-fake-completion-tokens", "9"))
	var text strings.Builder
	for stream.Next() {
		if c := stream.Current(); len(c.Choices) > 0 {
			text.WriteString(c.Choices[0].Delta.Content)
		}
	}
	if err := stream.Err(); err != nil || text.Len() == 0 {
		t.Fatalf("stream: %v %q", err, text.String())
	}

	emb, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "prod-emb", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("x")}},
		option.WithHeader("x-fake-prompt-tokens", "3"))
	if err != nil || len(emb.Data) != 1 {
		t.Fatalf("embeddings: %v", err)
	}
	if _, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "dev-unmapped",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}); err != nil {
		t.Fatal(err)
	}

	evs := e.sink.wait(t, 4)
	// A stream's event is queued when the gateway finishes the call, which
	// may be after the client read the last byte and sent the next call:
	// compare in the order the calls started.
	slices.SortStableFunc(evs, func(a, b event.Event) int { return a.Time.Compare(b.Time) })
	want := []struct {
		op, model string
		stream    bool
		usage     usage.Tokens
	}{
		{"chat.completions", "gpt-4o", false, usage.Tokens{Input: 24, CachedInput: 16, Output: 5}},
		{"chat.completions", "gpt-4o", true, usage.Tokens{Input: 12, Output: 9}},
		{"embeddings", "text-embedding-3-small", false, usage.Tokens{Input: 3}},
		{"chat.completions", "dev-unmapped", false, usage.Tokens{Input: 12, Output: 7}},
	}
	for i, w := range want {
		ev := evs[i]
		if ev.Provider != "azure_openai" || ev.Operation != w.op || ev.ModelRequested != w.model || ev.ModelServed != "" ||
			ev.Streaming != w.stream || ev.Usage != w.usage || !ev.Complete || ev.StatusCode != 200 {
			t.Errorf("event %d: %+v", i, ev)
		}
	}

	// The stream asked for its usage: the option was spliced in for Azure too.
	for _, r := range e.fake.Requests() {
		if strings.Contains(string(r.Body), `"stream":true`) && !strings.Contains(string(r.Body), `"include_usage":true`) {
			t.Errorf("stream without include_usage: %s", r.Body)
		}
	}

	// Priced models: the mapped deployment's model is asked about, an
	// unmapped deployment is refused as an OpenAI-shaped 403.
	strict := setupCloud(t, cloudAnswers(func(p *policy.Policy) { p.RequirePricedModels = true }), pricedSet{"azure_openai/gpt-4o": true})
	sc := strict.azureClient(goodKey)
	if _, err := sc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "prod-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}); err != nil {
		t.Fatalf("mapped deployment refused: %v", err)
	}
	_, err = sc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "dev-unmapped",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 403 || apiErr.Code != event.DenialUnpricedModel || !strings.Contains(apiErr.Message, "dev-unmapped") {
		t.Fatalf("unmapped deployment with require_priced_models: %v", err)
	}

	// A wrong Azure key is the provider's own 401, passed through.
	bad := openai.NewClient(azure.WithEndpoint(e.gw.URL+"/v1/azure_openai/contoso", "2024-10-21"), azure.WithAPIKey("wrong"),
		azure.WithUnsafeAllowHTTP(), option.WithHeader("x-spendgate-key", goodKey), option.WithMaxRetries(0))
	_, err = bad.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "prod-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Fatalf("wrong api-key: %v", err)
	}
}

// egressClient sends every request to the gateway whatever its host, as
// a client whose DNS (or HTTP proxy setting) points the provider's host at
// an egress proxy, and adds the spendgate key after the SDK signed.
func egressClient(gwURL, key string) *http.Client {
	addr := strings.TrimPrefix(gwURL, "http://")
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		if key != "" {
			r.Header.Set("x-spendgate-key", key)
		}
		return tr.RoundTrip(r)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (e *cloudEnv) bedrockClient(key string) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{Region: "us-east-1", Credentials: aws.NewCredentialsCache(staticCreds{}),
		BaseEndpoint: aws.String("http://bedrock-runtime.us-east-1.amazonaws.com"), HTTPClient: egressClient(e.gw.URL, key),
		RetryMaxAttempts: 1})
}

type staticCreds struct{}

func (staticCreds) Retrieve(context.Context) (aws.Credentials, error) { return testAWSCreds, nil }

// TestBedrockSDKThroughGateway: the official AWS SDK for Go v2 Bedrock
// Runtime client through the gateway as its egress proxy: Converse,
// ConverseStream, InvokeModel and InvokeModelWithResponseStream, each
// SigV4 signature verified by the provider over the request as it arrived
// (host, path, signed headers, body), the event streams decoded by the SDK
// itself, and each call's usage in its event.
func TestBedrockSDKThroughGateway(t *testing.T) {
	e := setupCloud(t, cloudAnswers(nil), nil)
	ctx := context.Background()
	client := e.bedrockClient(goodKey)
	const model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
	msgs := []brtypes.Message{{Role: brtypes.ConversationRoleUser, Content: []brtypes.ContentBlock{&brtypes.ContentBlockMemberText{Value: "hi"}}}}

	out, err := client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: msgs})
	if err != nil {
		t.Fatal(err)
	}
	if u := out.Usage; *u.InputTokens != 12 || *u.OutputTokens != 7 {
		t.Fatalf("converse usage: %+v", u)
	}

	st, err := client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(model), Messages: msgs})
	if err != nil {
		t.Fatal(err)
	}
	var deltas int
	var streamed *brtypes.TokenUsage
	for ev := range st.GetStream().Events() {
		switch v := ev.(type) {
		case *brtypes.ConverseStreamOutputMemberContentBlockDelta:
			deltas++
		case *brtypes.ConverseStreamOutputMemberMetadata:
			streamed = v.Value.Usage
		}
	}
	if err := st.GetStream().Close(); err != nil || deltas != 3 || streamed == nil || *streamed.OutputTokens != 7 {
		t.Fatalf("converse stream: err %v deltas %d usage %+v", err, deltas, streamed)
	}

	inv, err := client.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String("anthropic.claude-3-5-haiku-20241022-v1:0"),
		ContentType: aws.String("application/json"), Body: []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}`)})
	if err != nil || !strings.Contains(string(inv.Body), `"usage"`) {
		t.Fatalf("invoke: %v", err)
	}

	arn := "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-1-70b-instruct-v1:0"
	ist, err := client.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(arn),
		ContentType: aws.String("application/json"), Body: []byte(`{"prompt":"hi","max_gen_len":32}`)})
	if err != nil {
		t.Fatal(err)
	}
	chunks := 0
	for ev := range ist.GetStream().Events() {
		if _, ok := ev.(*brtypes.ResponseStreamMemberChunk); ok {
			chunks++
		}
	}
	if err := ist.GetStream().Close(); err != nil || chunks != 4 {
		t.Fatalf("invoke stream: %v, %d chunks", err, chunks)
	}

	evs := e.sink.wait(t, 4)
	want := []struct{ op, model string }{
		{"converse", model}, {"converse_stream", model},
		{"invoke_model", "anthropic.claude-3-5-haiku-20241022-v1:0"}, {"invoke_model_with_response_stream", "us.meta.llama3-1-70b-instruct-v1:0"},
	}
	for i, w := range want {
		ev := evs[i]
		if ev.Provider != "bedrock" || ev.Operation != w.op || ev.ModelRequested != w.model || ev.ModelServed != "" ||
			ev.Usage != (usage.Tokens{Input: 12, Output: 7}) || !ev.Complete || ev.StatusCode != 200 || !strings.HasPrefix(ev.RequestID, "fake-") {
			t.Errorf("event %d: %+v", i, ev)
		}
	}
	for _, r := range e.fake.Requests() {
		if r.Header.Get("x-spendgate-key") != "" || !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			t.Errorf("upstream headers: %v", r.Header)
		}
	}
}

// TestBedrockSignatureChecked: the provider's check can fail (a body
// changed after signing is refused), so the passes above mean the gateway
// changed nothing; a signature covering the spendgate key is refused by the
// gateway with a clear error; a denial is an AWS-shaped API error the SDK
// reads, not retried.
func TestBedrockSignatureChecked(t *testing.T) {
	e := setupCloud(t, cloudAnswers(nil), nil)
	ctx := context.Background()
	tamper := egressClient(e.gw.URL, goodKey)
	inner := tamper.Transport
	tamper.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("Content-Type", "application/x-changed") // a signed header changed after signing
		return inner.RoundTrip(r)
	})
	client := bedrockruntime.New(bedrockruntime.Options{Region: "us-east-1", Credentials: aws.NewCredentialsCache(staticCreds{}),
		BaseEndpoint: aws.String("http://bedrock-runtime.us-east-1.amazonaws.com"), HTTPClient: tamper, RetryMaxAttempts: 1})
	msgs := []brtypes.Message{{Role: brtypes.ConversationRoleUser, Content: []brtypes.ContentBlock{&brtypes.ContentBlockMemberText{Value: "hi"}}}}
	_, err := client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("amazon.nova-lite-v1:0"), Messages: msgs})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidSignatureException" {
		t.Fatalf("tampered request: %v", err)
	}

	// The key signed with the request: refused before anything is forwarded.
	signedKey := bedrockruntime.New(bedrockruntime.Options{Region: "us-east-1", Credentials: aws.NewCredentialsCache(staticCreds{}),
		BaseEndpoint: aws.String("http://bedrock-runtime.us-east-1.amazonaws.com"), HTTPClient: egressClient(e.gw.URL, ""), RetryMaxAttempts: 1})
	before := len(e.fake.Requests())
	_, err = signedKey.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("amazon.nova-lite-v1:0"), Messages: msgs},
		bedrockruntime.WithAPIOptions(func(s *middleware.Stack) error { return addHeaderBeforeSigning(s, "x-spendgate-key", goodKey) }))
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException" || !strings.Contains(apiErr.ErrorMessage(), "after signing") {
		t.Fatalf("signed key header: %v", err)
	}
	if len(e.fake.Requests()) != before {
		t.Fatal("a call with a signed key header reached the provider")
	}

	// An unknown key: AccessDeniedException with spendgate's message.
	_, err = e.bedrockClient("sg_unknown").Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("amazon.nova-lite-v1:0"), Messages: msgs})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDeniedException" || !strings.Contains(apiErr.ErrorMessage(), "spendgate") {
		t.Fatalf("unknown key: %v", err)
	}

	// A provider allow-list without bedrock.
	only := setupCloud(t, cloudAnswers(func(p *policy.Policy) { p.AllowedProviders = []string{"azure_openai", "vertex_ai"} }), nil)
	_, err = only.bedrockClient(goodKey).Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("amazon.nova-lite-v1:0"), Messages: msgs})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDeniedException" || !strings.Contains(apiErr.ErrorMessage(), "provider bedrock is not allowed") {
		t.Fatalf("provider not allowed: %v", err)
	}
}

// TestVertexThroughGateway: Gemini and Claude on Vertex AI, by prefix
// route, JSON and streaming, each answer's usage in its event under the
// model the path names.
func TestVertexThroughGateway(t *testing.T) {
	e := setupCloud(t, cloudAnswers(nil), nil)
	base := e.gw.URL + "/v1/vertex_ai/v1/projects/acme/locations/"
	calls := []struct {
		path, body, op, model string
		stream                bool
		usage                 usage.Tokens
	}{
		{"us-central1/publishers/google/models/gemini-2.5-flash:generateContent", `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`,
			"generateContent", "gemini-2.5-flash", false, usage.Tokens{Input: 12, Output: 7}},
		{"us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse", `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`,
			"streamGenerateContent", "gemini-2.5-flash", true, usage.Tokens{Input: 12, Output: 7}},
		{"global/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict", `{"anthropic_version":"vertex-2023-10-16","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}`,
			"messages", "claude-sonnet-4-5@20250929", false, usage.Tokens{Input: 12, Output: 7}},
		{"us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict", `{"anthropic_version":"vertex-2023-10-16","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			"messages", "claude-sonnet-4-5@20250929", true, usage.Tokens{Input: 12, Output: 7}},
	}
	for _, c := range calls {
		req, _ := http.NewRequest("POST", base+c.path, strings.NewReader(c.body))
		req.Header.Set("x-spendgate-key", goodKey)
		req.Header.Set("Authorization", "Bearer ya29.google-oauth-token")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", c.path, resp.StatusCode, b)
		}
		last, _ := e.fake.Last()
		if last.Header.Get("Authorization") != "Bearer ya29.google-oauth-token" || !strings.HasPrefix(last.Path, "/v1/projects/acme/locations/") {
			t.Fatalf("upstream: %s %v", last.Path, last.Header)
		}
	}
	evs := e.sink.wait(t, len(calls))
	for i, c := range calls {
		ev := evs[i]
		if ev.Provider != "vertex_ai" || ev.Operation != c.op || ev.ModelRequested != c.model || ev.Streaming != c.stream || ev.Usage != c.usage || !ev.Complete {
			t.Errorf("event %d: %+v", i, ev)
		}
	}
}

// addHeaderBeforeSigning sets a header in the SDK's build step, before the
// finalize step signs the request: the signature then covers it.
func addHeaderBeforeSigning(s *middleware.Stack, name, value string) error {
	return s.Build.Add(middleware.BuildMiddlewareFunc("spendgateKeyBeforeSigning", func(ctx context.Context, in middleware.BuildInput,
		next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
		if req, ok := in.Request.(*smithyhttp.Request); ok {
			req.Header.Set(name, value)
		}
		return next.HandleBuild(ctx, in)
	}), middleware.After)
}
