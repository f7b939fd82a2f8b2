package gateway

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/policy"
)

type staticPolicy struct{ a policy.Answer }

func (s staticPolicy) Lookup(context.Context, string) (policy.Answer, error) { return s.a, nil }

type countSink struct{ n atomic.Int64 }

func (c *countSink) Publish(_ context.Context, evs []event.Event) (int, error) {
	c.n.Add(int64(len(evs)))
	return 0, nil
}

const (
	benchJSON = `{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"hello there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}`
	benchSSE  = "data: {\"id\":\"c\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a \"}}],\"usage\":null}\n\n" +
		"data: {\"id\":\"c\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b \"}}],\"usage\":null}\n\n" +
		"data: {\"id\":\"c\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n" +
		"data: {\"id\":\"c\",\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":7,\"total_tokens\":19}}\n\n" +
		"data: [DONE]\n\n"
)

// benchGateway runs the gateway handler in-process (no client socket) against
// a loopback upstream that answers fixed bytes, so the figures are the
// gateway's own per-request work plus one upstream round trip.
func benchGateway(b *testing.B, reqBody, respBody, ctype string) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", ctype)
		_, _ = io.WriteString(w, respBody)
	}))
	defer up.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sink := &countSink{}
	batcher := NewBatcher(sink, 1000, 1<<20, 50*time.Millisecond, log)
	cfg := DefaultConfig()
	cfg.Upstreams = map[string]string{"openai": up.URL + "/v1"}
	gw := New(cfg, staticPolicy{policy.Answer{Valid: true, TenantID: "t", KeyID: "k", CacheTTLSeconds: 60,
		Policy: policy.Policy{DefaultDimensions: map[string]string{"env": "bench"}}}}, batcher, log)
	defer gw.Shutdown(context.Background())
	serveBench(b, gw, reqBody, respBody)
}

func BenchmarkGatewayJSON(b *testing.B) {
	benchGateway(b, `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`, benchJSON, "application/json")
}

func BenchmarkGatewaySSE(b *testing.B) {
	benchGateway(b, `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`, benchSSE, "text/event-stream")
}

// BenchmarkUpstreamOnly is the baseline: the same round trip with a plain
// pooled client, no gateway work.
func BenchmarkUpstreamOnly(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, benchJSON)
	}))
	defer up.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	body := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		resp, err := client.Post(up.URL+"/v1/chat/completions", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// BenchmarkBareReverseProxyJSON is the proxy baseline of BenchmarkGatewayJSON:
// a bare httputil.ReverseProxy (tuned pool, no metering, no policy) in the
// same harness. The difference per op is what the gateway's own work costs.
func BenchmarkBareReverseProxyJSON(b *testing.B) {
	benchBareProxy(b, `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`, benchJSON, "application/json")
}

// BenchmarkBareReverseProxySSE is the proxy baseline of BenchmarkGatewaySSE.
func BenchmarkBareReverseProxySSE(b *testing.B) {
	benchBareProxy(b, `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`, benchSSE, "text/event-stream")
}

func benchBareProxy(b *testing.B, reqBody, respBody, ctype string) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", ctype)
		_, _ = io.WriteString(w, respBody)
	}))
	defer up.Close()
	target, _ := url.Parse(up.URL)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.URL.Path = "/v1" + strings.TrimPrefix(r.In.URL.Path, "/v1/openai")
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxIdleConns: 2048},
	}
	serveBench(b, proxy, reqBody, respBody)
}

// serveBench sends the same chat completion through h b.N times.
func serveBench(b *testing.B, h http.Handler, reqBody, respBody string) {
	body := []byte(reqBody)
	b.ReportAllocs()
	b.SetBytes(int64(len(respBody)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest("POST", "http://gw/v1/openai/chat/completions", bytes.NewReader(body))
		req.Header.Set("x-spendgate-key", "sg_bench")
		req.Header.Set("Authorization", "Bearer sk")
		req.Header.Set("x-spendgate-dim-team", "search")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Body.Len() != len(respBody) {
			b.Fatalf("status %d, %d bytes", rec.Code, rec.Body.Len())
		}
	}
}
