// Package mail sends email over SMTP with TLS: STARTTLS on a submission
// port (587) or implicit TLS (465), PLAIN authentication only inside TLS,
// and messages built as multipart/mixed MIME (a text part plus
// base64 attachments). Scheduled reports and budget alerts send through it.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	stdmail "net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// TLS modes.
const (
	// StartTLS connects in plain text and upgrades with STARTTLS before
	// anything else; a server that does not offer it is refused.
	StartTLS = "starttls"
	// ImplicitTLS speaks TLS from the first byte (SMTPS, port 465).
	ImplicitTLS = "tls"
)

// Config is how to reach the SMTP server.
type Config struct {
	Host     string
	Port     int
	Username string // empty: no authentication
	Password string
	From     string // envelope and header sender, a bare address
	TLSMode  string // StartTLS or ImplicitTLS
	Timeout  time.Duration
	// TLS overrides the TLS client settings (tests trust their own CA);
	// ServerName defaults to Host.
	TLS *tls.Config
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Host == "" {
		errs = append(errs, errors.New("mail: SMTP host is required"))
	}
	if c.Port <= 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("mail: SMTP port %d is not a port (587 for STARTTLS, 465 for TLS)", c.Port))
	}
	if c.TLSMode != StartTLS && c.TLSMode != ImplicitTLS {
		errs = append(errs, fmt.Errorf("mail: SMTP TLS mode must be %q or %q, not %q", StartTLS, ImplicitTLS, c.TLSMode))
	}
	if a, err := stdmail.ParseAddress(c.From); err != nil || a.Address != c.From {
		errs = append(errs, fmt.Errorf("mail: from address %q is not a bare address like reports@example.com", c.From))
	}
	if c.Username == "" && c.Password != "" {
		errs = append(errs, errors.New("mail: an SMTP password is set without a username"))
	}
	return errors.Join(errs...)
}

// Attachment is one attached file.
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// Message is one email.
type Message struct {
	To          []string
	Subject     string
	Text        string // the plain-text body
	Attachments []Attachment
}

// Sender sends messages over SMTP.
type Sender struct {
	cfg Config
	// Now stamps the Date header (tests set it).
	Now func() time.Time
}

// NewSender checks cfg and returns a sender.
func NewSender(cfg Config) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &Sender{cfg: cfg, Now: time.Now}, nil
}

// From is the sender address.
func (s *Sender) From() string { return s.cfg.From }

// Send delivers m to every recipient in one SMTP transaction.
func (s *Sender) Send(ctx context.Context, m *Message) error {
	if len(m.To) == 0 {
		return errors.New("mail: a message needs a recipient")
	}
	for _, to := range m.To {
		if strings.ContainsAny(to, "\r\n<>") {
			return fmt.Errorf("mail: recipient %q is not an address", to)
		}
	}
	raw, err := Build(s.cfg.From, m, s.Now())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	c, err := s.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	// smtp.Client has no context: a deadline on the connection ends a
	// server that stops answering mid-transaction.
	if err := s.transact(c, m.To, raw); err != nil {
		return err
	}
	return c.Quit()
}

func (s *Sender) tlsConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.cfg.TLS != nil {
		cfg = s.cfg.TLS.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = s.cfg.Host
	}
	return cfg
}

func (s *Sender) dial(ctx context.Context) (*smtp.Client, error) {
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	var conn net.Conn
	var err error
	d := &net.Dialer{}
	if s.cfg.TLSMode == ImplicitTLS {
		conn, err = (&tls.Dialer{NetDialer: d, Config: s.tlsConfig()}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("mail: connect to %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("mail: %s: %w", addr, err)
	}
	if err := c.Hello(helloName()); err != nil {
		c.Close()
		return nil, fmt.Errorf("mail: %s: EHLO: %w", addr, err)
	}
	if s.cfg.TLSMode == StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			c.Close()
			return nil, fmt.Errorf("mail: %s does not offer STARTTLS; refusing to send in plain text (use TLS mode %q for port 465)", addr, ImplicitTLS)
		}
		if err := c.StartTLS(s.tlsConfig()); err != nil {
			c.Close()
			return nil, fmt.Errorf("mail: %s: STARTTLS: %w", addr, err)
		}
	}
	if s.cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			c.Close()
			return nil, fmt.Errorf("mail: %s offers no AUTH but a username is configured", addr)
		}
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
			c.Close()
			return nil, fmt.Errorf("mail: %s: authentication as %s: %w", addr, s.cfg.Username, err)
		}
	}
	return c, nil
}

func (s *Sender) transact(c *smtp.Client, to []string, raw []byte) error {
	if err := c.Mail(s.cfg.From); err != nil {
		return fmt.Errorf("mail: MAIL FROM %s: %w", s.cfg.From, err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return fmt.Errorf("mail: RCPT TO %s: %w", rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	if _, err := w.Write(raw); err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail: the server refused the message: %w", err)
	}
	return nil
}

func helloName() string {
	// The domain of our own host name would be better, but many containers
	// have none; "localhost" is what net/smtp sends by default too.
	return "localhost"
}

// Build renders m as an RFC 5322 message: a text/plain part (quoted-
// printable, UTF-8) and each attachment base64-encoded in 76-column lines,
// inside multipart/mixed. A message without attachments is still
// multipart, which every client shows as its text.
func Build(from string, m *Message, date time.Time) ([]byte, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := func(k, v string) { fmt.Fprintf(&buf, "%s: %s\r\n", k, v) }
	var id [12]byte
	_, _ = rand.Read(id[:])
	domain := from[strings.LastIndexByte(from, '@')+1:]
	h("From", from)
	h("To", strings.Join(m.To, ", "))
	h("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	h("Date", date.Format(time.RFC1123Z))
	h("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+domain+">")
	h("MIME-Version", "1.0")
	h("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	buf.WriteString("\r\n")

	tp, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {"text/plain; charset=utf-8"},
		"Content-Transfer-Encoding": {"quoted-printable"},
	})
	if err != nil {
		return nil, err
	}
	qp := quotedprintable.NewWriter(tp)
	if _, err := qp.Write([]byte(strings.ReplaceAll(m.Text, "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	for _, a := range m.Attachments {
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		name := mime.QEncoding.Encode("utf-8", a.Name)
		ap, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {mime.FormatMediaType(ct, map[string]string{"name": a.Name})},
			"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": a.Name})},
			"Content-Transfer-Encoding": {"base64"},
		})
		if err != nil {
			return nil, fmt.Errorf("mail: attachment %s: %w", name, err)
		}
		enc := base64.StdEncoding.EncodeToString(a.Data)
		for len(enc) > 76 {
			if _, err := io76(ap, enc[:76]); err != nil {
				return nil, err
			}
			enc = enc[76:]
		}
		if _, err := io76(ap, enc); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func io76(w interface{ Write([]byte) (int, error) }, line string) (int, error) {
	return w.Write([]byte(line + "\r\n"))
}
