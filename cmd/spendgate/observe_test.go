package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/spendgate/spendgate/internal/fakeprovider"
	"github.com/spendgate/spendgate/internal/metricstest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/policy"
)

// Issue #12 item 7 on the real command: `spendgate gateway` with ingest
// unreachable, no spool and a buffer of 2 answers every call, and the
// events it cannot keep are counted in spendgate_gateway_events_dropped_total
// on its listener's /metrics and on the --metrics-addr listener.
func TestGatewayCommandReportsDroppedEventsOnMetrics(t *testing.T) {
	t.Parallel()
	fake := httptest.NewServer(fakeprovider.New(fakeprovider.Config{}))
	defer fake.Close()
	answer := policy.Answer{Valid: true, TenantID: "11111111-1111-4111-8111-111111111111", KeyID: "22222222-2222-4222-8222-222222222222", CacheTTLSeconds: 60}
	policySrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _ = json.NewEncoder(w).Encode(answer) }))
	defer policySrv.Close()
	ingestDown := freeAddr(t) // nothing listens there
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runGateway(ctx, []string{"--listen", addr, "--metrics-addr", metricsAddr, "--service-token", "svc",
			"--policy-url", policySrv.URL, "--ingest-url", "http://" + ingestDown + "/internal/v1/events",
			"--upstream", "openai=" + fake.URL + "/v1", "--event-batch", "1", "--event-buffer", "2", "--event-spool-max-bytes", "0"})
	}()
	gw := "http://" + addr
	testenv.WaitFor(t, 30*time.Second, "the gateway to listen", func() bool {
		select {
		case err := <-done:
			t.Fatalf("gateway stopped: %v", err)
		default:
		}
		res, err := http.Get(gw + "/metrics")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})

	client := openai.NewClient(option.WithBaseURL(gw+"/v1/openai"), option.WithAPIKey("sk"),
		option.WithHeader("x-spendgate-key", "sg_x"), option.WithMaxRetries(0))
	const calls = 10
	for range calls {
		var res *http.Response
		_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}, option.WithResponseInto(&res))
		testenv.Must(t, err, "chat completion")
		if res.Header.Get("X-Spendgate-Request-Id") == "" {
			t.Fatal("no X-Spendgate-Request-Id on a gateway answer")
		}
	}
	for _, url := range []string{gw + "/metrics", "http://" + metricsAddr + "/metrics"} {
		fams := metricstest.Scrape(t, url)
		if n := metricstest.Value(fams, "spendgate_gateway_requests_total", map[string]string{"provider": "openai", "status": "200"}); n != calls {
			t.Fatalf("%s: %v calls counted, want %d", url, n, calls)
		}
		// Value is NaN for a missing series: the comparisons are written
		// so that NaN fails them.
		dropped := metricstest.Value(fams, "spendgate_gateway_events_dropped_total", nil)
		buffered := metricstest.Value(fams, "spendgate_gateway_events_buffered", nil)
		if !(dropped >= calls-3) || !(dropped+buffered >= calls-1) || metricstest.Value(fams, "spendgate_gateway_events_published_total", nil) != 0 {
			t.Fatalf("%s: %v events dropped, %v buffered after %d calls with ingest down and a buffer of 2", url, dropped, buffered, calls)
		}
	}
	cancel()
	select {
	case err := <-done:
		testenv.Must(t, err, "gateway exit")
	case <-time.After(60 * time.Second):
		t.Fatal("the gateway did not stop")
	}
}

// Bad observability flags stop a command before it starts anything.
func TestObservabilityFlagsValidated(t *testing.T) {
	t.Parallel()
	for name, args := range map[string][]string{
		"--log-format xml":         {"--log-format", "xml"},
		"--log-level loud":         {"--log-level", "loud"},
		"--otlp-endpoint ftp://":   {"--service-token", "svc", "--otlp-endpoint", "ftp://collector:4318"},
		"--trace-sample-ratio 1.5": {"--service-token", "svc", "--otlp-endpoint", "http://127.0.0.1:1", "--trace-sample-ratio", "1.5"},
		"--metrics-addr taken":     {"--service-token", "svc", "--metrics-addr", "not an address"},
	} {
		err := runGateway(context.Background(), append([]string{"--listen", "127.0.0.1:0"}, args...))
		flag := strings.Fields(name)[0]
		if err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// `spendgate gateway --otlp-endpoint` exports the calls' spans over
// OTLP/HTTP to the collector (flushed at exit), and the provider gets a
// traceparent.
func TestGatewayCommandExportsTraces(t *testing.T) {
	t.Parallel()
	var posts atomic.Int64
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" && r.Header.Get("Content-Type") == "application/x-protobuf" && len(body) > 0 {
			posts.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	fake := fakeprovider.New(fakeprovider.Config{})
	fakeSrv := httptest.NewServer(fake)
	defer fakeSrv.Close()
	answer := policy.Answer{Valid: true, TenantID: "11111111-1111-4111-8111-111111111111", KeyID: "22222222-2222-4222-8222-222222222222", CacheTTLSeconds: 60}
	policySrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _ = json.NewEncoder(w).Encode(answer) }))
	defer policySrv.Close()
	ingestSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"accepted":1}`)) }))
	defer ingestSrv.Close()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runGateway(ctx, []string{"--listen", addr, "--service-token", "svc", "--policy-url", policySrv.URL,
			"--ingest-url", ingestSrv.URL, "--upstream", "openai=" + fakeSrv.URL + "/v1", "--event-spool-max-bytes", "0",
			"--otlp-endpoint", collector.URL})
	}()
	gw := "http://" + addr
	testenv.WaitFor(t, 30*time.Second, "the gateway to listen", func() bool {
		res, err := http.Get(gw + "/metrics")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	client := openai.NewClient(option.WithBaseURL(gw+"/v1/openai"), option.WithAPIKey("sk"),
		option.WithHeader("x-spendgate-key", "sg_x"), option.WithMaxRetries(0))
	_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	testenv.Must(t, err, "chat completion")
	last, _ := fake.Last()
	if tp := last.Header.Get("Traceparent"); len(tp) != 55 || !strings.HasPrefix(tp, "00-") {
		t.Fatalf("provider got traceparent %q", tp)
	}
	cancel()
	select {
	case err := <-done:
		testenv.Must(t, err, "gateway exit")
	case <-time.After(60 * time.Second):
		t.Fatal("the gateway did not stop")
	}
	if posts.Load() == 0 {
		t.Fatal("no spans reached the OTLP collector")
	}
}
