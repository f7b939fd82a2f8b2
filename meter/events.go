package meter

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/policy"
	"github.com/spendgate/spendgate/usage"
)

const hexDigits = "0123456789abcdef"

// NewEventID returns a UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then
// random bits the caller supplies (crypto/rand in the gateway, the host's
// randomness in the filter). Time-ordered ids keep ClickHouse inserts local.
func NewEventID(now time.Time, random [10]byte) string {
	var u [16]byte
	ms := uint64(now.UnixMilli())
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	copy(u[6:], random[:])
	u[6] = 0x70 | (u[6] & 0x0f) // version 7
	u[8] = 0x80 | (u[8] & 0x3f) // RFC 9562 variant
	var out [36]byte
	j := 0
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hexDigits[b>>4], hexDigits[b&0x0f]
		j += 2
	}
	return string(out[:])
}

// EventIDTime is the time a UUIDv7 event id (NewEventID's) was minted, to
// the millisecond; ok is false for anything else (ids of the record API are
// UUIDv5, and ingest accepts any id from other senders).
func EventIDTime(id string) (t time.Time, ok bool) {
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[14] != '7' || id[18] != '-' || id[23] != '-' {
		return time.Time{}, false
	}
	switch id[19] {
	case '8', '9', 'a', 'b', 'A', 'B':
	default:
		return time.Time{}, false
	}
	var ms int64
	for _, c := range id[0:8] + id[9:13] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = byte(c - '0')
		case c >= 'a' && c <= 'f':
			d = byte(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			d = byte(c - 'A' + 10)
		default:
			return time.Time{}, false
		}
		ms = ms<<4 | int64(d)
	}
	return time.UnixMilli(ms).UTC(), true
}

// Call gathers what the data plane learns about one request, so the filter and
// the gateway build identical events.
type Call struct {
	Start      time.Time
	Source     string // event.SourceEnvoy or event.SourceGateway
	Route      Route
	Request    RequestInfo
	Answer     *policy.Answer // nil when the key was never resolved
	Dimensions map[string]string
}

func (c *Call) base(id, typ string) event.Event {
	e := event.Event{
		SchemaVersion:  event.SchemaVersion,
		Type:           typ,
		EventID:        id,
		Time:           c.Start.UTC(),
		Source:         c.Source,
		Operation:      c.Route.Operation,
		ModelRequested: truncateUTF8(c.Request.Model, event.MaxModelNameBytes),
		Streaming:      c.Request.Stream,
		ServiceTier:    c.Request.ServiceTier,
		Dimensions:     c.Dimensions,
	}
	if c.Route.Provider != nil {
		e.Provider = c.Route.Provider.ID
	}
	if c.Answer != nil && c.Answer.Valid {
		e.TenantID = c.Answer.TenantID
		e.KeyID = c.Answer.KeyID
	}
	return e
}

// UsageEvent builds the usage event of a call that reached the provider.
func (c *Call) UsageEvent(id string, status int, res *Result, ttfb, latency time.Duration, requestID string) event.Event {
	e := c.base(id, event.TypeUsage)
	e.StatusCode = status
	e.LatencyMs = latency.Milliseconds()
	e.TTFBMs = ttfb.Milliseconds()
	e.RequestID = requestID
	if e.RequestID == "" {
		e.RequestID = res.ResponseID
	}
	if !c.Route.ModelFixed {
		// Where the path or deployment decides the model (and its price),
		// the name a response gives is not another model.
		e.ModelServed = truncateUTF8(res.ServedModel, event.MaxModelNameBytes)
	}
	if c.Route.PricedModel != "" {
		e.ModelServed = c.Route.PricedModel
	}
	e.Complete = res.Complete
	e.Usage = res.Tokens
	e.RawUsage = res.RawUsage
	if status >= 200 && status < 300 {
		c.requestUnits(&e.Usage)
	}
	return e
}

// requestUnits fills the units a successful call is billed by that only the
// request tells: the images an image call asked for, when the provider
// reports no image tokens (DALL·E answers with the images alone), and the
// characters a text-to-speech call reads out (its answer is the audio).
func (c *Call) requestUnits(t *usage.Tokens) {
	if c.Route.IsImageOperation() && t.Images == 0 && t.ImageOutput == 0 {
		t.Images = c.Request.Images
	}
	if c.Route.Operation == OpAudioSpeech && t.Characters == 0 {
		t.Characters = c.Request.InputCharacters
	}
}

// RequestIDHeaders are the response headers in which providers send their own
// request id, most preferred first: OpenAI and the OpenAI-compatible APIs use
// x-request-id, Anthropic request-id, AWS x-amzn-requestid. (Without any,
// the usage event takes the response body's id.)
var RequestIDHeaders = [...]string{"x-request-id", "request-id", "x-amzn-requestid"}

// RequestID picks the provider's request id from response headers seen one by
// one, so the filter (a header list) and the gateway (an http.Header) agree
// on it. The zero value is ready to use.
type RequestID struct {
	value string
	rank  int // index in RequestIDHeaders + 1 of value's header; 0: none yet
}

// Header considers one response header; names compare case-insensitively and
// empty values are ignored.
func (r *RequestID) Header(name, value string) {
	if value == "" {
		return
	}
	for i, h := range RequestIDHeaders {
		if strings.EqualFold(name, h) {
			if r.rank == 0 || i+1 < r.rank {
				r.value, r.rank = value, i+1
			}
			return
		}
	}
}

// String returns the request id found, or "".
func (r *RequestID) String() string { return r.value }

// DenialEvent builds the event of a call spendgate refused.
func (c *Call) DenialEvent(id, reason, message string) event.Event {
	e := c.base(id, event.TypeDenial)
	e.DenialReason = reason
	e.DenialMessage = message
	return e
}

// truncateUTF8 shortens s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
