// Package alerts delivers budget threshold alerts from the Postgres outbox:
// every alert is published on NATS subject <prefix>.alerts.<tenant_id> (JSON
// budget.Alert) for live subscriptions, and, when the budget has a webhook
// URL, POSTed there as a Slack-compatible {"text": ...} body with the
// structured alerts beside it (Slack's own URLs get the text alone).
// Budgets with email recipients get an email (when the operator configured
// SMTP): alerts of one budget pending together go out as one email, and a
// budget and threshold is emailed at most once per --alert-email-debounce
// (decided when the alert is recorded, budget/pgstore).
// A hard budget's cap breach is POSTed to its breach webhook, once per
// budget and period, signed with the budget's secret (budget.Sign).
// Deliveries retry with exponential backoff; webhook alerts of one budget
// within the debounce window go out together.
package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/egress"
	"github.com/spendgate/spendgate/mail"
	"github.com/spendgate/spendgate/secrets"
)

// Subject is the NATS subject of a tenant's alerts.
func Subject(prefix, tenantID string) string { return prefix + ".alerts." + tenantID }

// Outbox is where pending deliveries come from (budget/pgstore.Store).
type Outbox interface {
	DeliverDue(ctx context.Context, kind string, limit int, pol budget.DeliverPolicy, send func(context.Context, budget.Delivery) error) (int, error)
}

// Config tunes delivery.
type Config struct {
	Prefix         string        // NATS subject prefix
	Poll           time.Duration // how often the outbox is scanned (also woken by Kick)
	MaxAttempts    int
	BackoffBase    time.Duration
	BackoffMax     time.Duration
	WebhookTimeout time.Duration
	// Egress says which webhook destinations may be dialled: public
	// addresses and the operator's allow-list (nil: public only). Checked
	// on every connection, after DNS.
	Egress *egress.Policy
	// Mailer sends alert emails; nil: email rows stay pending.
	Mailer Mailer
	// Secrets opens budgets' breach webhook signing secrets; nil: breach
	// rows are retried (and fail) until a keyring is configured.
	Secrets *secrets.Keyring
}

// Mailer sends email (mail.Sender).
type Mailer interface {
	Send(ctx context.Context, m *mail.Message) error
}

// DefaultConfig returns delivery defaults.
func DefaultConfig(prefix string) Config {
	return Config{Prefix: prefix, Poll: time.Second, MaxAttempts: 10, BackoffBase: time.Second, BackoffMax: 5 * time.Minute,
		WebhookTimeout: 10 * time.Second}
}

// Dispatcher moves alerts from the outbox to NATS and webhooks.
type Dispatcher struct {
	cfg    Config
	outbox Outbox
	nc     *nats.Conn
	http   *http.Client
	log    *slog.Logger
	kick   chan struct{}
	obs    Observer
	// anomalies, when set, is delivered on every pass too (anomalies.go).
	anomalies AnomalyOutbox
}

// Observer learns every delivery attempt's outcome by channel ("nats",
// "webhook"), for metrics.
type Observer interface {
	AlertDelivered(channel string, err error)
}

// SetObserver installs the observer (nil: none); call before Run.
func (d *Dispatcher) SetObserver(o Observer) { d.obs = o }

// observed wraps a channel's send so each attempt's outcome is observed
// (budget and anomaly deliveries alike).
func observed[D any](d *Dispatcher, channel string, send func(context.Context, D) error) func(context.Context, D) error {
	if d.obs == nil {
		return send
	}
	return func(ctx context.Context, del D) error {
		err := send(ctx, del)
		d.obs.AlertDelivered(channel, err)
		return err
	}
}

// NewDispatcher builds a dispatcher. nc may be nil (no NATS publishing: the
// NATS rows stay pending). client may be nil: a client with
// cfg.WebhookTimeout that dials only what cfg.Egress allows.
func NewDispatcher(cfg Config, outbox Outbox, nc *nats.Conn, client *http.Client, log *slog.Logger) *Dispatcher {
	if client == nil {
		client = &http.Client{Timeout: cfg.WebhookTimeout, Transport: cfg.Egress.Transport()}
	}
	if log == nil {
		log = slog.Default()
	}
	return &Dispatcher{cfg: cfg, outbox: outbox, nc: nc, http: client, log: log, kick: make(chan struct{}, 1)}
}

// Kick wakes the dispatcher (new alerts were recorded).
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

func (d *Dispatcher) policy() budget.DeliverPolicy {
	return budget.DeliverPolicy{MaxAttempts: d.cfg.MaxAttempts, Backoff: func(n int) time.Duration {
		return budget.Backoff(d.cfg.BackoffBase, d.cfg.BackoffMax, n)
	}}
}

// Run delivers until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	t := time.NewTicker(d.cfg.Poll)
	defer t.Stop()
	for {
		if _, err := d.Once(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("budget alerts: delivery pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-d.kick:
		}
	}
}

