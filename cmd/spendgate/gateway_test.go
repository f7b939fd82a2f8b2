package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/budget/httpapi"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/gateway"
	"github.com/spendgate/spendgate/ingest"
	"github.com/spendgate/spendgate/internal/fakeprovider"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/policy"
	"github.com/spendgate/spendgate/usage"
)

// roomEngine stands in for the budget engine behind the real reservation
// endpoint: it grants a fixed number of calls, then refuses; down makes it
// fail like an unreachable store.
type roomEngine struct {
	mu   sync.Mutex
	room int
	down bool
	got  []budget.ReserveRequest
}

func (e *roomEngine) Reserve(_ context.Context, r budget.ReserveRequest) (budget.Reservation, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, r)
	switch {
	case e.down:
		return budget.Reservation{}, errors.New("connection refused")
	case e.room == 0:
		return budget.Reservation{}, &budget.DeniedError{BudgetID: "b1", BudgetName: "search monthly", AmountNanoUSD: 1}
	}
	e.room--
	return budget.Reservation{ID: "res-42", AmountNanoUSD: 1000, ExpiresAt: time.Now().Add(time.Minute), BudgetIDs: []string{"b1"}}, nil
}

func (e *roomEngine) Release(context.Context, string) error { return nil }

type sinkFunc func(context.Context, []event.Event) error

func (f sinkFunc) Publish(ctx context.Context, evs []event.Event) (int, error) { return 0, f(ctx, evs) }

// TestGatewayReservesThroughTheBudgetEndpoint wires the gateway to the real
// reservation endpoint and client (budget/httpapi) through budgetReserver and
// checks what the OpenAI SDK sees for each budget outcome.
func TestGatewayReservesThroughTheBudgetEndpoint(t *testing.T) {
	t.Parallel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine := &roomEngine{room: 1}
	budgetSrv := httptest.NewServer(httpapi.Handler(engine, "svc", quiet))
	defer budgetSrv.Close()
	fake := httptest.NewServer(fakeprovider.New(fakeprovider.Config{}))
	defer fake.Close()

	var mu sync.Mutex
	var events []event.Event
	batcher := gateway.NewBatcher(sinkFunc(func(_ context.Context, evs []event.Event) error {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, evs...)
		return nil
	}), 10, 100, 10*time.Millisecond, quiet)
	answer := policy.Answer{Valid: true, TenantID: "11111111-1111-4111-8111-111111111111", KeyID: "22222222-2222-4222-8222-222222222222",
		CacheTTLSeconds: 60, Policy: policy.Policy{HardBudget: true}}
	policySrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(answer)
	}))
	defer policySrv.Close()

	cfg := gateway.DefaultConfig()
	cfg.Upstreams = map[string]string{"openai": fake.URL + "/v1"}
	budgetClient := &httpapi.Client{BaseURL: budgetSrv.URL, ServiceToken: "svc"}
	cfg.Reserver = budgetReserver(budgetClient.Reserve, budgetClient.Release)
	gw := gateway.New(cfg, &gateway.HTTPPolicySource{URL: policySrv.URL, ServiceToken: "svc"}, batcher, quiet)
	gwSrv := httptest.NewServer(gw)
	defer gwSrv.Close()
	defer gw.Shutdown(context.Background())

	client := openai.NewClient(option.WithBaseURL(gwSrv.URL+"/v1/openai"), option.WithAPIKey("sk"),
		option.WithHeader("x-spendgate-key", "sg_hard_x"), option.WithMaxRetries(0))
	params := openai.ChatCompletionNewParams{Model: "gpt-4o", MaxTokens: openai.Int(64),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
	ctx := context.Background()

	if _, err := client.Chat.Completions.New(ctx, params); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, "usage event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(events) == 1
	})
	mu.Lock()
	if events[0].ReservationID != "res-42" {
		t.Fatalf("usage event %+v", events[0])
	}
	mu.Unlock()
	engine.mu.Lock()
	g := engine.got[0]
	engine.mu.Unlock()
	if g.TenantID != answer.TenantID || g.KeyID != answer.KeyID || g.Model != "gpt-4o" || g.MaxTokens != 64 || g.Provider != "openai" {
		t.Fatalf("reservation request %+v", g)
	}

	var apiErr *openai.Error
	_, err := client.Chat.Completions.New(ctx, params)
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Code != event.DenialBudgetExceeded || !strings.Contains(apiErr.Message, "search monthly") {
		t.Fatalf("full budget: %v", err)
	}
	engine.mu.Lock()
	engine.down = true
	engine.mu.Unlock()
	_, err = client.Chat.Completions.New(ctx, params)
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 || apiErr.Code != event.DenialBudgetUnavailable {
		t.Fatalf("budget store down: %v", err)
	}
	// The reservation endpoint itself unreachable: also refused.
	cfg.Reserver = budgetReserver((&httpapi.Client{BaseURL: "http://127.0.0.1:1", ServiceToken: "svc"}).Reserve, nil)
	gw2 := gateway.New(cfg, &gateway.HTTPPolicySource{URL: policySrv.URL, ServiceToken: "svc"}, batcher, quiet)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "http://gw/v1/openai/chat/completions", strings.NewReader(`{"model":"gpt-4o","messages":[]}`))
	req.Header.Set("x-spendgate-key", "sg_hard_x")
	gw2.ServeHTTP(rec, req)
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), event.DenialBudgetUnavailable) {
		t.Fatalf("budget endpoint unreachable: %d %s", rec.Code, rec.Body)
	}
}

