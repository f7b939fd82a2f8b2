// Package egress decides which network destinations outbound requests that
// tenants choose may reach: budget webhooks, whose URL any tenant admin
// sets. Without a rule a webhook could reach the API's own loopback, the
// private network behind it or a cloud metadata service (169.254.169.254),
// server-side request forgery. The rule is checked twice: when the URL is
// saved (CheckURL: a clear INVALID_ARGUMENT) and when a connection is made
// (Transport: the address actually dialled, after DNS, so a name that
// resolves to a public address when saved and to a private one later —
// DNS rebinding — is refused too). Operators allow internal receivers
// explicitly (ParseAllow).
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// forbidden are the ranges no tenant-chosen request may reach unless
// allowed: everything not globally routable.
var forbidden = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified (this network)"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT (shared)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local (cloud metadata)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved (IETF protocol assignments)"},
	{netip.MustParsePrefix("192.0.2.0/24"), "reserved (documentation)"},
	{netip.MustParsePrefix("192.88.99.0/24"), "reserved (6to4 relay)"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "reserved (benchmarking)"},
	{netip.MustParsePrefix("198.51.100.0/24"), "reserved (documentation)"},
	{netip.MustParsePrefix("203.0.113.0/24"), "reserved (documentation)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved (incl. broadcast)"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/96"), "reserved (IPv4-compatible)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "reserved (local NAT64)"},
	{netip.MustParsePrefix("100::/64"), "reserved (discard)"},
	{netip.MustParsePrefix("2001::/23"), "reserved (IETF protocol assignments, Teredo)"},
	{netip.MustParsePrefix("2001:db8::/32"), "reserved (documentation)"},
	{netip.MustParsePrefix("2002::/16"), "reserved (6to4)"},
	{netip.MustParsePrefix("fc00::/7"), "private (unique local)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "reserved (site-local)"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// classify names the forbidden range ip is in, "" for a public address.
// IPv4-mapped and NAT64 addresses are judged by the IPv4 address they carry.
func classify(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	if nat64.Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	for _, f := range forbidden {
		if f.prefix.Contains(ip) {
			return f.what
		}
	}
	return ""
}

// Policy says which destinations are allowed: public addresses always, and
// the operator's allow-list. The zero Policy (and nil) allows public
// addresses only.
type Policy struct {
	nets  []netip.Prefix
	hosts map[string]bool
}

// ParseAllow parses an operator's allow-list of internal receivers: comma-
// or space-separated CIDRs (10.1.2.0/24), addresses (127.0.0.1, ::1) and
// host names (hooks.internal; the name as written in the URL, whatever it
// resolves to). Empty allows nothing beyond public addresses.
func ParseAllow(list string) (*Policy, error) {
	p := &Policy{hosts: map[string]bool{}}
	for _, item := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		if pr, err := netip.ParsePrefix(item); err == nil {
			p.nets = append(p.nets, pr.Masked())
			continue
		}
		if a, err := netip.ParseAddr(item); err == nil {
			p.nets = append(p.nets, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		if strings.ContainsAny(item, "/:[]@") || strings.Trim(item, ".") == "" {
			return nil, fmt.Errorf("egress allow-list: %q is not a CIDR, an IP address or a host name", item)
		}
		p.hosts[strings.ToLower(strings.TrimSuffix(item, "."))] = true
	}
	return p, nil
}

// MustAllow is ParseAllow for lists known to be valid (tests).
func MustAllow(list string) *Policy {
	p, err := ParseAllow(list)
	if err != nil {
		panic(err)
	}
	return p
}

func (p *Policy) hostAllowed(host string) bool {
	return p != nil && p.hosts[strings.ToLower(strings.TrimSuffix(host, "."))]
}

// ipAllowed returns nil for an allowed address, else a DeniedError.
func (p *Policy) ipAllowed(host string, ip netip.Addr) error {
	what := classify(ip)
	if what == "" {
		return nil
	}
	if p != nil {
		for _, n := range p.nets {
			if n.Contains(ip.Unmap().WithZone("")) {
				return nil
			}
		}
	}
	return &DeniedError{Host: host, Addr: ip.Unmap().WithZone(""), What: what}
}

// DeniedError is a destination the policy refuses.
type DeniedError struct {
	Host string     // as named in the URL
	Addr netip.Addr // the address it is or resolved to
	What string     // the kind of range, e.g. "loopback"
}

func (e *DeniedError) Error() string {
	at := e.Addr.String()
	if e.Host != at {
		at = e.Host + " (" + at + ")"
	}
	return fmt.Sprintf("%s is a %s address; only public addresses may be reached unless the operator allows it (--webhook-allow)", at, e.What)
}

// localNames are names that mean this machine or its link whatever DNS
// says.
func localName(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	return h == "localhost" || strings.HasSuffix(h, ".localhost") || h == "localhost.localdomain"
}

// Resolver looks names up (net.DefaultResolver in production).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// lookupTimeout bounds CheckURL's name lookup: saving a budget must not
// hang on a slow DNS server.
const lookupTimeout = 2 * time.Second

// CheckURL checks, when a URL is saved, that it is an absolute http(s) URL
// whose host is allowed: an address literal must be public or allow-listed,
// a local name (localhost) is refused, and a name that resolves now to any
// forbidden address is refused. A name that does not resolve is accepted
// (it may exist later): the dial-time check guards it. r nil uses
// net.DefaultResolver.
func (p *Policy) CheckURL(ctx context.Context, raw string, r Resolver) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return errors.New("must be an absolute http(s) URL")
	}
	if u.User != nil {
		return errors.New("must not carry credentials before the host (user:password@); put a secret in the path or query")
	}
	host := u.Hostname()
	if p.hostAllowed(host) {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return p.ipAllowed(host, ip)
	}
	if localName(host) {
		return p.ipAllowed(host, netip.MustParseAddr("127.0.0.1"))
	}
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if err := p.ipAllowed(host, a); err != nil {
			return err
		}
	}
	return nil
}

// DialContext dials like d, but refuses, right before connecting, any
// address the policy forbids: the check sees the address DNS gave for this
// very connection. Allow-listed host names are dialled unchecked.
func (p *Policy) DialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if p.hostAllowed(host) {
			return d.DialContext(ctx, network, addr)
		}
		checked := *d
		checked.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("egress: unexpected dial address %q: %w", address, err)
			}
			return p.ipAllowed(host, ap.Addr())
		}
		return checked.DialContext(ctx, network, addr)
	}
}

// Transport is an HTTP transport for tenant-chosen URLs: every connection
// (redirects included) goes through DialContext, and no proxy from the
// environment is used (a proxy would make the dialled address the proxy's).
func (p *Policy) Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = p.DialContext(&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second})
	return t
}
