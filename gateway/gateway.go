// Package gateway is spendgate's embedded data plane: a Go reverse proxy that
// authenticates spendgate keys, enforces their policy, forwards calls to the
// providers untouched (streaming without buffering), and meters them with the
// same core as the Envoy filter (package meter). Provider logic lives only in
// meter and policy; this package is HTTP plumbing.
package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/meter"
	"github.com/spendgate/spendgate/policy"
)

// Config tunes the gateway.
type Config struct {
	// Upstreams overrides provider base URLs by provider id (tests and demos
	// point them at a fake provider); others use meter's defaults.
	Upstreams map[string]string
	// MaxRequestBodyBytes caps request bodies (413 beyond).
	MaxRequestBodyBytes int64
	// RequestBodyTimeout bounds how long a caller may take to send its body
	// (408 beyond), so a stalled upload does not hold a connection forever;
	// 0 means no bound. Responses are not bounded: streams last.
	RequestBodyTimeout time.Duration
	// InjectStreamUsage adds stream_options.include_usage to OpenAI-style
	// streaming requests lacking it.
	InjectStreamUsage bool
	// FailOpen forwards unattributed requests when the policy service is
	// unreachable, and calls without the priced check when Priced fails; by
	// default the gateway answers 503.
	FailOpen bool
	// Timeouts towards providers.
	DialTimeout, ResponseHeaderTimeout time.Duration
	// MaxIdleConnsPerHost sizes the keep-alive pool per provider.
	MaxIdleConnsPerHost int
	// Priced tells whether a model has a price for the key's tenant (for
	// keys that require priced models); nil skips that rule. When it cannot
	// say, the call is refused with 503 auth_unavailable, or let through
	// unchecked with FailOpen, as the filter does.
	Priced PricedSource
	// Reserver holds spend before forwarding calls of keys under a hard
	// budget (policy.Policy.HardBudget); nil skips reservations, leaving hard
	// caps to the policy answer's Blocked flag.
	Reserver Reserver
	// ReserveTimeout bounds one reservation call.
	ReserveTimeout time.Duration
	// Now is the clock the per-key rate limit windows are read from (tests
	// move it); nil: time.Now.
	Now func() time.Time
}

// DefaultConfig returns settings that hold up under load on one machine.
func DefaultConfig() Config {
	return Config{MaxRequestBodyBytes: 32 << 20, RequestBodyTimeout: 5 * time.Minute, InjectStreamUsage: true, DialTimeout: 10 * time.Second,
		ResponseHeaderTimeout: 5 * time.Minute, MaxIdleConnsPerHost: 512, ReserveTimeout: 5 * time.Second}
}

// Gateway is an http.Handler.
type Gateway struct {
	cfg       Config
	policy    PolicySource
	events    *Batcher
	transport *http.Transport
	log       *slog.Logger
	now       func() time.Time

	// rates holds the per-minute counts of rate-limited keys (policy
	// ratelimit.go decides); rateMu guards it and lastSweep, when stale
	// windows were last dropped.
	rateMu    sync.Mutex
	rates     policy.RateWindows
	lastSweep time.Time
}

// New builds a gateway. events receives usage and denial events.
func New(cfg Config, policies PolicySource, events *Batcher, log *slog.Logger) *Gateway {
	// Go's default transport keeps 2 idle connections per host, which makes a
	// busy proxy open and close connections constantly; size the pool instead.
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          cfg.MaxIdleConnsPerHost * 4,
		MaxIdleConnsPerHost:   cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: cfg.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		// Bodies are metered as received: ask providers for identity encoding.
		DisableCompression: true,
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Gateway{cfg: cfg, policy: policies, events: events, transport: tr, log: log, now: now, rates: policy.RateWindows{}}
}

// Close releases idle upstream connections.
func (g *Gateway) Close() { g.transport.CloseIdleConnections() }

// Per-response scratch, reused across calls: the copy buffer and the meter
// (whose bounded head/tail/line buffers then stop allocating).
var (
	bufPool   = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
	meterPool = sync.Pool{New: func() any { return meter.NewResponseMeter(&meter.Route{}, false) }}
)

