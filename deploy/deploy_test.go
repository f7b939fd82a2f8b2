package deploy

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"google.golang.org/protobuf/encoding/protojson"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	istioext "istio.io/api/extensions/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/spendgate/spendgate/config"
	"github.com/spendgate/spendgate/filter/wasmplugin"
	"github.com/spendgate/spendgate/internal/envflag"
)

// binaryFlags are the flags of each long-running command as the binary
// has them: docs/configuration.md is written from the commands' own flag
// sets (spendgate config docs), and cmd/spendgate's
// TestConfigurationPageIsFresh and check-generated keep it so.
func binaryFlags(t *testing.T) map[string]map[string]bool {
	t.Helper()
	f, err := os.Open("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flags := map[string]map[string]bool{}
	section := regexp.MustCompile(`^## spendgate (\S+)$`)
	row := regexp.MustCompile("^\\| `--([a-z0-9-]+)`")
	cmd := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := section.FindStringSubmatch(sc.Text()); m != nil {
			cmd = m[1]
			flags[cmd] = map[string]bool{}
		} else if m := row.FindStringSubmatch(sc.Text()); m != nil && cmd != "" {
			flags[cmd][m[1]] = true
		}
	}
	if len(flags["gateway"]) < 10 || len(flags["ingest"]) < 10 || len(flags["api"]) < 10 {
		t.Fatalf("docs/configuration.md lists too few flags: %v", flags)
	}
	return flags
}

// options is the configuration model of a long-running command.
func options(cmd string) config.Options {
	switch cmd {
	case "serve":
		return &config.Serve{}
	case "api":
		return &config.API{}
	case "gateway":
		return &config.StandaloneGateway{}
	case "ingest":
		return &config.Ingest{}
	case "migrate":
		return &config.Migrate{}
	}
	return nil
}

// checkCommand checks a deployment's spendgate command line and
// environment: the command exists, every flag is one the binary has, and
// the values pass the command's own validation (config.Options.Validate,
// what `spendgate config check` runs) with env as the process environment.
func checkCommand(t *testing.T, where string, flags map[string]map[string]bool, args []string, env map[string]string) {
	t.Helper()
	for _, err := range commandProblems(t, flags, args, env) {
		t.Errorf("%s: %v", where, err)
	}
}

// commandProblems is what checkCommand reports.
func commandProblems(t *testing.T, flags map[string]map[string]bool, args []string, env map[string]string) (problems []error) {
	t.Helper()
	fail := func(format string, a ...any) { problems = append(problems, fmt.Errorf(format, a...)) }
	if len(args) == 0 {
		fail("no command")
		return problems
	}
	cmd, rest := args[0], args[1:]
	known, ok := flags[cmd]
	if !ok {
		fail("%q is not a long-running spendgate command", cmd)
		return problems
	}
	for _, a := range rest {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !known[name] {
			fail("spendgate %s has no flag --%s", cmd, name)
		}
	}
	for name := range env {
		if !strings.HasPrefix(name, "SPENDGATE_") || name == "SPENDGATE_LOG_LEVEL" {
			continue
		}
		flagName := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(name, "SPENDGATE_"), "_", "-"))
		if !known[flagName] {
			fail("%s sets no flag of spendgate %s", name, cmd)
		}
	}
	// The values, as the command reads them: flags over SPENDGATE_* variables.
	o := options(cmd)
	fs := envflag.NewFlagSet(cmd)
	fs.SetOutput(io.Discard)
	o.Register(fs)
	for name := range known { // flags the binary adds to every command (--pprof-addr …)
		if fs.Lookup(name) == nil {
			fs.String(name, "", "")
		}
	}
	for _, v := range os.Environ() {
		if k, _, _ := strings.Cut(v, "="); strings.HasPrefix(k, "SPENDGATE_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	if err := envflag.Parse(fs, rest); err != nil {
		fail("spendgate %s %s: %v", cmd, strings.Join(rest, " "), err)
		return problems
	}
	if err := o.Validate(); err != nil {
		fail("spendgate %s refuses this configuration:\n%v", cmd, err)
	}
	for k := range env {
		os.Unsetenv(k)
	}
	return problems
}

