package mail_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	stdmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/spendgate/spendgate/internal/smtptest"
	"github.com/spendgate/spendgate/mail"
)

func config(s *smtptest.Server, mode string) mail.Config {
	return mail.Config{Host: s.Host, Port: s.Port, Username: s.Username, Password: s.Password, From: "reports@spendgate.example",
		TLSMode: mode, TLS: s.Roots, Timeout: 10 * time.Second}
}

// Parsed is a received message split into its text and attachments.
type parsed struct {
	header      stdmail.Header
	text        string
	attachments map[string][]byte
	types       map[string]string
}

func parse(t *testing.T, raw []byte) parsed {
	t.Helper()
	m, err := stdmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("content type %q: %v", m.Header.Get("Content-Type"), err)
	}
	p := parsed{header: m.Header, attachments: map[string][]byte{}, types: map[string]string{}}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := r.NextPart() // decodes quoted-printable; base64 below
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatal(err)
		}
		if name := part.FileName(); name != "" {
			if part.Header.Get("Content-Transfer-Encoding") != "base64" {
				t.Fatalf("attachment %s is %q, want base64", name, part.Header.Get("Content-Transfer-Encoding"))
			}
			dec, err := io.ReadAll(base64Reader(body))
			if err != nil {
				t.Fatalf("attachment %s: %v", name, err)
			}
			p.attachments[name] = dec
			p.types[name] = part.Header.Get("Content-Type")
			continue
		}
		p.text = string(body)
	}
	return p
}

func TestSendOverSTARTTLSWithAuthAndAttachments(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{})
	s, err := mail.NewSender(config(srv, mail.StartTLS))
	if err != nil {
		t.Fatal(err)
	}
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{0, 1, 2, 0xff}, 300)...)
	msg := &mail.Message{To: []string{"finance@example.com", "lead@example.com"}, Subject: "Weekly spend — Acme",
		Text: "Spend this week: $12.50\nLonger line that is long enough to need a soft break in quoted-printable encoding because it goes past 76 columns.",
		Attachments: []mail.Attachment{{Name: "spend.csv", ContentType: "text/csv", Data: []byte("a,b\n1,2\n")},
			{Name: "spend.pdf", ContentType: "application/pdf", Data: pdf}}}
	if err := s.Send(context.Background(), msg); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := srv.Wait(t, 1, 5*time.Second)[0]
	if !got.TLS || got.User != srv.Username || got.From != "reports@spendgate.example" || strings.Join(got.To, ",") != "finance@example.com,lead@example.com" {
		t.Fatalf("envelope %+v", got)
	}
	p := parse(t, got.Data)
	if subj, err := new(mime.WordDecoder).DecodeHeader(p.header.Get("Subject")); err != nil || subj != msg.Subject {
		t.Fatalf("subject %q (%v)", subj, err)
	}
	if strings.ReplaceAll(p.text, "\r\n", "\n") != msg.Text {
		t.Fatalf("text %q", p.text)
	}
	if string(p.attachments["spend.csv"]) != "a,b\n1,2\n" || !bytes.Equal(p.attachments["spend.pdf"], pdf) {
		t.Fatalf("attachments %v", p.types)
	}
	if !strings.HasPrefix(p.types["spend.pdf"], "application/pdf") || !strings.HasPrefix(p.types["spend.csv"], "text/csv") {
		t.Fatalf("types %v", p.types)
	}
}

func TestSendOverImplicitTLS(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{ImplicitTLS: true})
	s, err := mail.NewSender(config(srv, mail.ImplicitTLS))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), &mail.Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	if m := srv.Wait(t, 1, 5*time.Second); !m[0].TLS {
		t.Fatal("not over TLS")
	}
}

func TestSendFailuresSayWhy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	msg := &mail.Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"}
	cases := map[string]struct {
		opts   smtptest.Options
		change func(*mail.Config)
		refuse error
		want   string
	}{
		"a server without STARTTLS is refused, nothing goes in plain text": {opts: smtptest.Options{NoTLS: true}, want: "does not offer STARTTLS"},
		"a wrong password names the user":                                  {change: func(c *mail.Config) { c.Password = "wrong" }, want: "authentication as reports@example.com"},
		"an untrusted certificate fails the handshake": {change: func(c *mail.Config) { c.TLS = &tls.Config{ServerName: "127.0.0.1"} },
			want: "STARTTLS: tls: failed to verify certificate"},
		"a rejected message says the server refused it": {refuse: &smtp.SMTPError{Code: 552, Message: "mailbox full"}, want: "the server refused the message: 552"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := smtptest.Start(t, c.opts)
			srv.Refuse(c.refuse)
			cfg := config(srv, mail.StartTLS)
			if c.change != nil {
				c.change(&cfg)
			}
			s, err := mail.NewSender(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(ctx, msg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Fatalf("%d messages accepted", n)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	err := (&mail.Config{Port: 70000, TLSMode: "ssl", From: "Reports <r@example.com>", Password: "x"}).Validate()
	for _, want := range []string{"SMTP host is required", "70000 is not a port", `TLS mode must be "starttls" or "tls", not "ssl"`,
		`from address "Reports <r@example.com>" is not a bare address`, "password is set without a username"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
}

func base64Reader(b []byte) io.Reader {
	return base64.NewDecoder(base64.StdEncoding, bytes.NewReader(bytes.ReplaceAll(b, []byte("\r\n"), nil)))
}
