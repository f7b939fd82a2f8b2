// Command spendgate-bench runs spendgate's load benchmarks. They are a
// separate command so the product binary carries no benchmark code; each
// drives the product's own packages (gateway, ingest, apiserver, control
// plane) against the machine's services and prints its figures as ratios
// against a baseline measured in the same run, since absolute numbers depend
// on the machine. `make bench` runs them all after the Go micro-benchmarks.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// benchmark is one load benchmark; each lives in its own file.
type benchmark struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

func benchmarks() map[string]benchmark {
	return map[string]benchmark{
		"gateway":   {"package-level: the gateway package in-process (static policy, counting sink) against a bare reverse proxy and direct calls; the product as deployed is 'serve'", benchGateway},
		"apikeys":   {"the GraphQL apiKeys list over HTTP, against the control-plane call and the raw SQL", benchAPIKeys},
		"ingest":    {"HTTP receiver -> JetStream -> pricing -> ClickHouse, against raw JetStream and the writer alone; lag", benchIngest},
		"analytics": {"spend queries through GraphQL over 10M generated events, rollups against raw events", benchAnalytics},
		"serve":     {"the spendgate serve binary as deployed, against a bare reverse proxy process: added p50/p99, first byte, RSS, GC share", benchServe},
	}
}

func names() []string {
	all := benchmarks()
	out := make([]string, 0, len(all))
	for n := range all {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func printUsage(w *os.File) {
	fmt.Fprintln(w, "usage: spendgate-bench <benchmark|all> [flags]")
	fmt.Fprintln(w, "\nbenchmarks (each prints its figures as ratios to a baseline measured in the same run):")
	all := benchmarks()
	for _, n := range names() {
		fmt.Fprintf(w, "  %-10s %s\n", n, all[n].summary)
	}
	fmt.Fprintln(w, "  all        every benchmark above, in this order, with its default flags")
	fmt.Fprintln(w, "\nRun 'spendgate-bench <benchmark> -h' for its flags; each can also be set as SPENDGATE_<FLAG>.")
}

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		printUsage(os.Stdout)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1], os.Args[2:])
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "spendgate-bench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func run(ctx context.Context, name string, args []string) error {
	if name == bareProxyCommand { // a process of the serve benchmark, not a benchmark
		return runBareProxy(ctx, args)
	}
	all := benchmarks()
	if name == "all" {
		for _, n := range names() {
			fmt.Printf("\n=== bench %s\n", n)
			if err := all[n].run(ctx, args); err != nil {
				return fmt.Errorf("bench %s: %w", n, err)
			}
		}
		return nil
	}
	b, ok := all[name]
	if !ok {
		return fmt.Errorf("unknown benchmark %q (have %s, all)", name, strings.Join(names(), ", "))
	}
	return b.run(ctx, args)
}
