package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	brtypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"

	"github.com/spendgate/spendgate/internal/testenv"
)

type cloudRoundTrip func(*http.Request) (*http.Response, error)

func (f cloudRoundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestServeMetersCloudCallsIntoClickHouse runs `spendgate serve` (its demo
// routes the cloud providers to the fake provider) and sends one call per
// cloud through its gateway with the official clients where there is one
// (openai-go's Azure mode, the AWS SDK's Bedrock Runtime client, whose
// signed request goes to the gateway as its egress proxy): each event is
// priced by the real ingest path into ClickHouse, to the nano-dollar
// computed by hand from the list prices (pricing/sources/reviewed.yaml).
func TestServeMetersCloudCallsIntoClickHouse(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	chAddr, chDB := testenv.ClickHouse(t)
	nc, prefix := testenv.NATS(t)
	dir := t.TempDir()
	addrFile := dir + "/addrs.json"
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, []string{"--postgres-dsn", testenv.Postgres(t), "--service-token", "svc", "--data-dir", dir + "/data",
			"--nats-url", nc.ConnectedUrl(), "--stream-prefix", prefix, "--clickhouse-addr", chAddr, "--clickhouse-database", chDB,
			"--listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0", "--fake-provider-listen", "127.0.0.1:0", "--addr-file", addrFile})
	}()
	var addrs map[string]string
	testenv.WaitFor(t, 90*time.Second, "spendgate serve listening", func() bool {
		select {
		case err := <-done:
			t.Fatalf("serve stopped: %v", err)
		default:
		}
		b, err := os.ReadFile(addrFile)
		return err == nil && json.Unmarshal(b, &addrs) == nil
	})
	api, gw := "http://"+addrs["api"], "http://"+addrs["gateway"]
	var out struct {
		SignIn       struct{ AccessToken string }
		Tenants      []struct{ ID string }
		CreateAPIKey struct{ Secret string }
	}
	testenv.MustGraphQL(t, api+"/query", "", `mutation($e:String!,$p:String!){signIn(email:$e,password:$p){accessToken}}`,
		map[string]any{"e": demoEmail, "p": demoPassword}, &out)
	token := out.SignIn.AccessToken
	testenv.MustGraphQL(t, api+"/query", token, `{tenants{id}}`, nil, &out)
	tenant := out.Tenants[0].ID
	testenv.MustGraphQL(t, api+"/query", token, `mutation($t:ID!){createAPIKey(tenantId:$t,name:"cloud",policy:{requirePricedModels:true}){secret}}`,
		map[string]any{"t": tenant}, &out)
	key := out.CreateAPIKey.Secret
	testenv.MustGraphQL(t, api+"/query", token, `mutation($t:ID!){setAzureDeployment(tenantId:$t,deployment:"prod-4o",model:"gpt-4o-data-zone"){id}}`,
		map[string]any{"t": tenant}, nil)

	// Azure: a data-zone deployment, 1043 prompt tokens of which 1024 cached, 10 out.
	az := openai.NewClient(azure.WithEndpoint(gw+"/v1/azure_openai/contoso", "2024-10-21"), azure.WithAPIKey("azure-key"),
		azure.WithUnsafeAllowHTTP(), option.WithHeader("x-spendgate-key", key), option.WithMaxRetries(0))
	if _, err := az.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "prod-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}},
		option.WithHeader("x-fake-prompt-tokens", "1043"), option.WithHeader("x-fake-cached-tokens", "1024"), option.WithHeader("x-fake-completion-tokens", "10")); err != nil {
		t.Fatalf("azure: %v", err)
	}

	// Bedrock: Converse on the us. profile of Claude Sonnet 4.5 (regional
	// rates), 12 input, 1600 cache read, 500 cache write, 41 out. The key and
	// the fake provider's knobs are added after signing.
	gwAddr := addrs["gateway"]
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, gwAddr)
	}}
	br := bedrockruntime.New(bedrockruntime.Options{Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String("http://bedrock-runtime.us-east-1.amazonaws.com"),
		HTTPClient: &http.Client{Transport: cloudRoundTrip(func(r *http.Request) (*http.Response, error) {
			r = r.Clone(r.Context())
			r.Header.Set("x-spendgate-key", key)
			r.Header.Set("x-fake-prompt-tokens", "2112")
			r.Header.Set("x-fake-cached-tokens", "1600")
			r.Header.Set("x-fake-cache-write-tokens", "500")
			r.Header.Set("x-fake-completion-tokens", "41")
			return tr.RoundTrip(r)
		})}})
	if _, err := br.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
		Messages: []brtypes.Message{{Role: brtypes.ConversationRoleUser, Content: []brtypes.ContentBlock{&brtypes.ContentBlockMemberText{Value: "hi"}}}}}); err != nil {
		t.Fatalf("bedrock: %v", err)
	}

	// Vertex AI: Claude (global) with a cache write, Claude Haiku 4.5 on a
	// regional location (10 % over global) with a cache read, and Gemini
	// with thoughts.
	vertex := func(path, body string, knobs map[string]string) {
		req, _ := http.NewRequestWithContext(ctx, "POST", gw+"/v1/vertex_ai/v1/projects/acme/locations/"+path, strings.NewReader(body))
		req.Header.Set("x-spendgate-key", key)
		req.Header.Set("Authorization", "Bearer ya29.token")
		req.Header.Set("Content-Type", "application/json")
		for k, v := range knobs {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("vertex %s: %v %v", path, err, resp)
		}
		resp.Body.Close()
	}
	vertex("global/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict", `{"anthropic_version":"vertex-2023-10-16","max_tokens":64,"messages":[]}`,
		map[string]string{"x-fake-prompt-tokens": "21", "x-fake-cache-write-tokens": "1500", "x-fake-completion-tokens": "15"})
	vertex("europe-west1/publishers/anthropic/models/claude-haiku-4-5@20251001:rawPredict", `{"anthropic_version":"vertex-2023-10-16","max_tokens":64,"messages":[]}`,
		map[string]string{"x-fake-prompt-tokens": "100", "x-fake-cached-tokens": "200", "x-fake-completion-tokens": "50"})
	vertex("us-central1/publishers/google/models/gemini-2.5-flash:generateContent", `{"contents":[]}`,
		map[string]string{"x-fake-prompt-tokens": "8", "x-fake-completion-tokens": "11", "x-fake-reasoning-tokens": "26"})

	want := map[string]int64{
		"azure_openai/gpt-4o-data-zone":                        1_570_250, // 19×2.75 + 1024×1.375 + 10×11 per million
		"bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0": 3_306_600, // 12×3.3 + 1600×0.33 + 500×4.125 + 41×16.5
		"vertex_ai/claude-sonnet-4-5@20250929":                 5_913_000, // 21×3 + 1500×3.75 + 15×15
		"vertex_ai/claude-haiku-4-5@20251001":                  407_000,   // regional: 100×1.1 + 200×0.11 + 50×5.5
		"vertex_ai/gemini-2.5-flash":                           94_900,    // 8×0.3 + (11+26)×2.5
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{chAddr}})
	testenv.Must(t, err, "clickhouse")
	defer conn.Close()
	got, served := map[string]int64{}, map[string]string{}
	testenv.WaitFor(t, 60*time.Second, "five priced cloud events in ClickHouse", func() bool {
		rows, err := conn.Query(ctx, "SELECT provider, model_requested, model_served, list_cost_nano_usd, priced FROM "+chDB+".usage_events WHERE tenant_id = ? AND key_id != ''", tenant)
		if err != nil {
			return false
		}
		defer rows.Close()
		got = map[string]int64{}
		for rows.Next() {
			var provider, model, modelServed string
			var cost *int64
			var priced bool
			if rows.Scan(&provider, &model, &modelServed, &cost, &priced) == nil && priced && cost != nil {
				got[provider+"/"+model] = *cost
				served[provider+"/"+model] = modelServed
			}
		}
		return len(got) >= len(want)
	})
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: list cost %d nano-USD, want %d", k, got[k], v)
		}
	}
	// The regional call keeps the model the caller named and records the
	// catalogue id it was priced as; the global one records none.
	if s := served["vertex_ai/claude-haiku-4-5@20251001"]; s != "claude-haiku-4-5-regional" {
		t.Errorf("regional vertex claude served as %q, want claude-haiku-4-5-regional", s)
	}
	if s := served["vertex_ai/claude-sonnet-4-5@20250929"]; s != "" {
		t.Errorf("global vertex claude served as %q, want none", s)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop")
	}
}
