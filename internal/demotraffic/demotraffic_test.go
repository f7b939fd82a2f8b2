package demotraffic

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/spendgate/spendgate/internal/fakeprovider"
)

// The generator against the fake provider directly (its routes match the
// gateway's paths by suffix): every request is sent once, the mix covers
// every kind, and each request carries the key and the attribution headers.
func TestRunSendsTheMix(t *testing.T) {
	fake := fakeprovider.New(fakeprovider.Config{KeepRequests: 1000})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	res, err := Run(context.Background(), Config{GatewayURL: srv.URL, Key: "sg_demo_x", Requests: 400, Concurrency: 4, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 400 || res.Failed != 0 || res.Denied != 0 || res.OK+res.ProviderErrors != 400 {
		t.Fatalf("result %+v", res)
	}
	if res.ProviderErrors != res.ByCall["provider error"] || res.ProviderErrors == 0 {
		t.Fatalf("provider errors %d, provider-error calls %d", res.ProviderErrors, res.ByCall["provider error"])
	}
	for _, c := range mix {
		if res.ByCall[c.name] == 0 {
			t.Errorf("no %q call in 400", c.name)
		}
	}
	reqs := fake.Requests()
	if len(reqs) != 400 {
		t.Fatalf("provider saw %d requests", len(reqs))
	}
	streams := 0
	for _, r := range reqs {
		if r.Header.Get("X-Spendgate-Key") != "sg_demo_x" || r.Header.Get("X-Spendgate-Dim-Team") == "" || r.Header.Get("X-Spendgate-Dim-App") == "" {
			t.Fatalf("request without key or dimensions: %v", r.Header)
		}
		if strings.Contains(string(r.Body), `"stream":true`) {
			streams++
		}
	}
	if streams == 0 {
		t.Fatal("no streaming request")
	}
	for _, r := range reqs {
		if strings.HasPrefix(r.Path, "/v1/bedrock/") && strings.HasSuffix(r.Path, "/converse-stream") {
			return // the Bedrock stream went out (the fake answered it in the event-stream framing: OK above)
		}
	}
	t.Fatal("no Bedrock stream")
}

func TestRunRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{{Key: "k", Requests: 1}, {GatewayURL: "http://x", Requests: 1}, {GatewayURL: "http://x", Key: "k"}} {
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("Run(%+v) accepted", cfg)
		}
	}
}
