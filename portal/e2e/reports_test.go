package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	stdmail "net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spendgate/spendgate/internal/pdftest"
	"github.com/spendgate/spendgate/internal/smtptest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/money"
)

// A tenant admin creates a weekly report on the Reports page and sends a
// test: `spendgate serve` mails it through a real SMTP server (STARTTLS,
// AUTH PLAIN, the test's CA given with --smtp-ca-file) with the CSV and
// the PDF attached, and the CSV's total is the API's for the same week.
func TestPortalScheduledReport(t *testing.T) {
	ctx := newBrowser(t)
	smtp := smtptest.Start(t, smtptest.Options{})
	ca := filepath.Join(t.TempDir(), "smtp-ca.pem")
	testenv.Must(t, os.WriteFile(ca, smtp.CertPEM, 0o600), "CA file")
	srv := startServer(t, "--smtp-host", smtp.Host, "--smtp-port", strconv.Itoa(smtp.Port), "--smtp-username", smtp.Username,
		"--smtp-password", smtp.Password, "--smtp-from", "reports@spendgate.test", "--smtp-ca-file", ca)
	signIn(t, ctx, srv.URL, srv.DemoEmail, srv.DemoPassword)
	run(t, ctx, "a bad recipient is refused on the page, then the report is saved",
		goTo("reports", "reports-h"),
		chromedp.Click(`//button[text()="New report"]`),
		chromedp.WaitVisible(chromedp.CSS(`#r-name`)),
		chromedp.SendKeys(chromedp.CSS(`#r-name`), "Weekly spend"),
		fill(`#r-tz`, "Europe/Berlin"),
		chromedp.SendKeys(chromedp.CSS(`#r-emails`), "finance at example"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Create report"] button[type=submit]`)),
		waitJS(`document.querySelector('#r-emails-err')?.textContent.includes('is not an email address')`, 10*time.Second),
		fill(`#r-emails`, "finance@example.com, lead@example.com"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Create report"] button[type=submit]`)),
		waitJS(`document.querySelector('[data-testid=report][data-report="Weekly spend"]')?.textContent.includes('Mondays at 08:00 (Europe/Berlin)')`, 30*time.Second),
		shots(t, "60-reports"),
	)
	run(t, ctx, "send a test",
		chromedp.Click(chromedp.CSS(`button[aria-label="Send a test of Weekly spend"]`)),
		waitJS(`document.querySelector('[data-testid=report-sent]')?.textContent.includes('sent to email')`, 60*time.Second),
		shots(t, "61-report-sent"),
	)
	msg := smtp.Wait(t, 1, 30*time.Second)[0]
	if strings.Join(msg.To, ",") != "finance@example.com,lead@example.com" || !msg.TLS || msg.User != smtp.Username {
		t.Fatalf("envelope %+v", msg)
	}
	m, err := stdmail.ReadMessage(bytes.NewReader(msg.Data))
	testenv.Must(t, err, "message")
	subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if !strings.HasPrefix(subject, "[test] Weekly spend: $") {
		t.Fatalf("subject %q", subject)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	testenv.Must(t, err, "content type")
	files := map[string][]byte{}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		testenv.Must(t, err, "part")
		b, _ := io.ReadAll(p)
		if p.FileName() != "" {
			dec, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(bytes.ReplaceAll(b, []byte("\r\n"), nil))))
			testenv.Must(t, err, "attachment")
			files[filepath.Ext(p.FileName())] = dec
		}
	}
	if len(files) != 2 || files[".csv"] == nil || files[".pdf"] == nil {
		t.Fatalf("attachments %v", files)
	}
	rows, err := csv.NewReader(bytes.NewReader(files[".csv"])).ReadAll()
	testenv.Must(t, err, "csv")
	// The report covers the last whole week in Berlin: the API's total for it.
	berlin, _ := time.LoadLocation("Europe/Berlin")
	now := time.Now().In(berlin)
	monday := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, berlin).AddDate(0, 0, -((int(now.Weekday()) + 6) % 7))
	if now.Before(monday.Add(8 * time.Hour)) { // before Monday 08:00 the last report is the week before
		monday = monday.AddDate(0, 0, -7)
	}
	api := srv.spendOver(t, monday.AddDate(0, 0, -7), monday)
	want, err := money.ParseUSD(api.TenantCost)
	testenv.Must(t, err, "API tenant cost")
	if rows[1][0] != "summary" || rows[1][3] != money.FormatNano(want) {
		t.Fatalf("csv summary %v, API %s", rows[1], api.TenantCost)
	}
	pages, text := pdftest.Render(t, files[".pdf"])
	if pages < 1 || !strings.Contains(text, "Weekly spend") || !strings.Contains(text, "Spend this period") {
		t.Fatalf("PDF %d pages:\n%s", pages, text)
	}
	var audit struct {
		AuditLog struct {
			Edges []struct{ Node struct{ Action string } }
		}
	}
	srv.gql(t, `query($t:ID!){auditLog(tenantId:$t,first:20){edges{node{action}}}}`, map[string]any{"t": srv.TenantID}, &audit)
	var actions []string
	for _, e := range audit.AuditLog.Edges {
		actions = append(actions, e.Node.Action)
	}
	if got := strings.Join(actions, " "); !strings.Contains(got, "report.send_test") || !strings.Contains(got, "report.create") {
		t.Fatalf("audit %s", got)
	}
}
