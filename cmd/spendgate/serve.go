package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/spendgate/spendgate/analytics"
	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/apiserver"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/budget/alerts"
	"github.com/spendgate/spendgate/budget/pgstore"
	"github.com/spendgate/spendgate/config"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/gateway"
	"github.com/spendgate/spendgate/ingest"
	"github.com/spendgate/spendgate/internal/fakeprovider"
	"github.com/spendgate/spendgate/policy"
	"github.com/spendgate/spendgate/portal"
	"github.com/spendgate/spendgate/reconcile"
	recordhttp "github.com/spendgate/spendgate/recordapi/httpapi"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
)

// serveFlags is the flag set of "spendgate serve" over its configuration;
// config docs and config check read the same.
func serveFlags() (*flag.FlagSet, *config.Serve, *observeFlags) {
	return serviceFlags("serve", &config.Serve{})
}

func runServe(ctx context.Context, args []string) error {
	fs, opts, of := serveFlags()
	if err := parseOptions("serve", fs, args, opts); err != nil {
		return err
	}
	cpf, gwf, pf := &opts.ControlPlane, &opts.Gateway, &opts.Pipeline
	listen, demo, fakeListen, clientIPHeader, addrFile := &opts.Listen, &opts.Demo, &opts.FakeListen, &opts.ClientIPHeader, &opts.AddrFile
	dataDir := &pf.DataDir
	log := slog.Default()
	cpf.DevKeyDir = *dataDir
	if err := withDevDefaults(cpf, log, opts.Listens()...); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return fmt.Errorf("serve: data dir: %w", err)
	}
	// One registry for the whole process: the API, the gateway and ingest
	// register on it once, and every listener serves all of it.
	o, err := of.start(ctx, "serve", log)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer o.close()

	cp, pool, err := openControlPlane(ctx, cpf, log)
	if err != nil {
		return err
	}
	defer pool.Close()
	cp.SetWebhookEgress(pf.WebhookAllow.Policy)
	cp.SetAlertEmail(opts.Mail.Enabled())
	cp.SSOService.SetEgress(pf.WebhookAllow.Policy)

	// With --pipeline-process the consumer runs in a child process (below):
	// serve consumes nothing itself and the child takes serve's partitions.
	childConsume := pf.Consume
	if opts.Child.On {
		pf.Consume = "none"
	}
	p, err := openPipeline(ctx, pf, &opts.Mail, cpf.ServiceToken, cpf.SecretsKey, pool, log, "serve")
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer p.close()
	var child func(context.Context) error
	if opts.Child.On {
		if child, err = pipelineChild(fs, &opts.Child, childConsume, p.natsURL, log); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		p.intelJobs = nil // the hourly jobs run in the child too, at its priority
	}
	if err := p.observe(o.metrics); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if p.budgets != nil {
		cp.Blocks = p.budgets // the policy answer's blocked flag
	}
	store := &chstore.Analytics{Conn: p.ch, Database: p.chDB}
	spend := analytics.New(cp, store, pgstore.New(pool), analytics.DefaultLimits())
	portalURL := cpf.PublicURL
	if portalURL == "" {
		portalURL = "http://" + *listen
	}
	reports, stopReports, err := startReports(ctx, pool, cp, store, &opts.Mail, pf.WebhookAllow.Policy, portalURL, log)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer stopReports()
	intel, err := openIntelligence(pool, store, p.catalogue, cp, log)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	feed := alerts.NewFeed(p.nc, p.alertPrefix, log)
	if b := reportBudgets(p.budgets); b != nil {
		cp.CountReportedWith(b) // a budget switched to the reported basis counts stored reports at once
	}
	recon, stopRecon, err := startReconcile(ctx, reconcileDeps{cfg: &opts.Reconcile, secretsKey: cpf.SecretsKey, cp: cp, pool: pool,
		metered: store, nc: p.nc, prefix: p.alertPrefix, egress: pf.WebhookAllow.Policy, budgets: reportBudgets(p.budgets)}, log)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer stopRecon()
	cp.Credentials = recon // keys that use stored provider credentials get the connections' data-plane keys
	api := apiserver.New(apiserver.Config{ServiceToken: cpf.ServiceToken, ClientIPHeader: *clientIPHeader, Analytics: spend, Limits: opts.Limits,
		Alerts: feed, Ticks: p.ticks, DeadLetters: p.dlq, Reprice: p.repricer(cp, pool),
		Catalogue: p.catalogue, Revisions: p.revisions, Reconcile: recon, Extensions: o.graphQLExtensions(),
		Anomalies: intel.anomalies, AnomalyFeed: feed, Recommendations: intel.recommendations,
		Billing: newBilling(cp, pool, store, recon), Reports: reports}, cp, log)
	p.mount(api.Mount, cpf.ServiceToken, log)
	rcfg := recordhttp.Config{Keys: cp, Publisher: p.receiver, Catalogue: p.catalogue, Overrides: p.overrides}
	if p.budgets != nil {
		rcfg.Reserver = p.budgets // the gateway's reservation path, in-process
	}
	mountRecordAPI(ctx, api.Mount, pool, rcfg, log)
	api.Mount("GET /", portal.Handler())

	if gwf.SpoolDir == "" {
		gwf.SpoolDir = filepath.Join(*dataDir, "gateway-spool")
	}
	batcher, closeBatcher, err := openBatcher(gwf, receiverSink{p.receiver, log}, log)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer closeBatcher()
	src := gateway.NewCachedPolicySource(controlPlanePolicy{cp}, gwf.CacheTTL, gwf.NegativeTTL)

	// Bind every listener before announcing anything, so a taken port fails
	// the start instead of half the product.
	listeners := map[string]net.Listener{}
	bind := func(name, addr string) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range listeners {
				_ = l.Close()
			}
			return fmt.Errorf("serve: %s on %s: %w", name, addr, err)
		}
		listeners[name] = ln
		return nil
	}
	if err := bind("api", *listen); err != nil {
		return err
	}
	if err := bind("gateway", gwf.Listen); err != nil {
		return err
	}
	runFake := *demo && *fakeListen != ""
	if runFake {
		if err := bind("fake_provider", *fakeListen); err != nil {
			return err
		}
		// Route the demo's providers to the fake one at the address it got,
		// unless --upstream names them.
		for _, p := range fakeRouted {
			if _, set := gwf.Upstreams[p]; !set {
				base := "http://" + listeners["fake_provider"].Addr().String()
				if p == "openai" {
					base += "/v1"
				}
				gwf.Upstreams[p] = base
			}
		}
		// The fake provider answers the admin report endpoints too.
		fakeURL := "http://" + listeners["fake_provider"].Addr().String()
		recon.SetDefaultBaseURL(reconcile.OpenAI, fakeURL)
		recon.SetDefaultBaseURL(reconcile.Anthropic, fakeURL)
	}
	gcfg := gatewayConfig(gwf)
	// In-process, with the tenant overrides the consumer prices with.
	gcfg.Priced = &gateway.CataloguePricedSource{Catalogue: p.catalogue, Overrides: p.overrides}
	if p.budgets != nil {
		gcfg.Reserver = budgetReserver(p.budgets.Reserve, p.budgets.Release) // in-process: no HTTP hop
	}
	if err := observeGateway(gwf, &gcfg, o, batcher, log); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	gw := gateway.New(gcfg, src, batcher, log)
	addrs := map[string]string{}
	for name, ln := range listeners {
		addrs[name] = ln.Addr().String()
	}
	if o.metricsAddr != "" {
		addrs["metrics"] = o.metricsAddr
	}
	if cpf.PublicURL == "" {
		cp.SetPublicURL("http://" + addrs["api"]) // port 0 is known now
	}
	if *demo {
		if err := printDemo(ctx, cp, *dataDir, addrs["api"], addrs["gateway"], addrs["fake_provider"]); err != nil {
			return err
		}
	}
	if *addrFile != "" {
		b, _ := json.Marshal(addrs)
		if err := os.WriteFile(*addrFile, b, 0o600); err != nil {
			return fmt.Errorf("serve: addr file: %w", err)
		}
	}

	var wg sync.WaitGroup
	errc := make(chan error, 3)
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ctx = sctx
	run("api", func(ctx context.Context) error {
		return serveListener(ctx, log, "api", listeners["api"], o.traffic(api.Handler()), nil)
	})
	run("gateway", func(ctx context.Context) error {
		return serveListener(ctx, log, "gateway", listeners["gateway"], withHealth(o.traffic(gw)), func(ctx context.Context) { gw.Shutdown(ctx) })
	})
	for _, w := range p.workers() {
		run("ingest", w)
	}
	if child != nil {
		// Stopped (SIGTERM, then drained) with the others before the
		// embedded NATS closes at return.
		run("pipeline process", child)
	}
	run("access", cp.ListenAccess) // live subscriptions end when another process changes access
	if runFake {
		fp := fakeprovider.New(fakeprovider.Config{KeepRequests: 100})
		fp.TallyServed(demoPrice(p.catalogue)) // its admin report endpoints report what it served
		run("fakeprovider", func(ctx context.Context) error {
			return serveListener(ctx, log, "fakeprovider", listeners["fake_provider"], fp, nil)
		})
	}
	select {
	case err := <-errc:
		cancel()
		wg.Wait()
		return err
	case <-ctx.Done():
	}
	wg.Wait()
	log.Info("spendgate stopped")
	return nil
}

