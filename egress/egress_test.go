package egress

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

func TestClassify(t *testing.T) {
	for addr, want := range map[string]string{
		"8.8.8.8":                "",
		"93.184.216.34":          "",
		"2606:4700::1111":        "",
		"127.0.0.1":              "loopback",
		"127.255.0.9":            "loopback",
		"::1":                    "loopback",
		"::ffff:127.0.0.1":       "loopback",
		"10.1.2.3":               "private",
		"172.31.255.255":         "private",
		"192.168.1.1":            "private",
		"fd00::1":                "private (unique local)",
		"169.254.169.254":        "link-local (cloud metadata)",
		"fe80::1%eth0":           "link-local",
		"0.0.0.0":                "unspecified (this network)",
		"::":                     "unspecified",
		"224.0.0.1":              "multicast",
		"ff02::1":                "multicast",
		"100.64.0.1":             "carrier-grade NAT (shared)",
		"255.255.255.255":        "reserved (incl. broadcast)",
		"198.18.0.1":             "reserved (benchmarking)",
		"64:ff9b::a9fe:a9fe":     "link-local (cloud metadata)", // NAT64 of 169.254.169.254
		"64:ff9b::808:808":       "",                            // NAT64 of 8.8.8.8
		"2002:7f00:1::1":         "reserved (6to4)",
		"2001:db8::1":            "reserved (documentation)",
		"::ffff:169.254.169.254": "link-local (cloud metadata)",
	} {
		if got := classify(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: %q, want %q", addr, got, want)
		}
	}
}

func TestParseAllow(t *testing.T) {
	p, err := ParseAllow("10.1.0.0/16, 127.0.0.1 hooks.internal.,::1")
	if err != nil {
		t.Fatal(err)
	}
	for addr, ok := range map[string]bool{"10.1.200.3": true, "10.2.0.1": false, "127.0.0.1": true, "127.0.0.2": false, "::1": true, "::ffff:127.0.0.1": true} {
		if err := p.ipAllowed("h", netip.MustParseAddr(addr)); (err == nil) != ok {
			t.Errorf("%s: %v", addr, err)
		}
	}
	if !p.hostAllowed("HOOKS.internal") || p.hostAllowed("other.internal") {
		t.Error("host names")
	}
	for _, bad := range []string{"10.0.0.0/33", "http://x", "user@host", "[::1]", "."} {
		if _, err := ParseAllow(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if p, err := ParseAllow(""); err != nil || p.ipAllowed("h", netip.MustParseAddr("127.0.0.1")) == nil {
		t.Errorf("empty list: %v", err)
	}
}

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func TestCheckURL(t *testing.T) {
	dns := fakeResolver{
		"hooks.example.com":   {netip.MustParseAddr("93.184.216.34")},
		"metadata.internal":   {netip.MustParseAddr("169.254.169.254")},
		"mixed.example.com":   {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("10.0.0.5")},
		"receiver.corp.local": {netip.MustParseAddr("10.9.8.7")},
	}
	allow := MustAllow("10.9.0.0/16, alerts.corp")
	for name, c := range map[string]struct {
		url    string
		pol    *Policy
		refuse string // "" accepted, else a word of the message
	}{
		"public name":                         {"https://hooks.example.com/x", nil, ""},
		"unresolvable name (checked at dial)": {"https://not-yet.example.com/x", nil, ""},
		"public address":                      {"http://93.184.216.34:8080/x", nil, ""},
		"loopback address":                    {"http://127.0.0.1:9000/x", nil, "loopback"},
		"loopback v6":                         {"http://[::1]/x", nil, "loopback"},
		"mapped loopback":                     {"http://[::ffff:127.0.0.1]/x", nil, "loopback"},
		"localhost":                           {"http://localhost:8080/x", nil, "loopback"},
		"sub.localhost":                       {"http://api.localhost/x", nil, "loopback"},
		"metadata address":                    {"http://169.254.169.254/latest/meta-data/", nil, "link-local"},
		"name resolving to metadata":          {"http://metadata.internal/computeMetadata/v1/", nil, "link-local"},
		"one of its addresses private":        {"https://mixed.example.com/x", nil, "private"},
		"private":                             {"http://192.168.0.10/x", nil, "private"},
		"unique local":                        {"http://[fd12::1]/x", nil, "private"},
		"link-local v6":                       {"http://[fe80::1%25eth0]/x", nil, "link-local"},
		"unspecified":                         {"http://0.0.0.0:8080/x", nil, "unspecified"},
		"multicast":                           {"http://239.1.1.1/x", nil, "multicast"},
		"cgnat":                               {"http://100.100.100.200/x", nil, "carrier-grade"},
		"allowed CIDR":                        {"http://10.9.1.1/x", allow, ""},
		"name resolving into allowed CIDR":    {"http://receiver.corp.local/x", allow, ""},
		"allowed host name":                   {"http://alerts.corp:8443/x", allow, ""},
		"outside the allowed CIDR":            {"http://10.8.1.1/x", allow, "private"},
		"ftp":                                 {"ftp://hooks.example.com/x", nil, "http(s)"},
		"relative":                            {"/hook", nil, "http(s)"},
		"credentials":                         {"https://user:pw@hooks.example.com/x", nil, "credentials"},
	} {
		err := c.pol.CheckURL(context.Background(), c.url, dns)
		switch {
		case c.refuse == "" && err != nil:
			t.Errorf("%s: refused: %v", name, err)
		case c.refuse != "" && (err == nil || !strings.Contains(err.Error(), c.refuse)):
			t.Errorf("%s: %v, want a refusal naming %q", name, err, c.refuse)
		}
	}
}

// The dial-time check looks at the address actually dialled: a name that
// resolves to loopback when the connection is made (as after DNS
// rebinding) is refused before any byte is sent, redirects included; the
// operator's allow-list lets an internal receiver through.
func TestTransportChecksDialledAddress(t *testing.T) {
	var hits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer internal.Close()
	port := internal.URL[strings.LastIndexByte(internal.URL, ':'):]
	post := func(p *Policy, url string) error {
		c := &http.Client{Transport: p.Transport()}
		resp, err := c.Post(url, "application/json", strings.NewReader(`{}`))
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	var denied *DeniedError
	for _, url := range []string{internal.URL, "http://localhost" + port + "/hook"} {
		if err := post(nil, url); !errors.As(err, &denied) || denied.What != "loopback" {
			t.Fatalf("%s without allow-list: %v", url, err)
		}
	}
	// An allowed first hop (allow-listed by host name) redirecting to an
	// address that is not allowed is refused at the second hop.
	redirect := httptest.NewServer(http.RedirectHandler(internal.URL+"/hook", http.StatusTemporaryRedirect))
	defer redirect.Close()
	rport := redirect.URL[strings.LastIndexByte(redirect.URL, ':'):]
	if err := post(MustAllow("localhost"), "http://localhost"+rport+"/"); !errors.As(err, &denied) || denied.Host != "127.0.0.1" {
		t.Fatalf("redirect inside: %v", err)
	}
	if hits.Load() != 0 {
		t.Fatalf("the internal receiver was called %d times without allow-list", hits.Load())
	}
	if err := post(MustAllow("127.0.0.1"), internal.URL); err != nil {
		t.Fatalf("allowed address: %v", err)
	}
	if hits.Load() != 1 {
		t.Fatalf("allowed receiver called %d times", hits.Load())
	}
}