// secretValues stand for what the Secret holds, of the sizes spendgate asks.
var secretValues = map[string]string{
	"SPENDGATE_POSTGRES_DSN":  "postgres://spendgate:pw@postgres:5432/spendgate?sslmode=require",
	"SPENDGATE_JWT_SECRET":    strings.Repeat("j", 32),
	"SPENDGATE_KEY_PEPPER":    strings.Repeat("p", 16),
	"SPENDGATE_SERVICE_TOKEN": "test-service-token",
}

var composeEnv = map[string]string{
	"POSTGRES_PASSWORD":       "pw",
	"SPENDGATE_JWT_SECRET":    strings.Repeat("j", 32),
	"SPENDGATE_KEY_PEPPER":    strings.Repeat("p", 16),
	"SPENDGATE_SERVICE_TOKEN": "test-service-token",
}

func loadCompose(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{"compose.yaml"}, cli.WithWorkingDirectory("."), cli.WithEnv(envList), cli.WithName("spendgate"))
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(t.Context())
}

// compose.yaml loads and normalises with compose-go (the Compose
// specification's reference loader); every spendgate service runs a real
// command with real flags and values spendgate accepts; the infrastructure
// services have healthchecks and volumes; the secrets are required.
func TestCompose(t *testing.T) {
	flags := binaryFlags(t)
	p, err := loadCompose(t, composeEnv)
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	want := []string{"api", "clickhouse", "envoy", "gateway", "ingest", "migrate", "nats", "postgres"}
	if got := p.ServiceNames(); strings.Join(sorted(got), ",") != strings.Join(want, ",") {
		t.Fatalf("services %v, want %v", got, want)
	}
	for _, name := range []string{"api", "gateway", "ingest", "migrate"} {
		svc := p.Services[name]
		if svc.Build == nil || svc.Build.Dockerfile != "Dockerfile" || filepath.Base(svc.Build.Context) != filepath.Base(filepath.Dir(mustAbs(t, "."))) {
			t.Errorf("%s: not built from the repository's Dockerfile: %+v", name, svc.Build)
		}
		if !svc.ReadOnly {
			t.Errorf("%s: root filesystem not read-only", name)
		}
		env := map[string]string{}
		for k, v := range svc.Environment {
			if v != nil {
				env[k] = *v
			}
		}
		checkCommand(t, "compose "+name, flags, svc.Command, env)
		if name == "migrate" {
			continue
		}
		if svc.HealthCheck == nil || len(svc.HealthCheck.Test) < 3 || svc.HealthCheck.Test[1] != "/usr/local/bin/spendgate" || svc.HealthCheck.Test[2] != "health" {
			t.Errorf("%s: healthcheck %v, want spendgate health", name, svc.HealthCheck)
		}
	}
	for _, name := range []string{"postgres", "nats", "clickhouse", "envoy"} {
		if p.Services[name].HealthCheck == nil {
			t.Errorf("%s: no healthcheck", name)
		}
	}
	for _, name := range []string{"postgres", "nats", "clickhouse"} {
		if len(p.Services[name].Volumes) == 0 || p.Services[name].Volumes[0].Type != types.VolumeTypeVolume {
			t.Errorf("%s: data not on a named volume", name)
		}
	}
	if nats := p.Services["nats"].Command; !slices.Contains(nats, "--jetstream") {
		t.Errorf("nats without JetStream: %v", nats)
	}
	if p.Services["gateway"].Volumes[0].Target != "/var/lib/spendgate/spool" {
		t.Errorf("gateway spool volume %v", p.Services["gateway"].Volumes)
	}
	// The gateway's URLs name the api and ingest services on their listen ports.
	gw := strings.Join(p.Services["gateway"].Command, " ")
	for _, w := range []string{"--policy-url=http://api:8080/", "--ingest-url=http://ingest:8082/", "--budget-url=http://ingest:8082"} {
		if !strings.Contains(gw, w) {
			t.Errorf("gateway command lacks %s: %s", w, gw)
		}
	}
	for _, svc := range []string{"api", "ingest"} {
		if !strings.Contains(strings.Join(p.Services[svc].Command, " "), "--stream-prefix=SPENDGATE") &&
			!strings.Contains(strings.Join(p.Services[svc].Command, " "), "--stream-prefix SPENDGATE") {
			t.Errorf("%s: stream prefix not SPENDGATE", svc)
		}
	}

	// Without the secrets, compose refuses to start and names the variable.
	noSecret := map[string]string{}
	for k, v := range composeEnv {
		if k != "SPENDGATE_JWT_SECRET" {
			noSecret[k] = v
		}
	}
	if _, err := loadCompose(t, noSecret); err == nil || !strings.Contains(err.Error(), "SPENDGATE_JWT_SECRET") {
		t.Errorf("compose without SPENDGATE_JWT_SECRET: %v", err)
	}
}

