package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/spendgate/spendgate/budget"
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
	err := c.do(ctx, "/internal/v1/reservations", r, &res)
	return res, err
}

// Release gives a reservation back (the call failed before usage).
func (c *Client) Release(ctx context.Context, id string) error {
	return c.do(ctx, "/internal/v1/reservations/"+url.PathEscape(id)+"/release", nil, nil)
}

func (c *Client) do(ctx context.Context, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return fmt.Errorf("budget client: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.ServiceToken)
	req.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", budget.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%w: %w", budget.ErrUnavailable, err)
	}
	switch {
	case resp.StatusCode == http.StatusNoContent:
		return nil
	case resp.StatusCode == http.StatusOK:
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("budget client: bad response: %w", err)
		}
		return nil
	case resp.StatusCode == http.StatusConflict || resp.StatusCode == http.StatusServiceUnavailable:
		var d Denial
		if json.Unmarshal(raw, &d) == nil && d.Denied {
			return &DeniedError{d}
		}
	}
	var e apiError
	if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
		return fmt.Errorf("budget client: HTTP %d: %s", resp.StatusCode, e.Error.Message)
	}
	return fmt.Errorf("budget client: HTTP %d", resp.StatusCode)
}
