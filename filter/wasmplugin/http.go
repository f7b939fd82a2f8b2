package wasmplugin

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/spendgate/spendgate/dataplane"
	"github.com/spendgate/spendgate/dataplane/contract"
	"github.com/spendgate/spendgate/meter"
	"github.com/spendgate/spendgate/policy"
)

type httpContext struct {
	types.DefaultHttpContext
	plugin *pluginContext
	call   *dataplane.Call

	hadContentLength bool
	decided          bool // forwarded or denied
	metering         bool

	meter     *meter.ResponseMeter
	status    int
	requestID meter.RequestID
	respStart time.Time
	respEnded bool
}

func (h *httpContext) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	h.call = h.plugin.newCall(h.plugin.clock())
	headers, err := requestHeaders(h.plugin.headers)
	h.plugin.headers = headers[:0]
	if err != nil {
		proxywasm.LogErrorf("spendgate: request headers: %v", err)
		h.decided = true
		return types.ActionContinue
	}
	var path, authority string
	// Headers are removed only when the request has them: each removal is
	// a call into the host.
	var hasKey, hasAcceptEncoding bool
	for _, kv := range headers {
		switch name := lower(kv[0]); name {
		case ":path":
			path = kv[1]
		case ":authority":
			authority = kv[1]
		case "content-length":
			h.hadContentLength = true
		default:
			switch name {
			case contract.KeyHeader:
				hasKey = true
			case "accept-encoding":
				hasAcceptEncoding = true
			}
			h.call.Header(name, kv[1])
		}
	}
	if s := h.call.Begin(authority, path); s.Kind != dataplane.NeedBody {
		return h.run(s, false)
	}
	// The spendgate key never reaches the provider.
	if hasKey {
		if err := proxywasm.RemoveHttpRequestHeader(contract.KeyHeader); err != nil {
			proxywasm.LogErrorf("spendgate: removing %s: %v", contract.KeyHeader, err)
		}
	}
	if hasAcceptEncoding && h.call.StripAcceptEncoding() {
		// Usage is read from the response body, so the provider must answer
		// in identity encoding (the embedded gateway does the same).
		if err := proxywasm.RemoveHttpRequestHeader("accept-encoding"); err != nil {
			proxywasm.LogErrorf("spendgate: removing accept-encoding: %v", err)
		}
	}
	if endOfStream {
		return h.run(h.call.Body(nil), false)
	}
	// Hold the headers until the whole body is here: the model is in it.
	return types.ActionPause
}

func (h *httpContext) OnHttpRequestBody(bodySize int, endOfStream bool) types.Action {
	if h.decided {
		return types.ActionContinue
	}
	if s, over := h.call.BodyTooLarge(int64(bodySize)); over {
		return h.run(s, false)
	}
	if !endOfStream {
		return types.ActionPause // buffer until the body is complete
	}
	h.plugin.clock()
	var body []byte
	if bodySize > 0 {
		b, err := requestBody(bodySize)
		if err != nil {
			proxywasm.LogErrorf("spendgate: request body: %v", err)
		}
		body = b
	}
	return h.run(h.call.Body(body), false)
}

// run does what the core's steps say until one needs an answer from
// elsewhere (Pause; the callback runs on) or the call is decided. resume is
// true inside a callback, where a paused request must be resumed
// explicitly.
func (h *httpContext) run(s dataplane.Step, resume bool) types.Action {
	p := h.plugin
	for {
		switch s.Kind {
		case dataplane.NeedPolicy:
			k := p.policyKeys.For(h.call.Key())
			if a, ok := p.cachedPolicy(k); ok {
				s = h.call.Policy(a, nil)
				continue
			}
			if err := h.askPolicy(k); err != nil {
				s = h.call.Policy(policy.Answer{}, err)
				continue
			}
			return types.ActionPause
		case dataplane.NeedPriced:
			tenant, provider, model := h.call.PricedQuestion()
			k := dataplane.PricedCacheKey(tenant, provider, model)
			if priced, ok := p.cachedPriced(&k); ok {
				s = h.call.Priced(priced, nil)
				continue
			}
			if err := h.askPriced(&k, tenant, provider, model); err != nil {
				s = h.call.Priced(false, err)
				continue
			}
			return types.ActionPause
		case dataplane.NeedRate:
			s = h.call.Rated(p.admitRate(h.call.Answer(), p.at), p.at)
		case dataplane.NeedReservation:
			if err := h.reserve(&s.Reserve); err != nil {
				s = h.call.Reserved(contract.ReserveAnswer{}, err)
				continue
			}
			return types.ActionPause
		case dataplane.Forward:
			h.unavailable(&s)
			if cred, ok := h.call.Credential(); ok {
				useCredential(cred)
			}
			if s.NewBody != nil {
				if err := proxywasm.ReplaceHttpRequestBody(s.NewBody); err != nil {
					proxywasm.LogErrorf("spendgate: injecting stream usage option: %v", err)
				} else if h.hadContentLength {
					// A chunked request stays chunked; a sized one gets its new size.
					_ = proxywasm.ReplaceHttpRequestHeader("content-length", strconv.Itoa(len(s.NewBody)))
				}
			}
			h.decided = true
			h.metering = h.call.Metered()
			if resume {
				_ = proxywasm.ResumeHttpRequest()
			}
			return types.ActionContinue
		case dataplane.Deny:
			h.unavailable(&s)
			h.deny(s.Denial)
			return types.ActionPause
		default: // NeedBody
			return types.ActionPause
		}
	}
}