// The compose Envoy runs envoy/envoy.yaml through compose/envoy.sed: the
// result differs only in the three spendgate clusters, which point at the
// api and ingest services' ports.
func TestComposeEnvoyConfig(t *testing.T) {
	p, err := loadCompose(t, composeEnv)
	if err != nil {
		t.Fatal(err)
	}
	envoy := p.Services["envoy"]
	script := strings.Join(envoy.Command, " ")
	mounts := map[string]string{}
	for _, v := range envoy.Volumes {
		mounts[v.Target] = v.Source
	}
	for _, w := range []string{"sed -f /etc/spendgate/envoy.sed", "/etc/spendgate/envoy.yaml", "REPLACE_WITH_SPENDGATE_SERVICE_TOKEN|${SPENDGATE_SERVICE_TOKEN}", "exec envoy -c /tmp/envoy.yaml"} {
		if !strings.Contains(script, w) {
			t.Errorf("envoy command lacks %q: %s", w, script)
		}
	}
	if mounts["/etc/spendgate/envoy.yaml"] != mustAbs(t, "../envoy/envoy.yaml") || mounts["/etc/spendgate/envoy.sed"] != mustAbs(t, "compose/envoy.sed") ||
		mounts["/filter/filter.wasm"] != mustAbs(t, "../filter/filter.wasm") || envoy.WorkingDir != "/" {
		t.Errorf("envoy mounts %v, working dir %q", mounts, envoy.WorkingDir)
	}
	orig, err := os.ReadFile("../envoy/envoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sed, err := exec.LookPath("sed")
	if err != nil {
		t.Skip("no sed on this machine")
	}
	out, err := exec.Command(sed, "-f", "compose/envoy.sed", "../envoy/envoy.yaml").Output()
	if err != nil {
		t.Fatal(err)
	}
	a, b := strings.Split(string(orig), "\n"), strings.Split(string(out), "\n")
	if len(a) != len(b) {
		t.Fatalf("sed changed the line count: %d -> %d", len(a), len(b))
	}
	var changed []string
	for i := range a {
		if a[i] != b[i] {
			changed = append(changed, strings.TrimSpace(b[i]))
		}
	}
	want := []string{"socket_address: {address: api, port_value: 8080}", "socket_address: {address: ingest, port_value: 8082}", "socket_address: {address: ingest, port_value: 8082}"}
	if strings.Join(changed, "\n") != strings.Join(want, "\n") {
		t.Fatalf("changed lines:\n%s\nwant:\n%s", strings.Join(changed, "\n"), strings.Join(want, "\n"))
	}
	var bootstrap struct {
		StaticResources struct {
			Clusters []struct {
				Name           string `json:"name"`
				LoadAssignment struct {
					Endpoints []struct {
						LBEndpoints []struct {
							Endpoint struct {
								Address struct {
									SocketAddress struct {
										Address string `json:"address"`
										Port    int    `json:"port_value"`
									} `json:"socket_address"`
								} `json:"address"`
							} `json:"endpoint"`
						} `json:"lb_endpoints"`
					} `json:"endpoints"`
				} `json:"load_assignment"`
			} `json:"clusters"`
		} `json:"static_resources"`
	}
	if err := yaml.Unmarshal(out, &bootstrap); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range bootstrap.StaticResources.Clusters {
		if strings.HasPrefix(c.Name, "spendgate_") {
			sa := c.LoadAssignment.Endpoints[0].LBEndpoints[0].Endpoint.Address.SocketAddress
			got[c.Name] = fmt.Sprintf("%s:%d", sa.Address, sa.Port)
		}
	}
	if got["spendgate_api"] != "api:8080" || got["spendgate_ingest"] != "ingest:8082" || got["spendgate_budget"] != "ingest:8082" {
		t.Errorf("spendgate clusters %v", got)
	}
}

// The Dockerfile parses with BuildKit's own parser: a Go build stage
// making a static binary of cmd/spendgate, and a distroless static nonroot
// final stage with nothing but it.
func TestDockerfile(t *testing.T) {
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("Dockerfile does not parse: %v", err)
	}
	stages, _, err := instructions.Parse(res.AST, nil)
	if err != nil {
		t.Fatalf("Dockerfile instructions: %v", err)
	}
	if len(stages) != 2 {
		t.Fatalf("%d stages, want build and run", len(stages))
	}
	build, run := stages[0], stages[1]
	goMod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(goMod)
	if build.Name != "build" || !strings.HasPrefix(build.BaseName, "golang:"+string(goVersion[1])) {
		t.Errorf("build stage %q from %q, want golang:%s", build.Name, build.BaseName, goVersion[1])
	}
	var buildCmd string
	for _, c := range build.Commands {
		if r, ok := c.(*instructions.RunCommand); ok && strings.Contains(strings.Join(r.CmdLine, " "), "go build") {
			buildCmd = strings.Join(r.CmdLine, " ")
		}
	}
	for _, w := range []string{"CGO_ENABLED=0", "go build", "-trimpath", "./cmd/spendgate"} {
		if !strings.Contains(buildCmd, w) {
			t.Errorf("go build step %q lacks %s", buildCmd, w)
		}
	}
	if !strings.HasPrefix(run.BaseName, "gcr.io/distroless/static") || !strings.HasSuffix(run.BaseName, ":nonroot") {
		t.Errorf("final image %q, want gcr.io/distroless/static…:nonroot", run.BaseName)
	}
	var user string
	var entry []string
	for _, c := range run.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.EntrypointCommand:
			entry = c.CmdLine
		case *instructions.CopyCommand:
			if c.From != "build" {
				t.Errorf("final stage copies from %q, not the build stage", c.From)
			}
		case *instructions.RunCommand:
			t.Errorf("final stage runs %v (distroless has no shell)", c.CmdLine)
		}
	}
	if user != "nonroot:nonroot" && user != "65532:65532" {
		t.Errorf("USER %q, want nonroot", user)
	}
	if len(entry) != 1 || entry[0] != "/usr/local/bin/spendgate" {
		t.Errorf("ENTRYPOINT %v", entry)
	}
	// The portal's built assets are embedded by go build: the context must keep them.
	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(ignore), "\n") {
		pattern := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(line), "/"), "/")
		if pattern != "" && !strings.HasPrefix(pattern, "#") && (pattern == "portal" || pattern == "portal/dist" || strings.HasPrefix(pattern, "portal/dist/")) {
			t.Errorf(".dockerignore drops %s, which the binary embeds", pattern)
		}
	}
}

