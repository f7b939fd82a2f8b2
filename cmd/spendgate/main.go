// Command spendgate is the single binary of the product. main only parses the
// subcommand and wires packages together; behaviour lives in the packages.
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
	"syscall"
)

// command is one subcommand. run gets the arguments after the subcommand name
// and a context cancelled on SIGINT/SIGTERM, so servers drain and stop.
type command struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"serve":        {"run everything on one machine: API, gateway, ingest, demo (embedded NATS unless a URL is set)", runServe},
		"api":          {"run the GraphQL API and the data-plane policy endpoint", runAPI},
		"gateway":      {"run the embedded gateway (reverse proxy with metering)", runGateway},
		"ingest":       {"run the event receiver and the JetStream -> pricing -> ClickHouse consumer", runIngest},
		"migrate":      {"apply Postgres migrations (creating the database when missing)", runMigrate},
		"users":        {"manage users (create-owner)", runUsers},
		"pricing":      {"pricing catalogue tools (sync, list, show, cost)", runPricing},
		"fakeprovider": {"run a fake OpenAI/Anthropic/Gemini provider for tests and demos", runFakeProvider},
		"demo":         {"demo helpers: 'demo traffic' records history (--days) and sends realistic calls through the gateway", runDemo},
		"record":       {"record usage through the public record API (outbox on disk; --flush sends what is queued)", runRecord},
		"health":       {"exit 0 when a listener's /healthz answers 200 (container healthchecks)", runHealth},
		"config":       {"'config docs' writes the configuration reference, 'config check CMD [flags]' validates a deployment's flags and environment", runConfig},
	}
}

func printUsage(w *os.File) {
	fmt.Fprintln(w, "usage: spendgate <command> [flags]")
	fmt.Fprintln(w, "\ncommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-13s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'spendgate <command> -h' for the flags of a command. Every flag can also be set")
	fmt.Fprintln(w, "through the environment as SPENDGATE_<FLAG> (upper case, dashes as underscores).")
}

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()}))
	slog.SetDefault(logger)

	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		printUsage(os.Stdout)
		return
	}
	cmd, ok := commands()[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "spendgate: unknown command %q\n\n", os.Args[1])
		printUsage(os.Stderr)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cmd.run(ctx, os.Args[2:])
	stop()
	flushLog() // the process log buffers its lines (logbuffer.go); an error below flushes itself
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		slog.Error("spendgate "+os.Args[1]+" failed", "err", err)
		os.Exit(1)
	}
}

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("SPENDGATE_LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}
