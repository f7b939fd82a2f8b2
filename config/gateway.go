package config

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spendgate/spendgate/dataplane/contract"
)

// PolicyPath is the control plane's policy endpoint (apiserver).
const PolicyPath = contract.PolicyPath

// SpoolSegmentBytes is the size of one event spool segment: delivered
// events free disk a segment at a time.
const SpoolSegmentBytes = 4 << 20

// Gateway is the embedded gateway's configuration: "spendgate gateway"
// (Standalone: its own --listen and the URLs of the services it calls) or
// the gateway "spendgate serve" runs in-process under --gateway-listen.
type Gateway struct {
	Standalone bool

	Listen, PolicyURL, PricedURL, IngestURL, BudgetURL string
	ServiceToken                                       string
	Upstreams                                          Upstreams
	MaxBody                                            int64
	FailOpen, InjectStreamUsage                        bool
	CacheTTL, NegativeTTL                              time.Duration
	DialTimeout, HeaderTimeout, ReserveTimeout         time.Duration
	BodyTimeout                                        time.Duration
	IdlePerHost                                        int
	EventBatch, EventBuffer                            int
	EventInterval                                      time.Duration
	SpoolDir                                           string
	SpoolMaxBytes                                      int64
	AccessLog                                          bool
}

// Register adds the gateway's flags; set Standalone first.
func (f *Gateway) Register(fs *flag.FlagSet) {
	if f.Standalone {
		fs.StringVar(&f.Listen, "listen", "127.0.0.1:8081", "gateway listen address")
		fs.StringVar(&f.PolicyURL, "policy-url", "http://127.0.0.1:8080"+PolicyPath, "control plane policy endpoint")
		fs.StringVar(&f.PricedURL, "priced-url", "", "control plane priced endpoint, asked for keys that require priced models (empty: --policy-url with its path "+PolicyPath+" replaced by "+contract.PricedPath+")")
		fs.StringVar(&f.IngestURL, "ingest-url", "http://127.0.0.1:8080"+contract.EventsPath, "ingest event endpoint")
		fs.StringVar(&f.BudgetURL, "budget-url", "", "base URL of the budget reservation service (POST "+contract.ReservationsPath+"), e.g. http://127.0.0.1:8080; empty: hard budgets are enforced only through the policy answer's blocked flag")
		fs.StringVar(&f.ServiceToken, "service-token", "", "service token for the policy, priced, ingest and budget endpoints (required)")
	} else {
		fs.StringVar(&f.Listen, "gateway-listen", "127.0.0.1:8081", "gateway listen address")
	}
	fs.DurationVar(&f.DialTimeout, "upstream-dial-timeout", 10*time.Second, "timeout for connecting to a provider")
	fs.DurationVar(&f.HeaderTimeout, "upstream-response-header-timeout", 5*time.Minute, "how long a provider may take to start answering")
	fs.IntVar(&f.IdlePerHost, "upstream-max-idle-conns-per-host", 512, "keep-alive connections kept per provider")
	fs.DurationVar(&f.ReserveTimeout, "reserve-timeout", 5*time.Second, "timeout of one budget reservation")
	batch := 200
	if f.Standalone {
		home, _ := os.UserHomeDir()
		fs.StringVar(&f.SpoolDir, "event-spool-dir", filepath.Join(home, ".local", "share", "spendgate", "gateway-spool"), "where events that ingest cannot take are kept on disk until it can (one gateway process per directory)")
	} else {
		batch = 500 // in-process: a batch costs no HTTP round trip, fewer JetStream waits
		fs.StringVar(&f.SpoolDir, "event-spool-dir", "", "where events the pipeline cannot take are kept on disk until it can (empty: <data-dir>/gateway-spool)")
	}
	fs.Int64Var(&f.SpoolMaxBytes, "event-spool-max-bytes", 1<<30, "disk the event spool may use; beyond it undeliverable events are dropped, counted and logged (0: no spool, events wait in memory only)")
	fs.IntVar(&f.EventBatch, "event-batch", batch, "events per batch sent to ingest")
	fs.IntVar(&f.EventBuffer, "event-buffer", 100_000, "events buffered in memory while ingest is slow or down (beyond: moved to the spool, or dropped and counted without one)")
	fs.DurationVar(&f.EventInterval, "event-interval", 500*time.Millisecond, "longest an event waits before its batch is sent")
	f.Upstreams = Upstreams{}
	fs.Var(f.Upstreams, "upstream", "provider base URL override, provider=url (repeatable), e.g. openai=http://127.0.0.1:9999/v1")
	fs.Int64Var(&f.MaxBody, "max-request-body-bytes", 32<<20, "largest request body accepted (413 beyond)")
	fs.DurationVar(&f.BodyTimeout, "request-body-timeout", 5*time.Minute, "longest a caller may take to send its request body (408 beyond; 0: no limit)")
	fs.BoolVar(&f.FailOpen, "fail-open", false, "forward unattributed requests when the policy service is unreachable, and calls unchecked when whether their model is priced cannot be learnt (default: 503)")
	fs.BoolVar(&f.InjectStreamUsage, "inject-stream-usage", true, "add stream_options.include_usage to OpenAI-style streaming requests")
	fs.DurationVar(&f.CacheTTL, "policy-cache-ttl", 30*time.Second, "how long a key's policy answer is reused")
	fs.DurationVar(&f.NegativeTTL, "policy-negative-cache-ttl", 10*time.Second, "how long an unknown/revoked key answer is reused")
	fs.BoolVar(&f.AccessLog, "access-log", true, "log one line per gateway call (method, path, provider, operation, status, duration, bytes, request id, tenant; never bodies or keys)")
}

