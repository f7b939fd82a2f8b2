// Command filter is spendgate's proxy-wasm HTTP filter for Envoy, built with
// TinyGo (make filter). It authenticates the spendgate key against the
// control plane's policy endpoint, enforces the key's policy, passes requests
// and responses through unchanged (except the documented stream-usage
// injection), meters usage and posts event batches to ingest.
//
// The decisions it shares with the embedded gateway live in pure packages:
// provider routing and usage extraction in meter/ and usage/, the policy
// answer and its evaluation in policy/, the event schema and encoder in
// event/, the plugin configuration in filter/config. This package holds what
// is the filter's own, in proxy-wasm terms: the lifecycle callbacks; the
// policy answer cache in the proxy's shared data (main.go); the event outbox
// flushed from the plugin context with bounded retries and back-off
// (main.go); the priced-model answers cached per tenant and model
// (priced.go); and the per-key rate-limit counts shared by every worker's VM
// (ratelimit.go).
//
// TinyGo-safe: no encoding/json, no net/http, no goroutines
// (tinygo_test.go and the depguard rules of .golangci.yml keep it so).
package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/tidwall/gjson"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/filter/config"
	"github.com/spendgate/spendgate/meter"
	"github.com/spendgate/spendgate/policy"
)

func main() {
	proxywasm.SetVMContext(&vmContext{})
}

type vmContext struct {
	types.DefaultVMContext
	// shared and now default to the host's shared data and clock; tests
	// replace them to play other workers and to move time on.
	shared sharedData
	now    func() time.Time
}

