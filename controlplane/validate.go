package controlplane

import (
	"context"
	"net/mail"
	"path"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spendgate/spendgate/egress"
	"github.com/spendgate/spendgate/meter"
	"github.com/spendgate/spendgate/org"
)

const maxName = 200

func cleanName(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", invalid("%s must not be empty", field)
	}
	if utf8.RuneCountInString(s) > maxName {
		return "", invalid("%s must be at most %d characters", field, maxName)
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
		return "", invalid("%s must be UTF-8 text without control characters (NUL, line breaks, tabs)", field)
	}
	return s, nil
}

func cleanEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) > 254 {
		return "", invalid("email must be at most 254 characters")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndexByte(s, '@'):], ".") {
		return "", invalid("%q is not a valid email address", s)
	}
	return s, nil
}

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

func cleanSlug(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !slugRE.MatchString(s) {
		return "", invalid("slug must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit")
	}
	return s, nil
}

// KeyPolicy is what a key may do (the data plane's policy.Policy, as
// edited), and a node's key defaults; package org owns the type and how the
// layers combine.
type KeyPolicy = org.KeyPolicy

// Upper bounds of the rate limits: far above any provider's own limits, low
// enough that arithmetic on them cannot overflow.
const maxRequestsPerMinute, maxTokensPerMinute = 10_000_000, 1_000_000_000_000

func validatePolicy(p *KeyPolicy) error {
	if maxProviders := len(meter.KnownProviderIDs()); len(p.AllowedProviders) > maxProviders || len(p.AllowedModels) > 100 || len(p.RequiredDimensions) > meter.MaxDimensions || len(p.DefaultDimensions) > meter.MaxDimensions {
		return invalid("policy lists are too long (at most %d providers, 100 model globs, 16 dimensions)", maxProviders)
	}
	if p.RequestsPerMinute < 0 || p.RequestsPerMinute > maxRequestsPerMinute {
		return invalid("requestsPerMinute must be between 0 (no limit) and %d", maxRequestsPerMinute)
	}
	if p.TokensPerMinute < 0 || p.TokensPerMinute > maxTokensPerMinute {
		return invalid("tokensPerMinute must be between 0 (no limit) and %d", int64(maxTokensPerMinute))
	}
	for _, id := range p.AllowedProviders {
		if !meter.KnownProvider(id) {
			return invalid("unknown provider %q (known: %s)", id, strings.Join(meter.KnownProviderIDs(), ", "))
		}
	}
	for _, g := range p.AllowedModels {
		if g == "" || len(g) > 200 {
			return invalid("model globs must be 1..200 characters")
		}
		if _, err := path.Match(g, ""); err != nil {
			return invalid("model glob %q is malformed: %v", g, err)
		}
	}
	for _, d := range p.RequiredDimensions {
		if err := meter.ValidDimensionName(d); err != nil {
			return invalid("required dimension %q: %v", d, err)
		}
	}
	for k, v := range p.DefaultDimensions {
		if err := meter.ValidDimensionName(k); err != nil {
			return invalid("default dimension %q: %v", k, err)
		}
		if v == "" || len(v) > meter.MaxDimensionValue {
			return invalid("default dimension %s: value must be 1..128 bytes", k)
		}
	}
	p.AllowedProviders = dedupe(p.AllowedProviders)
	p.AllowedModels = dedupe(p.AllowedModels)
	p.RequiredDimensions = dedupe(p.RequiredDimensions)
	if p.DefaultDimensions == nil {
		p.DefaultDimensions = map[string]string{}
	}
	return nil
}

func dedupe(in []string) []string {
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// validateWebhook checks a budget's webhook URL: absolute http(s), and a
// destination the egress policy allows (public, or allow-listed by the
// operator), so a tenant admin cannot point spendgate's alert sender at the
// server's own network. The sender checks the dialled address again.
func validateWebhook(ctx context.Context, pol *egress.Policy, r egress.Resolver, s *string) error {
	if s == nil || *s == "" {
		return nil
	}
	if len(*s) > 2000 {
		return invalid("webhook URL must be at most 2000 characters")
	}
	if err := pol.CheckURL(ctx, *s, r); err != nil {
		return invalid("webhook URL %s", err)
	}
	return nil
}
