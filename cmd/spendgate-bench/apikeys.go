package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"syscall"
	"time"

	"github.com/spendgate/spendgate/apiserver"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/internal/envflag"
)

// benchAPIKeys seeds 1,000 keys in a scratch database and times the GraphQL
// apiKeys list through the real HTTP handler, for a page of 50 and a full page
// (controlplane.MaxPage, 250), against the raw SQL query for the same rows
// measured in the same run.
func benchAPIKeys(ctx context.Context, args []string) error {
	fs := envflag.NewFlagSet("spendgate-bench apikeys")
	admin := fs.String("postgres-admin-dsn", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "maintenance database DSN (a scratch database is created and dropped)")
	keys := fs.Int("keys", 1000, "keys to seed")
	runs := fs.Int("runs", 200, "timed queries per target")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := envflag.Parse(fs, args); err != nil {
		return err
	}
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	bt, cleanup, err := newBenchTenant(ctx, *admin)
	if err != nil {
		return err
	}
	defer cleanup()
	pool, cp, tn, actx, quiet := bt.pool, bt.cp, bt.tenantID, bt.actx, bt.quiet
	start := time.Now()
	for i := 0; i < *keys; i++ {
		if _, err := cp.CreateAPIKey(actx, tn, fmt.Sprintf("key %d", i), controlplane.KeyPolicy{AllowedProviders: []string{"openai"}}, nil, nil); err != nil {
			return err
		}
	}
	fmt.Printf("seeded %d keys in %s\n", *keys, time.Since(start).Round(time.Millisecond))

	srv := httptest.NewServer(apiserver.New(apiserver.Config{ServiceToken: "bench"}, cp, quiet).Handler())
	defer srv.Close()
	const query = `query($t:ID!,$n:Int){apiKeys(tenantId:$t,first:$n){edges{node{id name prefix status createdAt lastUsedAt policy{allowedProviders}}} pageInfo{hasNextPage}}}`
	// A request is timed up to the last byte of its answer; the client then
	// decodes every answer and checks it has the page's keys, untimed but
	// measured on its own (decodes).
	var decodes []time.Duration
	graphqlOnce := func(page int) func() (time.Duration, error) {
		body, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]any{"t": tn, "n": page}})
		return func() (time.Duration, error) {
			t0 := time.Now()
			req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/query", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+bt.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return 0, err
			}
			answer, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			took := time.Since(t0)
			if err != nil {
				return 0, err
			}
			t1 := time.Now()
			var out struct {
				Data struct {
					APIKeys struct {
						Edges []json.RawMessage
					}
				}
				Errors []any
			}
			if err := json.Unmarshal(answer, &out); err != nil {
				return 0, err
			}
			if len(out.Errors) > 0 || len(out.Data.APIKeys.Edges) != page {
				return 0, fmt.Errorf("apiKeys returned %d keys, errors %v", len(out.Data.APIKeys.Edges), out.Errors)
			}
			decodes = append(decodes, time.Since(t1))
			return took, nil
		}
	}
	// The baseline reads and decodes the same rows (and the one extra row the
	// page needs to know whether there is a next page).
	sqlOnce := func(page int) func() error {
		return func() error {
			rows, err := pool.Query(ctx, `SELECT id, tenant_id, name, prefix, status, created_at, last_used_at, revoked_at, expires_at, rotated_from,
			allowed_providers, allowed_models, required_dimensions, default_dimensions, require_priced_models, requests_per_minute, tokens_per_minute
			FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, tn, page+1)
			if err != nil {
				return err
			}
			n := 0
			for rows.Next() {
				if _, err := rows.Values(); err != nil {
					rows.Close()
					return err
				}
				n++
			}
			rows.Close()
			if n != min(page+1, *keys) {
				return fmt.Errorf("sql returned %d rows", n)
			}
			return rows.Err()
		}
	}
	// The control plane's list call: authorization, the same query, rows
	// decoded into keys. GraphQL minus this is the API layer's own cost.
	serviceOnce := func(page int) func() error {
		return func() error {
			c, err := cp.APIKeys(actx, tn, controlplane.Page{First: page}, "")
			if err == nil && len(c.Items) != page {
				err = fmt.Errorf("service returned %d keys", len(c.Items))
			}
			return err
		}
	}
	measure := func(f func() error) ([]time.Duration, error) { return latencies(10, *runs, f) }
	p := pct
	fmt.Printf("apiKeys list query over %d keys, %d runs per target (GraphQL over HTTP through the real handler, JSON decoded by the client)\n", *keys, *runs)
	for _, page := range []int{50, min(controlplane.MaxPage, *keys)} {
		decodes = decodes[:0]
		cpu0 := processCPU()
		g, err := timedParts(10, *runs, graphqlOnce(page))
		if err != nil {
			return err
		}
		cpuPerRequest := (processCPU() - cpu0) / time.Duration(10+*runs)
		s, err := measure(sqlOnce(page))
		if err != nil {
			return err
		}
		c, err := measure(serviceOnce(page))
		if err != nil {
			return err
		}
		fmt.Printf("page of %d keys (first: %d)\n", page, page)
		fmt.Printf("  raw SQL (baseline)     p50 %9s  p95 %9s\n", p(s, 50).Round(time.Microsecond), p(s, 95).Round(time.Microsecond))
		fmt.Printf("  control plane call     p50 %9s  p95 %9s\n", p(c, 50).Round(time.Microsecond), p(c, 95).Round(time.Microsecond))
		fmt.Printf("  GraphQL over HTTP      p50 %9s  p95 %9s   (request sent to last byte read)\n", p(g, 50).Round(time.Microsecond), p(g, 95).Round(time.Microsecond))
		sort.Slice(decodes, func(i, j int) bool { return decodes[i] < decodes[j] })
		fmt.Printf("  client JSON decode     p50 %9s  p95 %9s   (encoding/json, after the last byte)\n", p(decodes, 50).Round(time.Microsecond), p(decodes, 95).Round(time.Microsecond))
		fmt.Printf("  CPU per GraphQL request  %9s   (this process: handler and client; latency on a loaded machine waits for CPU, this does not)\n", cpuPerRequest.Round(time.Microsecond))
		fmt.Printf("  ratio GraphQL/SQL      p50 %.2fx  p95 %.2fx   (goal GraphQL p95 < 10ms: %v)\n",
			float64(p(g, 50))/float64(p(s, 50)), float64(p(g, 95))/float64(p(s, 95)), p(g, 95) < 10*time.Millisecond)
		if page == *keys {
			break // fewer keys than a full page: the first page was all of them
		}
	}
	return nil
}

// processCPU is the CPU time (user + system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
