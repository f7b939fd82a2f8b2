package meter

import (
	"time"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/policy"
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
		ModelRequested: c.Request.Model,
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
	e.ModelServed = res.ServedModel
	e.Complete = res.Complete
	e.Usage = res.Tokens
	e.RawUsage = res.RawUsage
	return e
}

// DenialEvent builds the event of a call spendgate refused.
func (c *Call) DenialEvent(id, reason, message string) event.Event {
	e := c.base(id, event.TypeDenial)
	e.DenialReason = reason
	e.DenialMessage = message
	return e
}