func sorted(s []string) []string { s = append([]string(nil), s...); sort.Strings(s); return s }

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// render renders the chart with Helm's engine for a release "sg" in
// namespace "spendgate", over the values file (none: the chart's defaults),
// and returns every manifest as an object.
func render(t *testing.T, valuesFile string) ([]*unstructured.Unstructured, error) {
	t.Helper()
	ch, err := loader.Load("helm/spendgate")
	if err != nil {
		t.Fatalf("chart does not load: %v", err)
	}
	vals := chartutil.Values{}
	if valuesFile != "" {
		if vals, err = chartutil.ReadValuesFile(valuesFile); err != nil {
			t.Fatal(err)
		}
	}
	rv, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{Name: "sg", Namespace: "spendgate", Revision: 1, IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(ch, rv)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var objs []*unstructured.Unstructured
	for _, n := range names {
		if !strings.HasSuffix(n, ".yaml") {
			continue
		}
		dec := k8syaml.NewYAMLOrJSONDecoder(strings.NewReader(files[n]), 4096)
		for {
			var m map[string]any
			if err := dec.Decode(&m); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s does not parse: %v\n%s", n, err, files[n])
			}
			if len(m) == 0 {
				continue
			}
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
	return objs, nil
}

// The chart renders with Helm's engine for each values file; every
// Kubernetes object passes the Kubernetes OpenAPI schema (client-go's
// copy, the one server-side apply validates with: unknown fields and wrong
// types are errors); the Istio WasmPlugin passes Istio's API and the
// filter's config parser; the spendgate containers run real commands with
// real flags and values spendgate accepts, as nonroot on a read-only root
// filesystem with probes on /healthz and resource requests.
func TestHelmChart(t *testing.T) {
	flags := binaryFlags(t)
	if _, err := render(t, ""); err == nil || !strings.Contains(err.Error(), "secrets.existingSecret") {
		t.Errorf("the defaults rendered without a Secret: %v", err)
	}
	tc := applyconfigurations.NewTypeConverter(scheme.Scheme)
	for file, want := range map[string]struct {
		kinds         []string // kinds counted, sorted "Kind/name"
		consumers     int
		secret        string
		wasm, monitor bool
	}{
		"testdata/values-minimal.yaml": {kinds: []string{"Deployment/sg-spendgate-api", "Deployment/sg-spendgate-gateway", "Deployment/sg-spendgate-ingest",
			"Service/sg-spendgate-api", "Service/sg-spendgate-gateway", "Service/sg-spendgate-ingest", "Service/sg-spendgate-ingest-consumer",
			"StatefulSet/sg-spendgate-ingest-consumer"}, consumers: 1, secret: "spendgate-secrets"},
		"testdata/values-ha.yaml": {kinds: []string{"Deployment/sg-spendgate-api", "Deployment/sg-spendgate-ingest",
			"HorizontalPodAutoscaler/sg-spendgate-api", "HorizontalPodAutoscaler/sg-spendgate-gateway", "HorizontalPodAutoscaler/sg-spendgate-ingest",
			"PodDisruptionBudget/sg-spendgate-api", "PodDisruptionBudget/sg-spendgate-gateway", "PodDisruptionBudget/sg-spendgate-ingest",
			"Service/sg-spendgate-api", "Service/sg-spendgate-gateway", "Service/sg-spendgate-ingest", "Service/sg-spendgate-ingest-consumer",
			"ServiceMonitor/sg-spendgate", "StatefulSet/sg-spendgate-gateway", "StatefulSet/sg-spendgate-ingest-consumer"}, consumers: 4, secret: "spendgate-secrets", monitor: true},
		"testdata/values-istio.yaml": {kinds: []string{"Deployment/sg-spendgate-api", "Deployment/sg-spendgate-ingest",
			"Service/sg-spendgate-api", "Service/sg-spendgate-ingest", "Service/sg-spendgate-ingest-consumer",
			"StatefulSet/sg-spendgate-ingest-consumer", "WasmPlugin/sg-spendgate"}, consumers: 1, secret: "spendgate-secrets", wasm: true},
		"testdata/values-existing-secrets.yaml": {kinds: []string{"Deployment/sg-spendgate-api", "Deployment/sg-spendgate-gateway", "Deployment/sg-spendgate-ingest",
			"Service/sg-spendgate-api", "Service/sg-spendgate-gateway", "Service/sg-spendgate-ingest", "Service/sg-spendgate-ingest-consumer",
			"StatefulSet/sg-spendgate-ingest-consumer"}, consumers: 1, secret: "platform-ai-spend"},
	} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			objs, err := render(t, file)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			var kinds []string
			podLabels := map[string]map[string]any{} // workload name -> pod template labels
			services := map[string]*unstructured.Unstructured{}
			for _, o := range objs {
				kinds = append(kinds, o.GetKind()+"/"+o.GetName())
				switch o.GetKind() {
				case "WasmPlugin":
					checkWasmPlugin(t, o)
					continue
				case "ServiceMonitor":
					checkServiceMonitor(t, o)
					continue
				}
				if _, err := tc.ObjectToTyped(o); err != nil {
					t.Errorf("%s/%s fails the Kubernetes schema: %v", o.GetKind(), o.GetName(), err)
				}
				switch o.GetKind() {
				case "Deployment", "StatefulSet":
					podLabels[o.GetName()] = checkWorkload(t, o, flags, want.secret)
					if o.GetName() == "sg-spendgate-ingest-consumer" {
						if r, _, _ := unstructured.NestedFieldNoCopy(o.Object, "spec", "replicas"); fmt.Sprint(r) != fmt.Sprint(want.consumers) {
							t.Errorf("%v consumers, want %d", r, want.consumers)
						}
					}
				case "Service":
					services[o.GetName()] = o
				}
			}
			if strings.Join(sorted(kinds), " ") != strings.Join(want.kinds, " ") {
				t.Errorf("rendered\n  %s\nwant\n  %s", strings.Join(sorted(kinds), " "), strings.Join(want.kinds, " "))
			}
			// Every Service, HPA and PDB finds its pods.
			for _, o := range objs {
				var sel map[string]any
				switch o.GetKind() {
				case "Service":
					sel, _, _ = unstructured.NestedMap(o.Object, "spec", "selector")
				case "PodDisruptionBudget":
					sel, _, _ = unstructured.NestedMap(o.Object, "spec", "selector", "matchLabels")
				case "HorizontalPodAutoscaler":
					target, _, _ := unstructured.NestedString(o.Object, "spec", "scaleTargetRef", "name")
					kind, _, _ := unstructured.NestedString(o.Object, "spec", "scaleTargetRef", "kind")
					if !slices.Contains(kinds, kind+"/"+target) {
						t.Errorf("HPA %s scales %s/%s, which is not rendered", o.GetName(), kind, target)
					}
					continue
				default:
					continue
				}
				matched := 0
				for _, labels := range podLabels {
					if subset(sel, labels) {
						matched++
					}
				}
				if matched != 1 {
					t.Errorf("%s %s selects %d workloads' pods, want 1 (%v)", o.GetKind(), o.GetName(), matched, sel)
				}
			}
		})
	}
}

