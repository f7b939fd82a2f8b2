package main

import (
	"flag"

	"github.com/spendgate/spendgate/internal/envflag"
)

// newFlagSet returns the flag set of "spendgate <name>".
func newFlagSet(name string) *flag.FlagSet { return envflag.NewFlagSet("spendgate " + name) }

// parseWithEnv parses args, falling back to SPENDGATE_* environment variables
// for flags not on the command line.
func parseWithEnv(fs *flag.FlagSet, args []string) error { return envflag.Parse(fs, args) }