// hopHeaders are connection-scoped and never forwarded (RFC 9110 §7.6.1).
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// dropHopHeaders removes the connection-scoped headers, including those the
// Connection header names.
func dropHopHeaders(h http.Header) {
	for _, v := range h["Connection"] {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	call := meter.Call{Start: time.Now(), Source: event.SourceGateway}
	route, ok := meter.Resolve(r.Host, r.URL.RequestURI())
	if !ok {
		g.deny(w, &call, "openai", event.DenialUnknownRoute, "no AI provider is routed at "+r.URL.Path+": use /v1/<provider>/...")
		return
	}
	call.Route = route
	// Denials speak the call's own dialect: OpenAI-shaped on the
	// OpenAI-compatible surfaces of Gemini and Anthropic, so the OpenAI SDK
	// pointed there parses them.
	style := route.Style.String()

	key := strings.TrimSpace(r.Header.Get(meter.KeyHeader))
	if key == "" {
		g.deny(w, &call, style, event.DenialMissingKey, "missing spendgate API key: send it in the "+meter.KeyHeader+" header")
		return
	}

	body, err := g.readBody(w, r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			g.deny(w, &call, style, event.DenialBodyTooLarge, "request body exceeds the limit of "+strconv.FormatInt(g.cfg.MaxRequestBodyBytes, 10)+" bytes")
			return
		}
		// A stalled or broken upload (a caller that left reads nothing).
		status, ctype, msg := policy.ErrorResponse(style, http.StatusRequestTimeout, "request_body_incomplete",
			"the request body did not arrive whole within "+g.cfg.RequestBodyTimeout.String()+": "+err.Error())
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Connection", "close")
		w.WriteHeader(status)
		_, _ = w.Write(msg)
		return
	}
	call.Request = meter.ParseRequest(&call.Route, body)

	answer, err := g.policy.Lookup(r.Context(), key)
	if err != nil {
		if r.Context().Err() != nil {
			return
		}
		g.log.Warn("gateway: policy lookup failed", "err", err)
		if !g.cfg.FailOpen {
			g.deny(w, &call, style, event.DenialAuthUnavailable, "the spendgate policy service is unavailable; try again shortly")
			return
		}
		g.forward(w, r, &call, body, false, "")
		return
	}
	call.Answer = &answer

	reqDims := map[string]string{}
	dimErr := ""
	for name, vals := range r.Header {
		dim, val, isDim, err := meter.DimensionFromHeader(name, strings.Join(vals, ","))
		if !isDim {
			continue
		}
		if err != nil {
			dimErr = err.Error()
			continue
		}
		reqDims[dim] = val
	}
	if answer.Valid {
		dims, err := meter.MergeDimensions(answer.Policy.DefaultDimensions, reqDims)
		if err != nil && dimErr == "" {
			dimErr = err.Error()
		}
		call.Dimensions = dims
		if dimErr != "" {
			g.deny(w, &call, style, event.DenialInvalidDimension, dimErr)
			return
		}
	}
	// Whether the model is priced is asked below, only of calls that pass
	// every other rule (the filter's order): a lookup costs a call.
	if d := policy.Evaluate(&answer, route.Provider.ID, call.Request.Model, call.Dimensions); !d.Allowed() {
		g.denyDecision(w, &call, style, d)
		return
	}
	if answer.Policy.RequirePricedModels && g.cfg.Priced != nil {
		d, ok := g.checkPriced(r.Context(), &call)
		if !ok {
			return // the caller left
		}
		if !d.Allowed() {
			g.denyDecision(w, &call, style, d)
			return
		}
	}
	// Rate limits come last: only a call that passes everything else counts.
	admitted := g.now()
	if d := g.admitRate(&answer, admitted); !d.Allowed() {
		g.denyDecision(w, &call, style, d)
		return
	}
	if g.cfg.InjectStreamUsage && meter.NeedsStreamUsageInjection(&call.Route, &call.Request) {
		if nb, ok := meter.InjectStreamUsage(body); ok {
			body = nb
		}
	}
	reservationID, ok := g.reserve(w, r, &call, style, len(body))
	if !ok {
		g.releaseRate(&answer, admitted) // refused after all: it does not count
		return
	}
	g.forward(w, r, &call, body, true, reservationID)
}

