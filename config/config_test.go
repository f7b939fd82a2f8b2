package config

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func parse(t *testing.T, o Options, args ...string) error {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.Register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	return o.Validate()
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "1": 1, "512MiB": 512 << 20, "2GiB": 2 << 30, "10KiB": 10 << 10, "7B": 7, "1TiB": 1 << 40, "3 GiB": 3 << 30} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "-1MiB", "1.5GiB", "12MB", "GiB", "lots", "9999999999TiB"} {
		if _, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q) accepted", in)
		}
	}
}

func TestLoopbackAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.0.0.2:1": true, "[::1]:8080": true, "localhost:8080": true, "LOCALHOST:1": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "10.0.0.5:8080": false, "api.example.com:443": false,
	} {
		if got := LoopbackAddr(addr); got != want {
			t.Errorf("LoopbackAddr(%q) = %v, want %v", addr, got, want)
		}
	}
}

// Loopback, --dev, or real secrets pass the development-secret check; a
// reachable listener without them is refused with the variables named.
func TestDevSecrets(t *testing.T) {
	for name, f := range map[string]ControlPlane{
		"--dev":   {Dev: true},
		"secrets": {JWTSecret: strings.Repeat("j", 32), KeyPepper: strings.Repeat("p", 16), ServiceToken: "svc"},
	} {
		if _, err := f.WithDevDefaults(":8080", "0.0.0.0:8081"); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	var f ControlPlane
	filled, err := f.WithDevDefaults("127.0.0.1:8080", "localhost:8081")
	if err != nil || f.JWTSecret != DevSecret || f.ServiceToken != DevServiceToken || len(filled) != 3 {
		t.Errorf("loopback: %v %v", filled, err)
	}
	var open ControlPlane
	open.KeyPepper = strings.Repeat("p", 16)
	err = open.CheckDevSecrets("127.0.0.1:8080", ":8081")
	if err == nil || !strings.Contains(err.Error(), "refusing to listen on :8081") || !strings.Contains(err.Error(), "SPENDGATE_JWT_SECRET, SPENDGATE_SERVICE_TOKEN") ||
		strings.Contains(err.Error(), "SPENDGATE_KEY_PEPPER") {
		t.Errorf("reachable listener: %v", err)
	}
}

func TestGatewayValidate(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		args []string
		want string // "" valid, else part of the error
	}{
		"an upstream override":                         {[]string{"--upstream", "openai=http://127.0.0.1:9999/v1"}, ""},
		"an unknown provider":                          {[]string{"--upstream", "acme=http://x"}, `unknown provider "acme"`},
		"an upstream that is not http":                 {[]string{"--upstream", "openai=ftp://x"}, "must be an http(s) URL"},
		"a policy URL without scheme":                  {[]string{"--policy-url", "localhost:8080"}, "--policy-url must be an http(s) URL"},
		"a priced URL without scheme":                  {[]string{"--priced-url", "127.0.0.1:8080/internal/v1/priced"}, "--priced-url must be an http(s) URL"},
		"a priced URL":                                 {[]string{"--priced-url", "http://127.0.0.1:8080/internal/v1/priced"}, ""},
		"a budget URL":                                 {[]string{"--budget-url", "http://127.0.0.1:8080"}, ""},
		"no body":                                      {[]string{"--max-request-body-bytes", "0"}, "--max-request-body-bytes must be positive"},
		"a batch larger than the buffer":               {[]string{"--event-batch", "500", "--event-buffer", "100"}, "--event-batch must be positive and at most --event-buffer"},
		"no reserve timeout":                           {[]string{"--reserve-timeout", "0s"}, "timeouts must be positive"},
		"no body timeout is no limit":                  {[]string{"--request-body-timeout", "0s"}, ""},
		"a negative body timeout":                      {[]string{"--request-body-timeout", "-1s"}, "must not be negative"},
		"a spool smaller than a segment":               {[]string{"--event-spool-max-bytes", "1000"}, "at least 4194304"},
		"a spool without a directory":                  {[]string{"--event-spool-dir", ""}, "--event-spool-dir must be set"},
		"no spool needs no directory":                  {[]string{"--event-spool-dir", "", "--event-spool-max-bytes", "0"}, ""},
		"two problems are both reported (errors.Join)": {[]string{"--max-request-body-bytes", "0", "--policy-url", "x"}, "--policy-url must be an http(s) URL, got \"x\"\n--max-request-body-bytes must be positive"},
	} {
		var g StandaloneGateway
		err := parse(t, &g, append([]string{"--service-token", "svc"}, tc.args...)...)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: err %v, want %q", name, err, tc.want)
		}
	}
	var g StandaloneGateway
	if err := parse(t, &g); err == nil || !strings.Contains(err.Error(), "--service-token (or SPENDGATE_SERVICE_TOKEN) is required") {
		t.Errorf("no service token: %v", err)
	}
}

