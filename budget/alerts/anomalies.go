package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/spendgate/spendgate/anomaly"
	"github.com/spendgate/spendgate/budget"
)

// Spend anomaly alerts (anomaly/service) go out through the same
// dispatcher as budget alerts: published on NATS subject
// <prefix>.anomalies.<tenant_id> for the live subscription, and POSTed to
// the webhook of every budget covering the series, with the same retries.

// AnomalySubject is the NATS subject of a tenant's anomaly alerts.
func AnomalySubject(prefix, tenantID string) string { return prefix + ".anomalies." + tenantID }

// AnomalyOutbox is where anomaly alerts wait (anomaly/pgstore.Store).
type AnomalyOutbox interface {
	DeliverDue(ctx context.Context, kind string, limit int, pol budget.DeliverPolicy, send func(context.Context, anomaly.Delivery) error) (int, error)
}

// SetAnomalies makes the dispatcher deliver anomaly alerts too; call
// before Run.
func (d *Dispatcher) SetAnomalies(o AnomalyOutbox) { d.anomalies = o }

// deliverAnomalies runs one pass over the anomaly outbox.
func (d *Dispatcher) deliverAnomalies(ctx context.Context) (int, error) {
	total := 0
	if d.nc != nil {
		n, err := d.anomalies.DeliverDue(ctx, "nats", 500, d.policy(), func(_ context.Context, del anomaly.Delivery) error {
			err := d.publishAnomaly(&del.Alert)
			if d.obs != nil {
				d.obs.AlertDelivered("nats", err)
			}
			return err
		})
		total += n
		if err != nil {
			return total, err
		}
	}
	n, err := d.anomalies.DeliverDue(ctx, "webhook", 100, d.policy(), func(ctx context.Context, del anomaly.Delivery) error {
		err := d.postAnomaly(ctx, &del)
		if d.obs != nil {
			d.obs.AlertDelivered("webhook", err)
		}
		return err
	})
	return total + n, err
}

func (d *Dispatcher) publishAnomaly(a *anomaly.Alert) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if err := d.nc.Publish(AnomalySubject(d.cfg.Prefix, a.TenantID), b); err != nil {
		return fmt.Errorf("nats publish: %w", err)
	}
	return d.nc.Flush()
}

// anomalyWebhookBody is Slack's {"text"} for Slack URLs; other URLs also
// get the structured alert.
func anomalyWebhookBody(rawURL string, a *anomaly.Alert) ([]byte, error) {
	if u, err := url.Parse(rawURL); err == nil && strings.EqualFold(u.Hostname(), "hooks.slack.com") {
		return json.Marshal(struct {
			Text string `json:"text"`
		}{a.Text()})
	}
	return json.Marshal(struct {
		Text    string        `json:"text"`
		Anomaly anomaly.Alert `json:"anomaly"`
	}{a.Text(), *a})
}

func (d *Dispatcher) postAnomaly(ctx context.Context, del *anomaly.Delivery) error {
	body, err := anomalyWebhookBody(del.WebhookURL, &del.Alert)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, del.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "spendgate-budget-alerts")
	resp, err := d.http.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook: HTTP %d", resp.StatusCode)
	}
	return nil
}

// SubscribeAnomalies streams the tenant's anomaly alerts until ctx ends.
// The caller has authorized the tenant.
func (f *Feed) SubscribeAnomalies(ctx context.Context, tenantID string) (<-chan anomaly.Alert, error) {
	return subscribe(ctx, f.nc, AnomalySubject(f.prefix, tenantID), f.log, func(data []byte) (anomaly.Alert, error) {
		var a anomaly.Alert
		err := json.Unmarshal(data, &a)
		return a, err
	})
}
