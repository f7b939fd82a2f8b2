package dataplane

import (
	"testing"
	"time"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/policy"
)

func cloudCall(t *testing.T, authority, path, body string, headers map[string]string) (*Call, Step) {
	t.Helper()
	cfg := &Config{MaxRequestBodyBytes: 1 << 20, CheckPriced: true, Source: event.SourceGateway, EventID: func() string { return "e1" }}
	c := NewCall(cfg, time.Unix(1_800_000_000, 0))
	c.Header("x-spendgate-key", "sg_k")
	for k, v := range headers {
		c.Header(k, v)
	}
	s := c.Begin(authority, path)
	if s.Kind == NeedBody {
		s = c.Body([]byte(body))
	}
	return c, s
}

func tenantAnswer(p policy.Policy) policy.Answer {
	return policy.Answer{Valid: true, TenantID: "t1", KeyID: "k1", Policy: p}
}

// TestCallResolvesAzureDeployments: the deployment (path, or the v1
// surface's body model) becomes the tenant's mapped model before any rule;
// unmapped, the deployment name stands, and a key requiring priced models
// asks about that name.
func TestCallResolvesAzureDeployments(t *testing.T) {
	pol := policy.Policy{AzureDeployments: map[string]string{"prod-4o": "gpt-4o-data-zone"}, AllowedModels: []string{"gpt-4o*", "dev-*"}}
	for _, tt := range []struct{ path, body, want string }{
		{"/v1/azure_openai/contoso/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21", `{"messages":[]}`, "gpt-4o-data-zone"},
		{"/v1/azure_openai/contoso/openai/v1/chat/completions", `{"model":"prod-4o"}`, "gpt-4o-data-zone"},
		{"/v1/azure_openai/contoso/openai/deployments/dev-x/embeddings", `{"input":"x"}`, "dev-x"},
	} {
		c, s := cloudCall(t, "gw", tt.path, tt.body, nil)
		if s.Kind != NeedPolicy {
			t.Fatalf("%s: %v", tt.path, s.Kind)
		}
		if s = c.Policy(tenantAnswer(pol), nil); s.Kind != Forward || c.Request.Model != tt.want {
			t.Errorf("%s: %v model %q, want %q", tt.path, s.Kind, c.Request.Model, tt.want)
		}
	}
	// The allow-list sees the model, not the deployment name.
	c, _ := cloudCall(t, "gw", "/v1/azure_openai/c/openai/deployments/prod-4o/chat/completions", `{}`, nil)
	strict := pol
	strict.AllowedModels = []string{"prod-*"}
	if s := c.Policy(tenantAnswer(strict), nil); s.Kind != Deny || s.Denial.Reason != event.DenialModelNotAllowed {
		t.Errorf("allow-list on the deployment name: %+v", s)
	}
	// Priced models: the question names the model.
	c, _ = cloudCall(t, "gw", "/v1/azure_openai/c/openai/deployments/dev-x/chat/completions", `{}`, nil)
	priced := pol
	priced.RequirePricedModels = true
	if s := c.Policy(tenantAnswer(priced), nil); s.Kind != NeedPriced {
		t.Fatalf("priced: %v", s.Kind)
	}
	if _, provider, model := c.PricedQuestion(); provider != "azure_openai" || model != "dev-x" {
		t.Errorf("priced question %s %s", provider, model)
	}
	if s := c.Priced(false, nil); s.Kind != Deny || s.Denial.Reason != event.DenialUnpricedModel || s.Denial.Event.ModelRequested != "dev-x" {
		t.Errorf("unpriced deployment: %+v", s)
	}
}

// TestCallSigV4: a signature over the spendgate key is refused before the
// body is read, in the AWS shape; a signed Accept-Encoding is kept, an
// unsigned one dropped.
func TestCallSigV4(t *testing.T) {
	const host = "bedrock-runtime.us-east-1.amazonaws.com"
	signed := func(h string) map[string]string {
		return map[string]string{"authorization": "AWS4-HMAC-SHA256 Credential=AKID/20261204/us-east-1/bedrock/aws4_request, SignedHeaders=" + h + ", Signature=ab"}
	}
	_, s := cloudCall(t, host, "/model/amazon.nova-lite-v1:0/converse", `{}`, signed("content-type;host;x-amz-date;x-spendgate-key"))
	if s.Kind != Deny || s.Denial.Status != 400 || s.Denial.Reason != event.DenialSignedKeyHeader || string(s.Denial.Body[:11]) != `{"message":` {
		t.Fatalf("signed key: %+v %s", s, s.Denial.Body)
	}
	c, s := cloudCall(t, host, "/model/amazon.nova-lite-v1:0/converse", `{}`, signed("accept-encoding;content-type;host;x-amz-date"))
	if s.Kind != NeedPolicy || c.StripAcceptEncoding() {
		t.Fatalf("signed accept-encoding: %v strip=%v", s.Kind, c.StripAcceptEncoding())
	}
	c, _ = cloudCall(t, host, "/model/amazon.nova-lite-v1:0/converse", `{}`, signed("content-type;host;x-amz-date"))
	if !c.StripAcceptEncoding() || !c.Route.HostRouted || c.Request.Model != "amazon.nova-lite-v1:0" {
		t.Fatalf("unsigned accept-encoding: strip=%v route %+v", c.StripAcceptEncoding(), c.Route)
	}
}
