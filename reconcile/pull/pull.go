// Package pull reads the providers' own usage and cost reports: OpenAI's
// organization usage and costs endpoints, Anthropic's Admin API usage and
// cost reports (pull over HTTP, every page handed to a recorder as
// received), and Google Cloud Billing BigQuery export files (imported). It
// answers reconcile.ReportedRow per UTC day × model.
//
// Rate limits: a 429 (or 5xx, Anthropic's 529) is retried after the
// provider's retry-after (seconds or an HTTP date, capped by MaxWait), else
// after an exponential backoff, up to MaxAttempts tries per page.
package pull

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spendgate/spendgate/reconcile"
)

// Default API roots.
const (
	OpenAIBaseURL    = "https://api.openai.com"
	AnthropicBaseURL = "https://api.anthropic.com"
	// AnthropicVersion is the anthropic-version header the Admin API needs.
	AnthropicVersion = "2023-06-01"
	maxPageBytes     = 16 << 20
	// maxPages bounds one report's pages: a provider that keeps answering
	// has_more would otherwise keep a sync going forever.
	maxPages = 1000
)

// Client pulls reports. The zero value is not usable; use New.
type Client struct {
	HTTP        *http.Client
	MaxAttempts int           // tries per page (default 6)
	BackoffBase time.Duration // first wait without retry-after (default 1 s)
	MaxWait     time.Duration // longest wait, retry-after included (default 2 min)
	// Sleep waits d or until ctx ends (tests replace it to count waits).
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock retry-after dates are read against.
	Now func() time.Time
}

// New returns a client with defaults over hc (nil: a client with a 60 s
// timeout).
func New(hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	return &Client{HTTP: hc, MaxAttempts: 6, BackoffBase: time.Second, MaxWait: 2 * time.Minute, Sleep: sleep, Now: time.Now}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Fetch pulls provider p's reports for [from, to) with adminKey from baseURL
// ("" for the provider's own), handing every page to rec as received
// (reconcile.Fetcher).
func (c *Client) Fetch(ctx context.Context, p reconcile.Provider, baseURL, adminKey string, from, to time.Time,
	rec func(context.Context, reconcile.Page) error) ([]reconcile.ReportedRow, error) {
	switch p {
	case reconcile.OpenAI:
		if baseURL == "" {
			baseURL = OpenAIBaseURL
		}
		return c.OpenAI(ctx, baseURL, adminKey, from, to, rec)
	case reconcile.Anthropic:
		if baseURL == "" {
			baseURL = AnthropicBaseURL
		}
		return c.Anthropic(ctx, baseURL, adminKey, from, to, rec)
	}
	return nil, fmt.Errorf("pull: %s reports are imported, not pulled", p)
}

// ParseBillingExport reads a Google Cloud Billing export file
// (reconcile.Fetcher; see billing.go).
func (c *Client) ParseBillingExport(body []byte, format string) ([]reconcile.ReportedRow, error) {
	return ParseBillingExport(body, format)
}

// StatusError is a provider's refusal of a report request.
type StatusError struct {
	Status  int
	URL     string
	Message string // the provider's error message, if its body had one
}

func (e *StatusError) Error() string {
	what := map[int]string{401: "the admin key was refused", 403: "the admin key may not read usage reports",
		404: "the report endpoint was not found", 429: "rate limited"}[e.Status]
	if what == "" {
		what = http.StatusText(e.Status)
	}
	msg := fmt.Sprintf("%s answered %d (%s)", e.URL, e.Status, what)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// get fetches one page, retrying rate limits and server errors, and hands
// the final 2xx answer to rec.
func (c *Client) get(ctx context.Context, p reconcile.Provider, endpoint, rawURL string, header http.Header,
	rec func(context.Context, reconcile.Page) error) ([]byte, error) {
	attempts := max(c.MaxAttempts, 1)
	for n := 1; ; n++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return nil, fmt.Errorf("pull: %w", err)
		}
		req.Header = header.Clone()
		req.Header.Set("Accept", "application/json")
		resp, err := c.HTTP.Do(req)
		if err != nil {
			if ctx.Err() != nil || n >= attempts {
				return nil, fmt.Errorf("pull: %s: %w", endpoint, err)
			}
			if err := c.Sleep(ctx, c.backoff(n)); err != nil {
				return nil, err
			}
			continue
		}
		body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes+1))
		_ = resp.Body.Close()
		if readErr != nil {
			return nil, fmt.Errorf("pull: %s: reading the answer: %w", endpoint, readErr)
		}
		if len(body) > maxPageBytes {
			return nil, fmt.Errorf("pull: %s: a page over %d bytes", endpoint, maxPageBytes)
		}
		if resp.StatusCode/100 == 2 {
			page := reconcile.Page{Provider: p, Endpoint: endpoint, RequestURL: rawURL, Status: resp.StatusCode,
				FetchedAt: c.Now().UTC(), ContentType: resp.Header.Get("Content-Type"), Body: body}
			if err := rec(ctx, page); err != nil {
				return nil, err
			}
			return body, nil
		}
		retryable := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
		if !retryable || n >= attempts {
			return nil, &StatusError{Status: resp.StatusCode, URL: redact(rawURL), Message: errorMessage(body)}
		}
		wait, ok := c.retryAfter(resp.Header.Get("Retry-After"))
		if !ok {
			wait = c.backoff(n)
		}
		if err := c.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

func (c *Client) backoff(n int) time.Duration {
	d := max(c.BackoffBase, time.Millisecond)
	for i := 1; i < n && d < c.MaxWait; i++ {
		d *= 2
	}
	return min(d, c.maxWait())
}

func (c *Client) maxWait() time.Duration {
	if c.MaxWait <= 0 {
		return 2 * time.Minute
	}
	return c.MaxWait
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func (c *Client) retryAfter(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
		return min(time.Duration(secs*float64(time.Second)), c.maxWait()), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(c.Now()), 0), c.maxWait()), true
	}
	return 0, false
}

// errorMessage takes the message out of an OpenAI or Anthropic error body
// ({"error":{"message":...}}), bounded.
func errorMessage(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := jsonUnmarshal(body, &e); err != nil || e.Error.Message == "" {
		return ""
	}
	m := e.Error.Message
	if len(m) > 300 {
		m = m[:300] + "…"
	}
	return m
}

// redact drops the query of a URL for error messages (pages keep it whole:
// report URLs carry no credentials, those go in headers).
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the provider"
	}
	u.RawQuery = ""
	return u.String()
}

var errBadPage = errors.New("pull: the provider's page does not have the report's shape")
