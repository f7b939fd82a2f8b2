// Package observability_test holds the Prometheus alert rules and the
// Grafana dashboard to the metrics spendgate really serves: it runs
// `spendgate serve`, sends real calls through its gateway (to the fake
// provider) and events through JetStream into ClickHouse, scrapes every
// listener's /metrics, and checks that each metric the rules and the
// dashboard name is there.
package observability_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/metricstest"
	"github.com/spendgate/spendgate/internal/testenv"
)

// promql is Prometheus' own PromQL parser, as the rule loader uses it.
var promql = parser.NewParser(parser.Options{})

// prometheusMade are series Prometheus itself writes for each target.
var prometheusMade = []string{"up", "scrape_duration_seconds", "scrape_samples_scraped"}

func TestAlertRulesParse(t *testing.T) {
	t.Parallel()
	groups := parseRules(t)
	n := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" || r.Annotations["runbook"] == "" || r.Labels["severity"] == "" {
				t.Errorf("rule %q: every rule is an alert with a severity and a runbook", r.Alert)
			}
			if want := "docs/observability.md#" + strings.ToLower(r.Alert); r.Annotations["runbook"] != want {
				t.Errorf("%s: runbook %q, want %q", r.Alert, r.Annotations["runbook"], want)
			}
		}
	}
	if n < 10 {
		t.Fatalf("%d rules", n)
	}
	// A broken expression is refused: the parser really checks.
	if _, errs := rulefmt.Parse([]byte("groups:\n- name: x\n  rules:\n  - alert: X\n    expr: rate(foo[5m]\n"), false,
		model.UTF8Validation, promql, slog.New(slog.NewTextHandler(io.Discard, nil))); len(errs) == 0 {
		t.Fatal("a malformed expression parsed")
	}
}

func TestRunbookForEveryAlert(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/observability.md")
	testenv.Must(t, err, "docs/observability.md")
	for _, g := range parseRules(t).Groups {
		for _, r := range g.Rules {
			if !strings.Contains(string(doc), "### "+r.Alert+"\n") {
				t.Errorf("docs/observability.md has no runbook section \"### %s\"", r.Alert)
			}
		}
	}
}

// TestRulesAndDashboardUseServedMetrics runs `spendgate serve` with a
// separate metrics listener, makes every part work (GraphQL, gateway calls
// and a denial, events through JetStream into ClickHouse), and checks:
// every listener serves the same registry at /metrics (the API's is not
// the portal's HTML); the gateway, ingest and GraphQL series moved with
// the traffic; and every metric the alert rules and the dashboard use is
// served.
func TestRulesAndDashboardUseServedMetrics(t *testing.T) {
	t.Parallel()
	s := testenv.StartServe(t, "--metrics-addr", "127.0.0.1:0", "--batch-wait", "50ms")
	if s.Addrs["metrics"] == "" {
		t.Fatalf("serve did not report its metrics listener: %v", s.Addrs)
	}
	_, _ = s.SignInDemo(t)

	client := openai.NewClient(option.WithBaseURL(s.GatewayURL+"/v1/openai"), option.WithAPIKey("sk-test"),
		option.WithHeader("x-spendgate-key", s.DemoKey), option.WithMaxRetries(0))
	ctx := context.Background()
	const calls = 5
	for range calls {
		_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
		testenv.Must(t, err, "chat completion through the gateway")
	}
	bad := openai.NewClient(option.WithBaseURL(s.GatewayURL+"/v1/openai"), option.WithAPIKey("sk-test"),
		option.WithHeader("x-spendgate-key", "sg_not_a_key"), option.WithMaxRetries(0))
	var apiErr *openai.Error
	if _, err := bad.Models.List(ctx); !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Fatalf("unknown key: %v", err)
	}

	apiMetrics := s.APIURL + "/metrics"
	var fams map[string]*dto.MetricFamily
	testenv.WaitFor(t, 60*time.Second, "the events stored in ClickHouse", func() bool {
		fams = metricstest.Scrape(t, apiMetrics)
		return metricstest.Value(fams, "spendgate_ingest_events_stored_total", nil) >= calls &&
			metricstest.Value(fams, "spendgate_ingest_oldest_unacked_event_age_seconds", nil) == 0
	})
	for _, c := range []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"spendgate_gateway_requests_total", map[string]string{"provider": "openai", "operation": "chat.completions", "status": "200"}, calls},
		{"spendgate_gateway_denials_total", map[string]string{"reason": event.DenialUnknownKey}, 1},
		{"spendgate_gateway_events_published_total", nil, calls},
		{"spendgate_ingest_events_received_total", map[string]string{"result": "accepted"}, calls},
		{"spendgate_ingest_batch_size_events", nil, 1},
		{"spendgate_ingest_clickhouse_insert_duration_seconds", nil, 1},
		{"spendgate_ingest_backlog_up", nil, 1},
		{"spendgate_graphql_operation_duration_seconds", map[string]string{"type": "mutation", "result": "ok"}, 1},
		{"spendgate_graphql_operation_duration_seconds", map[string]string{"type": "query", "result": "ok"}, 1},
	} {
		if got := metricstest.Value(fams, c.name, c.labels); !(got >= c.min) {
			t.Errorf("%s%v = %v, want at least %v", c.name, c.labels, got, c.min)
		}
	}
	if v := metricstest.Value(fams, "spendgate_gateway_events_dropped_total", nil); v != 0 {
		t.Errorf("events dropped with ingest up: %v", v)
	}

	// One registry, served by every listener.
	names := func(f map[string]*dto.MetricFamily) []string {
		out := make([]string, 0, len(f))
		for n := range f {
			out = append(out, n)
		}
		sort.Strings(out)
		return out
	}
	want := names(fams)
	for _, url := range []string{s.GatewayURL + "/metrics", "http://" + s.Addrs["metrics"] + "/metrics"} {
		if got := names(metricstest.Scrape(t, url)); !slices.Equal(got, want) {
			t.Errorf("%s serves other metrics than the API listener:\n%v\n%v", url, got, want)
		}
	}

	served := map[string]bool{}
	for name, f := range fams {
		served[name] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				served[name+suffix] = true
			}
		}
	}
	for _, n := range prometheusMade {
		served[n] = true
	}
	used := map[string][]string{} // metric -> where
	for _, g := range parseRules(t).Groups {
		for _, r := range g.Rules {
			for _, m := range metricNames(t, r.Expr) {
				used[m] = append(used[m], "alert "+r.Alert)
			}
		}
	}
	for where, expr := range dashboardQueries(t) {
		for _, m := range metricNames(t, expr) {
			used[m] = append(used[m], "dashboard "+where)
		}
	}
	if len(used) < 20 {
		t.Fatalf("only %d metrics used by the rules and the dashboard", len(used))
	}
	for m, where := range used {
		if !served[m] {
			t.Errorf("%s (used by %s) is not served by spendgate serve", m, strings.Join(where, ", "))
		}
	}
}

