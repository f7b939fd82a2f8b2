// Package notify delivers reconciliation drift alerts on the channels budget
// alerts use: NATS (subject <prefix>.drift.<tenant_id>, JSON
// reconcile.DriftAlert, beside budget alerts' <prefix>.alerts.<tenant_id>) and
// the tenant's webhook as a Slack-compatible {"text": ...} body with the
// structured alert beside it, dialled only where the operator's egress
// policy allows (package egress, as budget webhooks).
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/spendgate/spendgate/egress"
	"github.com/spendgate/spendgate/reconcile"
)

// Subject is the NATS subject of a tenant's drift alerts.
func Subject(prefix, tenantID string) string { return prefix + ".drift." + tenantID }

// Notifier implements reconcile.Notifier.
type Notifier struct {
	prefix string
	nc     *nats.Conn // nil: webhooks only
	http   *http.Client
}

// New builds a notifier; nc may be nil. Webhooks dial what pol allows
// (nil: public addresses only).
func New(prefix string, nc *nats.Conn, pol *egress.Policy) *Notifier {
	return &Notifier{prefix: prefix, nc: nc, http: &http.Client{Timeout: 10 * time.Second, Transport: pol.Transport()}}
}

// WebhookBody is what a drift webhook receives.
type WebhookBody struct {
	Text  string               `json:"text"`
	Drift reconcile.DriftAlert `json:"drift_alert"`
}

// NotifyDrift publishes a on NATS and posts it to webhookURL ("" for none).
func (n *Notifier) NotifyDrift(ctx context.Context, a *reconcile.DriftAlert, webhookURL string) error {
	if n.nc != nil {
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		if err := n.nc.Publish(Subject(n.prefix, a.TenantID), b); err != nil {
			return fmt.Errorf("drift alert to NATS: %w", err)
		}
	}
	if webhookURL == "" {
		return nil
	}
	body, err := json.Marshal(WebhookBody{Text: a.Text(), Drift: *a})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhookURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("drift alert webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.http.Do(req)
	if err != nil {
		return fmt.Errorf("drift alert webhook: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("drift alert webhook answered %d", resp.StatusCode)
	}
	return nil
}