// checkPriced refuses a model without a price for the key's tenant. When the
// PricedSource cannot say, the call is refused as auth_unavailable (retryable)
// or, with FailOpen, goes on unchecked, still attributed and metered. ok is
// false when the caller left during the lookup.
func (g *Gateway) checkPriced(ctx context.Context, call *meter.Call) (d policy.Decision, ok bool) {
	model := call.Request.Model
	if model == "" || len(model) > event.MaxModelNameBytes {
		// No name, or one longer than any the control plane prices.
		return policy.UnpricedModel(model), true
	}
	priced, err := g.cfg.Priced.Priced(ctx, call.Answer.TenantID, call.Route.Provider.ID, model)
	switch {
	case err == nil && priced:
		return policy.Decision{}, true
	case err == nil:
		return policy.UnpricedModel(model), true
	case ctx.Err() != nil:
		return policy.Decision{}, false
	}
	g.log.Warn("gateway: priced check failed", "provider", call.Route.Provider.ID, "model", model, "fail_open", g.cfg.FailOpen, "err", err)
	if g.cfg.FailOpen {
		return policy.Decision{}, true
	}
	return policy.PricedUnavailable(model), true
}

// admitRate applies the key's per-minute limits to a call at now and counts
// it when admitted; keys without limits pass without taking the lock. Stale
// windows are dropped here, at most once a minute, so the map holds only the
// rate-limited keys of the current minute.
func (g *Gateway) admitRate(a *policy.Answer, now time.Time) policy.Decision {
	if !a.Policy.RateLimited() {
		return policy.Decision{}
	}
	g.rateMu.Lock()
	defer g.rateMu.Unlock()
	if d := now.Sub(g.lastSweep); d >= time.Minute || d < 0 {
		g.rates.Sweep(now)
		g.lastSweep = now
	}
	return g.rates.Admit(a, now)
}

// releaseRate takes back a call admitted at admitted that was then refused.
func (g *Gateway) releaseRate(a *policy.Answer, admitted time.Time) {
	if !a.Policy.RateLimited() {
		return
	}
	g.rateMu.Lock()
	g.rates.Release(a, admitted)
	g.rateMu.Unlock()
}

// addRateTokens counts a finished call's tokens for a key that limits them.
func (g *Gateway) addRateTokens(a *policy.Answer, res *meter.Result) {
	if a.Policy.TokensPerMinute <= 0 || policy.RateTokens(res.Tokens) <= 0 {
		return
	}
	now := g.now()
	g.rateMu.Lock()
	g.rates.AddTokens(a, res.Tokens, now)
	g.rateMu.Unlock()
}

// reserve holds budget for calls of hard-budget keys. ok is false when the
// call was refused (the answer is already written).
func (g *Gateway) reserve(w http.ResponseWriter, r *http.Request, call *meter.Call, style string, bodyLen int) (id string, ok bool) {
	if g.cfg.Reserver == nil || call.Answer == nil || !call.Answer.Policy.HardBudget || !call.Route.Metered() {
		return "", true
	}
	timeout := g.cfg.ReserveTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	id, err := g.cfg.Reserver.Reserve(ctx, ReserveRequest{
		TenantID: call.Answer.TenantID, KeyID: call.Answer.KeyID, Dimensions: call.Dimensions,
		Provider: call.Route.Provider.ID, Model: call.Request.Model, MaxTokens: call.Request.MaxTokens,
		InputTokensEstimate: int64(bodyLen / 4),
	})
	if err == nil {
		return id, true
	}
	if r.Context().Err() != nil {
		return "", false // the caller left
	}
	if d, denied := asDenied(err); denied {
		reason := d.Reason
		if reason == "" {
			reason = event.DenialBudgetExceeded
		}
		msg := d.Message
		if msg == "" {
			msg = "a hard budget covering this key has no room left for this call"
		}
		g.deny(w, call, style, reason, msg)
		return "", false
	}
	g.log.Warn("gateway: budget reservation failed; refusing the call (hard caps fail closed)", "err", err)
	g.deny(w, call, style, event.DenialBudgetUnavailable,
		"the spendgate budget service is unavailable and this key is under a hard budget; try again shortly")
	return "", false
}

