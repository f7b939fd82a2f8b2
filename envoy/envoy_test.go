// Package envoy holds spendgate's Envoy and Istio configuration; this test
// validates every file against Envoy's own API (go-control-plane protos and
// their validation rules) and checks it agrees with the metering core.
package envoy

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/wrapperspb"
	istioext "istio.io/api/extensions/v1alpha1"
	"sigs.k8s.io/yaml"

	"regexp"

	dfpclusterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/clusters/dynamic_forward_proxy/v3"
	dfpfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/dynamic_forward_proxy/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"

	// Register the typed configs envoy.yaml uses, so the Any fields resolve.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"

	"github.com/spendgate/spendgate/filter/wasmplugin"
	"github.com/spendgate/spendgate/meter"
)

func loadBootstrap(t *testing.T, path string) *bootstrapv3.Bootstrap {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatalf("%s: not YAML: %v", path, err)
	}
	var b bootstrapv3.Bootstrap
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(js, &b); err != nil {
		t.Fatalf("%s: not an Envoy v3 bootstrap: %v", path, err)
	}
	if err := b.ValidateAll(); err != nil {
		t.Fatalf("%s: invalid: %v", path, err)
	}
	return &b
}

func TestEveryEnvoyFileIsValid(t *testing.T) {
	files, _ := filepath.Glob("*.yaml")
	var checked int
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		if strings.Contains(string(raw), "kind: WasmPlugin") {
			continue // Istio resource, checked below
		}
		loadBootstrap(t, f)
		checked++
	}
	if checked == 0 {
		t.Fatal("no Envoy configuration found")
	}
}

func TestEnvoyRoutesMatchMeterAndFilterConfig(t *testing.T) {
	b := loadBootstrap(t, "envoy.yaml")
	lis := b.GetStaticResources().GetListeners()
	if len(lis) != 1 {
		t.Fatalf("want one listener, have %d", len(lis))
	}
	var hcm hcmv3.HttpConnectionManager
	if err := lis[0].GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		t.Fatal(err)
	}
	if err := hcm.ValidateAll(); err != nil {
		t.Fatalf("http connection manager: %v", err)
	}
	filters := hcm.GetHttpFilters()
	if len(filters) != 3 || filters[0].GetName() != "envoy.filters.http.wasm" || filters[1].GetName() != "envoy.filters.http.dynamic_forward_proxy" ||
		filters[2].GetName() != "envoy.filters.http.router" {
		t.Fatalf("want wasm, dynamic forward proxy (cloud hosts), router; got %v", filters)
	}
	var dfp dfpfilterv3.FilterConfig
	if err := filters[1].GetTypedConfig().UnmarshalTo(&dfp); err != nil || dfp.ValidateAll() != nil {
		t.Fatalf("dynamic forward proxy filter: %v", err)
	}
	var wasm wasmfilterv3.Wasm
	if err := filters[0].GetTypedConfig().UnmarshalTo(&wasm); err != nil {
		t.Fatal(err)
	}
	if err := wasm.ValidateAll(); err != nil {
		t.Fatalf("wasm filter: %v", err)
	}
	var sv wrapperspb.StringValue
	if err := wasm.GetConfig().GetConfiguration().UnmarshalTo(&sv); err != nil {
		t.Fatalf("plugin configuration is not a StringValue: %v", err)
	}
	cfg, err := wasmplugin.Parse([]byte(sv.GetValue()))
	if err != nil {
		t.Fatalf("plugin configuration rejected by the filter: %v", err)
	}
	clusters := map[string]bool{}
	for _, c := range b.GetStaticResources().GetClusters() {
		clusters[c.GetName()] = true
		if ts := c.GetTransportSocket(); ts != nil {
			var tls tlsv3.UpstreamTlsContext
			if err := ts.GetTypedConfig().UnmarshalTo(&tls); err != nil {
				t.Fatal(err)
			}
			if err := tls.ValidateAll(); err != nil {
				t.Fatalf("cluster %s tls: %v", c.GetName(), err)
			}
		}
	}
	if !clusters[cfg.PolicyCluster] || !clusters[cfg.IngestCluster] || !clusters[cfg.ReservationCluster] || !cfg.Reserve {
		t.Fatalf("filter config names clusters %s/%s/%s that envoy.yaml lacks (or does not reserve)", cfg.PolicyCluster, cfg.IngestCluster, cfg.ReservationCluster)
	}
	// The VM loads the file make filter builds.
	if got := wasm.GetConfig().GetVmConfig().GetCode().GetLocal().GetFilename(); got != "filter/filter.wasm" {
		t.Fatalf("vm_config loads %q, want filter/filter.wasm (make filter's output)", got)
	}
	for _, p := range meter.Providers() {
		c := clusterByName(b, p.ID)
		if c == nil {
			t.Errorf("provider %s has no cluster", p.ID)
			continue
		}
		if p.Cloud {
			// A dynamic forward proxy sharing the filter's DNS cache, whose
			// TLS names the host each request goes to.
			var cc dfpclusterv3.ClusterConfig
			if err := c.GetClusterType().GetTypedConfig().UnmarshalTo(&cc); err != nil || cc.ValidateAll() != nil ||
				cc.GetDnsCacheConfig().GetName() != dfp.GetDnsCacheConfig().GetName() {
				t.Errorf("cloud cluster %s: not a dynamic forward proxy on the filter's DNS cache (%v)", p.ID, err)
			}
			var po upstreamhttpv3.HttpProtocolOptions
			opts := c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
			if err := opts.UnmarshalTo(&po); err != nil || po.ValidateAll() != nil || !po.GetUpstreamHttpProtocolOptions().GetAutoSni() ||
				!po.GetUpstreamHttpProtocolOptions().GetAutoSanValidation() {
				t.Errorf("cloud cluster %s: want auto SNI and SAN validation (%v)", p.ID, err)
			}
			continue
		}
		var tls tlsv3.UpstreamTlsContext
		if err := c.GetTransportSocket().GetTypedConfig().UnmarshalTo(&tls); err != nil || tls.GetSni() != p.Hosts[0] {
			t.Errorf("cluster %s: TLS SNI %q, want %s (%v)", p.ID, tls.GetSni(), p.Hosts[0], err)
		}
	}
	// Envoy must be able to buffer every body the filter accepts, or it
	// answers 413 itself, in a shape no SDK parses as the provider's error.
	if limit := lis[0].GetPerConnectionBufferLimitBytes().GetValue(); int64(limit) <= int64(cfg.MaxRequestBodyBytes) {
		t.Errorf("listener buffer limit %d must exceed the filter's max_request_body_bytes %d", limit, cfg.MaxRequestBodyBytes)
	}
}

