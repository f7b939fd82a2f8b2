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

func runDemo(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "traffic" {
		return errors.New("usage: spendgate demo traffic [--requests 500] [--concurrency 8] [--gateway http://127.0.0.1:8081] [--key sg_…]")
	}
	fs := newFlagSet("demo traffic")
	home, _ := os.UserHomeDir()
	gw := fs.String("gateway", "http://127.0.0.1:8081", "the spendgate gateway to send through")
	key := fs.String("key", "", "spendgate API key (default: the demo key written by 'spendgate serve' in --data-dir)")
	dataDir := fs.String("data-dir", filepath.Join(home, ".local", "share", "spendgate"), "where 'spendgate serve' keeps the demo key")
	requests := fs.Int("requests", 500, "how many calls to send")
	concurrency := fs.Int("concurrency", 8, "calls in flight at once")
	if err := parseWithEnv(fs, args[1:]); err != nil {
		return err
	}
	if *key == "" {
		b, err := os.ReadFile(filepath.Join(*dataDir, "demo-key"))
		if err != nil {
			return fmt.Errorf("demo traffic: no --key and no demo key in %s (start 'spendgate serve' first): %w", *dataDir, err)
		}
		*key = strings.TrimSpace(string(b))
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