// readBody reads the whole request body within the size limit and the body
// timeout.
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if g.cfg.RequestBodyTimeout <= 0 || r.ContentLength == 0 {
		return readBody(w, r, g.cfg.MaxRequestBodyBytes)
	}
	rc := http.NewResponseController(w)
	// Not every ResponseWriter supports deadlines (ErrNotSupported): then the
	// body is read without one.
	_ = rc.SetReadDeadline(time.Now().Add(g.cfg.RequestBodyTimeout))
	body, err := readBody(w, r, g.cfg.MaxRequestBodyBytes)
	_ = rc.SetReadDeadline(time.Time{}) // the server still watches the connection for a caller that leaves
	return body, err
}

// readBody reads the whole request body up to limit bytes, sized up front
// when the client sent a Content-Length.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	src := http.MaxBytesReader(w, r.Body, limit)
	if r.ContentLength <= 0 {
		return io.ReadAll(src)
	}
	buf := make([]byte, 0, r.ContentLength+1) // +1: room to see EOF without regrowing
	for {
		n, err := src.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if len(buf) == cap(buf) { // the client sent more than it announced
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

func (g *Gateway) upstreamBase(p *meter.Provider) string {
	if u, ok := g.cfg.Upstreams[p.ID]; ok && u != "" {
		return u
	}
	return p.BaseURL
}

// forward sends the call upstream and streams the answer back, metering it.
// attributed is false for fail-open calls, which produce no event;
// reservationID (if any) goes into the usage event, which settles it.
func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, call *meter.Call, body []byte, attributed bool, reservationID string) {
	target := call.Route.UpstreamURL(g.upstreamBase(call.Route.Provider))
	out, err := http.NewRequestWithContext(r.Context(), r.Method, target, bytes.NewReader(body))
	if err != nil {
		g.upstreamFailed(w, call, attributed, reservationID, "building the upstream request failed: "+err.Error())
		return
	}
	out.Header = make(http.Header, len(r.Header))
	for name, vals := range r.Header {
		out.Header[name] = vals
	}
	dropHopHeaders(out.Header)
	out.Header.Del(meter.KeyHeader)
	if call.Route.Metered() {
		// Usage is read from the response body, so the provider must answer
		// in identity encoding (the filter does the same). Unmetered calls
		// keep the caller's Accept-Encoding; the transport never decodes.
		out.Header.Del("Accept-Encoding")
	}
	out.ContentLength = int64(len(body))
	out.Header.Set("Content-Length", strconv.Itoa(len(body)))

	resp, err := g.transport.RoundTrip(out)
	if err != nil {
		if r.Context().Err() != nil {
			g.emitUsage(call, attributed, reservationID, 0, &meter.Result{}, 0, time.Since(call.Start), "")
			return
		}
		g.upstreamFailed(w, call, attributed, reservationID, "the provider could not be reached: "+err.Error())
		return
	}
	defer resp.Body.Close()
	ttfb := time.Since(call.Start)

	dropHopHeaders(resp.Header)
	dst := w.Header()
	for name, vals := range resp.Header {
		dst[name] = vals
	}
	w.WriteHeader(resp.StatusCode)

	sse := strings.HasPrefix(strings.ToLower(resp.Header.Get("Content-Type")), "text/event-stream")
	// Streams go out chunk by chunk: SSE, and bodies of unknown length such
	// as Gemini's streamGenerateContent without alt=sse (a JSON array sent
	// piece by piece), as httputil.ReverseProxy does.
	stream := sse || resp.ContentLength < 0 || call.Request.Stream
	rc := http.NewResponseController(w)
	if stream {
		_ = rc.Flush() // the status and headers reach the caller now, not with the first chunk
	}
	var m *meter.ResponseMeter
	if call.Route.Metered() {
		if enc := resp.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
			g.log.Warn("gateway: provider compressed its answer despite no Accept-Encoding; its usage cannot be read",
				"provider", call.Route.Provider.ID, "content_encoding", enc)
		}
		m = meterPool.Get().(*meter.ResponseMeter)
		m.Reset(&call.Route, sse)
		defer meterPool.Put(m)
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	ended := false
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if m != nil {
				m.Write(buf[:n])
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				break // client went away: stop reading, record what we saw
			}
			if stream {
				_ = rc.Flush() // every chunk goes out as it comes: TTFB is the provider's
			}
		}
		if rerr == io.EOF {
			ended = true
			break
		}
		if rerr != nil {
			break
		}
	}
	if m == nil {
		return
	}
	var res meter.Result
	if ended {
		res = m.Finish()
	} else {
		res = m.FinishCut() // the caller or the provider left before the end of body
	}
	var reqID meter.RequestID
	for _, name := range meter.RequestIDHeaders {
		reqID.Header(name, resp.Header.Get(name))
	}
	if attributed && call.Answer != nil {
		g.addRateTokens(call.Answer, &res) // before the event: whoever sees the event sees the count
	}
	g.emitUsage(call, attributed, reservationID, resp.StatusCode, &res, ttfb, time.Since(call.Start), reqID.String())
}