// TestEnvoyRoutesAgreeWithMeter resolves requests for every provider, by
// prefix and by each of its hosts, the way Envoy's router would with
// envoy.yaml (virtual host by domain, first matching prefix, prefix rewrite)
// and the way the metering core does: both must pick the same provider and
// upstream path, and refuse the same unknown routes.
func TestEnvoyRoutesAgreeWithMeter(t *testing.T) {
	b := loadBootstrap(t, "envoy.yaml")
	var hcm hcmv3.HttpConnectionManager
	if err := b.GetStaticResources().GetListeners()[0].GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		t.Fatal(err)
	}
	vhosts := hcm.GetRouteConfig().GetVirtualHosts()
	type request struct{ authority, path string }
	var reqs []request
	for _, p := range meter.Providers() {
		for _, path := range []string{"/chat/completions", "/v1/messages", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "/embeddings", "/models"} {
			reqs = append(reqs, request{"envoy.internal:10000", "/v1/" + p.ID + path})
		}
		rt, _ := meter.Resolve("", "/v1/"+p.ID+"/chat/completions")
		if p.Cloud {
			continue // their paths and hosts are listed below
		}
		for _, h := range p.Hosts {
			for _, authority := range []string{h, h + ":443", h + ":80"} {
				reqs = append(reqs, request{authority, rt.UpstreamPath}, request{authority, "/v1/openai/chat/completions"})
			}
		}
	}
	reqs = append(reqs, request{"envoy.internal", "/healthz"}, request{"envoy.internal", "/v1/acme/chat/completions"},
		request{"example.com", "/v1/chat/completions"})
	// The cloud providers: by prefix and by their own hosts, good and bad.
	for _, path := range []string{
		"/v1/azure_openai/contoso/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21",
		"/v1/azure_openai/contoso/openai/v1/responses",
		"/v1/azure_openai/Contoso/openai/v1/responses",
		"/v1/azure_openai/evil.example.com/openai/v1/responses",
		"/v1/bedrock/us-east-1/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/converse-stream",
		"/v1/bedrock/eu-west-3/model/arn%3Aaws%3Abedrock%3Aeu-west-3%3A%3Afoundation-model%2Fmistral.mistral-7b-instruct-v0%3A2/invoke",
		"/v1/bedrock/-bad/model/x/converse",
		"/v1/vertex_ai/v1/projects/acme/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict",
		"/v1/vertex_ai/v1/projects/acme/locations/global/publishers/google/models/gemini-2.5-pro:generateContent",
		"/v1/vertex_ai/v1beta1/projects/acme/locations/europe-west4/endpoints/openapi/chat/completions",
		"/v1/vertex_ai/v1/projects/acme/publishers/google/models/gemini-2.5-pro:generateContent",
	} {
		reqs = append(reqs, request{"envoy.internal:10000", path})
	}
	for _, hp := range [][2]string{
		{"contoso.openai.azure.com", "/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21"},
		{"contoso.cognitiveservices.azure.com", "/openai/v1/chat/completions"},
		{"bedrock-runtime.us-east-1.amazonaws.com", "/model/amazon.nova-pro-v1:0/converse"},
		{"bedrock-runtime-fips.us-gov-west-1.amazonaws.com", "/model/amazon.nova-pro-v1:0/invoke"},
		{"s3.us-east-1.amazonaws.com", "/bucket/key"},
		{"us-central1-aiplatform.googleapis.com", "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"},
		{"aiplatform.googleapis.com", "/v1/projects/p/locations/global/publishers/anthropic/models/claude-haiku-4-5@20251001:rawPredict"},
		{"aiplatform.googleapis.com:443", "/v1/projects/p/locations/global/publishers/google/models/gemini-2.5-flash:generateContent"},
	} {
		reqs = append(reqs, request{hp[0], hp[1]})
	}
	for _, r := range reqs {
		cluster, upstreamPath, upstreamHost, routed := envoyRoute(vhosts, r.authority, r.path)
		rt, ok := meter.Resolve(r.authority, r.path)
		if routed != ok {
			t.Errorf("%s %s: Envoy routes it: %v, the meter: %v", r.authority, r.path, routed, ok)
			continue
		}
		if !ok {
			continue
		}
		wantHost := contains(rt.Provider.Hosts, upstreamHost)
		if rt.Provider.Cloud {
			wantHost = "https://"+upstreamHost == rt.Upstream("")
		}
		if cluster != rt.Provider.ID || upstreamPath != rt.UpstreamPath || !wantHost {
			t.Errorf("%s %s: Envoy sends it to %s %s%s, the meter to %s %s",
				r.authority, r.path, cluster, upstreamHost, upstreamPath, rt.Provider.ID, rt.UpstreamPath)
		}
	}
}

