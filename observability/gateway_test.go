package observability_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/gateway"
	"github.com/spendgate/spendgate/internal/fakeprovider"
	"github.com/spendgate/spendgate/internal/metricstest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/observability"
	"github.com/spendgate/spendgate/policy"
	"github.com/spendgate/spendgate/requestid"
)

const (
	tenantID = "11111111-1111-4111-8111-111111111111"
	keyID    = "22222222-2222-4222-8222-222222222222"
)

type staticPolicy map[string]policy.Answer

func (p staticPolicy) Lookup(_ context.Context, key string) (policy.Answer, error) {
	return p[key], nil
}

type sinkFunc func(context.Context, []event.Event) error

func (f sinkFunc) Publish(ctx context.Context, evs []event.Event) (int, error) { return 0, f(ctx, evs) }

// gatewayHarness is a gateway over the fake provider with metrics and a
// JSON access log, served with /metrics on a real listener as the commands
// serve it.
type gatewayHarness struct {
	url       string
	accessLog *testenv.LogBuffer
	batcher   *gateway.Batcher
	fake      *fakeprovider.Server
}

func newGatewayHarness(t *testing.T, sink gateway.EventSink, buffer int, tracer gatewayTracer) *gatewayHarness {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := observability.New(prometheus.NewRegistry())
	testenv.Must(t, err, "metrics")
	fake := fakeprovider.New(fakeprovider.Config{})
	fakeSrv := httptest.NewServer(fake)
	t.Cleanup(fakeSrv.Close)
	// Nothing listens at dead: anthropic calls fail before any answer.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testenv.Must(t, err, "listen")
	dead := "http://" + ln.Addr().String()
	_ = ln.Close()

	b := gateway.NewBatcher(sink, 1, buffer, time.Hour, quiet)
	testenv.Must(t, m.RegisterBatcher(b), "register batcher")
	h := &gatewayHarness{accessLog: &testenv.LogBuffer{}, batcher: b, fake: fake}
	cfg := gateway.DefaultConfig()
	cfg.Upstreams = map[string]string{"openai": fakeSrv.URL + "/v1", "anthropic": dead}
	cfg.Observer = observability.GatewayObserver{Metrics: m, AccessLog: slog.New(slog.NewJSONHandler(h.accessLog, nil))}
	if tracer != nil {
		tracer(&cfg)
	}
	gw := gateway.New(cfg, staticPolicy{
		"sg_good": {Valid: true, TenantID: tenantID, KeyID: keyID, CacheTTLSeconds: 60},
		"sg_mini": {Valid: true, TenantID: tenantID, KeyID: keyID, CacheTTLSeconds: 60, Policy: policy.Policy{AllowedModels: []string{"gpt-4o-mini"}}},
	}, b, quiet)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.Handle("/", gw)
	srv := httptest.NewServer(requestid.Middleware(mux))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	h.url = srv.URL
	return h
}

type gatewayTracer func(*gateway.Config)

func (h *gatewayHarness) openai(key string, opts ...option.RequestOption) *openai.Client {
	c := openai.NewClient(append([]option.RequestOption{option.WithBaseURL(h.url + "/v1/openai"), option.WithAPIKey("sk-secret-provider-key"),
		option.WithHeader("x-spendgate-key", key), option.WithMaxRetries(0)}, opts...)...)
	return &c
}

var chat = openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}