// checkWorkload checks a Deployment's or StatefulSet's pod and returns its
// labels.
func checkWorkload(t *testing.T, o *unstructured.Unstructured, flags map[string]map[string]bool, secret string) map[string]any {
	t.Helper()
	where := o.GetKind() + " " + o.GetName()
	labels, _, _ := unstructured.NestedMap(o.Object, "spec", "template", "metadata", "labels")
	sel, _, _ := unstructured.NestedMap(o.Object, "spec", "selector", "matchLabels")
	if !subset(sel, labels) {
		t.Errorf("%s: selector %v does not match its pods %v", where, sel, labels)
	}
	if nonRoot, _, _ := unstructured.NestedBool(o.Object, "spec", "template", "spec", "securityContext", "runAsNonRoot"); !nonRoot {
		t.Errorf("%s: pod not runAsNonRoot", where)
	}
	containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
	if len(containers) != 1 {
		t.Fatalf("%s: %d containers", where, len(containers))
	}
	c := containers[0].(map[string]any)
	if ro, _, _ := unstructured.NestedBool(c, "securityContext", "readOnlyRootFilesystem"); !ro {
		t.Errorf("%s: root filesystem not read-only", where)
	}
	if esc, found, _ := unstructured.NestedBool(c, "securityContext", "allowPrivilegeEscalation"); !found || esc {
		t.Errorf("%s: privilege escalation not off", where)
	}
	if cpu, _, _ := unstructured.NestedString(c, "resources", "requests", "cpu"); cpu == "" {
		t.Errorf("%s: no CPU request", where)
	}
	if mem, _, _ := unstructured.NestedString(c, "resources", "requests", "memory"); mem == "" {
		t.Errorf("%s: no memory request", where)
	}
	port, _, _ := unstructured.NestedSlice(c, "ports")
	for _, probe := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
		path, _, _ := unstructured.NestedString(c, probe, "httpGet", "path")
		pp, _, _ := unstructured.NestedString(c, probe, "httpGet", "port")
		if path != "/healthz" || pp != "http" || len(port) == 0 || port[0].(map[string]any)["name"] != "http" {
			t.Errorf("%s: %s on %q %q, want /healthz on the http port", where, probe, path, pp)
		}
	}
	var args []string
	raw, _, _ := unstructured.NestedStringSlice(c, "args")
	args = append(args, raw...)
	env := map[string]string{}
	envs, _, _ := unstructured.NestedSlice(c, "env")
	for _, e := range envs {
		e := e.(map[string]any)
		name := e["name"].(string)
		if v, ok := e["value"].(string); ok {
			env[name] = v
			continue
		}
		if ref, found, _ := unstructured.NestedString(e, "valueFrom", "secretKeyRef", "name"); found {
			if ref != secret {
				t.Errorf("%s: %s from Secret %q, want %q", where, name, ref, secret)
			}
			v, ok := secretValues[name]
			if !ok {
				t.Errorf("%s: %s from a Secret is no spendgate secret", where, name)
			}
			env[name] = v
			continue
		}
		if path, found, _ := unstructured.NestedString(e, "valueFrom", "fieldRef", "fieldPath"); found {
			if name != "SPENDGATE_CONSUME_PARTITIONS" || path != "metadata.labels['apps.kubernetes.io/pod-index']" {
				t.Errorf("%s: %s from %s", where, name, path)
			}
			env[name] = "0" // the first pod's index
		}
	}
	checkCommand(t, where, flags, args, env)
	return labels
}

