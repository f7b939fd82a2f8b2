package notify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/egress"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/reconcile"
	"github.com/spendgate/spendgate/reconcile/notify"
)

func alert() *reconcile.DriftAlert {
	return &reconcile.DriftAlert{ID: 7, TenantID: "11111111-1111-4111-8111-111111111111", Provider: reconcile.OpenAI,
		Day: time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC), ThresholdBP: 200, DriftBP: 385, DriftNanoUSD: 20_000_000,
		ReportedNanoUSD: 520_000_000, MeteredNanoUSD: 500_000_000}
}

// A drift alert goes to the tenant's NATS subject and its webhook.
func TestNotifyDrift(t *testing.T) {
	nc, prefix := testenv.NATS(t)
	sub, err := nc.SubscribeSync(notify.Subject(prefix, alert().TenantID))
	testenv.Must(t, err, "subscribe")
	testenv.Must(t, nc.Flush(), "flush")
	got := make(chan notify.WebhookBody, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b notify.WebhookBody
		_ = json.NewDecoder(r.Body).Decode(&b)
		got <- b
	}))
	defer hook.Close()
	pol, err := egress.ParseAllow("127.0.0.1")
	testenv.Must(t, err, "egress")
	n := notify.New(prefix, nc, pol)
	testenv.Must(t, n.NotifyDrift(context.Background(), alert(), hook.URL), "notify")
	msg, err := sub.NextMsg(5 * time.Second)
	testenv.Must(t, err, "NATS message")
	var a reconcile.DriftAlert
	testenv.Must(t, json.Unmarshal(msg.Data, &a), "decode")
	if a.ID != 7 || a.DriftNanoUSD != 20_000_000 || a.Provider != reconcile.OpenAI {
		t.Fatalf("NATS alert %+v", a)
	}
	b := <-got
	if b.Drift.ID != 7 || !strings.Contains(b.Text, "openai reported $0.52 for 2026-11-29") || !strings.Contains(b.Text, "3.85 %") {
		t.Fatalf("webhook body %+v", b)
	}

	// Without the operator's allowance, an internal receiver is not dialled.
	if err := notify.New(prefix, nil, nil).NotifyDrift(context.Background(), alert(), hook.URL); err == nil {
		t.Fatal("a loopback webhook was dialled without --webhook-allow")
	}
}
