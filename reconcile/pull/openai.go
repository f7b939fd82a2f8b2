package pull

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spendgate/spendgate/money"
	"github.com/spendgate/spendgate/reconcile"
)

// OpenAI organization usage (GET /v1/organization/usage/completions) and
// costs (GET /v1/organization/costs), both paged by next_page/has_more.

type openAIPage[R any] struct {
	Object string `json:"object"`
	Data   []struct {
		Object    string `json:"object"`
		StartTime int64  `json:"start_time"`
		EndTime   int64  `json:"end_time"`
		Results   []R    `json:"results"`
	} `json:"data"`
	HasMore  bool    `json:"has_more"`
	NextPage *string `json:"next_page"`
}

type openAIUsage struct {
	Object           string  `json:"object"`
	InputTokens      int64   `json:"input_tokens"`
	OutputTokens     int64   `json:"output_tokens"`
	InputCached      int64   `json:"input_cached_tokens"`
	NumModelRequests int64   `json:"num_model_requests"`
	Model            *string `json:"model"`
}

type openAICost struct {
	Object string `json:"object"`
	Amount struct {
		Value    json.Number `json:"value"`
		Currency string      `json:"currency"`
	} `json:"amount"`
	LineItem  *string `json:"line_item"`
	ProjectID *string `json:"project_id"`
}

func jsonUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// OpenAI pulls daily usage per model and daily costs per line item for
// [from, to) and joins them per day × model.
func (c *Client) OpenAI(ctx context.Context, baseURL, adminKey string, from, to time.Time,
	rec func(context.Context, reconcile.Page) error) ([]reconcile.ReportedRow, error) {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+adminKey)
	base := strings.TrimRight(baseURL, "/")
	acc := newAccumulator()

	q := url.Values{}
	q.Set("start_time", strconv.FormatInt(from.Unix(), 10))
	q.Set("end_time", strconv.FormatInt(to.Unix(), 10))
	q.Set("bucket_width", "1d")
	q.Set("group_by", "model")
	q.Set("limit", "31")
	err := pages(ctx, c, reconcile.OpenAI, "usage", base+"/v1/organization/usage/completions", q, h, rec,
		func(body []byte) (bool, string, error) {
			var p openAIPage[openAIUsage]
			if err := jsonUnmarshal(body, &p); err != nil {
				return false, "", fmt.Errorf("%w (usage/completions): %w", errBadPage, err)
			}
			if p.Object != "page" {
				return false, "", fmt.Errorf("%w (usage/completions): object %q, want \"page\"", errBadPage, p.Object)
			}
			for _, b := range p.Data {
				day := reconcile.Day(time.Unix(b.StartTime, 0))
				for _, r := range b.Results {
					row := acc.row(day, deref(r.Model))
					row.InputTokens += r.InputTokens
					row.OutputTokens += r.OutputTokens
					row.Requests += r.NumModelRequests
				}
			}
			return p.HasMore, deref(p.NextPage), nil
		})
	if err != nil {
		return nil, err
	}

	q = url.Values{}
	q.Set("start_time", strconv.FormatInt(from.Unix(), 10))
	q.Set("end_time", strconv.FormatInt(to.Unix(), 10))
	q.Set("bucket_width", "1d")
	q.Set("group_by", "line_item")
	q.Set("limit", "31")
	err = pages(ctx, c, reconcile.OpenAI, "costs", base+"/v1/organization/costs", q, h, rec,
		func(body []byte) (bool, string, error) {
			var p openAIPage[openAICost]
			if err := jsonUnmarshal(body, &p); err != nil {
				return false, "", fmt.Errorf("%w (costs): %w", errBadPage, err)
			}
			if p.Object != "page" {
				return false, "", fmt.Errorf("%w (costs): object %q, want \"page\"", errBadPage, p.Object)
			}
			for _, b := range p.Data {
				day := reconcile.Day(time.Unix(b.StartTime, 0))
				for _, r := range b.Results {
					if cur := strings.ToLower(r.Amount.Currency); cur != "" && cur != "usd" {
						return false, "", fmt.Errorf("pull: OpenAI reported a cost in %q; spendgate reconciles USD", r.Amount.Currency)
					}
					nano, err := signedDecimal(r.Amount.Value.String(), 9)
					if err != nil {
						return false, "", fmt.Errorf("pull: OpenAI cost amount %q: %w", r.Amount.Value, err)
					}
					row := acc.row(day, openAILineItemModel(deref(r.LineItem)))
					row.CostNanoUSD += nano
					row.HasCost = true
				}
			}
			return p.HasMore, deref(p.NextPage), nil
		})
	if err != nil {
		return nil, err
	}
	return acc.rows(), nil
}

// openAILineItemModel is the model of a cost line item: OpenAI names them
// "<model>, input" / "<model>, output" (and "<model>, cached input").
func openAILineItemModel(item string) string {
	m, _, _ := strings.Cut(item, ",")
	return strings.TrimSpace(m)
}

// pages walks a report's pages: each page's URL is the first one's with
// page=<next_page>; parse answers has_more and next_page.
func pages(ctx context.Context, c *Client, p reconcile.Provider, endpoint, base string, q url.Values, h http.Header,
	rec func(context.Context, reconcile.Page) error, parse func([]byte) (bool, string, error)) error {
	seen := map[string]bool{}
	for i := 0; ; i++ {
		if i >= maxPages {
			return fmt.Errorf("pull: %s %s: more than %d pages", p, endpoint, maxPages)
		}
		body, err := c.get(ctx, p, endpoint, base+"?"+q.Encode(), h, rec)
		if err != nil {
			return err
		}
		more, next, err := parse(body)
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
		if next == "" || seen[next] {
			return fmt.Errorf("pull: %s %s: has_more without a new next_page", p, endpoint)
		}
		seen[next] = true
		q.Set("page", next)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// signedDecimal parses a possibly negative decimal (credits are negative)
// scaled by 10^shift, rounding half up in magnitude.
func signedDecimal(s string, shift int) (int64, error) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	v, err := money.ParseScaled(strings.TrimPrefix(s, "-"), shift)
	if neg {
		v = -v
	}
	return v, err
}

// accumulator gathers rows per day × model in first-seen order.
type accumulator struct {
	idx map[string]int
	out []reconcile.ReportedRow
}

func newAccumulator() *accumulator { return &accumulator{idx: map[string]int{}} }

func (a *accumulator) row(day time.Time, model string) *reconcile.ReportedRow {
	if model == "" {
		model = "(unattributed)"
	}
	k := strconv.FormatInt(day.Unix(), 10) + " " + reconcile.ModelKey(model)
	i, ok := a.idx[k]
	if !ok {
		i = len(a.out)
		a.idx[k] = i
		a.out = append(a.out, reconcile.ReportedRow{Day: day, Model: reconcile.ModelKey(model)})
	}
	return &a.out[i]
}

func (a *accumulator) rows() []reconcile.ReportedRow { return a.out }
