package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/spendgate/spendgate/egress"
	"github.com/spendgate/spendgate/meter"
)

// Upstreams collects repeated --upstream provider=url flags.
type Upstreams map[string]string

func (u Upstreams) String() string {
	parts := make([]string, 0, len(u))
	for k, v := range u {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

func (u Upstreams) Set(s string) error {
	for _, item := range strings.Split(s, ",") {
		id, url, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || url == "" {
			return fmt.Errorf("want provider=url, got %q", item)
		}
		if _, known := meter.ProviderByID(id); !known {
			return fmt.Errorf("unknown provider %q", id)
		}
		if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
			return fmt.Errorf("upstream for %s must be an http(s) URL, got %q", id, url)
		}
		u[id] = url
	}
	return nil
}

// WebhookAllow is --webhook-allow: the internal receivers budget webhooks
// may reach besides public addresses, parsed (and refused when malformed)
// as the flag is set.
type WebhookAllow struct {
	raw string
	// Policy is nil for public addresses only.
	Policy *egress.Policy
}

const webhookAllowUsage = "internal receivers budget webhooks may reach besides public addresses: comma-separated CIDRs, addresses and host names " +
	"(default none: loopback, private, link-local, CGNAT, multicast … are refused when a budget is saved and when the alert is sent)"

func (f *WebhookAllow) String() string { return f.raw }

func (f *WebhookAllow) Set(s string) error {
	p, err := egress.ParseAllow(s)
	if err != nil {
		return err
	}
	f.raw, f.Policy = s, p
	return nil
}

// ParseBytes reads a size as GOMEMLIMIT writes it: a number of bytes with
// an optional B, KiB, MiB, GiB or TiB suffix; "" is no value.
func ParseBytes(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	num, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size: a positive number of bytes with an optional B, KiB, MiB, GiB or TiB suffix", s)
	}
	if n > math.MaxInt64/mult {
		return 0, errors.New("size too large")
	}
	return n * mult, nil
}

// MemoryLimit is --memory-limit, the Go runtime's soft memory limit
// (cmd/spendgate applies it).
type MemoryLimit struct{ Value string }

func (m *MemoryLimit) String() string     { return m.Value }
func (m *MemoryLimit) Set(v string) error { _, err := ParseBytes(v); m.Value = v; return err }

func httpURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}