// TestGatewayPublishesToJetStream runs the standalone gateway's event path
// end to end: the official SDKs call through the gateway to the fake
// provider, the gateway posts its events in batches (HTTPSink) to the real
// ingest receiver, which publishes them to JetStream. Each usage event read
// back from the stream equals the usage the provider reported to the SDK.
func TestGatewayPublishesToJetStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	nc, prefix := testenv.NATS(t)
	js, err := jetstream.New(nc)
	testenv.Must(t, err, "jetstream")
	icfg := ingest.DefaultConfig()
	icfg.Prefix, icfg.ServiceToken = prefix, "svc"
	testenv.Must(t, ingest.EnsureStreams(ctx, js, icfg), "streams")
	var posts atomic.Int64
	receiver := ingest.NewReceiver(icfg, js, quiet)
	ingestSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		receiver.ServeHTTP(w, r)
	}))
	defer ingestSrv.Close()

	fake := httptest.NewServer(fakeprovider.New(fakeprovider.Config{}))
	defer fake.Close()
	const tenant, key = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	answers := map[string]policy.Answer{
		"sg_good_x":     {Valid: true, TenantID: tenant, KeyID: key, CacheTTLSeconds: 60},
		"sg_restrict_x": {Valid: true, TenantID: tenant, KeyID: key, CacheTTLSeconds: 60, Policy: policy.Policy{AllowedModels: []string{"gpt-4o-mini"}}},
	}
	policySrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(answers[r.Header.Get("X-Spendgate-Key")])
	}))
	defer policySrv.Close()

	// Batches of 4 and no interval flush: five events make two posts (the
	// fifth goes with the first batch's flush or at shutdown).
	batcher := gateway.NewBatcher(&gateway.HTTPSink{URL: ingestSrv.URL, ServiceToken: "svc"}, 4, 100, time.Hour, quiet)
	cfg := gateway.DefaultConfig()
	cfg.Upstreams = map[string]string{"openai": fake.URL + "/v1", "anthropic": fake.URL}
	gw := gateway.New(cfg, gateway.NewCachedPolicySource(&gateway.HTTPPolicySource{URL: policySrv.URL, ServiceToken: "svc"}, time.Minute, time.Second), batcher, quiet)
	gwSrv := httptest.NewServer(gw)
	defer gwSrv.Close()

	oc := func(k string, opts ...option.RequestOption) openai.Client {
		return openai.NewClient(append([]option.RequestOption{option.WithBaseURL(gwSrv.URL + "/v1/openai"), option.WithAPIKey("sk"),
			option.WithHeader("x-spendgate-key", k), option.WithMaxRetries(0)}, opts...)...)
	}
	want := map[string]usage.Tokens{} // by operation (+ "/stream")

	c := oc("sg_good_x", option.WithHeader("x-fake-prompt-tokens", "100"), option.WithHeader("x-fake-cached-tokens", "40"),
		option.WithHeader("x-fake-completion-tokens", "20"), option.WithHeader("x-fake-reasoning-tokens", "5"))
	chat, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	testenv.Must(t, err, "chat completion")
	want["openai/chat.completions"], err = usage.ParseOpenAI([]byte(chat.Usage.RawJSON()))
	testenv.Must(t, err, "chat usage")

	c = oc("sg_good_x", option.WithHeader("x-fake-prompt-tokens", "30"), option.WithHeader("x-fake-completion-tokens", "9"))
	stream := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	var streamUsage string
	for stream.Next() {
		if c := stream.Current(); c.JSON.Usage.Valid() && c.Usage.TotalTokens > 0 {
			streamUsage = c.Usage.RawJSON()
		}
	}
	testenv.Must(t, stream.Err(), "chat stream")
	want["openai/chat.completions/stream"], err = usage.ParseOpenAI([]byte(streamUsage))
	testenv.Must(t, err, "stream usage")

	c = oc("sg_good_x", option.WithHeader("x-fake-prompt-tokens", "8"))
	emb, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "text-embedding-3-small", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")}})
	testenv.Must(t, err, "embeddings")
	want["openai/embeddings"], err = usage.ParseOpenAI([]byte(emb.Usage.RawJSON()))
	testenv.Must(t, err, "embedding usage")

	ac := anthropic.NewClient(aoption.WithBaseURL(gwSrv.URL+"/v1/anthropic"), aoption.WithAPIKey("sk-ant"), aoption.WithMaxRetries(0),
		aoption.WithHeader("x-spendgate-key", "sg_good_x"), aoption.WithHeader("x-fake-prompt-tokens", "25"),
		aoption.WithHeader("x-fake-cached-tokens", "1000"), aoption.WithHeader("x-fake-cache-write-tokens", "200"), aoption.WithHeader("x-fake-completion-tokens", "42"))
	astream := ac.Messages.NewStreaming(ctx, anthropic.MessageNewParams{Model: "claude-haiku-4-5", MaxTokens: 256,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
	var msg anthropic.Message
	for astream.Next() {
		testenv.Must(t, msg.Accumulate(astream.Current()), "accumulate")
	}
	testenv.Must(t, astream.Err(), "anthropic stream")
	u := msg.Usage
	want["anthropic/messages/stream"] = usage.Tokens{Input: u.InputTokens, CachedInput: u.CacheReadInputTokens,
		CacheWrite5m: u.CacheCreation.Ephemeral5mInputTokens, CacheWrite1h: u.CacheCreation.Ephemeral1hInputTokens, Output: u.OutputTokens}

	c = oc("sg_restrict_x")
	_, err = c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.Code != event.DenialModelNotAllowed {
		t.Fatalf("denial: %v", err)
	}

	gw.Shutdown(ctx) // drains the batcher
	if n := posts.Load(); n != 2 {
		t.Fatalf("%d posts to ingest for 5 events in batches of 4", n)
	}

	cons, err := js.OrderedConsumer(ctx, strings.ToUpper(prefix)+"_EVENTS", jetstream.OrderedConsumerConfig{})
	testenv.Must(t, err, "consumer")
	batch, err := cons.FetchNoWait(100)
	testenv.Must(t, err, "fetch")
	got := map[string]event.Event{}
	var events []event.Event
	var subjects []string
	for m := range batch.Messages() {
		// A message is one event, or a batch of one subject's events in
		// the shape of the ingest body (docs/ingest.md, Message format).
		var b struct{ Events []event.Event }
		if bytes.HasPrefix(m.Data(), []byte(`{"events":`)) {
			testenv.Must(t, json.Unmarshal(m.Data(), &b), "batch message JSON")
		} else {
			b.Events = make([]event.Event, 1)
			testenv.Must(t, json.Unmarshal(m.Data(), &b.Events[0]), "event JSON")
		}
		for _, e := range b.Events {
			events = append(events, e)
			subjects = append(subjects, m.Subject())
		}
	}
	for i, e := range events {
		if subjects[i] != strings.ToLower(prefix)+".events."+tenant || e.TenantID != tenant || e.Source != event.SourceGateway {
			t.Fatalf("event on %s: %+v", subjects[i], e)
		}
		k := e.Provider + "/" + e.Operation
		if e.Streaming {
			k += "/stream"
		}
		if e.Type == event.TypeDenial {
			k = "denial/" + e.DenialReason
		}
		if _, dup := got[k]; dup {
			t.Fatalf("two events for %s", k)
		}
		got[k] = e
	}
	if len(got) != 5 || got["denial/"+event.DenialModelNotAllowed].ModelRequested != "gpt-4o" {
		t.Fatalf("events in the stream: %v", got)
	}
	for k, w := range want {
		e := got[k]
		if e.Type != event.TypeUsage || e.Usage != w || !e.Complete || e.StatusCode != 200 {
			t.Fatalf("%s: event usage %+v, provider reported %+v (event %+v)", k, e.Usage, w, e)
		}
	}
}

// TestServeAndGatewayCommandsPriceWithTenantOverrides runs `spendgate serve`
// and, against its API, standalone `spendgate gateway` processes (in-process
// commands): a key that requires priced models passes a catalogue model and
// a model its tenant priced with an override, and is refused an unknown one
// with 403 unpriced_model, through serve's gateway (the pipeline's override
// cache) and the standalone one (the priced endpoint beside --policy-url).
// A standalone gateway whose --priced-url is unreachable refuses with 503
// auth_unavailable, or lets the call through with --fail-open.
func TestServeAndGatewayCommandsPriceWithTenantOverrides(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	chAddr, chDB := testenv.ClickHouse(t)
	nc, prefix := testenv.NATS(t)
	dir := t.TempDir()
	addrFile := dir + "/addrs.json"
	stopped := map[string]chan error{}
	start := func(name string, run func(context.Context, []string) error, args ...string) {
		done := make(chan error, 1)
		stopped[name] = done
		go func() { done <- run(ctx, args) }()
	}
	start("serve", runServe, "--postgres-dsn", testenv.Postgres(t), "--service-token", "svc", "--data-dir", dir+"/data",
		"--nats-url", nc.ConnectedUrl(), "--stream-prefix", prefix, "--clickhouse-addr", chAddr, "--clickhouse-database", chDB,
		"--listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0", "--fake-provider-listen", "127.0.0.1:0", "--addr-file", addrFile)
	var addrs map[string]string
	testenv.WaitFor(t, 90*time.Second, "spendgate serve listening", func() bool {
		select {
		case err := <-stopped["serve"]:
			t.Fatalf("serve stopped: %v", err)
		default:
		}
		b, err := os.ReadFile(addrFile)
		return err == nil && json.Unmarshal(b, &addrs) == nil
	})
	api := "http://" + addrs["api"]

	// The demo owner's tenant: a key that requires priced models, and an
	// override pricing openai's acme-* models.
	var out struct {
		SignIn       struct{ AccessToken string }
		Tenants      []struct{ ID string }
		CreateAPIKey struct{ Secret string }
	}
	testenv.MustGraphQL(t, api+"/query", "", `mutation($e:String!,$p:String!){signIn(email:$e,password:$p){accessToken}}`,
		map[string]any{"e": demoEmail, "p": demoPassword}, &out)
	token := out.SignIn.AccessToken
	testenv.MustGraphQL(t, api+"/query", token, `{tenants{id}}`, nil, &out)
	vars := map[string]any{"t": out.Tenants[0].ID, "from": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}
	testenv.MustGraphQL(t, api+"/query", token, `mutation($t:ID!){createAPIKey(tenantId:$t,name:"priced only",policy:{requirePricedModels:true}){secret}}`, vars, &out)
	key := out.CreateAPIKey.Secret
	testenv.MustGraphQL(t, api+"/query", token, `mutation($t:ID!,$from:Time!){createPricingOverride(tenantId:$t,input:{provider:"openai",model:"acme-*",
		effectiveFrom:$from,rates:[{class:"input",perMillion:"1"},{class:"output",perMillion:"4"}]}){id}}`, vars, nil)

	call := func(gatewayURL, model string) error {
		c := openai.NewClient(option.WithBaseURL(gatewayURL+"/v1/openai"), option.WithAPIKey("sk"),
			option.WithHeader("x-spendgate-key", key), option.WithMaxRetries(0))
		_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: openai.ChatModel(model),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
		return err
	}
	wantDenial := func(what string, err error, status int, code, msg string) {
		t.Helper()
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != status || apiErr.Code != code || !strings.Contains(apiErr.Message, msg) {
			t.Fatalf("%s: want %d %s %q, got %v", what, status, code, msg, err)
		}
	}
	checkPrices := func(name, gatewayURL string) {
		t.Helper()
		for _, model := range []string{"gpt-4o-mini", "acme-llm"} {
			if err := call(gatewayURL, model); err != nil {
				t.Fatalf("%s: %s: %v", name, model, err)
			}
		}
		wantDenial(name+": unknown model", call(gatewayURL, "other-llm"), 403, event.DenialUnpricedModel, "model other-llm has no known price")
	}
	checkPrices("serve", "http://"+addrs["gateway"])

	gateway := func(name string, extra ...string) string {
		addr := freeAddr(t)
		start(name, runGateway, append([]string{"--listen", addr, "--service-token", "svc", "--event-spool-dir", t.TempDir(),
			"--policy-url", api + "/internal/v1/policy", "--ingest-url", api + "/internal/v1/events",
			"--upstream", "openai=http://" + addrs["fake_provider"] + "/v1"}, extra...)...)
		testenv.WaitFor(t, 30*time.Second, name+" listening", func() bool {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		return "http://" + addr
	}
	checkPrices("gateway", gateway("gateway"))
	closed := gateway("gateway closed", "--priced-url", "http://127.0.0.1:1/internal/v1/priced")
	wantDenial("priced endpoint unreachable", call(closed, "gpt-4o-mini"), 503, event.DenialAuthUnavailable,
		"could not say whether model gpt-4o-mini has a price")
	if err := call(gateway("gateway open", "--priced-url", "http://127.0.0.1:1/internal/v1/priced", "--fail-open"), "other-llm"); err != nil {
		t.Fatalf("priced endpoint unreachable, --fail-open: %v", err)
	}

	cancel()
	for name, done := range stopped {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s returned %v", name, err)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("%s did not stop", name)
		}
	}
}
