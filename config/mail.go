package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spendgate/spendgate/mail"
)

// Mail is the SMTP server scheduled reports and budget-alert emails are
// sent through (api, ingest and serve). Without --smtp-host nothing is
// emailed: reports and budgets with email recipients are refused with that
// reason.
type Mail struct {
	Host, Username, Password, PasswordFile, From, TLSMode string
	// CAFile is a PEM bundle to trust instead of the system's roots (a
	// relay with an internal CA).
	CAFile  string
	Port    int
	Timeout time.Duration
	// AlertDebounce is the least time between two emails about the same
	// budget and threshold.
	AlertDebounce time.Duration
}

func (m *Mail) Register(fs *flag.FlagSet) {
	fs.StringVar(&m.Host, "smtp-host", "", "SMTP server for scheduled reports and budget-alert emails (empty: no email)")
	fs.IntVar(&m.Port, "smtp-port", 587, "SMTP port (587 with --smtp-tls starttls, 465 with tls)")
	fs.StringVar(&m.TLSMode, "smtp-tls", mail.StartTLS, "SMTP TLS: starttls (upgrade before anything is sent; refused if the server does not offer it) or tls (implicit TLS, SMTPS)")
	fs.StringVar(&m.Username, "smtp-username", "", "SMTP user for AUTH PLAIN inside TLS (empty: no authentication)")
	fs.StringVar(&m.Password, "smtp-password", "", "SMTP password (prefer SPENDGATE_SMTP_PASSWORD or --smtp-password-file over the command line)")
	fs.StringVar(&m.PasswordFile, "smtp-password-file", "", "file holding the SMTP password (a mounted secret); trailing newlines are ignored")
	fs.StringVar(&m.From, "smtp-from", "", "sender address of reports and alerts, e.g. spendgate@example.com (required with --smtp-host)")
	fs.StringVar(&m.CAFile, "smtp-ca-file", "", "PEM certificates to trust for the SMTP server instead of the system's (an internal CA); the server name is still checked")
	fs.DurationVar(&m.Timeout, "smtp-timeout", 30*time.Second, "longest one email may take to send")
	fs.DurationVar(&m.AlertDebounce, "alert-email-debounce", time.Hour, "least time between two emails about the same budget and threshold; alerts of one budget within it go out as one email")
}

// Validate checks the settings when email is on.
func (m *Mail) Validate() error {
	if m.Host == "" {
		if m.From != "" || m.Username != "" || m.Password != "" || m.PasswordFile != "" {
			return errors.New("--smtp-from, --smtp-username and --smtp-password need --smtp-host")
		}
		return nil
	}
	var errs []error
	if m.Password != "" && m.PasswordFile != "" {
		errs = append(errs, errors.New("set --smtp-password or --smtp-password-file, not both"))
	}
	if m.Timeout < time.Second {
		errs = append(errs, fmt.Errorf("--smtp-timeout must be at least 1s, not %s", m.Timeout))
	}
	if m.AlertDebounce < 0 {
		errs = append(errs, fmt.Errorf("--alert-email-debounce must not be negative, not %s", m.AlertDebounce))
	}
	cfg, err := m.config()
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("--smtp-*: %w", err))
	}
	return errors.Join(errs...)
}

// Enabled reports whether email is configured.
func (m *Mail) Enabled() bool { return m.Host != "" }

func (m *Mail) config() (mail.Config, error) {
	pw := m.Password
	if m.PasswordFile != "" {
		b, err := os.ReadFile(m.PasswordFile)
		if err != nil {
			return mail.Config{}, fmt.Errorf("--smtp-password-file: %w", err)
		}
		pw = strings.TrimRight(string(b), "\r\n")
	}
	cfg := mail.Config{Host: m.Host, Port: m.Port, Username: m.Username, Password: pw, From: m.From, TLSMode: m.TLSMode, Timeout: m.Timeout}
	if m.CAFile != "" {
		pem, err := os.ReadFile(m.CAFile)
		if err != nil {
			return mail.Config{}, fmt.Errorf("--smtp-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return mail.Config{}, fmt.Errorf("--smtp-ca-file %s holds no PEM certificate", m.CAFile)
		}
		cfg.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return cfg, nil
}

// Sender is the configured sender, nil when email is off.
func (m *Mail) Sender() (*mail.Sender, error) {
	if !m.Enabled() {
		return nil, nil
	}
	cfg, err := m.config()
	if err != nil {
		return nil, err
	}
	return mail.NewSender(cfg)
}
