package service_test

import (
	"bytes"
	"context"
	"mime"
	stdmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/budget/service"
	"github.com/spendgate/spendgate/internal/smtptest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/mail"
	"github.com/spendgate/spendgate/spend"
)

// emailConfig sends alert emails through a real SMTP server (STARTTLS,
// AUTH PLAIN) started for the test.
func emailConfig(t *testing.T, debounce time.Duration) (service.Config, *smtptest.Server) {
	t.Helper()
	srv := smtptest.Start(t, smtptest.Options{})
	sender, err := mail.NewSender(mail.Config{Host: srv.Host, Port: srv.Port, Username: srv.Username, Password: srv.Password,
		From: "alerts@spendgate.example", TLSMode: mail.StartTLS, TLS: srv.Roots})
	testenv.Must(t, err, "sender")
	cfg := testConfig("SGM")
	cfg.Alerts.Mailer = sender
	cfg.EmailDebounce = debounce
	return cfg, srv
}

func (f *fixture) dayBudget(t *testing.T, emails []string) string {
	t.Helper()
	var id string
	testenv.Must(t, f.db.QueryRow(context.Background(), `INSERT INTO budgets (tenant_id, name, scope, period, amount_nano_usd, thresholds, alert_emails)
		VALUES ($1, 'daily cap', 'tenant', 'day', 1000, '{50,80}', $2) RETURNING id::text`, f.tenant, emails).Scan(&id), "budget")
	return id
}

func (f *fixture) pricedAt(cost int64, at time.Time) spend.PricedEvent {
	e := f.priced(cost)
	e.Event.Time = at
	return e
}

// deliver runs delivery passes until the outbox has no pending email rows.
func deliver(t *testing.T, f *fixture, svc *service.Service) {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, "email rows delivered", func() bool {
		if _, err := svc.Dispatcher.Once(context.Background()); err != nil {
			t.Fatalf("delivery: %v", err)
		}
		var pending int
		testenv.Must(t, f.db.QueryRow(context.Background(), `SELECT count(*) FROM budget_alert_outbox WHERE kind = 'email' AND delivered_at IS NULL`).
			Scan(&pending), "outbox")
		return pending == 0
	})
}

func subjectOf(t *testing.T, raw []byte) (string, string) {
	t.Helper()
	m, err := stdmail.ReadMessage(bytes.NewReader(raw))
	testenv.Must(t, err, "message")
	s, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	testenv.Must(t, err, "subject")
	var body bytes.Buffer
	_, _ = body.ReadFrom(m.Body)
	return s, body.String()
}

func TestAlertEmailCoalescesThresholdsOfOneBatch(t *testing.T) {
	t.Parallel()
	f := setup(t)
	cfg, srv := emailConfig(t, time.Hour)
	svc := service.New(f.db, nil, "SGM", cfg, nil)
	f.dayBudget(t, []string{"finance@example.com", "oncall@example.com"})
	// One batch crossing 50 % and 80 %: two alerts, one email.
	testenv.Must(t, svc.ApplySpend(context.Background(), []spend.PricedEvent{f.priced(900)}), "apply")
	deliver(t, f, svc)
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d emails, want 1", len(msgs))
	}
	if strings.Join(msgs[0].To, ",") != "finance@example.com,oncall@example.com" || !msgs[0].TLS {
		t.Fatalf("envelope %+v", msgs[0])
	}
	subject, body := subjectOf(t, msgs[0].Data)
	if subject != "Budget alert: daily cap reached 80%" || !strings.Contains(body, `budget "daily cap" reached 50%`) ||
		!strings.Contains(body, `budget "daily cap" reached 80%`) {
		t.Fatalf("subject %q body %q", subject, body)
	}
}

// One email per budget and threshold per debounce window: the same
// threshold crossed again in the next day's period within the window is
// not emailed (NATS still gets every alert), and is once the window is
// shorter than the gap.
func TestAlertEmailDebounce(t *testing.T) {
	t.Parallel()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	yesterday := today.Add(-time.Hour)
	cases := map[string]struct {
		debounce time.Duration
		want     int
	}{
		"within the window: one email":  {time.Hour, 1},
		"no window: an email each time": {0, 2},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			cfg, srv := emailConfig(t, c.debounce)
			svc := service.New(f.db, nil, "SGM", cfg, nil)
			f.dayBudget(t, []string{"finance@example.com"})
			testenv.Must(t, svc.ApplySpend(context.Background(), []spend.PricedEvent{f.pricedAt(600, yesterday)}), "yesterday")
			deliver(t, f, svc)
			testenv.Must(t, svc.ApplySpend(context.Background(), []spend.PricedEvent{f.pricedAt(600, today.Add(time.Minute))}), "today")
			deliver(t, f, svc)
			var alerts, nats int
			testenv.Must(t, f.db.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM budget_alerts), (SELECT count(*) FROM budget_alert_outbox WHERE kind = 'nats')`).
				Scan(&alerts, &nats), "counts")
			if alerts != 2 || nats != 2 {
				t.Fatalf("%d alerts, %d NATS rows; want 2 each", alerts, nats)
			}
			if n := len(srv.Messages()); n != c.want {
				t.Fatalf("%d emails, want %d", n, c.want)
			}
		})
	}
}

// A failing SMTP server leaves the email pending with its error, and the
// next pass after the backoff sends it.
func TestAlertEmailRetried(t *testing.T) {
	t.Parallel()
	f := setup(t)
	cfg, srv := emailConfig(t, time.Hour)
	svc := service.New(f.db, nil, "SGM", cfg, nil)
	f.dayBudget(t, []string{"finance@example.com"})
	srv.Refuse(&smtpErr{})
	testenv.Must(t, svc.ApplySpend(context.Background(), []spend.PricedEvent{f.priced(600)}), "apply")
	testenv.WaitFor(t, 10*time.Second, "a failed attempt", func() bool {
		_, _ = svc.Dispatcher.Once(context.Background())
		var lastError string
		_ = f.db.QueryRow(context.Background(), `SELECT last_error FROM budget_alert_outbox WHERE kind = 'email'`).Scan(&lastError)
		return strings.Contains(lastError, "email: mail: the server refused the message")
	})
	srv.Refuse(nil)
	deliver(t, f, svc)
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d emails", n)
	}
}

type smtpErr struct{}

func (*smtpErr) Error() string { return "451 try again later" }
