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

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/spendgate/spendgate/dataplane"
	"github.com/spendgate/spendgate/dataplane/contract"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/meter"
	"github.com/spendgate/spendgate/policy"
	"github.com/spendgate/spendgate/requestid"
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
	// Observer is told about every call when it ends (metrics, access
	// log); nil: nobody.
	Observer Observer
	// Tracer traces calls (a span per call, children for the policy,
	// priced and reservation look-ups, the upstream call and metering) and
	// sends their trace context to providers; nil: no tracing, at no cost.
	Tracer trace.Tracer
	// Propagator carries trace context to providers and reads the caller's;
	// nil: W3C trace context.
	Propagator propagation.TextMapPropagator
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
	core      dataplane.Config
	obs       Observer
	trace     tracing

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
	core := dataplane.Config{MaxRequestBodyBytes: cfg.MaxRequestBodyBytes, FailOpen: cfg.FailOpen, InjectStreamUsage: cfg.InjectStreamUsage,
		CheckPriced: cfg.Priced != nil, Reserve: cfg.Reserver != nil, Source: event.SourceGateway, EventID: newEventID}
	g := &Gateway{cfg: cfg, policy: policies, events: events, transport: tr, log: log, now: now, core: core, rates: policy.RateWindows{},
		obs: cfg.Observer}
	if cfg.Tracer != nil {
		g.trace = tracing{tracer: cfg.Tracer, prop: cfg.Propagator}
		if g.trace.prop == nil {
			g.trace.prop = propagation.TraceContext{}
		}
	}
	return g
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
	call := dataplane.NewCall(&g.core, time.Now())
	rec := CallRecord{Method: r.Method, Path: r.URL.Path, Status: statusCallerLeft, Outcome: OutcomeCallerLeft}
	ctx := r.Context()
	if id := requestid.From(ctx); id != "" {
		w.Header().Set(spendgateRequestIDHeader, id)
	}
	var span trace.Span
	if g.trace.on() {
		ctx = g.trace.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
		ctx, span = g.trace.start(ctx, "spendgate.gateway.call", trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method)))
		rec.TraceID = span.SpanContext().TraceID().String()
	}
	defer g.done(ctx, call, span, &rec)
	for name, vals := range r.Header {
		call.Header(strings.ToLower(name), strings.Join(vals, ","))
	}
	s := call.Begin(r.Host, r.URL.RequestURI())
	if s.Kind == dataplane.NeedBody {
		body, err := g.readBody(w, r)
		rec.RequestBytes = int64(len(body))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			s, _ = call.BodyTooLarge(max(r.ContentLength, tooBig.Limit+1))
		case err != nil:
			// A stalled or broken upload (a caller that left reads nothing).
			status, ctype, msg := policy.ErrorResponse(call.Style(), http.StatusRequestTimeout, "request_body_incomplete",
				"the request body did not arrive whole within "+g.cfg.RequestBodyTimeout.String()+": "+err.Error())
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("Connection", "close")
			w.WriteHeader(status)
			_, _ = w.Write(msg)
			rec.Status, rec.Outcome, rec.ResponseBytes = status, OutcomeBadRequest, int64(len(msg))
			return
		default:
			s = call.Body(body)
		}
	}
	for {
		switch s.Kind {
		case dataplane.NeedPolicy:
			sctx, sp := g.trace.start(ctx, "spendgate.policy")
			a, err := g.policy.Lookup(sctx, call.Key())
			end(sp, err)
			if err != nil && ctx.Err() != nil {
				return // the caller left
			}
			if err != nil {
				g.log.Warn("gateway: policy lookup failed", "err", err, "request_id", requestid.From(ctx))
			}
			s = call.Policy(a, err)
		case dataplane.NeedPriced:
			tenant, provider, model := call.PricedQuestion()
			sctx, sp := g.trace.start(ctx, "spendgate.priced")
			priced, err := g.cfg.Priced.Priced(sctx, tenant, provider, model)
			end(sp, err)
			if err != nil && ctx.Err() != nil {
				return // the caller left
			}
			s = call.Priced(priced, err)
		case dataplane.NeedRate:
			at := g.now()
			s = call.Rated(g.admitRate(call.Answer(), at), at)
		case dataplane.NeedReservation:
			sctx, sp := g.trace.start(ctx, "spendgate.reservation")
			a, err := g.reserve(sctx, &s.Reserve)
			if sp != nil && a.Denied {
				sp.SetAttributes(attribute.String("spendgate.denial_reason", a.Reason))
			}
			end(sp, err)
			if err != nil && ctx.Err() != nil {
				if a.ReservationID != "" {
					g.release(a.ReservationID)
				}
				return // the caller left
			}
			s = call.Reserved(a, err)
		case dataplane.Forward:
			g.unavailable(ctx, call, &s, &rec)
			g.forward(ctx, w, r, call, &rec)
			return
		case dataplane.Deny:
			if ctx.Err() != nil && s.Unavailable != "" {
				return // the caller left while a service was asked
			}
			g.unavailable(ctx, call, &s, &rec)
			g.deny(w, call, s.Denial, &rec)
			return
		default:
			return
		}
	}
}

