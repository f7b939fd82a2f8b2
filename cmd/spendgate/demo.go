package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spendgate/spendgate/internal/demotraffic"
)

const demoUsage = "usage: spendgate demo traffic [--days 30] [--requests 500] [--concurrency 8] [--gateway http://127.0.0.1:8081] [--api http://127.0.0.1:8080] [--key sg_…]"

func runDemo(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "traffic" {
		return errors.New(demoUsage)
	}
	fs := newFlagSet("demo traffic")
	home, _ := os.UserHomeDir()
	gw := fs.String("gateway", "http://127.0.0.1:8081", "the spendgate gateway to send through")
	api := fs.String("api", "http://127.0.0.1:8080", "the spendgate API (record API for --days, GraphQL for the demo budget)")
	key := fs.String("key", "", "spendgate API key (default: the demo key written by 'spendgate serve' in --data-dir)")
	dataDir := fs.String("data-dir", filepath.Join(home, ".local", "share", "spendgate"), "where 'spendgate serve' keeps the demo key")
	requests := fs.Int("requests", 500, "how many live calls to send through the gateway (0: none, with --days)")
	concurrency := fs.Int("concurrency", 8, "calls in flight at once")
	days := fs.Int("days", 0, "first record this many days of history through the record API (weekday and office-hour patterns, one spike; at most 364)")
	perDay := fs.Int("calls-per-day", 400, "history: calls on a weekday")
	seed := fs.Uint64("seed", 1, "history: the same seed records the same calls, so a re-run adds only the hours not recorded yet")
	budget := fs.Bool("budget", true, "create the demo budget ("+demotraffic.DemoBudget.Name+", $"+demotraffic.DemoBudget.Amount+", alerts at 50/80/100 %) as the demo owner if missing")
	if err := parseWithEnv(fs, args[1:]); err != nil {
		return err
	}
	if *requests < 0 || *requests == 0 && *days == 0 {
		return errors.New("demo traffic: --requests must be positive (or 0 with --days)\n" + demoUsage)
	}
	if *key == "" {
		b, err := os.ReadFile(filepath.Join(*dataDir, "demo-key"))
		if err != nil {
			return fmt.Errorf("demo traffic: no --key and no demo key in %s (start 'spendgate serve' first): %w", *dataDir, err)
		}
		*key = strings.TrimSpace(string(b))
	}
	if *budget {
		created, err := demotraffic.EnsureBudget(ctx, demotraffic.EnsureBudgetConfig{APIURL: *api, Email: demoEmail, Password: demoPassword})
		switch {
		case err != nil:
			// Not the demo installation (other owner, changed password): the traffic is still useful.
			fmt.Printf("no demo budget: %v (pass --budget=false to skip)\n", err)
		case created:
			fmt.Printf("created the budget %q: $%s a month, alerts at 50, 80 and 100 %%\n", demotraffic.DemoBudget.Name, demotraffic.DemoBudget.Amount)
		}
	}
	if *days > 0 {
		fmt.Printf("recording %d days of history through %s%s…\n", *days, *api, "/v1/usage:batch")
		res, err := demotraffic.Backfill(ctx, demotraffic.BackfillConfig{APIURL: *api, Key: *key, Days: *days, CallsPerDay: *perDay, Seed: *seed,
			Progress: func(sent, total int) { fmt.Printf("\r  %d of %d records", sent, total) }})
		fmt.Println()
		if err != nil {
			return err
		}
		fmt.Printf("history %s – %s: %d new records, %d recorded before; a runaway batch job spikes at %s\n",
			res.From.Format("2006-01-02 15:04"), res.To.Format("2006-01-02 15:04 MST"), res.Recorded, res.Duplicates, res.Spike.Format("2006-01-02 15:04"))
	}
	if *requests == 0 {
		return nil
	}
	fmt.Printf("sending %d calls through %s (%d at a time)…\n", *requests, *gw, *concurrency)
	res, err := demotraffic.Run(ctx, demotraffic.Config{GatewayURL: *gw, Key: *key, Requests: *requests, Concurrency: *concurrency})
	fmt.Printf("sent %d: %d answered, %d denied by spendgate policy, %d refused by the provider, %d failed\n",
		res.Sent, res.OK, res.Denied, res.ProviderErrors, res.Failed)
	names := make([]string, 0, len(res.ByCall))
	for n := range res.ByCall {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Printf("  %-34s %d\n", n, res.ByCall[n])
	}
	if err == nil {
		fmt.Println("events reach the dashboards within a second or two (the gateway batches them).")
	}
	return err
}
