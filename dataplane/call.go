// Package dataplane is the core both data-plane hosts drive: the Envoy
// filter (filter/wasmplugin) and the embedded gateway (gateway). It holds
// every decision about a call — the admission order, the provider-shaped
// denials, the events — and the delivery rules of events (Outbox), so the
// hosts only do I/O: read headers and bodies, ask the endpoints the core
// asks for (dataplane/contract), forward, answer, send batches.
//
// A call goes through a Call: the host feeds it what it learns and does what
// each returned Step says:
//
//	Begin (route, key)        -> NeedBody | Deny
//	Body                      -> NeedPolicy | Deny
//	Policy (answer or error)  -> NeedPriced | NeedRate | NeedReservation | Forward | Deny
//	Priced (priced or error)  -> NeedRate | NeedReservation | Forward | Deny
//	Rated (rate decision)     -> NeedReservation | Forward | Deny
//	Reserved (answer or error)-> Forward | Deny
//
// then, after the provider answered, UsageEvent (and Release when the call
// failed before any usage). TinyGo-safe: no encoding/json, net/http, fmt,
// goroutines or locks; time comes from the host.
package dataplane

import (
	"strconv"
	"strings"
	"time"

	"github.com/spendgate/spendgate/dataplane/contract"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/meter"
	"github.com/spendgate/spendgate/policy"
)

// Config is what a host decides about its calls.
type Config struct {
	// MaxRequestBodyBytes caps request bodies (413 beyond).
	MaxRequestBodyBytes int64
	// FailOpen forwards calls unattributed when the policy service cannot
	// be reached, and unchecked when whether their model is priced cannot be
	// learnt; by default such calls are refused with a retryable 503.
	FailOpen bool
	// InjectStreamUsage adds stream_options.include_usage to OpenAI-style
	// streaming requests lacking it.
	InjectStreamUsage bool
	// CheckPriced asks whether the model is priced for keys that require
	// priced models (the host can answer NeedPriced).
	CheckPriced bool
	// Reserve holds spend before forwarding calls of keys under a hard
	// budget (the host can answer NeedReservation).
	Reserve bool
	// ReserveFailOpen forwards hard-budget calls whose reservation could not
	// be made; by default they are refused (503 budget_unavailable).
	ReserveFailOpen bool
	// Source is event.SourceEnvoy or event.SourceGateway.
	Source string
	// EventID returns a new event id (meter.NewEventID with the host's
	// randomness and clock).
	EventID func() string
}

// StepKind is what the host does next.
type StepKind uint8

const (
	// NeedBody: hold the request until its whole body is here, then Body.
	NeedBody StepKind = iota
	// NeedPolicy: look up the key's policy answer (cache or endpoint), then Policy.
	NeedPolicy
	// NeedPriced: ask whether the model is priced (PricedQuestion), then Priced.
	NeedPriced
	// NeedRate: apply the key's rate limits in the host's counts
	// (policy.RateWindow) at the host's now, then Rated.
	NeedRate
	// NeedReservation: reserve Step.Reserve, then Reserved.
	NeedReservation
	// Forward: send the request on; with Step.NewBody, in its place.
	Forward
	// Deny: answer Step.Denial locally; do not forward.
	Deny
)

func (k StepKind) String() string {
	return [...]string{"need_body", "need_policy", "need_priced", "need_rate", "need_reservation", "forward", "deny"}[k]
}

// Step is the core's instruction to the host.
type Step struct {
	Kind StepKind
	// Denial is set for Deny.
	Denial *Denial
	// Reserve is the reservation to ask for (NeedReservation).
	Reserve contract.ReserveRequest
	// NewBody replaces the request body on Forward when not nil (the stream
	// usage option injected).
	NewBody []byte
	// Unavailable, when set, names a service that failed and what the call
	// did about it, for the host's log and metrics: "policy", "priced" or
	// "reservation".
	Unavailable string
	// FailedOpen is set when the call goes on despite Unavailable.
	FailedOpen bool
}

// Denial is a local answer in the provider's error shape.
type Denial struct {
	Status  int
	Headers [][2]string // content-type, x-spendgate-denial, x-should-retry, retry-after
	Body    []byte
	Reason  string
	Message string
	// Event records the denial; nil when no tenant is known (unknown keys,
	// unreachable policy service): those are only counted by the host.
	Event *event.Event
	// UndoRate is set when the call had been counted against its key's rate
	// limits: the host takes the count back (policy.RateWindows.Release).
	UndoRate bool
}

