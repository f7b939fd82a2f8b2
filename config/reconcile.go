package config

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"
)

// Reconcile configures the provider report sync (package reconcile) in the
// services that serve the API.
type Reconcile struct {
	Every     time.Duration
	Retention time.Duration
	// AdminURLs overrides providers' admin API roots: provider=url pairs
	// (operator-set, so tenants cannot point spendgate's requests anywhere).
	AdminURLs string
}

func (f *Reconcile) Register(fs *flag.FlagSet) {
	fs.DurationVar(&f.Every, "reconcile-every", time.Hour, "how often the provider report sync pulls every enabled connection's look-back window (one replica per run)")
	fs.DurationVar(&f.Retention, "reconcile-page-retention", 90*24*time.Hour, "how long raw provider report pages are kept for audit")
	fs.StringVar(&f.AdminURLs, "reconcile-admin-url", "", "comma-separated provider=url overrides of the providers' admin API roots (openai, anthropic), e.g. a proxy; serve's demo points them at its fake provider")
}

func (f *Reconcile) Validate() error {
	var errs []error
	if f.Every < time.Minute {
		errs = append(errs, fmt.Errorf("--reconcile-every must be at least 1m, not %s", f.Every))
	}
	if f.Retention < 24*time.Hour {
		errs = append(errs, fmt.Errorf("--reconcile-page-retention must be at least 24h, not %s", f.Retention))
	}
	if _, err := f.AdminURLMap(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// AdminURLMap is --reconcile-admin-url parsed.
func (f *Reconcile) AdminURLMap() (map[string]string, error) {
	out := map[string]string{}
	for _, item := range strings.Split(f.AdminURLs, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		p, u, ok := strings.Cut(item, "=")
		if !ok || (p != "openai" && p != "anthropic") || !httpURL(u) {
			return nil, fmt.Errorf("--reconcile-admin-url: %q is not openai=<http(s) URL> or anthropic=<http(s) URL>", item)
		}
		out[p] = strings.TrimRight(u, "/")
	}
	return out, nil
}
