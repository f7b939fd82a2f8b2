// Package svcclient is the one HTTP client helper for spendgate's internal
// endpoints (dataplane/contract): the policy, priced, events and reservation
// endpoints called by the embedded gateway. It sets the service token and
// the request id of the call being served, bounds what it reads of an
// answer, and reports non-2xx answers as a *StatusError, so every client
// checks statuses and wraps errors the same way (with %w: errors.Is and
// errors.As see through them).
package svcclient

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/spendgate/spendgate/dataplane/contract"
	"github.com/spendgate/spendgate/requestid"
)

// Client calls internal endpoints with a service token.
type Client struct {
	Token string
	HTTP  *http.Client // nil: http.DefaultClient
	// MaxAnswerBytes bounds what is read of an answer (0: 1 MiB).
	MaxAnswerBytes int64
}

// Answer is an endpoint's reply.
type Answer struct {
	Status int
	Body   []byte
}

// StatusError is an answer with a status the caller did not accept.
type StatusError struct {
	Status int
	Body   []byte
}

func (e *StatusError) Error() string {
	body := bytes.TrimSpace(e.Body)
	if len(body) > 200 {
		body = body[:200]
	}
	if len(body) == 0 {
		return "HTTP " + strconv.Itoa(e.Status)
	}
	return "HTTP " + strconv.Itoa(e.Status) + ": " + string(body)
}

// Do sends one request (body nil: none; a body is sent as JSON) with extra
// header pairs and returns the answer whatever its status. err is a
// transport or read failure.
func (c *Client) Do(ctx context.Context, method, url string, body []byte, header ...[2]string) (Answer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return Answer{}, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set(contract.AuthorizationHeader, contract.Bearer(c.Token))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	// The call this request serves (a gateway call's policy, price or
	// reservation look-up) shows under the same id in the service's logs.
	if id := requestid.From(ctx); id != "" {
		req.Header.Set(requestid.Header, id)
	}
	for _, h := range header {
		req.Header.Set(h[0], h[1])
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Answer{}, err
	}
	defer resp.Body.Close()
	limit := c.MaxAnswerBytes
	if limit <= 0 {
		limit = 1 << 20
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return Answer{Status: resp.StatusCode}, fmt.Errorf("reading the answer: %w", err)
	}
	return Answer{Status: resp.StatusCode, Body: raw}, nil
}

// Expect is Do that turns any status but want into a *StatusError.
func (c *Client) Expect(ctx context.Context, want int, method, url string, body []byte, header ...[2]string) ([]byte, error) {
	a, err := c.Do(ctx, method, url, body, header...)
	if err != nil {
		return nil, err
	}
	if a.Status != want {
		return nil, &StatusError{Status: a.Status, Body: a.Body}
	}
	return a.Body, nil
}
