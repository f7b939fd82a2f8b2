package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/spendgate/spendgate/analytics"
	"github.com/spendgate/spendgate/apiserver"
	"github.com/spendgate/spendgate/budget/pgstore"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/internal/envflag"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
)

// benchAnalytics generates events for one tenant in a scratch ClickHouse
// database (inside ClickHouse, INSERT … SELECT over numbers(), so the
// rollups are fed as by real inserts) and times spend queries through the
// real GraphQL handler. The baseline is the same query over a range that is
// not day-aligned, which the rollups cannot answer, so it reads the raw
// events: the ratio shows what the rollups buy.
func benchAnalytics(ctx context.Context, args []string) error {
	fs := envflag.NewFlagSet("spendgate-bench analytics")
	admin := fs.String("postgres-admin-dsn", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "maintenance database DSN (a scratch database is created and dropped)")
	chAddr := fs.String("clickhouse-addr", "127.0.0.1:9000", "ClickHouse native address (a scratch database is created and dropped)")
	events := fs.Int("events", 10_000_000, "events to generate, spread over --days")
	days := fs.Int("days", 90, "days the events span, ending now")
	runs := fs.Int("runs", 30, "timed queries per measurement")
	if err := envflag.Parse(fs, args); err != nil {
		return err
	}
	bt, cleanup, err := newBenchTenant(ctx, *admin)
	if err != nil {
		return err
	}
	defer cleanup()
	cp, name, tenantID := bt.cp, bt.name, bt.tenantID
	var keyIDs []string
	for i := range 50 {
		k, err := cp.CreateAPIKey(bt.actx, tenantID, fmt.Sprintf("service %02d", i), controlplane.KeyPolicy{}, nil)
		if err != nil {
			return err
		}
		keyIDs = append(keyIDs, k.Key.ID)
	}

	conn, err := chstore.Open(ctx, *chAddr, name)
	if err != nil {
		return err
	}
	defer func() {
		_ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name)
		_ = conn.Close()
	}()
	if err := chstore.Migrate(ctx, conn, name); err != nil {
		return err
	}
	end := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	start := end.Add(-time.Duration(*days) * 24 * time.Hour)
	t0 := time.Now()
	if err := generateEvents(ctx, conn, name, tenantID, keyIDs, start, end, *events); err != nil {
		return err
	}
	version := "?"
	if v, err := conn.ServerVersion(); err == nil {
		version = v.String()
	}
	fmt.Printf("generated %d events over %d days for one tenant in %s (ClickHouse %s)\n", *events, *days,
		time.Since(t0).Round(time.Second), version)

	spend := analytics.New(cp, &chstore.Analytics{Conn: conn, Database: name}, pgstore.New(bt.pool), analytics.DefaultLimits())
	srv := httptest.NewServer(apiserver.New(apiserver.Config{ServiceToken: "bench", Analytics: spend}, cp, bt.quiet).Handler())
	defer srv.Close()
	gql := func(query string, vars map[string]any) error {
		return postGraphQL(ctx, srv.URL+"/query", bt.token, query, vars)
	}
	last30 := end.Add(-30 * 24 * time.Hour)
	day := func(t time.Time) string { return t.Format(time.RFC3339) }
	offDay := func(t time.Time) string { return t.Add(time.Second).Format(time.RFC3339) }
	cases := []struct {
		name, query        string
		vars, baselineVars map[string]any
	}{
		{"breakdown by provider × model, 30 days", `query($t:ID!,$f:Time!,$to:Time!){spendBreakdown(tenantId:$t,from:$f,to:$to,
			groupBy:[{field:PROVIDER},{field:MODEL}],top:20){groups{keys totals{requests tenantCost}} other{requests} total{tenantCost}}}`,
			map[string]any{"t": tenantID, "f": day(last30), "to": day(end)}, map[string]any{"t": tenantID, "f": offDay(last30), "to": day(end)}},
		{"top 10 keys, 90 days", `query($t:ID!,$f:Time!,$to:Time!){spendBreakdown(tenantId:$t,from:$f,to:$to,
			groupBy:[{field:KEY}],top:10){groups{labels totals{requests tenantCost}} other{requests}}}`,
			map[string]any{"t": tenantID, "f": day(start), "to": day(end)}, map[string]any{"t": tenantID, "f": offDay(start), "to": day(end)}},
		{"daily time series, 90 days", `query($t:ID!,$f:Time!,$to:Time!){spendTimeSeries(tenantId:$t,from:$f,to:$to,bucket:DAY){start totals{tenantCost requests}}}`,
			map[string]any{"t": tenantID, "f": day(start), "to": day(end)}, map[string]any{"t": tenantID, "f": offDay(start), "to": day(end)}},
		{"daily series by provider, 90 days", `query($t:ID!,$f:Time!,$to:Time!){spendTimeSeries(tenantId:$t,from:$f,to:$to,bucket:DAY,groupBy:[{field:PROVIDER}]){start keys totals{tenantCost}}}`,
			map[string]any{"t": tenantID, "f": day(start), "to": day(end)}, map[string]any{"t": tenantID, "f": offDay(start), "to": day(end)}},
		{"breakdown by dimension team, 30 days", `query($t:ID!,$f:Time!,$to:Time!){spendBreakdown(tenantId:$t,from:$f,to:$to,
			groupBy:[{field:DIMENSION,dimension:"team"}]){groups{keys totals{tenantCost}}}}`,
			map[string]any{"t": tenantID, "f": day(last30), "to": day(end)}, map[string]any{"t": tenantID, "f": offDay(last30), "to": day(end)}},
		{"breakdown by team × app, 30 days (raw events)", `query($t:ID!,$f:Time!,$to:Time!){spendBreakdown(tenantId:$t,from:$f,to:$to,
			groupBy:[{field:DIMENSION,dimension:"team"},{field:DIMENSION,dimension:"app"}]){groups{keys totals{tenantCost}}}}`,
			map[string]any{"t": tenantID, "f": day(last30), "to": day(end)}, nil},
	}
	fmt.Printf("%-50s %9s %9s %12s %12s %8s\n", "query (GraphQL over HTTP)", "p50", "p95", "raw p95", "p95 goal", "speedup")
	for _, c := range cases {
		p50, p95, err := timeQuery(*runs, func() error { return gql(c.query, c.vars) })
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		raw, speedup := "-", "-"
		if c.baselineVars != nil {
			_, rp95, err := timeQuery(max(*runs/3, 5), func() error { return gql(c.query, c.baselineVars) })
			if err != nil {
				return fmt.Errorf("%s (raw): %w", c.name, err)
			}
			raw, speedup = rp95.Round(time.Millisecond).String(), fmt.Sprintf("%.1f×", float64(rp95)/float64(p95))
		}
		verdict := "met"
		if p95 > 150*time.Millisecond {
			verdict = "MISSED"
		}
		fmt.Printf("%-50s %9s %9s %12s %12s %8s\n", c.name, p50.Round(time.Millisecond/10), p95.Round(time.Millisecond/10), raw,
			"150ms "+verdict, speedup)
	}
	return nil
}

