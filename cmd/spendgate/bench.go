package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// benchmarks are load benchmarks that print figures as ratios against a
// baseline measured in the same run. Each lives in its own bench_*.go file.
func benchmarks() map[string]func(ctx context.Context, args []string) error {
	return map[string]func(ctx context.Context, args []string) error{
		"gateway":   benchGateway,
		"apikeys":   benchAPIKeys,
		"ingest":    benchIngest,
		"analytics": benchAnalytics,
	}
}

func runBench(ctx context.Context, args []string) error {
	all := benchmarks()
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(args) == 0 {
		return fmt.Errorf("usage: spendgate bench <%s|all> [flags]", strings.Join(names, "|"))
	}
	if args[0] == "all" {
		for _, n := range names {
			fmt.Printf("\n=== bench %s\n", n)
			if err := all[n](ctx, args[1:]); err != nil {
				return fmt.Errorf("bench %s: %w", n, err)
			}
		}
		return nil
	}
	b, ok := all[args[0]]
	if !ok {
		return fmt.Errorf("unknown benchmark %q (have %s, all)", args[0], strings.Join(names, ", "))
	}
	return b(ctx, args[1:])
}
