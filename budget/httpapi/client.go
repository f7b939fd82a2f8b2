package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/dataplane/contract"
	"github.com/spendgate/spendgate/internal/svcclient"
)

// Client calls the reservation endpoints (for the gateway).
type Client struct {
	BaseURL      string // e.g. http://127.0.0.1:8080
	ServiceToken string
	HTTP         *http.Client // nil: http.DefaultClient
}

// ErrDenied wraps a refusal; errors.As gives the *DeniedError with details.
var ErrDenied = errors.New("budget: reservation denied")

// DeniedError is a refusal by the server: Reason "budget_exceeded" (a hard
// budget is full) or "budget_unavailable" (the server could not check and
// fails closed).
type DeniedError struct{ Denial }

func (e *DeniedError) Error() string {
	return "budget: reservation denied: " + e.Reason + ": " + e.Message
}

// Unwrap lets errors.Is(err, ErrDenied) match.
func (e *DeniedError) Unwrap() error { return ErrDenied }

// Reserve asks for a reservation. A refusal returns *DeniedError; a network
// failure returns an error wrapping budget.ErrUnavailable — the caller
// should then refuse hard-capped calls (fail closed).
func (c *Client) Reserve(ctx context.Context, r budget.ReserveRequest) (budget.Reservation, error) {
	var res budget.Reservation
	body, err := json.Marshal(r)
	if err != nil {
		return res, fmt.Errorf("budget client: %w", err)
	}
	a, err := c.client().Do(ctx, http.MethodPost, c.url(contract.ReservationsPath), body)
	if err != nil {
		return res, fmt.Errorf("%w: %w", budget.ErrUnavailable, err)
	}
	switch a.Status {
	case http.StatusOK:
		if err := json.Unmarshal(a.Body, &res); err != nil {
			return res, fmt.Errorf("budget client: bad response: %w", err)
		}
		return res, nil
	case http.StatusConflict, http.StatusServiceUnavailable:
		var d Denial
		if json.Unmarshal(a.Body, &d) == nil && d.Denied {
			return res, &DeniedError{d}
		}
	}
	return res, answerError(a)
}

// Release gives a reservation back (the call failed before usage).
func (c *Client) Release(ctx context.Context, id string) error {
	path, err := contract.ReleasePath(id)
	if err != nil {
		return fmt.Errorf("budget client: %w", err)
	}
	a, err := c.client().Do(ctx, http.MethodPost, c.url(path), nil)
	if err != nil {
		return fmt.Errorf("%w: %w", budget.ErrUnavailable, err)
	}
	if a.Status == http.StatusNoContent {
		return nil
	}
	return answerError(a)
}

func (c *Client) client() *svcclient.Client {
	return &svcclient.Client{Token: c.ServiceToken, HTTP: c.HTTP}
}

func (c *Client) url(path string) string { return strings.TrimRight(c.BaseURL, "/") + path }

// answerError describes an answer that is neither success nor denial.
func answerError(a svcclient.Answer) error {
	var e apiError
	if json.Unmarshal(a.Body, &e) == nil && e.Error.Message != "" {
		return fmt.Errorf("budget client: HTTP %d: %s", a.Status, e.Error.Message)
	}
	return fmt.Errorf("budget client: %w", &svcclient.StatusError{Status: a.Status, Body: a.Body})
}