// Call is one request's way through the data plane. The zero value is not
// usable: start with NewCall.
type Call struct {
	meter.Call
	cfg *Config

	key      string
	authz    string // the Authorization header, for SigV4's signed headers
	reqDims  map[string]string
	dimErr   string
	answer   policy.Answer
	style    string
	body     []byte
	admitted time.Time
	rated    bool
	// credential is the stored provider credential the call carries
	// (useStoredCredential); empty when it carries the caller's own.
	credential Credential

	// attributed is false for fail-open calls, which produce no event.
	attributed bool
	// ReservationID is the reservation held for the call, settled by its
	// usage event.
	ReservationID string
	// CountTokens is set when the key limits tokens per minute: the host
	// adds the call's tokens to its rate counts (policy.RateTokens).
	CountTokens bool
}

// NewCall starts a call that arrived at now.
func NewCall(cfg *Config, now time.Time) *Call {
	c := new(Call)
	c.Reset(cfg, now)
	return c
}

// Reset starts a new call that arrived at now in c, as NewCall does, for a
// host that reuses ended calls: under TinyGo, allocating a call (about 400
// bytes) searches the fragmented heap block by block for a free run that
// long, on every request. Nothing of the previous call stays; what it
// handed out (events, their maps and strings) is not touched.
func (c *Call) Reset(cfg *Config, now time.Time) {
	*c = Call{Call: meter.Call{Start: now, Source: cfg.Source}, cfg: cfg, style: "openai"}
}

// Header records one request header (name lower case): the spendgate key
// and dimension headers. Others are ignored.
func (c *Call) Header(name, value string) {
	if name == contract.KeyHeader {
		c.key = strings.TrimSpace(value)
		return
	}
	if name == "authorization" {
		c.authz = value
		return
	}
	dim, val, isDim, err := meter.DimensionFromHeader(name, value)
	if !isDim {
		return
	}
	if err != nil {
		c.dimErr = err.Error()
		return
	}
	if c.reqDims == nil {
		c.reqDims = map[string]string{}
	}
	c.reqDims[dim] = val
}

// Key is the caller's spendgate key (to look up; never forwarded).
func (c *Call) Key() string { return c.key }

// Answer is the key's policy answer (nil before Policy, or when failed open).
func (c *Call) Answer() *policy.Answer { return c.Call.Answer }

// Style is the route's wire dialect ("openai", "anthropic", "gemini"), for
// the host's own error answers.
func (c *Call) Style() string { return c.style }

// Begin resolves the route of authority and path (the request URI) once
// the headers are recorded.
func (c *Call) Begin(authority, path string) Step {
	route, ok := meter.Resolve(authority, path)
	if !ok {
		p := path
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		return c.deny(policy.Decision{Reason: event.DenialUnknownRoute, Message: "no AI provider is routed at " + p + ": use /v1/<provider>/..."})
	}
	c.Route = route
	c.style = route.Style.String()
	if c.key == "" {
		return c.deny(policy.Decision{Reason: event.DenialMissingKey, Message: "missing spendgate API key: send it in the " + contract.KeyHeader + " header"})
	}
	if meter.SigV4SignsHeader(c.authz, contract.KeyHeader) {
		// Removing the key would break the signature, forwarding it would
		// hand it to AWS: the key must be added after signing.
		return c.deny(policy.Decision{Reason: event.DenialSignedKeyHeader, Message: "the AWS SigV4 signature covers the " +
			contract.KeyHeader + " header, which spendgate removes before forwarding: add the header after signing (see docs/cloud.md)"})
	}
	return Step{Kind: NeedBody}
}

// StripAcceptEncoding reports whether the host removes the caller's
// Accept-Encoding before forwarding: on metered routes, since usage is read
// from the answer's body, unless a SigV4 signature covers the header (a
// removed signed header breaks the signature; the answer may then come
// compressed and unread, which the host logs).
func (c *Call) StripAcceptEncoding() bool {
	return c.Route.Metered() && !meter.SigV4SignsHeader(c.authz, "accept-encoding")
}