// Once runs one delivery pass over both kinds and returns how many
// deliveries succeeded.
func (d *Dispatcher) Once(ctx context.Context) (int, error) {
	total := 0
	if d.nc != nil {
		n, err := d.outbox.DeliverDue(ctx, "nats", 500, d.policy(), observed(d, "nats", d.publish))
		total += n
		if err != nil {
			return total, err
		}
	}
	n, err := d.outbox.DeliverDue(ctx, "webhook", 100, d.policy(), observed(d, "webhook", d.post))
	total += n
	if err != nil {
		return total, err
	}
	n, err = d.outbox.DeliverDue(ctx, "breach", 100, d.policy(), observed(d, "breach", d.postBreach))
	total += n
	if err != nil {
		return total, err
	}
	if d.cfg.Mailer != nil {
		n, err = d.outbox.DeliverDue(ctx, "email", 100, d.policy(), observed(d, "email", d.email))
		total += n
		if err != nil {
			return total, err
		}
	}
	if d.anomalies == nil {
		return total, nil
	}
	n, err = d.deliverAnomalies(ctx)
	return total + n, err
}

// email sends one budget's pending alerts as one email to its recipients
// (none left: the budget's recipients were removed; nothing to send).
func (d *Dispatcher) email(ctx context.Context, del budget.Delivery) error {
	if len(del.Emails) == 0 || len(del.Alerts) == 0 {
		return nil
	}
	top := del.Alerts[0]
	for _, a := range del.Alerts[1:] {
		if a.Threshold > top.Threshold {
			top = a
		}
	}
	body := budget.Coalesce(del.Alerts)
	msg := &mail.Message{To: del.Emails, Subject: fmt.Sprintf("Budget alert: %s reached %d%%", top.BudgetName, top.Threshold),
		Text: body.Text + "\n\nYou receive this because you are a recipient of this budget's alerts in spendgate.\n"}
	if err := d.cfg.Mailer.Send(ctx, msg); err != nil {
		return fmt.Errorf("email: %w", err)
	}
	return nil
}

func (d *Dispatcher) publish(_ context.Context, del budget.Delivery) error {
	for i := range del.Alerts {
		a := &del.Alerts[i]
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		if err := d.nc.Publish(Subject(d.cfg.Prefix, a.TenantID), b); err != nil {
			return fmt.Errorf("nats publish: %w", err)
		}
	}
	return d.nc.Flush()
}

// webhookBody is what a webhook URL receives: Slack incoming webhooks get
// only {"text"} (Slack's documented payload), other URLs also the
// structured alerts.
func webhookBody(rawURL string, alerts []budget.Alert) ([]byte, error) {
	body := budget.Coalesce(alerts)
	if isSlack(rawURL) {
		return json.Marshal(struct {
			Text string `json:"text"`
		}{body.Text})
	}
	return json.Marshal(body)
}

// isSlack tells a Slack incoming webhook, which takes only {"text"}.
func isSlack(rawURL string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && strings.EqualFold(u.Hostname(), "hooks.slack.com")
}

func (d *Dispatcher) post(ctx context.Context, del budget.Delivery) error {
	body, err := webhookBody(del.WebhookURL, del.Alerts)
	if err != nil {
		return err
	}
	tenant := ""
	if len(del.Alerts) > 0 {
		tenant = del.Alerts[0].TenantID
	}
	return d.postJSON(ctx, tenant, del.WebhookURL, body, nil)
}

// postBreach posts a hard-cap breach as recorded, signed with the budget's
// secret (budget.Sign; the event id is also a header, for receivers that
// deduplicate before parsing).
func (d *Dispatcher) postBreach(ctx context.Context, del budget.Delivery) error {
	br := del.Breach
	if br == nil {
		return errors.New("breach delivery without a breach")
	}
	secret, err := d.cfg.Secrets.Open(br.SecretSealed, budget.BreachSecretAAD(br.BudgetID))
	if err != nil {
		return fmt.Errorf("breach webhook signing secret: %w", err)
	}
	h := http.Header{}
	h.Set(budget.SignatureHeader, budget.Sign(secret, time.Now(), br.Payload))
	h.Set("Spendgate-Event-Id", br.EventID)
	return d.postJSON(ctx, br.TenantID, del.WebhookURL, br.Payload, h)
}

// postJSON is every webhook call of the alert channels: POST body to
// rawURL through the egress-checked client; a 2xx answer is delivered.
func (d *Dispatcher) postJSON(ctx context.Context, tenant, rawURL string, body []byte, header http.Header) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: %w", rawURL, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "spendgate-budget-alerts")
	resp, err := d.http.Do(req)
	if err != nil {
		var denied *egress.DeniedError
		if errors.As(err, &denied) {
			// The URL passed validation but its name now resolves inside
			// (DNS rebinding), or the allow-list shrank. The host only: a
			// webhook URL's path often holds a secret.
			d.log.Warn("budget alerts: webhook destination refused", "tenant", tenant, "host", req.URL.Host, "err", denied)
		}
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook: HTTP %d", resp.StatusCode)
	}
	return nil
}