func (g *Gateway) emitUsage(call *meter.Call, attributed bool, reservationID string, status int, res *meter.Result, ttfb, latency time.Duration, reqID string) {
	if !attributed || call.Answer == nil || !call.Answer.Valid || !call.Route.Metered() {
		return
	}
	e := call.UsageEvent(newEventID(), status, res, ttfb, latency, reqID)
	e.ReservationID = reservationID
	g.events.Add(e)
}

func (g *Gateway) upstreamFailed(w http.ResponseWriter, call *meter.Call, attributed bool, reservationID, msg string) {
	g.log.Warn("gateway: upstream failed", "provider", call.Route.Provider.ID, "err", msg)
	status, ctype, body := policy.ErrorResponse(call.Route.Style.String(), http.StatusBadGateway, "upstream_unavailable", msg)
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	_, _ = w.Write(body)
	g.emitUsage(call, attributed, reservationID, status, &meter.Result{}, 0, time.Since(call.Start), "")
}

// deny answers in the provider's error shape and records a denial event for
// keys that belong to a tenant.
func (g *Gateway) deny(w http.ResponseWriter, call *meter.Call, style, reason, message string) {
	g.denyDecision(w, call, style, policy.Decision{Reason: reason, Message: message})
}

// denyDecision is deny for a policy decision, with its retry-after (rate
// limits: the SDKs wait that long before their retry).
func (g *Gateway) denyDecision(w http.ResponseWriter, call *meter.Call, style string, d policy.Decision) {
	status, ctype, body := policy.DenialResponse(style, d.Reason, d.Message)
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("X-Spendgate-Denial", d.Reason)
	// The OpenAI and Anthropic SDKs obey x-should-retry over their own rules
	// (which retry 429 and 5xx): a denial repeated is denied again, unless
	// it is transient (policy.ShouldRetry).
	h.Set("X-Should-Retry", strconv.FormatBool(policy.ShouldRetry(d.Reason)))
	if d.RetryAfterSeconds > 0 {
		h.Set("Retry-After", strconv.Itoa(d.RetryAfterSeconds))
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
	if call.Answer != nil && call.Answer.Valid {
		g.events.Add(call.DenialEvent(newEventID(), d.Reason, d.Message))
	}
}

func newEventID() string {
	var r [10]byte
	_, _ = rand.Read(r[:])
	return meter.NewEventID(time.Now(), r)
}

// Shutdown waits for in-flight work and drains events; ctx bounds it.
func (g *Gateway) Shutdown(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		g.events.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	g.Close()
}