// BodyTooLarge checks a body's size as it arrives (n bytes so far) against
// the limit: a Deny step when over, else NeedBody.
func (c *Call) BodyTooLarge(n int64) (Step, bool) {
	if n <= c.cfg.MaxRequestBodyBytes {
		return Step{Kind: NeedBody}, false
	}
	return c.deny(policy.Decision{Reason: event.DenialBodyTooLarge, Message: "request body of " + strconv.FormatInt(n, 10) +
		" bytes exceeds the limit of " + strconv.FormatInt(c.cfg.MaxRequestBodyBytes, 10) + " bytes"}), true
}

// Body takes the whole request body (the core keeps it until Forward).
func (c *Call) Body(body []byte) Step {
	if s, over := c.BodyTooLarge(int64(len(body))); over {
		return s
	}
	c.body = body
	c.Request = meter.ParseRequest(&c.Route, body)
	return Step{Kind: NeedPolicy}
}

// Policy takes the key's policy answer, or the error that kept it away.
func (c *Call) Policy(a policy.Answer, err error) Step {
	if err != nil {
		if c.cfg.FailOpen {
			return Step{Kind: Forward, Unavailable: "policy", FailedOpen: true}
		}
		s := c.deny(policy.Decision{Reason: event.DenialAuthUnavailable, Message: "the spendgate policy service is unavailable; try again shortly"})
		s.Unavailable = "policy"
		return s
	}
	c.answer = a
	c.Call.Answer = &c.answer
	c.attributed = a.Valid
	if !a.Valid {
		return c.deny(policy.Evaluate(&c.answer, "", "", nil))
	}
	if dep := c.Route.AzureDeployment(&c.Request); dep != "" {
		// The tenant's deployment names stand for models: every rule below,
		// the event and the price see the model.
		c.Request.Model = a.Policy.ResolveAzureDeployment(dep)
	}
	dims, err := meter.MergeDimensions(a.Policy.DefaultDimensions, c.reqDims)
	c.Dimensions = dims
	if c.dimErr != "" {
		return c.deny(policy.Decision{Reason: event.DenialInvalidDimension, Message: c.dimErr})
	}
	if err != nil {
		return c.deny(policy.Decision{Reason: event.DenialInvalidDimension, Message: err.Error()})
	}
	if d := policy.Evaluate(&c.answer, c.Route.Provider.ID, c.Request.Model, dims); !d.Allowed() {
		return c.deny(d)
	}
	if s, denied := c.useStoredCredential(); denied {
		return s
	}
	// Whether the model is priced is asked only of calls that pass every
	// other rule: a lookup costs a call.
	if a.Policy.RequirePricedModels && c.cfg.CheckPriced {
		model := c.Request.Model
		if model == "" || len(model) > event.MaxModelNameBytes {
			// No name, or one longer than any the control plane prices.
			return c.deny(policy.UnpricedModel(model))
		}
		return Step{Kind: NeedPriced}
	}
	return c.afterPriced()
}

// PricedQuestion is what NeedPriced asks: whether provider's model is priced
// for tenantID.
func (c *Call) PricedQuestion() (tenantID, provider, model string) {
	return c.answer.TenantID, c.Route.Provider.ID, c.Request.Model
}

// Priced takes whether the model is priced, or the error that kept the
// answer away.
func (c *Call) Priced(priced bool, err error) Step {
	switch {
	case err != nil && c.cfg.FailOpen:
		s := c.afterPriced()
		s.Unavailable, s.FailedOpen = "priced", s.Kind != Deny
		return s
	case err != nil:
		s := c.deny(policy.PricedUnavailable(c.Request.Model))
		s.Unavailable = "priced"
		return s
	case !priced:
		return c.deny(policy.UnpricedModel(c.Request.Model))
	}
	return c.afterPriced()
}

// afterPriced applies the rate limits, last of the rules: only a call that
// passes everything else counts.
func (c *Call) afterPriced() Step {
	if c.answer.Policy.RateLimited() {
		return Step{Kind: NeedRate}
	}
	return c.afterRate()
}

// Admitted is when the call was counted against its key's rate limits
// (Rated's at).
func (c *Call) Admitted() time.Time { return c.admitted }

// Rated takes the rate limit decision the host's counts gave for the call
// at time at (the call is counted when allowed).
func (c *Call) Rated(d policy.Decision, at time.Time) Step {
	if !d.Allowed() {
		return c.deny(d)
	}
	c.rated, c.admitted = true, at
	c.CountTokens = c.answer.Policy.TokensPerMinute > 0
	return c.afterRate()
}

