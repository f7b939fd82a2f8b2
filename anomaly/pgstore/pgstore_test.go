package pgstore_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spendgate/spendgate/anomaly"
	"github.com/spendgate/spendgate/anomaly/pgstore"
	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/internal/pgtest"
	"github.com/spendgate/spendgate/internal/testenv"
)

func episode(tenant string, dim anomaly.Dimension, value string, hour time.Time) *anomaly.Episode {
	return &anomaly.Episode{TenantID: tenant, Series: anomaly.SeriesKey{Dimension: dim, Value: value}, StartedAt: hour, LastAnomalousAt: hour,
		PeakHour: hour, PeakNanoUSD: 30e9, PeakExpectedNanoUSD: 3e9, PeakScore: 9, Severity: anomaly.SeverityCritical, ExcessNanoUSD: 27e9,
		AnomalousHours: 1, DetectedAt: hour.Add(time.Hour)}
}

// TestAlertsRouteToCoveringBudgetsOnceAndRetry: an episode's alert goes to
// the webhooks of the budgets that cover its series (each URL once), a
// second open episode of one series is refused, and a failing webhook is
// retried, then given up after the policy's attempts.
func TestAlertsRouteToCoveringBudgetsOnceAndRetry(t *testing.T) {
	ctx := context.Background()
	db := pgtest.Migrated(t)
	st := pgstore.New(db)
	var tenant, other, key string
	testenv.Must(t, db.QueryRow(ctx, "INSERT INTO tenants (name, slug) VALUES ('a', $1) RETURNING id::text", "a-"+uuid.NewString()[:8]).Scan(&tenant), "tenant")
	testenv.Must(t, db.QueryRow(ctx, "INSERT INTO tenants (name, slug) VALUES ('b', $1) RETURNING id::text", "b-"+uuid.NewString()[:8]).Scan(&other), "tenant")
	testenv.Must(t, db.QueryRow(ctx, `INSERT INTO api_keys (tenant_id, name, prefix, secret_hash) VALUES ($1, 'k', $2, '\x00') RETURNING id::text`,
		tenant, "sk_"+uuid.NewString()[:12]).Scan(&key), "key")
	budgets := []struct{ tenant, scope, key, model, url string }{
		{tenant, "tenant", "", "", "https://hooks.example/all"},
		{tenant, "tenant", "", "", "https://hooks.example/all"}, // the same URL twice: one delivery
		{tenant, "key", key, "", "https://hooks.example/key"},
		{tenant, "model", "", "gpt-4o", "https://hooks.example/model"},
		{other, "tenant", "", "", "https://hooks.example/other-tenant"},
	}
	for i, b := range budgets {
		var k, m any
		if b.key != "" {
			k = b.key
		}
		if b.model != "" {
			m = b.model
		}
		_, err := db.Exec(ctx, `INSERT INTO budgets (tenant_id, name, scope, key_id, model, period, amount_nano_usd, thresholds, webhook_url)
			VALUES ($1, $2, $3, $4, $5, 'month', 1000000000, '{50}', $6)`, b.tenant, "b"+string(rune('a'+i)), b.scope, k, m, b.url)
		testenv.Must(t, err, "budget")
	}
	hour := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	opened, err := st.Save(ctx, tenant, hour, []pgstore.Change{
		{Step: anomaly.StepOpened, Episode: episode(tenant, anomaly.DimKey, key, hour)},
		{Step: anomaly.StepOpened, Episode: episode(tenant, anomaly.DimTeam, uuid.NewString(), hour)},
	})
	testenv.Must(t, err, "save")
	if len(opened) != 2 || opened[0].ID == "" {
		t.Fatalf("opened %+v", opened)
	}
	if _, err := st.Save(ctx, tenant, hour, []pgstore.Change{{Step: anomaly.StepOpened, Episode: episode(tenant, anomaly.DimKey, key, hour)}}); err == nil {
		t.Fatal("a second open episode of the same series was stored")
	}
	if _, err := st.Save(ctx, tenant, hour, []pgstore.Change{{Step: anomaly.StepOpened, Episode: episode(other, anomaly.DimTenant, "", hour)}}); err == nil {
		t.Fatal("an episode of another tenant was saved in this tenant's run")
	}
	if through, err := st.JudgedThrough(ctx, tenant); err != nil || !through.Equal(hour) {
		t.Fatalf("cursor %s %v", through, err)
	}

	pol := budget.DeliverPolicy{MaxAttempts: 2, Backoff: func(int) time.Duration { return 0 }}
	var urls, labels []string
	n, err := st.DeliverDue(ctx, "webhook", 100, pol, func(_ context.Context, d anomaly.Delivery) error {
		urls = append(urls, string(d.Alert.Dimension)+" "+d.WebhookURL)
		if d.Alert.Dimension == anomaly.DimKey {
			labels = append(labels, d.Alert.Label)
			if want := `spend of key "k"`; !strings.Contains(d.Alert.Text(), want) {
				t.Errorf("text %q lacks %s", d.Alert.Text(), want)
			}
		}
		return errors.New("HTTP 500")
	})
	testenv.Must(t, err, "deliver")
	sort.Strings(urls)
	want := []string{"key https://hooks.example/all", "key https://hooks.example/key", "team https://hooks.example/all"}
	if len(labels) != 2 || labels[0] != "k" || labels[1] != "k" {
		t.Errorf("the key's alerts are not named by the key: %v", labels)
	}
	if n != 0 || len(urls) != len(want) || urls[0] != want[0] || urls[1] != want[1] || urls[2] != want[2] {
		t.Fatalf("webhook deliveries %v (%d ok), want %v", urls, n, want)
	}
	// Retried once more (attempt 2 of 2), then given up.
	attempts := 0
	_, err = st.DeliverDue(ctx, "webhook", 100, pol, func(_ context.Context, d anomaly.Delivery) error {
		if d.Attempt != 2 {
			t.Errorf("attempt %d, want 2", d.Attempt)
		}
		attempts++
		return errors.New("HTTP 500")
	})
	testenv.Must(t, err, "retry")
	if attempts != 3 {
		t.Fatalf("%d retries, want 3", attempts)
	}
	var failed int
	testenv.Must(t, db.QueryRow(ctx, "SELECT count(*) FROM anomaly_alert_outbox WHERE kind = 'webhook' AND failed_at IS NOT NULL AND last_error = 'HTTP 500'").Scan(&failed), "failed")
	if failed != 3 {
		t.Fatalf("%d rows given up, want 3", failed)
	}
	if n, err := st.DeliverDue(ctx, "webhook", 100, pol, func(context.Context, anomaly.Delivery) error { t.Error("a given-up row was sent"); return nil }); err != nil || n != 0 {
		t.Fatalf("after giving up: %d %v", n, err)
	}
	// NATS: one row per episode, delivered once.
	n, err = st.DeliverDue(ctx, "nats", 100, pol, func(_ context.Context, d anomaly.Delivery) error {
		if d.Alert.TenantID != tenant || d.Alert.Type != anomaly.AlertType {
			t.Errorf("alert %+v", d.Alert)
		}
		return nil
	})
	if err != nil || n != 2 {
		t.Fatalf("nats: %d %v", n, err)
	}
}
