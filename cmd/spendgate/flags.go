package main

import (
	"flag"
	"log/slog"

	"github.com/spendgate/spendgate/egress"
	"github.com/spendgate/spendgate/internal/envflag"
)

// newFlagSet returns the flag set of "spendgate <name>". Every command has
// --pprof-addr, --log-format and --log-level.
func newFlagSet(name string) *flag.FlagSet {
	fs := envflag.NewFlagSet("spendgate " + name)
	addPprofFlag(fs)
	addLogFlags(fs)
	return fs
}

// parseWithEnv parses args, falling back to SPENDGATE_* environment variables
// for flags not on the command line. Then it installs the logger of
// --log-format and --log-level and, when --pprof-addr is set, starts the
// profiling listener, so every command has them without wiring them.
func parseWithEnv(fs *flag.FlagSet, args []string) error {
	if err := envflag.Parse(fs, args); err != nil {
		return err
	}
	if err := applyLogFlags(fs); err != nil {
		return err
	}
	if f := fs.Lookup(pprofFlag); f != nil && f.Value.String() != "" {
		if _, err := startPprof(f.Value.String(), slog.Default()); err != nil {
			return err
		}
	}
	return nil
}

// egressFlag is --webhook-allow: the internal receivers budget webhooks may
// reach besides public addresses, parsed (and refused when malformed) as
// the flag is set.
type egressFlag struct {
	raw    string
	policy *egress.Policy // nil: public addresses only
}

const webhookAllowUsage = "internal receivers budget webhooks may reach besides public addresses: comma-separated CIDRs, addresses and host names " +
	"(default none: loopback, private, link-local, CGNAT, multicast … are refused when a budget is saved and when the alert is sent)"

func (f *egressFlag) String() string { return f.raw }

func (f *egressFlag) Set(s string) error {
	p, err := egress.ParseAllow(s)
	if err != nil {
		return err
	}
	f.raw, f.policy = s, p
	return nil
}
