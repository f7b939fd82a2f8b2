package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/spendgate/spendgate/apiserver"
	"github.com/spendgate/spendgate/secrets"
)

// ControlPlane is what every command talking to the control plane's
// Postgres needs: its DSN and the secrets.
type ControlPlane struct {
	PostgresDSN, JWTSecret, KeyPepper, ServiceToken string
	// SecretsKey is the keyring sealing secrets at rest
	// (SPENDGATE_SECRETS_KEY); DevKeyDir, when set by a command, is where a
	// generated development key is kept when the other secrets take their
	// development defaults too.
	SecretsKey, DevKeyDir string
	// PublicURL is the portal's external origin (SSO redirect, SCIM base
	// URL).
	PublicURL string
	// Dev allows the fixed development secrets on listeners other than
	// loopback.
	Dev bool
}

// DevSecret is the fixed development value of --jwt-secret and --key-pepper;
// DevServiceToken the one of --service-token. They are public (they are in
// this file): fine on one machine, never in production.
const (
	DevSecret       = "dev-only-insecure-secret-change-me-0123456789"
	DevServiceToken = "dev-service-token"
)

// Sizes the secrets need (auth.NewTokens and controlplane.New refuse less).
const (
	minJWTSecret = 32
	minPepper    = 16
)

func (f *ControlPlane) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.PostgresDSN, "postgres-dsn", DefaultPostgresDSN, "Postgres connection string")
	fs.StringVar(&f.JWTSecret, "jwt-secret", "", "secret signing access tokens (≥ 32 bytes; dev default when empty)")
	fs.StringVar(&f.KeyPepper, "key-pepper", "", "secret HMAC pepper for API keys (≥ 16 bytes; dev default when empty)")
	fs.StringVar(&f.ServiceToken, "service-token", "", "token the data plane uses for the policy and ingest endpoints (dev default when empty)")
	fs.StringVar(&f.SecretsKey, "secrets-key", "", "keyring sealing secrets at rest (SSO client secrets, TOTP seeds): id:base64-of-32-bytes[,older ids…], the first seals "+
		"(generate one with: openssl rand -base64 32); in development a generated key is kept in the data directory")
	fs.StringVar(&f.PublicURL, "public-url", "", "the portal's external URL (https://spend.example.com): SSO redirects to <url>/sso/callback, SCIM lives at <url>/scim/v2 "+
		"(default: http://<listen address>)")
	fs.BoolVar(&f.Dev, "dev", false, "allow the fixed development secrets (unset --jwt-secret, --key-pepper, --service-token) on non-loopback listeners")
}

// Validate checks the sizes of the secrets that are set; unset ones take
// the development defaults (see WithDevDefaults).
func (f *ControlPlane) Validate() error {
	var errs []error
	if f.PostgresDSN == "" {
		errs = append(errs, errors.New("--postgres-dsn must not be empty"))
	}
	if f.JWTSecret != "" && len(f.JWTSecret) < minJWTSecret {
		errs = append(errs, fmt.Errorf("--jwt-secret must be at least %d bytes, got %d", minJWTSecret, len(f.JWTSecret)))
	}
	if f.KeyPepper != "" && len(f.KeyPepper) < minPepper {
		errs = append(errs, fmt.Errorf("--key-pepper must be at least %d bytes, got %d", minPepper, len(f.KeyPepper)))
	}
	if f.SecretsKey != "" {
		if _, err := secrets.Parse(f.SecretsKey); err != nil {
			errs = append(errs, fmt.Errorf("--secrets-key: %w", err))
		}
	}
	if f.PublicURL != "" {
		if u, err := url.Parse(f.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--public-url %q: want an absolute http(s) URL such as https://spend.example.com", f.PublicURL))
		}
	}
	return errors.Join(errs...)
}

// MissingSecrets names the environment variables of the secrets left unset.
func (f *ControlPlane) MissingSecrets() []string {
	var missing []string
	if f.JWTSecret == "" {
		missing = append(missing, "SPENDGATE_JWT_SECRET")
	}
	if f.KeyPepper == "" {
		missing = append(missing, "SPENDGATE_KEY_PEPPER")
	}
	if f.ServiceToken == "" {
		missing = append(missing, "SPENDGATE_SERVICE_TOKEN")
	}
	return missing
}

