package main

//go:generate go run . config docs --out ../../docs/configuration.md

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spendgate/spendgate/config"
	"github.com/spendgate/spendgate/internal/envflag"
)

// configurable are the long-running commands whose flag sets config docs
// and config check read: each one's run builds its flag set with the same
// function, so the page, the checker and the command agree.
func configurable() map[string]func() (*flag.FlagSet, config.Options) {
	return map[string]func() (*flag.FlagSet, config.Options){
		"serve":   func() (*flag.FlagSet, config.Options) { fs, o, _ := serveFlags(); return fs, o },
		"api":     func() (*flag.FlagSet, config.Options) { fs, o, _ := apiFlags(); return fs, o },
		"gateway": func() (*flag.FlagSet, config.Options) { fs, o, _ := gatewayFlags(); return fs, o },
		"ingest":  func() (*flag.FlagSet, config.Options) { fs, o, _ := ingestFlags(); return fs, o },
		"migrate": func() (*flag.FlagSet, config.Options) { return migrateFlags() },
	}
}

// configOrder is the order of the reference page: one machine first, then
// the services of a split deployment.
var configOrder = []string{"serve", "api", "gateway", "ingest", "migrate"}

func runConfig(ctx context.Context, args []string) error {
	const usage = "usage: spendgate config docs [--out FILE] | spendgate config check [--connect] [--timeout 5s] <" +
		"serve|api|gateway|ingest|migrate> [flags of that command…]"
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "docs":
		return configDocs(args[1:], os.Stdout)
	case "check":
		return configCheck(ctx, args[1:], os.Stdout)
	}
	return fmt.Errorf("unknown config command %q; %s", args[0], usage)
}

// configDocs writes the configuration reference (docs/configuration.md).
func configDocs(args []string, stdout io.Writer) error {
	fs := envflag.NewFlagSet("spendgate config docs")
	out := fs.String("out", "", "file to write (default: stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cmds := commands()
	var docs []config.Documented
	for _, name := range configOrder {
		fset, _ := configurable()[name]()
		docs = append(docs, config.Documented{Name: name, Summary: cmds[name].summary, Flags: fset})
	}
	var buf bytes.Buffer
	if err := config.WriteReference(&buf, docs); err != nil {
		return err
	}
	if *out == "" {
		_, err := stdout.Write(buf.Bytes())
		return err
	}
	return os.WriteFile(*out, buf.Bytes(), 0o644) //nolint:gosec // a documentation page, readable by all
}

// errConfigInvalid marks a check that found problems (exit code 1).
var errConfigInvalid = errors.New("configuration invalid")

// configCheck parses a command's flags and SPENDGATE_* environment exactly
// as the command would, validates the values and their combinations and,
// with --connect, tries the services they name. It starts nothing.
func configCheck(ctx context.Context, args []string, stdout io.Writer) error {
	fs := envflag.NewFlagSet("spendgate config check")
	connect := fs.Bool("connect", false, "also try to reach Postgres, NATS, ClickHouse and the HTTP services the command would use")
	timeout := fs.Duration("timeout", 5*time.Second, "how long each --connect try may take")
	if err := fs.Parse(args); err != nil {
		return err
	}
	names := make([]string, 0, len(configOrder))
	names = append(names, configOrder...)
	sort.Strings(names)
	if fs.NArg() == 0 {
		return fmt.Errorf("config check: name the command to check: %s", strings.Join(names, ", "))
	}
	name := fs.Arg(0)
	build, ok := configurable()[name]
	if !ok {
		return fmt.Errorf("config check: %q is not a long-running command; one of %s", name, strings.Join(names, ", "))
	}
	cfs, o := build()
	cfs.SetOutput(io.Discard) // the error says what is wrong; -h is not asked for here
	err := envflag.Parse(cfs, fs.Args()[1:])
	if err == nil && cfs.NArg() > 0 {
		err = fmt.Errorf("unexpected arguments %q", cfs.Args())
	}
	if err == nil {
		err = o.Validate()
	}
	if err != nil {
		problems := strings.Split(err.Error(), "\n")
		fmt.Fprintf(stdout, "%s: %d problem(s):\n", name, len(problems))
		for _, p := range problems {
			fmt.Fprintf(stdout, "  - %s\n", p)
		}
		return fmt.Errorf("config check %s: %w", name, errConfigInvalid)
	}
	fmt.Fprintf(stdout, "%s: flags and environment are valid\n", name)
	if !*connect {
		return nil
	}
	var failed []string
	for _, r := range config.Connect(ctx, o.Endpoints(), *timeout) {
		what := fmt.Sprintf("%-10s --%s %s", r.Endpoint.Kind, r.Endpoint.Flag, config.Redact(r.Endpoint.Address))
		if r.Err != nil {
			fmt.Fprintf(stdout, "FAIL %s: %v\n", what, r.Err)
			failed = append(failed, "--"+r.Endpoint.Flag)
			continue
		}
		fmt.Fprintf(stdout, "ok   %s: %s\n", what, r.Note)
	}
	if len(failed) > 0 {
		return fmt.Errorf("config check %s: cannot reach %s", name, strings.Join(failed, ", "))
	}
	return nil
}