// statusCallerLeft is the status recorded for a call whose caller went
// away before any answer (nginx's 499).
const statusCallerLeft = 499

// spendgateRequestIDHeader carries the gateway's request id on every
// answer: X-Request-Id itself is the provider's on forwarded calls (the
// SDKs read it as the provider's request id), spendgate's on denials.
const spendgateRequestIDHeader = "X-Spendgate-Request-Id"

// done completes a call's record and span and hands the record to the
// observer.
func (g *Gateway) done(ctx context.Context, call *dataplane.Call, span trace.Span, rec *CallRecord) {
	rec.Duration = time.Since(call.Start)
	if p := call.Route.Provider; p != nil {
		rec.Provider, rec.Operation = p.ID, call.Route.Operation
	}
	if a := call.Answer(); a != nil {
		rec.TenantID = a.TenantID
	}
	if span != nil {
		span.SetAttributes(attribute.String("spendgate.provider", rec.Provider), attribute.String("spendgate.operation", rec.Operation),
			attribute.Int("http.response.status_code", rec.Status), attribute.String("spendgate.outcome", rec.Outcome))
		if rec.DenialReason != "" {
			span.SetAttributes(attribute.String("spendgate.denial_reason", rec.DenialReason))
		}
		if rec.TenantID != "" {
			span.SetAttributes(attribute.String("spendgate.tenant_id", rec.TenantID))
		}
		if rec.Outcome == OutcomeUpstreamError || rec.Status >= 500 {
			span.SetStatus(codes.Error, rec.Outcome)
		}
		span.End()
	}
	if g.obs != nil {
		r := *rec // a copy for the observer: rec itself stays on the stack
		g.obs.CallDone(ctx, &r)
	}
}

// unavailable logs a service a call could not ask.
func (g *Gateway) unavailable(ctx context.Context, call *dataplane.Call, s *dataplane.Step, rec *CallRecord) {
	if s.Unavailable == "" {
		return
	}
	rec.Unavailable, rec.FailedOpen = s.Unavailable, s.FailedOpen
	g.log.Warn("gateway: a spendgate service is unavailable", "service", s.Unavailable, "fail_open", s.FailedOpen,
		"provider", call.Route.Provider.ID, "model", call.Request.Model, "request_id", requestid.From(ctx))
}

// admitRate applies the key's per-minute limits to a call at now and counts
// it when admitted. Stale windows are dropped here, at most once a minute,
// so the map holds only the rate-limited keys of the current minute.
func (g *Gateway) admitRate(a *policy.Answer, now time.Time) policy.Decision {
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
	g.rateMu.Lock()
	g.rates.Release(a, admitted)
	g.rateMu.Unlock()
}