// generateEvents inserts n events for tenant spread evenly over [start,
// end): 50 keys, 12 models of 6 providers (one of them unpriced), two
// dimensions, 2 % provider errors, token counts that vary per event.
func generateEvents(ctx context.Context, conn interface {
	Exec(ctx context.Context, query string, args ...any) error
}, db, tenant string, keys []string, start, end time.Time, n int) error {
	models := []string{"gpt-4o-mini", "gpt-4o", "gpt-4.1", "o4-mini", "claude-sonnet-4-5", "claude-haiku-4-5",
		"gemini-2.5-flash", "gemini-2.5-pro", "llama-3.3-70b-versatile", "deepseek-chat", "mistral-large-latest", "acme-internal-llm"}
	providers := []string{"openai", "openai", "openai", "openai", "anthropic", "anthropic",
		"gemini", "gemini", "groq", "deepseek", "mistral", "openai"}
	inRate := []int64{150, 2500, 2000, 1100, 3000, 1000, 300, 1250, 590, 270, 2000, 0}       // nano-USD per token
	outRate := []int64{600, 10000, 8000, 4400, 15000, 5000, 2500, 10000, 790, 1100, 6000, 0} // nano-USD per token
	span := int64(end.Sub(start) / time.Second)
	// Inserted in slices so one INSERT never holds too much in memory on a
	// small machine.
	const slice = 2_000_000
	for lo := 0; lo < n; lo += slice {
		cnt := min(slice, n-lo)
		q := `INSERT INTO ` + db + `.usage_events (event_id, time, tenant_id, key_id, source, provider, operation, model_requested,
			model_served, catalogue_model, streaming, service_tier, complete, status_code, latency_ms, ttfb_ms, request_id,
			input, cached_input, cache_write_5m, cache_write_1h, output, reasoning, audio_input, audio_output, image_input, image_output,
			web_searches, characters, seconds, images, priced, list_cost_nano_usd, tenant_cost_nano_usd, provider_reported_nano_usd,
			has_provider_reported, override_id, pricing_tier, cost_lines, dim_names, dim_values, raw_usage, reservation_id, ingested_at)
		SELECT concat('bench-', toString(n)) AS event_id,
			toDateTime(? + intDiv(n * ?, ?)) AS time,
			? AS tenant_id,
			arrayElement(?, 1 + intHash32(n) % ?) AS key_id,
			'gateway', arrayElement(?, m) AS provider, 'chat.completions', arrayElement(?, m) AS model, arrayElement(?, m), arrayElement(?, m),
			toUInt8(n % 3 = 0), '', 1, toUInt16(if(n % 50 = 0, 429, 200)), toUInt32(200 + intHash32(n + 3) % 3000), toUInt32(80), '',
			toInt64(if(n % 50 = 0, 0, 50 + intHash32(n + 1) % 4000)) AS in_tokens, toInt64(0), toInt64(0), toInt64(0),
			toInt64(if(n % 50 = 0, 0, 5 + intHash32(n + 2) % 900)) AS out_tokens, toInt64(0), toInt64(0), toInt64(0), toInt64(0), toInt64(0),
			toInt64(0), toInt64(0), toInt64(0), toInt64(0),
			toUInt8(m != ?) AS priced,
			in_tokens * arrayElement(?, m) + out_tokens * arrayElement(?, m) AS list_cost, list_cost, toInt64(0),
			toUInt8(0), '', 'standard', '[]', ['team', 'app'],
			[arrayElement(['search', 'support', 'growth', 'research', 'platform', 'sales', 'legal', 'finance'], 1 + intHash32(n + 4) % 8),
			 arrayElement(['web', 'batch', 'slackbot'], 1 + intHash32(n + 5) % 3)],
			'', '', now()
		FROM (SELECT number + ? AS n, 1 + intHash32(number + ?) % ? AS m FROM numbers(?))`
		args := []any{start.Unix(), span, n, tenant, keys, len(keys), providers, models, models, models,
			len(models), inRate, outRate, lo, lo + 7, len(models), cnt}
		if err := conn.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("generate events: %w", err)
		}
		fmt.Printf("  … %d/%d events\n", lo+cnt, n)
	}
	return nil
}

// timeQuery runs f once to warm up, then runs times, and returns p50 and p95.
func timeQuery(runs int, f func() error) (p50, p95 time.Duration, err error) {
	d, err := latencies(1, runs, f)
	if err != nil {
		return 0, 0, err
	}
	return pct(d, 50), pct(d, 95), nil
}

// postGraphQL sends one query and fails on transport or GraphQL errors.
func postGraphQL(ctx context.Context, url, token, query string, vars map[string]any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var answer struct {
		Errors []json.RawMessage `json:"errors"`
	}
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &answer); err != nil || len(answer.Errors) > 0 || res.StatusCode != http.StatusOK {
		return fmt.Errorf("graphql: HTTP %d: %s", res.StatusCode, raw)
	}
	return nil
}