// checkWasmPlugin checks the rendered WasmPlugin as envoy/envoy_test.go
// checks envoy/istio-wasmplugin.yaml: Istio's proto, strictly, and the
// filter's own config parser.
func checkWasmPlugin(t *testing.T, o *unstructured.Unstructured) {
	t.Helper()
	if o.GetAPIVersion() != "extensions.istio.io/v1alpha1" || o.GetNamespace() != "istio-system" {
		t.Errorf("WasmPlugin %s in %s", o.GetAPIVersion(), o.GetNamespace())
	}
	spec, _, _ := unstructured.NestedMap(o.Object, "spec")
	js, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	var wp istioext.WasmPlugin
	if err := protojson.Unmarshal(js, &wp); err != nil {
		t.Fatalf("not a valid Istio WasmPlugin: %v", err)
	}
	if wp.GetFailStrategy() != istioext.FailStrategy_FAIL_CLOSE || wp.GetPhase() != istioext.PluginPhase_AUTHN {
		t.Errorf("phase %v, failStrategy %v", wp.GetPhase(), wp.GetFailStrategy())
	}
	cfgJSON, err := protojson.Marshal(wp.GetPluginConfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := wasmplugin.Parse(cfgJSON)
	if err != nil {
		t.Fatalf("pluginConfig rejected by the filter: %v", err)
	}
	var c map[string]any
	_ = json.Unmarshal(cfgJSON, &c)
	for k, want := range map[string]string{
		"policy_cluster":      "outbound|8080||sg-spendgate-api.spendgate.svc.cluster.local",
		"ingest_cluster":      "outbound|8082||sg-spendgate-ingest.spendgate.svc.cluster.local",
		"reservation_cluster": "outbound|8082||sg-spendgate-ingest.spendgate.svc.cluster.local",
		"service_token":       "test-service-token",
	} {
		if c[k] != want {
			t.Errorf("pluginConfig %s = %v, want %s", k, c[k], want)
		}
	}
	_ = cfg
}

// checkServiceMonitor checks the Prometheus Operator resource's shape (its
// CRD schema is not vendored here): it scrapes /metrics on the services'
// metrics port (--metrics-addr).
func checkServiceMonitor(t *testing.T, o *unstructured.Unstructured) {
	t.Helper()
	if o.GetAPIVersion() != "monitoring.coreos.com/v1" {
		t.Errorf("ServiceMonitor %s", o.GetAPIVersion())
	}
	eps, _, _ := unstructured.NestedSlice(o.Object, "spec", "endpoints")
	if len(eps) != 1 || eps[0].(map[string]any)["port"] != "metrics" || eps[0].(map[string]any)["path"] != "/metrics" {
		t.Errorf("ServiceMonitor endpoints %v", eps)
	}
	if o.GetLabels()["release"] != "prometheus" {
		t.Errorf("ServiceMonitor labels %v", o.GetLabels())
	}
}

func subset(sel, labels map[string]any) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// The checks above can fail: a flag the binary lacks, a variable naming no
// flag, a value the command refuses, an unknown field or a wrong type in a
// Kubernetes object are each reported.
func TestChecksCatchMistakes(t *testing.T) {
	flags := binaryFlags(t)
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"a flag the binary lacks":     {[]string{"gateway", "--service-token=x", "--listen-addr=:8081"}, nil, "spendgate gateway has no flag --listen-addr"},
		"a variable naming no flag":   {[]string{"gateway"}, map[string]string{"SPENDGATE_SERVICE_TOKEN": "x", "SPENDGATE_NATS_URL": "nats://n"}, "SPENDGATE_NATS_URL sets no flag of spendgate gateway"},
		"a value the command refuses": {[]string{"ingest", "--service-token=x", "--stream-replicas=2"}, nil, "--stream-replicas must be 1, 3 or 5"},
		"a malformed value":           {[]string{"ingest", "--service-token=x", "--partitions=many"}, nil, "invalid value"},
		"a tool, not a service":       {[]string{"pricing", "sync"}, nil, "not a long-running spendgate command"},
	} {
		problems := commandProblems(t, flags, tc.args, tc.env)
		if !strings.Contains(fmt.Sprint(problems), tc.want) {
			t.Errorf("%s: %v, want %q", name, problems, tc.want)
		}
	}
	objs, err := render(t, "testdata/values-minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tc := applyconfigurations.NewTypeConverter(scheme.Scheme)
	var deployment *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			deployment = o
			break
		}
	}
	for name, mutate := range map[string]func(o *unstructured.Unstructured){
		"an unknown field": func(o *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(o.Object, int64(1), "spec", "replica")
		},
		"a wrong type": func(o *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(o.Object, "two", "spec", "replicas")
		},
		"a misspelt container field": func(o *unstructured.Unstructured) {
			cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			cs[0].(map[string]any)["imagePullPolice"] = "Always"
			_ = unstructured.SetNestedSlice(o.Object, cs, "spec", "template", "spec", "containers")
		},
	} {
		o := deployment.DeepCopy()
		mutate(o)
		if _, err := tc.ObjectToTyped(o); err == nil {
			t.Errorf("%s passed the Kubernetes schema", name)
		}
	}
}