// unavailable counts and logs a service the call could not ask.
func (h *httpContext) unavailable(s *dataplane.Step) {
	p := h.plugin
	switch s.Unavailable {
	case "":
		return
	case "policy":
		p.authFailures.Increment(1)
	case "priced":
		p.pricedUnavailable.Increment(1)
	case "reservation":
		p.reserveUnavailable.Increment(1)
	}
	if s.FailedOpen {
		p.failOpen.Increment(1)
	}
	proxywasm.LogWarnf("spendgate: the %s service is unavailable; the call is %s", s.Unavailable, map[bool]string{true: "let through (fail open)", false: "refused"}[s.FailedOpen])
}

// deny answers locally in the provider's error shape and records the
// denial's event, if any (denials of unknown keys belong to no tenant; they
// are counted in the spendgate_denials metric).
func (h *httpContext) deny(d *dataplane.Denial) {
	h.decided = true
	h.plugin.denials.Increment(1)
	if err := proxywasm.SendHttpResponse(uint32(d.Status), d.Headers, d.Body, -1); err != nil {
		proxywasm.LogErrorf("spendgate: sending denial: %v", err)
	}
	if d.Event != nil {
		h.plugin.enqueue(d.Event)
	}
	if d.UndoRate {
		h.plugin.releaseRate(h.call.Answer(), h.call.Admitted())
	}
}

// errAnswer is a failed call to one of spendgate's endpoints.
func errAnswer(what string, status int, body []byte) error {
	return errors.New(what + " answered " + strconv.Itoa(status) + ": " + string(body))
}

func (h *httpContext) askPolicy(k *dataplane.CacheKey) error {
	p := h.plugin
	cfg := &p.cfg
	headers := [][2]string{
		{":method", "GET"}, {":path", cfg.PolicyPath}, {":authority", cfg.PolicyAuthority},
		{"authorization", contract.Bearer(cfg.ServiceToken)}, {contract.KeyHeader, h.call.Key()},
	}
	_, err := proxywasm.DispatchHttpCall(cfg.PolicyCluster, headers, nil, nil, uint32(cfg.TimeoutMs),
		func(numHeaders, bodySize, numTrailers int) {
			if h.call == nil {
				return // the stream ended meanwhile
			}
			h.plugin.clock()
			var a policy.Answer
			var err error
			if status := callStatus(); status != 200 {
				err = errAnswer("the policy endpoint", status, callBody(bodySize))
			} else if a, err = policy.ParseAnswer(fullCallBody(bodySize)); err == nil {
				p.storePolicy(k, &a)
			}
			h.run(h.call.Policy(a, err), true)
		})
	if err != nil {
		return errors.New("dispatch to policy cluster " + cfg.PolicyCluster + " failed: " + err.Error())
	}
	return nil
}