// addRateTokens counts a finished call's tokens for a key that limits them.
func (g *Gateway) addRateTokens(a *policy.Answer, res *meter.Result) {
	if policy.RateTokens(res.Tokens) <= 0 {
		return
	}
	now := g.now()
	g.rateMu.Lock()
	g.rates.AddTokens(a, res.Tokens, now)
	g.rateMu.Unlock()
}

// reserve asks the Reserver to hold spend for a call, within ReserveTimeout.
func (g *Gateway) reserve(ctx context.Context, req *contract.ReserveRequest) (contract.ReserveAnswer, error) {
	timeout := g.cfg.ReserveTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	id, err := g.cfg.Reserver.Reserve(ctx, *req)
	if d, denied := asDenied(err); denied {
		return contract.ReserveAnswer{Denied: true, Reason: d.Reason, Message: d.Message}, nil
	}
	if err != nil {
		g.log.Warn("gateway: budget reservation failed", "err", err)
		return contract.ReserveAnswer{}, err
	}
	return contract.ReserveAnswer{ReservationID: id}, nil
}

// release gives back the reservation of a call that failed before usage,
// when the Reserver can (ReleaseReserver); otherwise it lapses at expiry.
func (g *Gateway) release(id string) {
	rel, ok := g.cfg.Reserver.(Releaser)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rel.Release(ctx, id); err != nil {
		g.log.Warn("gateway: releasing a reservation failed; it lapses at its expiry", "reservation", id, "err", err)
	}
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

func (g *Gateway) upstreamBase(r *meter.Route) string {
	return r.Upstream(g.cfg.Upstreams[r.Provider.ID])
}

// forward sends the call upstream and streams the answer back, metering it.
// The call's usage event (none for fail-open and unmetered calls) carries
// its reservation, which ingest settles.
func (g *Gateway) forward(ctx context.Context, w http.ResponseWriter, r *http.Request, call *dataplane.Call, rec *CallRecord) {
	body := call.ForwardBody()
	target := call.Route.UpstreamURL(g.upstreamBase(&call.Route))
	uctx, usp := ctx, trace.Span(nil)
	if g.trace.on() { // the span option is built only then: tracing off costs no allocation
		uctx, usp = g.trace.start(ctx, "spendgate.upstream", trace.WithSpanKind(trace.SpanKindClient))
	}
	out, err := http.NewRequestWithContext(uctx, r.Method, target, bytes.NewReader(body))
	if err != nil {
		end(usp, err)
		g.upstreamFailed(ctx, w, call, "building the upstream request failed: "+err.Error(), rec)
		return
	}
	out.Header = make(http.Header, len(r.Header))
	for name, vals := range r.Header {
		out.Header[name] = vals
	}
	dropHopHeaders(out.Header)
	out.Header.Del(contract.KeyHeader)
	if cred, ok := call.Credential(); ok {
		// The tenant's stored key replaces whatever the caller sent.
		for _, name := range dataplane.CredentialHeaders {
			out.Header.Del(name)
		}
		out.Header.Set(cred.Header, cred.Value)
	}
	if call.StripAcceptEncoding() {
		// Usage is read from the response body, so the provider must answer
		// in identity encoding (the filter does the same). Unmetered calls
		// keep the caller's Accept-Encoding; the transport never decodes.
		out.Header.Del("Accept-Encoding")
	}
	if call.Route.HostRouted {
		// The caller named the provider's host (egress proxy): it goes on
		// as it came, since a SigV4 signature covers it.
		out.Host = r.Host
	}
	out.ContentLength = int64(len(body))
	out.Header.Set("Content-Length", strconv.Itoa(len(body)))
	if usp != nil {
		// The provider's call joins the trace (W3C traceparent), replacing
		// the caller's context, whose span is now this one's ancestor.
		g.trace.prop.Inject(uctx, propagation.HeaderCarrier(out.Header))
	}

	resp, err := g.transport.RoundTrip(out)
	if err != nil {
		end(usp, err)
		if r.Context().Err() != nil {
			g.failedBeforeUsage(call, rec)
			return
		}
		g.upstreamFailed(ctx, w, call, "the provider could not be reached: "+err.Error(), rec)
		return
	}
	defer resp.Body.Close()
	ttfb := time.Since(call.Start)
	rec.Status, rec.Outcome, rec.TTFB = resp.StatusCode, OutcomeForwarded, ttfb
	if usp != nil {
		usp.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	}

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
	if call.Metered() {
		if enc := resp.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
			g.log.Warn("gateway: provider compressed its answer despite no Accept-Encoding; its usage cannot be read",
				"provider", call.Route.Provider.ID, "content_encoding", enc)
		}
		m = meterPool.Get().(*meter.ResponseMeter)
		m.Reset(&call.Route, sse)
		defer meterPool.Put(m)
		for name, vals := range resp.Header {
			for _, v := range vals {
				m.Header(name, v)
			}
		}
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
			written, werr := w.Write(buf[:n])
			rec.ResponseBytes += int64(written)
			if werr != nil {
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
	end(usp, nil)
	if m == nil {
		return
	}
	_, msp := g.trace.start(ctx, "spendgate.metering")
	defer end(msp, nil)
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
	if call.CountTokens {
		g.addRateTokens(call.Answer(), &res) // before the event: whoever sees the event sees the count
	}
	if e, ok := call.UsageEvent(resp.StatusCode, &res, ttfb, time.Since(call.Start), reqID.String()); ok {
		e.TraceID = rec.TraceID
		g.events.Add(e)
	}
	if msp != nil {
		msp.SetAttributes(attribute.Bool("spendgate.usage_complete", ended), attribute.Int64("spendgate.input_tokens", res.Tokens.Input),
			attribute.Int64("spendgate.output_tokens", res.Tokens.Output))
	}
}

// failedBeforeUsage records a forwarded call that got no answer from the
// provider: its reservation is given back, and its event records no usage.
func (g *Gateway) failedBeforeUsage(call *dataplane.Call, rec *CallRecord) {
	if id := call.FailedBeforeUsage(); id != "" {
		g.release(id)
	}
	if e, ok := call.UsageEvent(0, &meter.Result{}, 0, time.Since(call.Start), ""); ok {
		e.TraceID = rec.TraceID
		g.events.Add(e)
	}
}

func (g *Gateway) upstreamFailed(ctx context.Context, w http.ResponseWriter, call *dataplane.Call, msg string, rec *CallRecord) {
	g.log.Warn("gateway: upstream failed", "provider", call.Route.Provider.ID, "err", msg, "request_id", requestid.From(ctx))
	status, ctype, body := call.UpstreamFailed(msg)
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	_, _ = w.Write(body)
	rec.Status, rec.Outcome, rec.ResponseBytes = status, OutcomeUpstreamError, int64(len(body))
	if id := call.FailedBeforeUsage(); id != "" {
		g.release(id)
	}
	if e, ok := call.UsageEvent(status, &meter.Result{}, 0, time.Since(call.Start), ""); ok {
		e.TraceID = rec.TraceID
		g.events.Add(e)
	}
}

// deny answers a denial and records its event, if any.
func (g *Gateway) deny(w http.ResponseWriter, call *dataplane.Call, d *dataplane.Denial, rec *CallRecord) {
	h := w.Header()
	for _, kv := range d.Headers {
		h.Set(kv[0], kv[1])
	}
	w.WriteHeader(d.Status)
	_, _ = w.Write(d.Body)
	rec.Status, rec.Outcome, rec.DenialReason, rec.ResponseBytes = d.Status, OutcomeDenied, d.Reason, int64(len(d.Body))
	if d.Event != nil {
		d.Event.TraceID = rec.TraceID
		g.events.Add(*d.Event)
	}
	if d.UndoRate {
		g.releaseRate(call.Answer(), call.Admitted())
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