func (c *Call) afterRate() Step {
	if c.cfg.Reserve && c.answer.Policy.HardBudget && c.Route.Metered() {
		return Step{Kind: NeedReservation, Reserve: contract.ReserveRequest{
			TenantID: c.answer.TenantID, KeyID: c.answer.KeyID, Dimensions: c.Dimensions,
			Provider: c.Route.Provider.ID, Model: c.Request.Model, MaxTokens: c.Request.MaxTokens,
			InputTokensEstimate: int64(len(c.body) / 4),
		}}
	}
	return c.forward()
}

// Reserved takes the reservation endpoint's answer, or the error that kept
// it away (unreachable, or an answer that is neither a reservation nor a
// denial).
func (c *Call) Reserved(a contract.ReserveAnswer, err error) Step {
	switch {
	case err == nil && a.Denied:
		msg := a.Message
		if msg == "" {
			msg = "a hard budget covering this key has no room left for this call"
		}
		s := c.deny(policy.Decision{Reason: a.Reason, Message: msg})
		if a.Reason == event.DenialBudgetUnavailable {
			s.Unavailable = "reservation"
		}
		return s
	case err == nil:
		c.ReservationID = a.ReservationID
		return c.forward()
	case c.cfg.ReserveFailOpen:
		s := c.forward()
		s.Unavailable, s.FailedOpen = "reservation", true
		return s
	}
	s := c.deny(policy.Decision{Reason: event.DenialBudgetUnavailable,
		Message: "the spendgate budget service is unavailable and this key is under a hard budget; try again shortly"})
	s.Unavailable = "reservation"
	return s
}

func (c *Call) forward() Step {
	s := Step{Kind: Forward}
	if c.cfg.InjectStreamUsage && meter.NeedsStreamUsageInjection(&c.Route, &c.Request) {
		if nb, ok := meter.InjectStreamUsage(c.body); ok {
			s.NewBody = nb
			c.body = nb
		}
	}
	return s
}

// ForwardBody is the body to send upstream (after any injection).
func (c *Call) ForwardBody() []byte { return c.body }

// Metered reports whether the provider's answer is to be metered and an
// event recorded: a metered route of an attributed call.
func (c *Call) Metered() bool { return c.attributed && c.Route.Metered() }

// UsageEvent is the event of a call that was forwarded: status 0 and an
// empty result when no answer came. It carries the reservation id, which
// ingest settles. ok is false for calls that record no usage (fail-open,
// unmetered). A value, not a pointer: the outbox copies it anyway, and
// under TinyGo a returned pointer is one more heap object per call.
func (c *Call) UsageEvent(status int, res *meter.Result, ttfb, latency time.Duration, requestID string) (e event.Event, ok bool) {
	if !c.Metered() {
		return event.Event{}, false
	}
	e = c.Call.UsageEvent(c.cfg.EventID(), status, res, ttfb, latency, requestID)
	e.ReservationID = c.ReservationID
	return e, true
}

// FailedBeforeUsage is called when a forwarded call ended without any
// answer from the provider: it returns the reservation to release (""
// when none), which the usage event then no longer settles.
func (c *Call) FailedBeforeUsage() string {
	id := c.ReservationID
	c.ReservationID = ""
	return id
}

// UpstreamFailed renders the host's 502 when the provider could not be
// reached, in the provider's error shape.
func (c *Call) UpstreamFailed(msg string) (status int, contentType string, body []byte) {
	return policy.ErrorResponse(c.style, 502, "upstream_unavailable", msg)
}

func (c *Call) deny(d policy.Decision) Step {
	status, ctype, body := policy.DenialResponse(c.style, d.Reason, d.Message)
	den := &Denial{Status: status, Body: body, Reason: d.Reason, Message: d.Message, UndoRate: c.rated}
	den.Headers = [][2]string{{"content-type", ctype}, {"x-spendgate-denial", d.Reason},
		{"x-should-retry", strconv.FormatBool(policy.ShouldRetry(d.Reason))}}
	if d.RetryAfterSeconds > 0 {
		den.Headers = append(den.Headers, [2]string{"retry-after", strconv.Itoa(d.RetryAfterSeconds)})
	}
	if c.Call.Answer != nil && c.Call.Answer.Valid {
		e := c.Call.DenialEvent(c.cfg.EventID(), d.Reason, d.Message)
		den.Event = &e
	}
	c.rated = false
	return Step{Kind: Deny, Denial: den}
}