// The standalone gateway asks the priced endpoint beside the policy
// endpoint unless --priced-url says otherwise.
func TestGatewayPricedEndpoint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "http://127.0.0.1:8080/internal/v1/priced"},
		{[]string{"--policy-url", "https://cp.example.com/spendgate/internal/v1/policy"}, "https://cp.example.com/spendgate/internal/v1/priced"},
		{[]string{"--policy-url", "http://cp:8080/auth/check?x=1"}, "http://cp:8080/internal/v1/priced"},
		{[]string{"--policy-url", "http://cp:8080/internal/v1/policy", "--priced-url", "http://prices:9000/p"}, "http://prices:9000/p"},
	} {
		var g StandaloneGateway
		if err := parse(t, &g, append([]string{"--service-token", "svc"}, tc.args...)...); err != nil {
			t.Fatal(err)
		}
		if got, err := g.PricedEndpoint(); err != nil || got != tc.want {
			t.Errorf("%v: priced endpoint %q %v, want %q", tc.args, got, err, tc.want)
		}
	}
}

func TestPipelineValidate(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"the defaults":                         {nil, ""},
		"a partition list":                     {[]string{"--partitions", "4", "--consume-partitions", "0,2-3"}, ""},
		"a receiver only":                      {[]string{"--consume-partitions", "none"}, ""},
		"a partition beyond --partitions":      {[]string{"--partitions", "2", "--consume-partitions", "3"}, "--consume-partitions"},
		"too many partitions":                  {[]string{"--partitions", "1000"}, "--partitions must be between 1 and 256"},
		"two replicas":                         {[]string{"--stream-replicas", "2"}, "--stream-replicas must be 1, 3 or 5"},
		"replicas on the embedded NATS":        {[]string{"--nats-url", "", "--data-dir", "/tmp/x", "--stream-replicas", "3"}, "needs a NATS cluster"},
		"a malformed stream cap":               {[]string{"--stream-max-bytes", "20GB"}, "--stream-max-bytes"},
		"a dedup window longer than the age":   {[]string{"--dedup-window", "3h", "--stream-max-age", "2h"}, "--dedup-window"},
		"a short reservation":                  {[]string{"--reservation-ttl", "10s"}, "--reservation-ttl"},
		"no ClickHouse":                        {[]string{"--clickhouse-addr", ""}, "--clickhouse-addr and --clickhouse-database must be set"},
		"a pricing sync URL that is not http":  {[]string{"--pricing-sync-url", "ftp://x"}, "--pricing-sync-url must be an http(s) URL"},
		"no service token":                     {[]string{"--service-token", ""}, "--service-token (or SPENDGATE_SERVICE_TOKEN) is required"},
		"a malformed webhook allow list fails": {[]string{"--webhook-allow", "10.0.0.0/99"}, "webhook-allow"},
	} {
		var i Ingest
		err := parse(t, &i, append([]string{"--service-token", "svc"}, tc.args...)...)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: err %v, want %q", name, err, tc.want)
		}
	}
}

func TestServeAndAPIValidate(t *testing.T) {
	t.Parallel()
	var s Serve
	if err := parse(t, &s); err != nil {
		t.Errorf("serve's defaults: %v", err)
	}
	var s2 Serve
	if err := parse(t, &s2, "--gateway-listen", ":8081", "--jwt-secret", "short"); err == nil ||
		!strings.Contains(err.Error(), "--jwt-secret must be at least 32 bytes") || !strings.Contains(err.Error(), "refusing to listen on :8081") {
		t.Errorf("serve with a short secret on every interface: %v", err)
	}
	var a API
	if err := parse(t, &a); err != nil {
		t.Errorf("api's defaults: %v", err)
	}
	var a2 API
	if err := parse(t, &a2, "--listen", ":8080", "--jwt-secret", strings.Repeat("j", 32), "--key-pepper", strings.Repeat("p", 16),
		"--service-token", "svc", "--max-query-bytes", "0"); err == nil || strings.Contains(err.Error(), "refusing") {
		t.Errorf("api with a zero query limit and secrets: %v", err)
	}
	var m Migrate
	if err := parse(t, &m, "--postgres-dsn", ""); err == nil {
		t.Error("migrate accepted an empty DSN")
	}
	if err := parse(t, &m); err != nil || len(m.Endpoints()) != 1 || m.Endpoints()[0].Kind != Postgres {
		t.Errorf("migrate: %v %v", err, m.Endpoints())
	}
}

func TestServePipelineProcessValidate(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"off, the default":                    {nil, ""},
		"on":                                  {[]string{"--pipeline-process"}, ""},
		"on, nice 19, some partitions":        {[]string{"--pipeline-process", "--pipeline-nice", "19", "--partitions", "4", "--consume-partitions", "0-1"}, ""},
		"a negative niceness":                 {[]string{"--pipeline-process", "--pipeline-nice", "-5"}, "--pipeline-nice must be between 0 and 19"},
		"a niceness beyond 19, even when off": {[]string{"--pipeline-nice", "20"}, "--pipeline-nice must be between 0 and 19"},
		"on with no partitions to consume":    {[]string{"--pipeline-process", "--consume-partitions", "none"}, "there is none to run"},
		"on without a child listener":         {[]string{"--pipeline-process", "--pipeline-listen", ""}, "--pipeline-listen"},
	} {
		var s Serve
		err := parse(t, &s, tc.args...)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: err %v, want %q", name, err, tc.want)
		}
	}
}
