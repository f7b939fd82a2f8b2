package alerts

import (
	"context"
	"encoding/json"
	"fmt"

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
		n, err := d.anomalies.DeliverDue(ctx, "nats", 500, d.policy(), observed(d, "nats", d.publishAnomaly))
		total += n
		if err != nil {
			return total, err
		}
	}
	n, err := d.anomalies.DeliverDue(ctx, "webhook", 100, d.policy(), observed(d, "webhook", d.postAnomaly))
	return total + n, err
}

func (d *Dispatcher) publishAnomaly(_ context.Context, del anomaly.Delivery) error {
	a := &del.Alert
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
	if isSlack(rawURL) {
		return json.Marshal(struct {
			Text string `json:"text"`
		}{a.Text()})
	}
	return json.Marshal(struct {
		Text    string        `json:"text"`
		Anomaly anomaly.Alert `json:"anomaly"`
	}{a.Text(), *a})
}

func (d *Dispatcher) postAnomaly(ctx context.Context, del anomaly.Delivery) error {
	body, err := anomalyWebhookBody(del.WebhookURL, &del.Alert)
	if err != nil {
		return err
	}
	return d.postJSON(ctx, del.Alert.TenantID, del.WebhookURL, body, nil)
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