// envoyRoute picks a route as Envoy's router does for this configuration:
// the virtual host by domain (exact, then suffix wildcard, then prefix
// wildcard, then "*"), then the first route whose prefix matches.
func envoyRoute(vhosts []*routev3.VirtualHost, authority, path string) (cluster, upstreamPath, upstreamHost string, ok bool) {
	host := strings.ToLower(authority)
	var best *routev3.VirtualHost
	bestRank, bestLen := 5, -1
	for _, vh := range vhosts {
		for _, d := range vh.GetDomains() {
			d = strings.ToLower(d)
			rank, n := 0, len(d)
			switch {
			case d == "*":
				rank = 4
			case strings.HasPrefix(d, "*"):
				rank = 2
				if !strings.HasSuffix(host, d[1:]) {
					continue
				}
			case strings.HasSuffix(d, "*"):
				rank = 3
				if !strings.HasPrefix(host, d[:len(d)-1]) {
					continue
				}
			default:
				rank = 1
				if host != d {
					continue
				}
			}
			if rank < bestRank || rank == bestRank && n > bestLen {
				best, bestRank, bestLen = vh, rank, n
			}
		}
	}
	if best == nil {
		return "", "", "", false
	}
	for _, r := range best.GetRoutes() {
		m := r.GetMatch()
		prefix := m.GetPrefix()
		justPath := path
		if i := strings.IndexAny(justPath, "?#"); i >= 0 {
			justPath = justPath[:i]
		}
		switch {
		case m.GetSafeRegex() != nil:
			// Envoy matches a regex against the whole path without the query.
			if !regexp.MustCompile("^(?:" + m.GetSafeRegex().GetRegex() + ")$").MatchString(justPath) {
				continue
			}
		case !strings.HasPrefix(path, prefix):
			continue
		}
		if !headersMatch(m.GetHeaders(), authority) {
			continue
		}
		ra := r.GetRoute()
		upstreamHost = authority
		if h := ra.GetHostRewriteLiteral(); h != "" {
			upstreamHost = h
		}
		if hr := ra.GetHostRewritePathRegex(); hr != nil {
			// On the path as it came (Envoy rewrites the host before the path).
			upstreamHost = regexp.MustCompile(hr.GetPattern().GetRegex()).ReplaceAllString(justPath, envoySubstitution(hr.GetSubstitution()))
		}
		upstreamPath = path
		if rw := ra.GetPrefixRewrite(); rw != "" {
			if m.GetSafeRegex() != nil {
				prefix = "/v1/" + ra.GetCluster() + "/"
			}
			upstreamPath = rw + path[len(prefix):]
		}
		if rr := ra.GetRegexRewrite(); rr != nil {
			upstreamPath = regexp.MustCompile(rr.GetPattern().GetRegex()).ReplaceAllString(justPath, envoySubstitution(rr.GetSubstitution())) + path[len(justPath):]
		}
		if i := strings.LastIndexByte(upstreamHost, ':'); i >= 0 {
			upstreamHost = upstreamHost[:i]
		}
		return r.GetRoute().GetCluster(), upstreamPath, strings.ToLower(upstreamHost), true
	}
	return "", "", "", false
}