func parseRules(t *testing.T) *rulefmt.RuleGroups {
	t.Helper()
	groups, errs := rulefmt.ParseFile("alerts.yaml", false, model.UTF8Validation, promql, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if len(errs) > 0 {
		t.Fatalf("alerts.yaml: %v", errors.Join(errs...))
	}
	return groups
}

// grafanaVars are the dashboard's variables and Grafana's built-in
// intervals, replaced by values PromQL parses.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__range", "1h", "$instance", ".*", "$provider", ".*")

// dashboardQueries returns every PromQL expression of the dashboard (panel
// targets and the variables' label_values metrics), by where it is.
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("grafana-dashboard.json")
	testenv.Must(t, err, "dashboard")
	var dash struct {
		UID        string `json:"uid"`
		Panels     []dashPanel
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	testenv.Must(t, json.Unmarshal(raw, &dash), "dashboard JSON")
	if dash.UID == "" {
		t.Fatal("the dashboard has no uid")
	}
	out := map[string]string{}
	var walk func([]dashPanel)
	walk = func(ps []dashPanel) {
		for _, p := range ps {
			walk(p.Panels)
			for _, tg := range p.Targets {
				if tg.Expr == "" {
					t.Fatalf("panel %q: a target without expr", p.Title)
				}
				out[p.Title+"/"+tg.RefID] = grafanaVars.Replace(tg.Expr)
			}
		}
	}
	walk(dash.Panels)
	labelValues := regexp.MustCompile(`^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*),\s*[a-zA-Z_]+\)$`)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(map[string]any)
		m := labelValues.FindStringSubmatch(q["query"].(string))
		if m == nil {
			t.Fatalf("variable %s: query %v is not label_values(metric, label)", v.Name, v.Query)
		}
		out["variable "+v.Name] = m[1]
	}
	return out
}

type dashPanel struct {
	Title   string      `json:"title"`
	Panels  []dashPanel `json:"panels"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// metricNames parses a PromQL expression and returns the metric names its
// selectors name.
func metricNames(t *testing.T, expr string) []string {
	t.Helper()
	e, err := promql.ParseExpr(expr)
	if err != nil {
		t.Fatalf("%q: %v", expr, err)
	}
	var out []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			if vs.Name == "" {
				t.Errorf("%q: a selector without a metric name", expr)
			}
			out = append(out, vs.Name)
		}
		return nil
	})
	return out
}