func (v *vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	p := &pluginContext{shared: v.shared, now: v.now}
	if p.shared == nil {
		p.shared = hostSharedData{}
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p
}

// Metric names exported to Envoy's stats.
const (
	metricEventsSent     = "spendgate_events_sent"
	metricEventsDropped  = "spendgate_events_dropped"
	metricIngestFailures = "spendgate_ingest_failures"
	metricDenials        = "spendgate_denials"
	metricAuthFailures   = "spendgate_auth_unavailable"
	metricFailOpen       = "spendgate_fail_open_requests"
	metricEventsRejected = "spendgate_events_rejected"
	metricRateConflicts  = "spendgate_rate_limit_conflicts"
	metricRateFailures   = "spendgate_rate_limit_unavailable"
	metricPricedFailures = "spendgate_priced_unavailable"
)

type pluginContext struct {
	types.DefaultPluginContext
	cfg config.Config

	// pending holds encoded events waiting for the next batch; bounded by
	// cfg.MaxBufferedEvents so a dead ingest cannot exhaust memory.
	pending  [][]byte
	inFlight int // events in batches awaiting ingest's answer

	// The plugin ticks every tickMs: each tick sends the full batches, and
	// every ticksPerFlush ticks (the flush interval) whatever is pending.
	tickMs, ticksPerFlush, ticksSinceFlush int

	// While ingest fails, deliveries wait waitTicks ticks (one flush
	// interval, doubling per consecutive failure up to max_retry_interval_ms)
	// and then one batch probes; a success resumes normal flushing. A dead
	// ingest thus costs a few calls a minute, not one per batch per tick.
	failStreak int
	waitTicks  int

	// shared holds the rate limit counts of all workers (ratelimit.go); now
	// is the clock their minutes are read from.
	shared sharedData
	now    func() time.Time

	sent, dropped, ingestFailures, denials, authFailures, failOpen, rejected proxywasm.MetricCounter
	rateConflicts, rateUnavailable, pricedUnavailable                        proxywasm.MetricCounter
}

func (p *pluginContext) OnPluginStart(size int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil && size > 0 {
		proxywasm.LogCriticalf("spendgate: reading plugin configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	cfg, err := config.Parse(data)
	if err != nil {
		proxywasm.LogCritical(err.Error())
		return types.OnPluginStartStatusFailed
	}
	p.cfg = cfg
	p.sent = proxywasm.DefineCounterMetric(metricEventsSent)
	p.dropped = proxywasm.DefineCounterMetric(metricEventsDropped)
	p.ingestFailures = proxywasm.DefineCounterMetric(metricIngestFailures)
	p.denials = proxywasm.DefineCounterMetric(metricDenials)
	p.authFailures = proxywasm.DefineCounterMetric(metricAuthFailures)
	p.failOpen = proxywasm.DefineCounterMetric(metricFailOpen)
	p.rejected = proxywasm.DefineCounterMetric(metricEventsRejected)
	p.rateConflicts = proxywasm.DefineCounterMetric(metricRateConflicts)
	p.rateUnavailable = proxywasm.DefineCounterMetric(metricRateFailures)
	p.pricedUnavailable = proxywasm.DefineCounterMetric(metricPricedFailures)
	p.tickMs = min(cfg.FlushIntervalMs, sizeCheckMs)
	p.ticksPerFlush = max(1, cfg.FlushIntervalMs/p.tickMs)
	if err := proxywasm.SetTickPeriodMilliSeconds(uint32(p.tickMs)); err != nil {
		proxywasm.LogCriticalf("spendgate: set tick period: %v", err)
		return types.OnPluginStartStatusFailed
	}
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{plugin: p, contextID: contextID}
}

// sizeCheckMs is how often the plugin looks for full batches between flush
// intervals.
const sizeCheckMs = 100

// OnTick sends full batches at once and everything pending once per flush
// interval, so events are delivered within one interval even on a quiet
// proxy.
//
// Batches are only ever dispatched here, from the plugin (root) context: the
// SDK drops the answer to a call whose calling HTTP context has ended, so a
// batch sent from a stream's last callback would never learn whether ingest
// took it (its events could neither be counted nor retried).
func (p *pluginContext) OnTick() {
	p.ticksSinceFlush++
	if p.waitTicks > 0 {
		p.waitTicks--
		return
	}
	if due := p.ticksSinceFlush >= p.ticksPerFlush; due || len(p.pending) >= p.cfg.BatchMaxEvents {
		p.flush(due)
	}
}

// enqueue buffers one event; a full buffer drops it and counts the drop
// rather than slowing user traffic.
func (p *pluginContext) enqueue(e *event.Event) {
	if len(p.pending)+p.inFlight >= p.cfg.MaxBufferedEvents {
		p.dropped.Increment(1)
		return
	}
	p.pending = append(p.pending, event.AppendJSON(nil, e))
}

// flush sends pending events in batches: the full batches, and with all the
// last partial one too.
func (p *pluginContext) flush(all bool) {
	if p.failStreak > 0 && p.inFlight > 0 {
		return // a probe batch is out: its answer decides
	}
	if all {
		p.ticksSinceFlush = 0
	}
	for len(p.pending) > 0 && (all || len(p.pending) >= p.cfg.BatchMaxEvents) {
		n := min(len(p.pending), p.cfg.BatchMaxEvents)
		batch := p.pending[:n:n]
		p.pending = p.pending[n:]
		body := make([]byte, 0, 16+n*512)
		body = append(body, `{"events":[`...)
		for i, ev := range batch {
			if i > 0 {
				body = append(body, ',')
			}
			body = append(body, ev...)
		}
		body = append(body, "]}"...)
		headers := [][2]string{
			{":method", "POST"}, {":path", p.cfg.IngestPath}, {":authority", p.cfg.IngestAuthority},
			{"authorization", "Bearer " + p.cfg.ServiceToken}, {"content-type", "application/json"},
		}
		p.inFlight += n
		_, err := proxywasm.DispatchHttpCall(p.cfg.IngestCluster, headers, body, nil, uint32(p.cfg.TimeoutMs),
			func(numHeaders, bodySize, numTrailers int) {
				p.inFlight -= n
				status := callStatus()
				if status == 200 {
					p.ingestAccepted(n, bodySize)
					if p.failStreak > 0 {
						p.failStreak = 0
						p.flush(true) // ingest is back: send what waited
					}
					return
				}
				p.ingestFailures.Increment(1)
				if !retryable(status) {
					// The batch itself is refused (malformed, too large):
					// sending it again cannot succeed.
					p.dropped.Increment(uint64(n))
					proxywasm.LogErrorf("spendgate: ingest answered %d; %d events dropped: %s", status, n, callBody(bodySize))
					return
				}
				proxywasm.LogWarnf("spendgate: ingest answered %d; %d events will be retried", status, n)
				p.requeue(batch)
				p.backOff()
			})
		if err != nil {
			p.inFlight -= n
			p.ingestFailures.Increment(1)
			proxywasm.LogWarnf("spendgate: dispatch to ingest cluster %s failed: %v", p.cfg.IngestCluster, err)
			p.requeue(batch)
			p.backOff()
			return
		}
		if p.failStreak > 0 {
			return // one batch probes a failing ingest; the rest wait for its answer
		}
	}
}

// backOff counts a failed delivery and sets how many ticks pass before the
// next attempt: one flush interval, doubling up to max_retry_interval_ms.
func (p *pluginContext) backOff() {
	p.failStreak++
	limit := max(p.ticksPerFlush, p.cfg.MaxRetryIntervalMs/p.tickMs)
	wait := limit
	if p.failStreak <= 20 {
		wait = min(p.ticksPerFlush<<(p.failStreak-1), limit)
	}
	p.waitTicks = max(p.waitTicks, wait)
}

// requeue puts a failed batch back in front of the pending events as far as
// the buffer bound allows; ingest deduplicates by event id, so a retry that
// had in fact been stored is harmless.
func (p *pluginContext) requeue(batch [][]byte) {
	room := p.cfg.MaxBufferedEvents - len(p.pending) - p.inFlight
	if room < len(batch) {
		if room < 0 {
			room = 0
		}
		p.dropped.Increment(uint64(len(batch) - room))
		batch = batch[:room]
	}
	p.pending = append(append([][]byte(nil), batch...), p.pending...)
}

// ingestAccepted counts a 200 answer {"accepted":N,"duplicates":D,"rejected":[...]}:
// rejected events are invalid and are not retried, but counted and logged.
func (p *pluginContext) ingestAccepted(n, bodySize int) {
	body := callBody(bodySize)
	rejected := 0
	if len(body) > 0 {
		rejected = int(gjson.GetBytes(body, "rejected.#").Int())
	}
	rejected = min(max(rejected, 0), n)
	p.sent.Increment(uint64(n - rejected))
	if rejected > 0 {
		p.rejected.Increment(uint64(rejected))
		proxywasm.LogErrorf("spendgate: ingest rejected %d of %d events: %s", rejected, n, body)
	}
}

// retryable reports whether an ingest answer status is worth a retry: no
// answer, timeouts, throttling, server errors, and authentication failures
// (a token fixed in the control plane makes the retry succeed; the buffer
// bound caps what waits).
func retryable(status int) bool {
	switch {
	case status == 0, status >= 500, status == 401, status == 403, status == 408, status == 429:
		return true
	}
	return false
}

// callBody returns at most 4 KiB of the current HTTP call's response body.
func callBody(size int) []byte {
	if size <= 0 {
		return nil
	}
	b, err := proxywasm.GetHttpCallResponseBody(0, min(size, 4096))
	if err != nil {
		return nil
	}
	return b
}

func callStatus() int {
	hs, err := proxywasm.GetHttpCallResponseHeaders()
	if err != nil {
		return 0
	}
	for _, h := range hs {
		if h[0] == ":status" {
			n, _ := strconv.Atoi(h[1])
			return n
		}
	}
	return 0
}

type httpContext struct {
	types.DefaultHttpContext
	plugin    *pluginContext
	contextID uint32

	call             meter.Call
	style            string // the route's wire dialect, for denial bodies
	hadContentLength bool
	key              string
	dims             map[string]string
	dimErr           string
	answer           policy.Answer
	decided          bool
	metering         bool
	countTokens      bool // the key limits tokens per minute: count this call's tokens

	meter      *meter.ResponseMeter
	status     int
	requestID  meter.RequestID
	respStart  time.Time
	respEnded  bool
	denied     bool
	failedOpen bool
}

func (h *httpContext) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	h.call.Start = time.Now()
	h.call.Source = event.SourceEnvoy
	headers, err := proxywasm.GetHttpRequestHeaders()
	if err != nil {
		proxywasm.LogErrorf("spendgate: request headers: %v", err)
		return types.ActionContinue
	}
	var path, authority string
	for _, kv := range headers {
		name := strings.ToLower(kv[0])
		switch name {
		case ":path":
			path = kv[1]
		case ":authority":
			authority = kv[1]
		case "content-length":
			h.hadContentLength = true
		case meter.KeyHeader:
			h.key = strings.TrimSpace(kv[1])
		default:
			dim, val, isDim, err := meter.DimensionFromHeader(name, kv[1])
			if !isDim {
				continue
			}
			if err != nil {
				h.dimErr = err.Error()
				continue
			}
			if h.dims == nil {
				h.dims = map[string]string{}
			}
			h.dims[dim] = val
		}
	}
	route, ok := meter.Resolve(authority, path)
	if !ok {
		return h.deny("openai", event.DenialUnknownRoute, "no AI provider is routed at "+path+": use /v1/<provider>/...")
	}
	h.call.Route = route
	h.style = route.Style.String()
	if h.key == "" {
		return h.deny(h.style, event.DenialMissingKey, "missing spendgate API key: send it in the "+meter.KeyHeader+" header")
	}
	// The spendgate key never reaches the provider.
	if err := proxywasm.RemoveHttpRequestHeader(meter.KeyHeader); err != nil {
		proxywasm.LogErrorf("spendgate: removing %s: %v", meter.KeyHeader, err)
	}
	if route.Metered() {
		// Usage is read from the response body, so the provider must answer
		// in identity encoding (the embedded gateway does the same).
		if err := proxywasm.RemoveHttpRequestHeader("accept-encoding"); err != nil {
			proxywasm.LogErrorf("spendgate: removing accept-encoding: %v", err)
		}
	}
	if endOfStream {
		return h.authorize(nil)
	}
	// Hold the headers until the whole body is here: the model is in it.
	return types.ActionPause
}

func (h *httpContext) OnHttpRequestBody(bodySize int, endOfStream bool) types.Action {
	if h.decided || h.denied {
		return types.ActionContinue
	}
	if bodySize > h.plugin.cfg.MaxRequestBodyBytes {
		return h.deny(h.style, event.DenialBodyTooLarge,
			"request body of "+strconv.Itoa(bodySize)+" bytes exceeds the limit of "+strconv.Itoa(h.plugin.cfg.MaxRequestBodyBytes)+" bytes")
	}
	if !endOfStream {
		return types.ActionPause // buffer until the body is complete
	}
	var body []byte
	if bodySize > 0 {
		b, err := proxywasm.GetHttpRequestBody(0, bodySize)
		if err != nil {
			proxywasm.LogErrorf("spendgate: request body: %v", err)
		}
		body = b
	}
	return h.authorize(body)
}

// authorize finds the key's policy in the cache or asks the policy endpoint,
// then decides. It returns Pause while the policy call is out.
func (h *httpContext) authorize(body []byte) types.Action {
	h.call.Request = meter.ParseRequest(&h.call.Route, body)
	cacheKey := newPolicyCacheKey(h.key)
	if a, ok := cachedAnswer(cacheKey); ok {
		return h.decide(a, body, false)
	}
	cfg := &h.plugin.cfg
	headers := [][2]string{
		{":method", "GET"}, {":path", cfg.PolicyPath}, {":authority", cfg.PolicyAuthority},
		{"authorization", "Bearer " + cfg.ServiceToken}, {meter.KeyHeader, h.key},
	}
	_, err := proxywasm.DispatchHttpCall(cfg.PolicyCluster, headers, nil, nil, uint32(cfg.TimeoutMs),
		func(numHeaders, bodySize, numTrailers int) {
			status := callStatus()
			var a policy.Answer
			var perr error
			if status == 200 {
				raw, err := proxywasm.GetHttpCallResponseBody(0, bodySize)
				if err == nil {
					a, perr = policy.ParseAnswer(raw)
				} else {
					perr = err
				}
			}
			if status != 200 || perr != nil {
				h.authUnavailable("policy endpoint answered "+strconv.Itoa(status), true)
				return
			}
			storeAnswer(cacheKey, &a, cfg)
			h.decide(a, body, true)
		})
	if err != nil {
		return h.authUnavailable("dispatch to policy cluster "+cfg.PolicyCluster+" failed: "+err.Error(), false)
	}
	return types.ActionPause
}

// authUnavailable handles an unreachable policy service: fail closed with a
// 503 by default, or let the request through unattributed when configured to
// fail open. resume is true inside the policy call's callback.
func (h *httpContext) authUnavailable(why string, resume bool) types.Action {
	h.plugin.authFailures.Increment(1)
	proxywasm.LogWarnf("spendgate: %s", why)
	if h.plugin.cfg.FailOpen {
		h.plugin.failOpen.Increment(1)
		h.failedOpen = true
		h.decided = true
		if resume {
			_ = proxywasm.ResumeHttpRequest()
		}
		return types.ActionContinue
	}
	return h.deny(h.style, event.DenialAuthUnavailable,
		"the spendgate policy service is unavailable; try again shortly")
}

// decide applies the policy. resume is true when called from a callback,
// where the paused request must be resumed explicitly.
func (h *httpContext) decide(a policy.Answer, body []byte, resume bool) types.Action {
	h.answer = a
	h.call.Answer = &h.answer
	style := h.style
	if !a.Valid {
		d := policy.Evaluate(&a, "", "", nil)
		return h.deny(style, d.Reason, d.Message)
	}
	dims, err := meter.MergeDimensions(a.Policy.DefaultDimensions, h.dims)
	if err != nil || h.dimErr != "" {
		msg := h.dimErr
		if err != nil {
			msg = err.Error()
		}
		return h.deny(style, event.DenialInvalidDimension, msg)
	}
	h.call.Dimensions = dims
	// Whether the model is priced is asked of the control plane below
	// (priced.go): the filter carries no pricing catalogue.
	d := policy.Evaluate(&a, h.call.Route.Provider.ID, h.call.Request.Model, dims)
	if !d.Allowed() {
		return h.deny(style, d.Reason, d.Message)
	}
	if a.Policy.RequirePricedModels {
		return h.checkPriced(body, resume)
	}
	return h.admit(body, resume)
}

// admit applies the last check, the key's rate limits, and sends the request
// on. resume is true when called from a callback, where the paused request
// must be resumed explicitly.
func (h *httpContext) admit(body []byte, resume bool) types.Action {
	// Rate limits come last: only a call that passes everything else counts.
	if h.answer.Policy.RateLimited() {
		if d := h.plugin.admitRate(&h.answer, h.plugin.now()); !d.Allowed() {
			return h.denyRetryAfter(h.style, d.Reason, d.Message, d.RetryAfterSeconds)
		}
		h.countTokens = h.answer.Policy.TokensPerMinute > 0
	}
	if h.plugin.cfg.InjectStreamUsage && meter.NeedsStreamUsageInjection(&h.call.Route, &h.call.Request) {
		if nb, ok := meter.InjectStreamUsage(body); ok {
			if err := proxywasm.ReplaceHttpRequestBody(nb); err != nil {
				proxywasm.LogErrorf("spendgate: injecting stream usage option: %v", err)
			} else if h.hadContentLength {
				// A chunked request stays chunked; a sized one gets its new size.
				_ = proxywasm.ReplaceHttpRequestHeader("content-length", strconv.Itoa(len(nb)))
			}
		}
	}
	h.decided = true
	h.metering = h.call.Route.Metered()
	if resume {
		_ = proxywasm.ResumeHttpRequest()
	}
	return types.ActionContinue
}

// deny answers locally in the provider's error shape and records a denial
// event when the key's tenant is known (denials of unknown keys belong to no
// tenant; they are counted in the spendgate_denials metric).
func (h *httpContext) deny(style, reason, message string) types.Action {
	return h.denyRetryAfter(style, reason, message, 0)
}

// denyRetryAfter is deny with a retry-after header of retryAfter seconds
// when above 0 (rate limits: the SDKs wait that long before retrying).
func (h *httpContext) denyRetryAfter(style, reason, message string, retryAfter int) types.Action {
	h.denied = true
	h.plugin.denials.Increment(1)
	status, ctype, body := policy.DenialResponse(style, reason, message)
	headers := [][2]string{{"content-type", ctype}, {"x-spendgate-denial", reason},
		{"x-should-retry", strconv.FormatBool(policy.ShouldRetry(reason))}}
	if retryAfter > 0 {
		headers = append(headers, [2]string{"retry-after", strconv.Itoa(retryAfter)})
	}
	if err := proxywasm.SendHttpResponse(uint32(status), headers, body, -1); err != nil {
		proxywasm.LogErrorf("spendgate: sending denial: %v", err)
	}
	if h.call.Answer != nil && h.call.Answer.Valid {
		e := h.call.DenialEvent(newEventID(), reason, message)
		h.plugin.enqueue(&e)
	}
	return types.ActionPause
}

func (h *httpContext) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	if !h.metering {
		return types.ActionContinue
	}
	h.respStart = time.Now()
	headers, _ := proxywasm.GetHttpResponseHeaders()
	sse := false
	for _, kv := range headers {
		name := strings.ToLower(kv[0])
		h.requestID.Header(name, kv[1])
		switch name {
		case ":status":
			h.status, _ = strconv.Atoi(kv[1])
		case "content-type":
			sse = strings.HasPrefix(strings.ToLower(kv[1]), "text/event-stream")
		case "content-encoding":
			if enc := strings.ToLower(strings.TrimSpace(kv[1])); enc != "" && enc != "identity" {
				// Accept-Encoding was removed; a provider that compresses
				// anyway hides its usage from the meter.
				proxywasm.LogWarnf("spendgate: %s answered with content-encoding %s; its usage cannot be read", h.call.Route.Provider.ID, enc)
			}
		}
	}
	h.meter = meter.NewResponseMeter(&h.call.Route, sse)
	if endOfStream {
		h.respEnded = true
	}
	return types.ActionContinue
}

// OnHttpResponseBody meters each chunk as it passes; nothing is held back.
func (h *httpContext) OnHttpResponseBody(bodySize int, endOfStream bool) types.Action {
	if h.meter == nil {
		return types.ActionContinue
	}
	if bodySize > 0 {
		chunk, err := proxywasm.GetHttpResponseBody(0, bodySize)
		if err == nil {
			h.meter.Write(chunk)
		}
	}
	if endOfStream {
		h.respEnded = true
	}
	return types.ActionContinue
}

func (h *httpContext) OnHttpStreamDone() {
	if !h.metering || h.failedOpen || h.call.Answer == nil {
		return
	}
	now := time.Now()
	var res meter.Result
	switch {
	case h.meter == nil: // no response arrived: incomplete, no usage
	case h.respEnded:
		res = h.meter.Finish()
	default:
		// The client or the upstream went away before the end of body; a
		// stream whose final event went through still counts as complete.
		res = h.meter.FinishCut()
	}
	var ttfb time.Duration
	if !h.respStart.IsZero() {
		ttfb = h.respStart.Sub(h.call.Start)
	}
	e := h.call.UsageEvent(newEventID(), h.status, &res, ttfb, now.Sub(h.call.Start), h.requestID.String())
	h.plugin.enqueue(&e)
	if h.countTokens {
		h.plugin.addRateTokens(&h.answer, res.Tokens, h.plugin.now())
	}
}

// Policy answers are cached in the proxy's shared data (visible to every
// worker thread's VM) under names derived from the key's SHA-256, so the
// secret itself is never stored. Positive answers live under a name per key;
// there are as many as real keys in use. Negative answers (unknown or revoked
// keys) live in one of negativeCacheSlots slots: anyone can send endless
// random keys, and shared data has no eviction, so their entries must not
// grow without bound. Each entry records its key's digest, so a slot taken
// over by another key is a miss, never a wrong answer.
const negativeCacheSlots = 4096

type policyCacheKey struct {
	digest   [16]byte
	positive string
	negative string
}

func newPolicyCacheKey(key string) policyCacheKey {
	sum := sha256.Sum256([]byte(key))
	var k policyCacheKey
	copy(k.digest[:], sum[:16])
	k.positive = "spendgate.policy." + hex.EncodeToString(k.digest[:])
	slot := binary.BigEndian.Uint32(sum[16:20]) % negativeCacheSlots
	k.negative = "spendgate.policy.negative." + strconv.Itoa(int(slot))
	return k
}

// Cache entries are 8 bytes of expiry (Unix ms), the key's 16-byte digest,
// then the answer JSON.
const cacheHeader = 8 + 16

func cachedAnswer(k policyCacheKey) (policy.Answer, bool) {
	if a, ok := readCacheEntry(k.positive, &k.digest); ok {
		return a, true
	}
	return readCacheEntry(k.negative, &k.digest)
}

func readCacheEntry(name string, digest *[16]byte) (policy.Answer, bool) {
	data, _, err := proxywasm.GetSharedData(name)
	if err != nil || len(data) < cacheHeader {
		return policy.Answer{}, false
	}
	if int64(binary.BigEndian.Uint64(data[:8])) < time.Now().UnixMilli() || string(data[8:cacheHeader]) != string(digest[:]) {
		return policy.Answer{}, false
	}
	a, err := policy.ParseAnswer(data[cacheHeader:])
	return a, err == nil
}

// cacheTTL is how long an answer may be reused: the configured TTL for its
// kind, shortened by the answer's own hint.
func cacheTTL(a *policy.Answer, cfg *config.Config) time.Duration {
	return answerTTL(a.Valid, a.CacheTTLSeconds, cfg)
}

// answerTTL is how long a positive or negative answer from the control plane
// may be reused: cache_ttl_seconds or negative_cache_ttl_seconds, shortened
// by the answer's own hint (seconds; 0: none).
func answerTTL(positive bool, hintSeconds int, cfg *config.Config) time.Duration {
	ttl := cfg.CacheTTLSeconds
	if !positive {
		ttl = cfg.NegativeCacheTTLSeconds
	}
	if hintSeconds > 0 && hintSeconds < ttl {
		ttl = hintSeconds
	}
	return time.Duration(ttl) * time.Second
}

func storeAnswer(k policyCacheKey, a *policy.Answer, cfg *config.Config) {
	name := k.positive
	if !a.Valid {
		name = k.negative
	}
	buf := make([]byte, cacheHeader, 256)
	binary.BigEndian.PutUint64(buf, uint64(time.Now().Add(cacheTTL(a, cfg)).UnixMilli()))
	copy(buf[8:], k.digest[:])
	buf = appendAnswer(buf, a)
	// Replace whatever the entry holds (another key's answer in a shared
	// negative slot, an expired answer). Passing the version just read makes
	// a concurrent writer win instead; either way the entry is a whole answer.
	_, cas, _ := proxywasm.GetSharedData(name)
	if err := proxywasm.SetSharedData(name, buf, cas); err != nil {
		proxywasm.LogWarnf("spendgate: caching policy answer: %v", err)
	}
}

func appendAnswer(b []byte, a *policy.Answer) []byte {
	b = append(b, `{"valid":`...)
	b = strconv.AppendBool(b, a.Valid)
	b = append(b, `,"reason":`...)
	b = event.AppendString(b, a.Reason)
	b = append(b, `,"tenant_id":`...)
	b = event.AppendString(b, a.TenantID)
	b = append(b, `,"key_id":`...)
	b = event.AppendString(b, a.KeyID)
	b = append(b, `,"key_prefix":`...)
	b = event.AppendString(b, a.KeyPrefix)
	b = append(b, `,"blocked":`...)
	b = strconv.AppendBool(b, a.Blocked)
	b = append(b, `,"block_reason":`...)
	b = event.AppendString(b, a.BlockReason)
	b = append(b, `,"cache_ttl_seconds":`...)
	b = strconv.AppendInt(b, int64(a.CacheTTLSeconds), 10)
	b = append(b, `,"policy":{"allowed_providers":`...)
	b = appendStrings(b, a.Policy.AllowedProviders)
	b = append(b, `,"allowed_models":`...)
	b = appendStrings(b, a.Policy.AllowedModels)
	b = append(b, `,"required_dimensions":`...)
	b = appendStrings(b, a.Policy.RequiredDimensions)
	b = append(b, `,"default_dimensions":{`...)
	first := true
	for k, v := range a.Policy.DefaultDimensions {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = event.AppendString(b, k)
		b = append(b, ':')
		b = event.AppendString(b, v)
	}
	b = append(b, `},"require_priced_models":`...)
	b = strconv.AppendBool(b, a.Policy.RequirePricedModels)
	b = append(b, `,"hard_budget":`...)
	b = strconv.AppendBool(b, a.Policy.HardBudget)
	b = append(b, `,"requests_per_minute":`...)
	b = strconv.AppendInt(b, int64(a.Policy.RequestsPerMinute), 10)
	b = append(b, `,"tokens_per_minute":`...)
	b = strconv.AppendInt(b, a.Policy.TokensPerMinute, 10)
	return append(b, "}}"...)
}

func appendStrings(b []byte, list []string) []byte {
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = event.AppendString(b, s)
	}
	return append(b, ']')
}

func newEventID() string {
	var r [10]byte
	_, _ = rand.Read(r[:])
	return meter.NewEventID(time.Now(), r)
}