func clusterByName(b *bootstrapv3.Bootstrap, name string) *clusterv3.Cluster {
	for _, c := range b.GetStaticResources().GetClusters() {
		if c.GetName() == name {
			return c
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestIstioWasmPlugin checks istio-wasmplugin.yaml against Istio's own API:
// the resource header, then the spec strictly (unknown fields and bad enum
// values are errors) with the WasmPlugin proto of istio.io/api, and the
// pluginConfig with the filter's parser.
func TestIstioWasmPlugin(t *testing.T) {
	raw, err := os.ReadFile("istio-wasmplugin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Spec json.RawMessage `json:"spec"`
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("not a Kubernetes resource: %v", err)
	}
	if res.APIVersion != "extensions.istio.io/v1alpha1" || res.Kind != "WasmPlugin" || res.Metadata.Name == "" {
		t.Fatalf("not an Istio WasmPlugin: %s %s %s", res.APIVersion, res.Kind, res.Metadata.Name)
	}
	var wp istioext.WasmPlugin
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(res.Spec, &wp); err != nil {
		t.Fatalf("spec is not a valid Istio WasmPlugin: %v", err)
	}
	if u := wp.GetUrl(); !strings.HasPrefix(u, "oci://") && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "file://") {
		t.Fatalf("url %q", u)
	}
	// The filter must run before the router and fail closed if it cannot
	// load, or calls would pass unauthenticated and unmetered.
	if wp.GetPhase() != istioext.PluginPhase_AUTHN && wp.GetPhase() != istioext.PluginPhase_AUTHZ {
		t.Errorf("phase %v: want AUTHN or AUTHZ", wp.GetPhase())
	}
	if wp.GetFailStrategy() != istioext.FailStrategy_FAIL_CLOSE {
		t.Errorf("failStrategy %v: want FAIL_CLOSE", wp.GetFailStrategy())
	}
	cfg, err := protojson.Marshal(wp.GetPluginConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wasmplugin.Parse(cfg); err != nil {
		t.Fatalf("pluginConfig rejected by the filter: %v", err)
	}
}

// TestWasmPluginImage: the Istio image holds the module make filter builds,
// alone, at the path Istio's WasmPlugin reads (/plugin.wasm).
func TestWasmPluginImage(t *testing.T) {
	raw, err := os.ReadFile("../filter/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, line := range strings.Split(string(raw), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			steps = append(steps, line)
		}
	}
	if want := []string{"FROM scratch", "COPY filter.wasm ./plugin.wasm"}; strings.Join(steps, "\n") != strings.Join(want, "\n") {
		t.Fatalf("filter/Dockerfile steps %q, want %q", steps, want)
	}
}

// headersMatch applies a route's header matchers (this configuration only
// matches :authority by regex).
func headersMatch(hs []*routev3.HeaderMatcher, authority string) bool {
	for _, h := range hs {
		if h.GetName() != ":authority" {
			return false
		}
		if re := h.GetStringMatch().GetSafeRegex(); re == nil || !regexp.MustCompile(re.GetRegex()).MatchString(authority) {
			return false
		}
	}
	return true
}

// envoySubstitution turns Envoy's \1 references into Go's ${1}.
func envoySubstitution(s string) string {
	return regexp.MustCompile(`\\([0-9])`).ReplaceAllString(s, "$${$1}")
}
