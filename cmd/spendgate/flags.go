package main

import (
	"flag"
	"log/slog"

	"github.com/spendgate/spendgate/internal/envflag"
)

// newFlagSet returns the flag set of "spendgate <name>". Every command has
// --pprof-addr.
func newFlagSet(name string) *flag.FlagSet {
	fs := envflag.NewFlagSet("spendgate " + name)
	addPprofFlag(fs)
	return fs
}

// parseWithEnv parses args, falling back to SPENDGATE_* environment variables
// for flags not on the command line. Then, when --pprof-addr is set, it
// starts the profiling listener, so every command has one without wiring it.
func parseWithEnv(fs *flag.FlagSet, args []string) error {
	if err := envflag.Parse(fs, args); err != nil {
		return err
	}
	if f := fs.Lookup(pprofFlag); f != nil && f.Value.String() != "" {
		if _, err := startPprof(f.Value.String(), slog.Default()); err != nil {
			return err
		}
	}
	return nil
}
