package gateway

import (
	"context"
	"errors"

	"github.com/spendgate/spendgate/dataplane/contract"
	"github.com/spendgate/spendgate/event"
)

// ReserveRequest asks the budget service to hold spend for one call before it
// is forwarded (the contract's reservation request).
type ReserveRequest = contract.ReserveRequest

// Reserver holds budget for calls of keys covered by a hard budget (the policy
// answer's HardBudget). The reservation id travels in the call's usage event,
// which settles it. Implementations return a *ReservationDeniedError when a
// budget has no room; any other error means the budget service could not be
// asked, and the gateway refuses the call (hard caps fail closed).
type Reserver interface {
	Reserve(ctx context.Context, r ReserveRequest) (reservationID string, err error)
}

// ReservationDeniedError is a budget service's refusal.
type ReservationDeniedError struct {
	// Reason is an event denial code, normally event.DenialBudgetExceeded.
	Reason  string
	Message string
}

func (e *ReservationDeniedError) Error() string {
	return "reservation denied: " + e.Reason + ": " + e.Message
}

// ReasonBudgetUnavailable is the denial reason when a hard-budget key's call
// cannot be reserved because the budget service is unreachable (HTTP 503).
//
// Deprecated: use event.DenialBudgetUnavailable, which policy maps to its
// status and retry header like every other denial reason.
const ReasonBudgetUnavailable = event.DenialBudgetUnavailable

// ReserverFunc adapts a function to Reserver.
type ReserverFunc func(ctx context.Context, r ReserveRequest) (string, error)

// Reserve implements Reserver.
func (f ReserverFunc) Reserve(ctx context.Context, r ReserveRequest) (string, error) {
	return f(ctx, r)
}

// Releaser gives back a reservation of a call that failed before any usage;
// a Reserver that is one (budget/httpapi.Client) is asked to.
type Releaser interface {
	Release(ctx context.Context, reservationID string) error
}

func asDenied(err error) (*ReservationDeniedError, bool) {
	var d *ReservationDeniedError
	ok := errors.As(err, &d)
	return d, ok
}