// The demo routes these providers to the fake provider unless --upstream
// names them.
var fakeRouted = []string{"openai", "anthropic", "gemini", "azure_openai", "bedrock", "vertex_ai"}

// controlPlanePolicy answers the gateway in-process, without HTTP.
type controlPlanePolicy struct{ cp *controlplane.Service }

func (c controlPlanePolicy) Lookup(ctx context.Context, key string) (policy.Answer, error) {
	return c.cp.PolicyAnswer(ctx, key)
}

// receiverSink hands gateway events to the ingest receiver in-process.
type receiverSink struct {
	r   *ingest.Receiver
	log *slog.Logger
}

func (s receiverSink) Publish(ctx context.Context, evs []event.Event) (int, error) {
	res, err := s.r.Publish(ctx, evs)
	if err != nil {
		return 0, err
	}
	for _, rj := range res.Rejected {
		s.log.Error("ingest rejected a gateway event (a bug)", "event_id", rj.EventID, "err", rj.Error)
	}
	return len(res.Rejected), nil
}

const (
	demoEmail    = "demo@spendgate.local"
	demoPassword = "spendgate-demo"
)

// printDemo makes sure the demo tenant, owner and key exist and prints how to
// use them. The demo key's secret is kept in the data dir (mode 0600) so it
// can be printed again on later starts; nothing else stores secrets.
func printDemo(ctx context.Context, cp *controlplane.Service, dataDir, apiAddr, gwAddr, fakeAddr string) error {
	u, t, err := cp.CreateOwner(ctx, demoEmail, demoPassword, "Demo", "demo")
	if err != nil && apierr.CodeOf(err) != apierr.CodeConflict {
		return fmt.Errorf("demo tenant: %w", err)
	}
	sess, err := cp.SignIn(ctx, demoEmail, demoPassword)
	if err != nil {
		return fmt.Errorf("demo sign-in (was the demo password changed?): %w", err)
	}
	actx := auth.WithPrincipal(ctx, auth.Principal{UserID: sess.User.ID, Email: sess.User.Email})
	if t.ID == "" {
		ts, err := cp.Tenants(actx)
		if err != nil {
			return fmt.Errorf("demo tenant: %w", err)
		}
		if len(ts) == 0 {
			return errors.New("demo tenant not found")
		}
		t = ts[0]
	}
	_ = u
	keyFile := filepath.Join(dataDir, "demo-key")
	key := ""
	if b, err := os.ReadFile(keyFile); err == nil {
		key = strings.TrimSpace(string(b))
		if a, err := cp.PolicyAnswer(ctx, key); err != nil || !a.Valid {
			key = ""
		}
	}
	if key == "" {
		ck, err := cp.CreateAPIKey(actx, t.ID, "demo key", controlplane.KeyPolicy{DefaultDimensions: map[string]string{"env": "demo"}}, nil, nil)
		if err != nil {
			return fmt.Errorf("demo key: %w", err)
		}
		key = ck.Secret
		if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
			return err
		}
	}
	fake := ""
	if fakeAddr != "" {
		fake = "\n  openai, anthropic, gemini, azure_openai, bedrock and vertex_ai are routed to the fake provider at http://" + fakeAddr +
			" (demo mode);\n  pass --upstream openai=https://api.openai.com/v1 (or --fake-provider-listen '') for real providers.\n" +
			"  Cloud routes (docs/cloud.md): /v1/azure_openai/<resource>/openai/deployments/<deployment>/chat/completions?api-version=2024-10-21,\n" +
			"  /v1/bedrock/<region>/model/<model id>/converse, /v1/vertex_ai/v1/projects/<p>/locations/<l>/publishers/google/models/<m>:generateContent\n"
	}
	fmt.Printf(`
================ spendgate is running ================
  portal        http://%[1]s/              (sign in: %[3]s / %[4]s)
  GraphQL API   http://%[1]s/query
  record API    http://%[1]s/v1/usage, /v1/preflight   (OpenAPI: /v1/openapi.json, docs/record-api.md)
  gateway       http://%[2]s/v1/<provider>/...
  demo tenant   %[5]s (%[6]s)
  demo API key  %[7]s
%[8]s
Try it:
  curl -s http://%[2]s/v1/openai/chat/completions \
    -H 'x-spendgate-key: %[7]s' -H 'Authorization: Bearer sk-your-openai-key' \
    -H 'x-spendgate-dim-team: search' -H 'Content-Type: application/json' \
    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}'

  OpenAI SDK (Go): openai.NewClient(option.WithBaseURL("http://%[2]s/v1/openai"),
      option.WithHeader("x-spendgate-key", "%[7]s"))
  Anthropic SDK:   anthropic.NewClient(option.WithBaseURL("http://%[2]s/v1/anthropic"),
      option.WithHeader("x-spendgate-key", "%[7]s"))

  GraphQL: curl -s http://%[1]s/query -H 'Content-Type: application/json' \
    -d '{"query":"mutation{signIn(email:\"%[3]s\",password:\"%[4]s\"){accessToken}}"}'

  Dashboards need traffic (30 days of history, then 500 live calls, and a demo budget):
    ./bin/spendgate demo traffic --days 30 --api http://%[1]s --gateway http://%[2]s
=======================================================
`, apiAddr, gwAddr, demoEmail, demoPassword, t.Name, t.ID, key, fake)
	return nil
}
