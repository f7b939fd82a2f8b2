// Package envoy holds spendgate's Envoy and Istio configuration; this test
// validates every file against Envoy's own API (go-control-plane protos and
// their validation rules) and checks it agrees with the metering core.
package envoy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"sigs.k8s.io/yaml"

	// Register the typed configs envoy.yaml uses, so the Any fields resolve.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"

	"github.com/spendgate/spendgate/filter/config"
	"github.com/spendgate/spendgate/meter"
)

type validator interface{ ValidateAll() error }

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
	if len(filters) != 2 || filters[0].GetName() != "envoy.filters.http.wasm" || filters[1].GetName() != "envoy.filters.http.router" {
		t.Fatalf("want wasm then router, got %v", filters)
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
	cfg, err := config.Parse([]byte(sv.GetValue()))
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
	if !clusters[cfg.PolicyCluster] || !clusters[cfg.IngestCluster] {
		t.Fatalf("filter config names clusters %s/%s that envoy.yaml lacks", cfg.PolicyCluster, cfg.IngestCluster)
	}
	routes := map[string][2]string{}
	for _, vh := range hcm.GetRouteConfig().GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			routes[r.GetMatch().GetPrefix()] = [2]string{r.GetRoute().GetCluster(), r.GetRoute().GetPrefixRewrite()}
		}
	}
	for _, p := range meter.Providers() {
		got, ok := routes["/v1/"+p.ID+"/"]
		if !ok {
			t.Errorf("provider %s has no route", p.ID)
			continue
		}
		// The route must forward exactly where the gateway would.
		rt, _ := meter.Resolve("", "/v1/"+p.ID+"/x")
		wantRewrite := strings.TrimSuffix(rt.UpstreamPath, "x")
		if got[0] != p.ID || !clusters[p.ID] || got[1] != wantRewrite {
			t.Errorf("provider %s: route %v, want cluster %s rewrite %s", p.ID, got, p.ID, wantRewrite)
		}
	}
}

func TestIstioWasmPlugin(t *testing.T) {
	raw, err := os.ReadFile("istio-wasmplugin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var wp struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			URL          string         `json:"url"`
			Phase        string         `json:"phase"`
			FailStrategy string         `json:"failStrategy"`
			PluginConfig map[string]any `json:"pluginConfig"`
		} `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(raw, &wp, yaml.DisallowUnknownFields); err != nil {
		// Unknown fields in spec (selector, imagePullPolicy) are fine for Istio;
		// parse leniently but require the structure.
		if err := yaml.Unmarshal(raw, &wp); err != nil {
			t.Fatal(err)
		}
	}
	if wp.APIVersion != "extensions.istio.io/v1alpha1" || wp.Kind != "WasmPlugin" || wp.Metadata.Name == "" {
		t.Fatalf("not an Istio WasmPlugin: %+v", wp)
	}
	if !strings.HasPrefix(wp.Spec.URL, "oci://") && !strings.HasPrefix(wp.Spec.URL, "https://") && !strings.HasPrefix(wp.Spec.URL, "file://") {
		t.Fatalf("url %q", wp.Spec.URL)
	}
	switch wp.Spec.Phase {
	case "AUTHN", "AUTHZ", "STATS", "UNSPECIFIED_PHASE":
	default:
		t.Fatalf("phase %q", wp.Spec.Phase)
	}
	js, _ := yaml.Marshal(wp.Spec.PluginConfig)
	cj, err := yaml.YAMLToJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Parse(cj); err != nil {
		t.Fatalf("pluginConfig rejected by the filter: %v", err)
	}
}