// CheckDevSecrets refuses the fixed development secrets when any of the
// listen addresses is reachable from other machines, unless --dev is set:
// anyone who can reach such a listener could mint access tokens or act as
// the data plane.
func (f *ControlPlane) CheckDevSecrets(listens ...string) error {
	missing := f.MissingSecrets()
	if len(missing) == 0 || f.Dev {
		return nil
	}
	for _, addr := range listens {
		if !LoopbackAddr(addr) {
			return fmt.Errorf("refusing to listen on %s with the fixed development secrets: set %s (or --jwt-secret, --key-pepper, --service-token), "+
				"listen on 127.0.0.1, or pass --dev to accept that anyone who can reach it can forge access tokens",
				addr, strings.Join(missing, ", "))
		}
	}
	return nil
}

// WithDevDefaults fills missing secrets with the development values after
// CheckDevSecrets allowed them, and returns the variables it filled.
func (f *ControlPlane) WithDevDefaults(listens ...string) ([]string, error) {
	if err := f.CheckDevSecrets(listens...); err != nil {
		return nil, err
	}
	missing := f.MissingSecrets()
	if f.JWTSecret == "" {
		f.JWTSecret = DevSecret
	}
	if f.KeyPepper == "" {
		f.KeyPepper = DevSecret
	}
	if f.ServiceToken == "" {
		f.ServiceToken = DevServiceToken
	}
	return missing, nil
}

// LoopbackAddr reports whether a listen address (host:port) only accepts
// connections from this machine: a loopback IP or "localhost". An empty
// host (":8080") listens on every interface.
func LoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// ClientIPHeaderUsage describes --client-ip-header (api, serve).
const clientIPHeaderUsage = "header a trusted reverse proxy in front of the API sets to the client's address (X-Forwarded-For, X-Real-IP); " +
	"sign-in throttling counts failures by it (empty: the connection's peer address; never set it without such a proxy: clients could forge it)"

// validateLimits is apiserver.Limits.Validate with the flags named.
func validateLimits(l apiserver.Limits) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("API limits (--max-query-bytes, --query-timeout, --max-subscriptions-per-connection, --max-subscriptions-per-user): %w", err)
	}
	return nil
}

// registerAPILimits adds the API server's request limits.
func registerAPILimits(fs *flag.FlagSet, l *apiserver.Limits) {
	*l = apiserver.DefaultLimits()
	fs.Int64Var(&l.MaxBodyBytes, "max-query-bytes", l.MaxBodyBytes, "largest POST /query body (413 above it)")
	fs.DurationVar(&l.RequestTimeout, "query-timeout", l.RequestTimeout, "longest a GraphQL query or mutation may work")
	fs.IntVar(&l.MaxSubscriptionsPerConnection, "max-subscriptions-per-connection", l.MaxSubscriptionsPerConnection, "live subscriptions per websocket")
	fs.IntVar(&l.MaxSubscriptionsPerUser, "max-subscriptions-per-user", l.MaxSubscriptionsPerUser, "live subscriptions per signed-in user over all websockets")
}

// Pricing configures catalogue revisions in services that price.
type Pricing struct {
	Poll      time.Duration
	Admins    string
	SyncURL   string
	SyncEvery time.Duration
}

func (f *Pricing) Register(fs *flag.FlagSet) {
	fs.DurationVar(&f.Poll, "pricing-poll", time.Minute, "how often to check for applied pricing revisions besides Postgres notifications")
	fs.StringVar(&f.Admins, "pricing-admins", "", "comma-separated e-mails allowed to propose, apply and reject pricing revisions through the API (empty: CLI only)")
	fs.StringVar(&f.SyncURL, "pricing-sync-url", "", "LiteLLM price file URL a scheduled sync proposes revisions from (empty: no scheduled sync)")
	fs.DurationVar(&f.SyncEvery, "pricing-sync-every", 24*time.Hour, "how often the scheduled pricing sync runs")
}

func (f *Pricing) Validate() error {
	var errs []error
	if f.Poll < time.Second {
		errs = append(errs, fmt.Errorf("--pricing-poll must be at least 1s, not %s", f.Poll))
	}
	if f.SyncURL != "" && !httpURL(f.SyncURL) {
		errs = append(errs, fmt.Errorf("--pricing-sync-url must be an http(s) URL, not %q", f.SyncURL))
	}
	if f.SyncEvery < time.Minute {
		errs = append(errs, fmt.Errorf("--pricing-sync-every must be at least 1m, not %s", f.SyncEvery))
	}
	return errors.Join(errs...)
}

// AdminList is --pricing-admins split and trimmed.
func (f *Pricing) AdminList() []string {
	var out []string
	for _, a := range strings.Split(f.Admins, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}