func (h *httpContext) askPriced(k *dataplane.CacheKey, tenant, provider, model string) error {
	p := h.plugin
	cfg := &p.cfg
	headers := [][2]string{
		{":method", "GET"}, {":path", cfg.PricedPath + "?" + policy.PricedQuery(tenant, provider, model)},
		{":authority", cfg.PolicyAuthority}, {"authorization", contract.Bearer(cfg.ServiceToken)},
	}
	_, err := proxywasm.DispatchHttpCall(cfg.PolicyCluster, headers, nil, nil, uint32(cfg.TimeoutMs),
		func(numHeaders, bodySize, numTrailers int) {
			if h.call == nil {
				return // the stream ended meanwhile
			}
			h.plugin.clock()
			var a policy.PricedAnswer
			var err error
			if status := callStatus(); status != 200 {
				err = errAnswer("the priced endpoint", status, callBody(bodySize))
			} else if a, err = policy.ParsePricedAnswer(fullCallBody(bodySize)); err == nil {
				p.storePriced(k, a)
			}
			if err != nil {
				proxywasm.LogWarnf("spendgate: priced check for model %s: %v", model, err)
			}
			h.run(h.call.Priced(a.Priced, err), true)
		})
	if err != nil {
		return errors.New("dispatch to policy cluster " + cfg.PolicyCluster + " failed: " + err.Error())
	}
	return nil
}

// reserve asks the reservation endpoint to hold the call's spend; the
// request stays paused until it answers.
func (h *httpContext) reserve(r *contract.ReserveRequest) error {
	cfg := &h.plugin.cfg
	headers := [][2]string{
		{":method", "POST"}, {":path", cfg.ReservationPath}, {":authority", cfg.ReservationAuthority},
		{"authorization", contract.Bearer(cfg.ServiceToken)}, {"content-type", "application/json"},
	}
	_, err := proxywasm.DispatchHttpCall(cfg.ReservationCluster, headers, r.AppendJSON(make([]byte, 0, 256)), nil, uint32(cfg.TimeoutMs),
		func(numHeaders, bodySize, numTrailers int) {
			if h.call == nil {
				return // the stream ended meanwhile
			}
			h.plugin.clock()
			status := callStatus()
			body := fullCallBody(bodySize)
			a, err := contract.ParseReserveAnswer(status, body)
			if err != nil {
				err = errAnswer("the reservation endpoint", status, body)
				proxywasm.LogWarnf("spendgate: %v", err)
			}
			h.run(h.call.Reserved(a, err), true)
		})
	if err != nil {
		return errors.New("dispatch to reservation cluster " + cfg.ReservationCluster + " failed: " + err.Error())
	}
	return nil
}

func (h *httpContext) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	if !h.metering {
		return types.ActionContinue
	}
	h.respStart = h.plugin.clock()
	headers, _ := responseHeaders(h.plugin.headers)
	h.plugin.headers = headers[:0]
	sse := false
	for _, kv := range headers {
		name := lower(kv[0])
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
	h.meter = h.plugin.meter(&h.call.Route, sse)
	for _, kv := range headers {
		h.meter.Header(kv[0], kv[1]) // Bedrock: event-stream framing, token count headers
	}
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
		chunk, err := responseBody(bodySize)
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
	if !h.metering {
		h.plugin.callDone(h.call)
		h.call = nil
		return
	}
	now := h.plugin.clock()
	var res meter.Result
	switch {
	case h.meter == nil:
		// No answer came from the provider: no usage. Its reservation is
		// given back rather than left to lapse.
		if id := h.call.FailedBeforeUsage(); id != "" {
			h.plugin.releases = append(h.plugin.releases, id)
		}
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
	if e, ok := h.call.UsageEvent(h.status, &res, ttfb, now.Sub(h.call.Start), h.requestID.String()); ok {
		h.plugin.enqueue(&e)
	}
	if h.call.CountTokens {
		h.plugin.addRateTokens(h.call.Answer(), res.Tokens, now)
	}
	h.plugin.meterDone(h.meter)
	h.plugin.callDone(h.call)
	h.call, h.meter = nil, nil // the host may keep the context a while: not its call
}

// useCredential puts the tenant's stored provider credential on the paused
// request in place of whatever the caller sent (the headers have not gone
// upstream yet: the filter holds them until it decides).
func useCredential(cred dataplane.Credential) {
	for _, name := range dataplane.CredentialHeaders {
		if name != cred.Header {
			_ = proxywasm.RemoveHttpRequestHeader(name)
		}
	}
	if err := proxywasm.ReplaceHttpRequestHeader(cred.Header, cred.Value); err != nil {
		proxywasm.LogErrorf("spendgate: setting the stored provider credential: %v", err)
	}
}
