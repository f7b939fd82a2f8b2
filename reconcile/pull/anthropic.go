package pull

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spendgate/spendgate/reconcile"
)

// Anthropic Admin API: GET /v1/organizations/usage_report/messages and GET
// /v1/organizations/cost_report (x-api-key: an admin key, anthropic-version),
// paged by next_page/has_more.

type anthropicPage[R any] struct {
	Data []struct {
		StartingAt string `json:"starting_at"`
		EndingAt   string `json:"ending_at"`
		Results    []R    `json:"results"`
	} `json:"data"`
	HasMore  bool    `json:"has_more"`
	NextPage *string `json:"next_page"`
}

type anthropicUsage struct {
	UncachedInputTokens  int64 `json:"uncached_input_tokens"`
	CacheReadInputTokens int64 `json:"cache_read_input_tokens"`
	CacheCreation        struct {
		Ephemeral1h int64 `json:"ephemeral_1h_input_tokens"`
		Ephemeral5m int64 `json:"ephemeral_5m_input_tokens"`
	} `json:"cache_creation"`
	OutputTokens int64   `json:"output_tokens"`
	Model        *string `json:"model"`
}

type anthropicCost struct {
	Currency    string  `json:"currency"`
	Amount      string  `json:"amount"` // lowest currency units (cents), decimal string
	Description *string `json:"description"`
	CostType    *string `json:"cost_type"`
	Model       *string `json:"model"`
}

// Anthropic pulls daily messages usage per model and daily costs per
// description (which carries the model) for [from, to).
func (c *Client) Anthropic(ctx context.Context, baseURL, adminKey string, from, to time.Time,
	rec func(context.Context, reconcile.Page) error) ([]reconcile.ReportedRow, error) {
	h := http.Header{}
	h.Set("x-api-key", adminKey)
	h.Set("anthropic-version", AnthropicVersion)
	base := strings.TrimRight(baseURL, "/")
	acc := newAccumulator()

	q := url.Values{}
	q.Set("starting_at", from.UTC().Format(time.RFC3339))
	q.Set("ending_at", to.UTC().Format(time.RFC3339))
	q.Set("bucket_width", "1d")
	q.Add("group_by[]", "model")
	q.Set("limit", "31")
	err := pages(ctx, c, reconcile.Anthropic, "usage", base+"/v1/organizations/usage_report/messages", q, h, rec,
		func(body []byte) (bool, string, error) {
			var p anthropicPage[anthropicUsage]
			if err := jsonUnmarshal(body, &p); err != nil {
				return false, "", fmt.Errorf("%w (usage_report/messages): %w", errBadPage, err)
			}
			for _, b := range p.Data {
				day, err := anthropicDay(b.StartingAt)
				if err != nil {
					return false, "", err
				}
				for _, r := range b.Results {
					row := acc.row(day, deref(r.Model))
					row.InputTokens += r.UncachedInputTokens + r.CacheReadInputTokens + r.CacheCreation.Ephemeral1h + r.CacheCreation.Ephemeral5m
					row.OutputTokens += r.OutputTokens
				}
			}
			return p.HasMore, deref(p.NextPage), nil
		})
	if err != nil {
		return nil, err
	}

	q = url.Values{}
	q.Set("starting_at", from.UTC().Format(time.RFC3339))
	q.Set("ending_at", to.UTC().Format(time.RFC3339))
	q.Add("group_by[]", "description")
	q.Set("limit", "31")
	err = pages(ctx, c, reconcile.Anthropic, "costs", base+"/v1/organizations/cost_report", q, h, rec,
		func(body []byte) (bool, string, error) {
			var p anthropicPage[anthropicCost]
			if err := jsonUnmarshal(body, &p); err != nil {
				return false, "", fmt.Errorf("%w (cost_report): %w", errBadPage, err)
			}
			for _, b := range p.Data {
				day, err := anthropicDay(b.StartingAt)
				if err != nil {
					return false, "", err
				}
				for _, r := range b.Results {
					if cur := strings.ToUpper(r.Currency); cur != "" && cur != "USD" {
						return false, "", fmt.Errorf("pull: Anthropic reported a cost in %q; spendgate reconciles USD", r.Currency)
					}
					// amount is in cents: nano-USD = cents × 10^7.
					nano, err := signedDecimal(r.Amount, 7)
					if err != nil {
						return false, "", fmt.Errorf("pull: Anthropic cost amount %q: %w", r.Amount, err)
					}
					model := deref(r.Model)
					if model == "" {
						// Non-token costs (web search, code execution) carry no
						// model: they are spend all the same.
						model = "(" + strings.ReplaceAll(deref(r.CostType), "_", " ") + ")"
					}
					row := acc.row(day, model)
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

func anthropicDay(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: bucket starting_at %q is not RFC 3339", errBadPage, s)
	}
	return reconcile.Day(t), nil
}
