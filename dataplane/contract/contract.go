// Package contract is the one definition of the internal HTTP endpoints the
// data plane (Envoy filter, embedded gateway) calls on the control plane and
// the pipeline: their paths, headers, and the reservation request and answer
// on the wire. The servers mount these paths, the filter's configuration
// takes them as defaults, and every internal client builds its requests from
// them. TinyGo-safe: no encoding/json, no net/http.
//
// Every internal request carries "Authorization: Bearer <service token>".
//
//	GET  PolicyPath                 X-Spendgate-Key: <key>      200 policy.Answer
//	GET  PricedPath?PricedQuery     200 policy.PricedAnswer
//	POST EventsPath                 {"events":[...]}            200 {"accepted","duplicates","rejected":[...]}
//	POST ReservationsPath           ReserveRequest              200 Reservation; 409/503 Denial
//	POST ReleasePath(id)            204; 404 unknown reservation
package contract

import (
	"errors"
	"strconv"

	"github.com/tidwall/gjson"

	"github.com/spendgate/spendgate/event"
)

// Internal endpoint paths.
const (
	PolicyPath       = "/internal/v1/policy"
	PricedPath       = "/internal/v1/priced"
	EventsPath       = "/internal/v1/events"
	ReservationsPath = "/internal/v1/reservations"
	// ReleasePattern is ReleasePath's route for http.ServeMux.
	ReleasePattern = ReservationsPath + "/{id}/release"
)

// Headers of internal requests.
const (
	// KeyHeader carries the caller's spendgate API key: on calls through the
	// data plane (stripped before the provider) and on policy lookups.
	KeyHeader = "x-spendgate-key"
	// AuthorizationHeader carries Bearer(service token).
	AuthorizationHeader = "authorization"
)

// Bearer is the Authorization value for a service token.
func Bearer(token string) string { return "Bearer " + token }

// ReleasePath is where a reservation is given back. Reservation ids are
// UUIDs chosen by the server; anything else is refused rather than escaped.
func ReleasePath(id string) (string, error) {
	if !event.IsUUID(id) {
		return "", errors.New("contract: reservation id " + id + " is not a UUID")
	}
	return ReservationsPath + "/" + id + "/release", nil
}

// ReserveRequest asks the budget service to hold spend for one call before it
// is forwarded (the JSON body of POST ReservationsPath). budget.ReserveRequest
// is the server's reading of the same fields.
type ReserveRequest struct {
	TenantID   string
	KeyID      string
	Dimensions map[string]string
	Provider   string
	Model      string
	// MaxTokens is the caller's output cap (0: the service's estimate).
	MaxTokens int64
	// InputTokensEstimate is a rough prompt size (request bytes / 4).
	InputTokensEstimate int64
}

// AppendJSON appends r's JSON body (TinyGo-safe; the field names are
// budget.ReserveRequest's tags).
func (r *ReserveRequest) AppendJSON(b []byte) []byte {
	b = append(b, `{"tenant_id":`...)
	b = event.AppendString(b, r.TenantID)
	b = append(b, `,"key_id":`...)
	b = event.AppendString(b, r.KeyID)
	if len(r.Dimensions) > 0 {
		b = append(b, `,"dimensions":{`...)
		first := true
		for k, v := range r.Dimensions {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = event.AppendString(b, k)
			b = append(b, ':')
			b = event.AppendString(b, v)
		}
		b = append(b, '}')
	}
	b = append(b, `,"provider":`...)
	b = event.AppendString(b, r.Provider)
	b = append(b, `,"model":`...)
	b = event.AppendString(b, r.Model)
	if r.MaxTokens > 0 {
		b = append(b, `,"max_tokens":`...)
		b = strconv.AppendInt(b, r.MaxTokens, 10)
	}
	if r.InputTokensEstimate > 0 {
		b = append(b, `,"input_tokens_estimate":`...)
		b = strconv.AppendInt(b, r.InputTokensEstimate, 10)
	}
	return append(b, '}')
}

// ReserveAnswer is what the reservation endpoint answered, read by
// ParseReserveAnswer: a reservation id, or a denial.
type ReserveAnswer struct {
	// ReservationID is set when the spend is held.
	ReservationID string
	// Denied is set for 409 and 503 answers that carry a denial body; Reason
	// is event.DenialBudgetExceeded or event.DenialBudgetUnavailable.
	Denied  bool
	Reason  string
	Message string
}

// ErrMalformedReserveAnswer is returned for an answer that is neither a
// reservation nor a denial.
var ErrMalformedReserveAnswer = errors.New("contract: malformed answer from the reservation endpoint")

// ParseReserveAnswer reads the reservation endpoint's answer of HTTP status
// status (TinyGo-safe). Any answer but a reservation or a denial is an error:
// the caller then treats the budget service as unavailable.
func ParseReserveAnswer(status int, body []byte) (ReserveAnswer, error) {
	if !gjson.ValidBytes(body) {
		return ReserveAnswer{}, ErrMalformedReserveAnswer
	}
	r := gjson.ParseBytes(body)
	switch status {
	case 200:
		id := r.Get("reservation_id").String()
		if id == "" {
			return ReserveAnswer{}, ErrMalformedReserveAnswer
		}
		return ReserveAnswer{ReservationID: id}, nil
	case 409, 503:
		if !r.Get("denied").Bool() {
			return ReserveAnswer{}, ErrMalformedReserveAnswer
		}
		a := ReserveAnswer{Denied: true, Reason: r.Get("reason").String(), Message: r.Get("message").String()}
		if a.Reason != event.DenialBudgetUnavailable {
			a.Reason = event.DenialBudgetExceeded
		}
		return a, nil
	}
	return ReserveAnswer{}, ErrMalformedReserveAnswer
}