// Validate rejects settings the gateway cannot run with.
func (f *Gateway) Validate() error {
	var errs []error
	if f.Standalone && f.ServiceToken == "" {
		errs = append(errs, errors.New("--service-token (or SPENDGATE_SERVICE_TOKEN) is required"))
	}
	for _, u := range []struct{ flag, value string }{{"--policy-url", f.PolicyURL}, {"--priced-url", f.PricedURL}, {"--ingest-url", f.IngestURL}, {"--budget-url", f.BudgetURL}} {
		if u.value != "" && !httpURL(u.value) {
			errs = append(errs, fmt.Errorf("%s must be an http(s) URL, got %q", u.flag, u.value))
		}
	}
	if f.Standalone {
		if f.PolicyURL == "" || f.IngestURL == "" {
			errs = append(errs, errors.New("--policy-url and --ingest-url must be set"))
		} else if _, err := f.PricedEndpoint(); err != nil {
			errs = append(errs, err)
		}
	}
	if f.MaxBody <= 0 {
		errs = append(errs, errors.New("--max-request-body-bytes must be positive"))
	}
	if f.IdlePerHost <= 0 {
		errs = append(errs, errors.New("--upstream-max-idle-conns-per-host must be positive"))
	}
	if f.EventBatch <= 0 || f.EventBuffer < f.EventBatch {
		errs = append(errs, errors.New("--event-batch must be positive and at most --event-buffer"))
	}
	if f.EventInterval <= 0 || f.DialTimeout <= 0 || f.HeaderTimeout <= 0 || f.ReserveTimeout <= 0 {
		errs = append(errs, errors.New("--event-interval and the timeouts must be positive"))
	}
	if f.BodyTimeout < 0 {
		errs = append(errs, errors.New("--request-body-timeout must not be negative (0: no limit)"))
	}
	if f.CacheTTL < 0 || f.NegativeTTL < 0 {
		errs = append(errs, errors.New("--policy-cache-ttl and --policy-negative-cache-ttl must not be negative"))
	}
	switch {
	case f.SpoolMaxBytes < 0:
		errs = append(errs, errors.New("--event-spool-max-bytes must not be negative (0: no spool)"))
	case f.SpoolMaxBytes > 0 && f.SpoolMaxBytes < SpoolSegmentBytes:
		errs = append(errs, fmt.Errorf("--event-spool-max-bytes must be 0 (no spool) or at least %d", SpoolSegmentBytes))
	case f.SpoolMaxBytes > 0 && f.Standalone && f.SpoolDir == "":
		errs = append(errs, errors.New("--event-spool-dir must be set while --event-spool-max-bytes is not 0"))
	}
	return errors.Join(errs...)
}

// PricedEndpoint is --priced-url, or the priced endpoint beside the policy
// endpoint (where the filter asks too): --policy-url with its path's
// /internal/v1/policy replaced by /internal/v1/priced, or the priced path on
// --policy-url's host when its path is another.
func (f *Gateway) PricedEndpoint() (string, error) {
	if f.PricedURL != "" {
		return f.PricedURL, nil
	}
	u, err := url.Parse(f.PolicyURL)
	if err != nil {
		return "", fmt.Errorf("--policy-url: %w", err)
	}
	prefix, _ := strings.CutSuffix(u.Path, PolicyPath)
	if prefix == u.Path { // another path: only its host tells where the control plane is
		prefix = ""
	}
	u.Path, u.RawPath, u.RawQuery, u.Fragment = strings.TrimSuffix(prefix, "/")+contract.PricedPath, "", "", ""
	return u.String(), nil
}

// Endpoints are the control plane and ingest services the standalone
// gateway calls.
func (f *Gateway) Endpoints() []Endpoint {
	if !f.Standalone {
		return nil
	}
	eps := []Endpoint{{Kind: HTTP, Flag: "policy-url", Address: f.PolicyURL}, {Kind: HTTP, Flag: "ingest-url", Address: f.IngestURL}}
	if priced, err := f.PricedEndpoint(); err == nil {
		eps = append(eps, Endpoint{Kind: HTTP, Flag: "priced-url", Address: priced})
	}
	if f.BudgetURL != "" {
		eps = append(eps, Endpoint{Kind: HTTP, Flag: "budget-url", Address: f.BudgetURL})
	}
	return eps
}