// Real calls through a gateway with metrics: the requests, latencies,
// denials and upstream errors are on /metrics by provider, operation,
// status and reason, and the access log has one line per call with its
// request id and no secret.
func TestGatewayMetricsAndAccessLogAfterRealCalls(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var stored []event.Event
	h := newGatewayHarness(t, sinkFunc(func(_ context.Context, evs []event.Event) error {
		mu.Lock()
		defer mu.Unlock()
		stored = append(stored, evs...)
		return nil
	}), 100, nil)
	ctx := context.Background()
	for range 3 {
		_, err := h.openai("sg_good").Chat.Completions.New(ctx, chat)
		testenv.Must(t, err, "chat completion")
	}
	var apiErr *openai.Error
	_, err := h.openai("sg_mini").Chat.Completions.New(ctx, chat)
	if !errors.As(err, &apiErr) || apiErr.Code != event.DenialModelNotAllowed {
		t.Fatalf("restricted key: %v", err)
	}
	_, err = h.openai("sg_unknown").Chat.Completions.New(ctx, chat)
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Fatalf("unknown key: %v", err)
	}
	req, _ := http.NewRequest("POST", h.url+"/v1/anthropic/v1/messages", strings.NewReader(`{"model":"claude-haiku-4-5","max_tokens":5,"messages":[]}`))
	req.Header.Set("x-spendgate-key", "sg_good")
	req.Header.Set(requestid.Header, "caller-chosen-id-42")
	res, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, "anthropic call")
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 502 || res.Header.Get("X-Request-Id") != "caller-chosen-id-42" || res.Header.Get("X-Spendgate-Request-Id") != "caller-chosen-id-42" {
		t.Fatalf("unreachable provider: %d, request ids %q %q", res.StatusCode, res.Header.Get("X-Request-Id"), res.Header.Get("X-Spendgate-Request-Id"))
	}

	fams := metricstest.Scrape(t, h.url+"/metrics")
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"spendgate_gateway_requests_total", map[string]string{"provider": "openai", "operation": "chat.completions", "status": "200"}, 3},
		{"spendgate_gateway_requests_total", map[string]string{"provider": "openai", "operation": "chat.completions", "status": "403"}, 1},
		{"spendgate_gateway_requests_total", map[string]string{"provider": "openai", "operation": "chat.completions", "status": "401"}, 1},
		{"spendgate_gateway_requests_total", map[string]string{"provider": "anthropic", "operation": "messages", "status": "502"}, 1},
		{"spendgate_gateway_request_duration_seconds", map[string]string{"provider": "openai", "status_class": "2xx"}, 3},
		{"spendgate_gateway_upstream_time_to_first_byte_seconds", map[string]string{"provider": "openai"}, 3},
		{"spendgate_gateway_denials_total", map[string]string{"reason": event.DenialModelNotAllowed}, 1},
		{"spendgate_gateway_denials_total", map[string]string{"reason": event.DenialUnknownKey}, 1},
		{"spendgate_gateway_denials_total", map[string]string{"reason": event.DenialBudgetExceeded}, 0},
		{"spendgate_gateway_upstream_errors_total", map[string]string{"provider": "anthropic"}, 1},
	} {
		if got := metricstest.Value(fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// Three usage events, one denial event (the unknown key has no tenant)
	// and the failed call's usage event reach the sink.
	testenv.WaitFor(t, 5*time.Second, "events published", func() bool {
		return metricstest.Value(metricstest.Scrape(t, h.url+"/metrics"), "spendgate_gateway_events_published_total", nil) == 5
	})

	lines := strings.Split(strings.TrimSpace(h.accessLog.String()), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d access log lines for 6 calls:\n%s", len(lines), h.accessLog)
	}
	ids := map[string]bool{}
	for _, l := range lines {
		var rec map[string]any
		testenv.Must(t, json.Unmarshal([]byte(l), &rec), "access log line")
		for _, f := range []string{"request_id", "method", "path", "provider", "operation", "status", "duration", "request_bytes", "response_bytes", "outcome"} {
			if _, ok := rec[f]; !ok {
				t.Fatalf("access log line without %s: %s", f, l)
			}
		}
		ids[rec["request_id"].(string)] = true
		for _, secret := range []string{"sk-secret-provider-key", "sg_good", "sg_mini", "sg_unknown", `"hi"`} {
			if strings.Contains(l, secret) {
				t.Fatalf("access log line holds %q: %s", secret, l)
			}
		}
	}
	if len(ids) != 6 || !ids["caller-chosen-id-42"] {
		t.Fatalf("request ids in the access log: %v", ids)
	}
	if !strings.Contains(h.accessLog.String(), `"tenant_id":"`+tenantID+`"`) || !strings.Contains(h.accessLog.String(), `"denial_reason":"model_not_allowed"`) {
		t.Fatalf("access log lacks the tenant or the denial reason:\n%s", h.accessLog)
	}
	// The generated request id went to the provider with the call.
	last, _ := h.fake.Last()
	if !requestid.Valid(last.Header.Get(requestid.Header)) {
		t.Fatalf("provider got request id %q", last.Header.Get(requestid.Header))
	}
}

// Issue #12 item 7: with ingest down and a small buffer, the events the
// gateway loses are counted on /metrics, not only in a log line.
func TestGatewayDroppedEventsOnMetrics(t *testing.T) {
	t.Parallel()
	down := sinkFunc(func(context.Context, []event.Event) error { return errors.New("connection refused") })
	h := newGatewayHarness(t, down, 2, nil)
	for range 10 {
		_, err := h.openai("sg_good").Chat.Completions.New(context.Background(), chat)
		testenv.Must(t, err, "chat completion")
	}
	fams := metricstest.Scrape(t, h.url+"/metrics")
	dropped, buffered := metricstest.Value(fams, "spendgate_gateway_events_dropped_total", nil), metricstest.Value(fams, "spendgate_gateway_events_buffered", nil)
	if dropped < 7 || dropped+buffered < 9 || metricstest.Value(fams, "spendgate_gateway_events_published_total", nil) != 0 {
		t.Fatalf("after 10 answered calls with ingest down and a buffer of 2: dropped %v, buffered %v, published %v",
			dropped, buffered, metricstest.Value(fams, "spendgate_gateway_events_published_total", nil))
	}
	if st := h.batcher.Counters(); float64(st.Dropped) < dropped {
		t.Fatalf("metric %v ahead of the batcher's count %d", dropped, st.Dropped)
	}
}
