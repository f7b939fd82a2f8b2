package main

import (
	"flag"
	"fmt"
	"log/slog"

	"github.com/spendgate/spendgate/config"
	"github.com/spendgate/spendgate/internal/envflag"
	"github.com/spendgate/spendgate/secrets"
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

// serviceFlags is the flag set of the long-running command "spendgate
// <name>" over its configuration o, with the observability flags every one
// of them has. Its run and config docs/check build it the same way.
func serviceFlags[O config.Options](name string, o O) (*flag.FlagSet, O, *observeFlags) {
	fs, of := newFlagSet(name), &observeFlags{}
	o.Register(fs)
	addObserveFlags(fs, of)
	return fs, o, of
}

// parseOptions parses a long-running command's args (parseWithEnv) and
// validates its configuration before anything connects.
func parseOptions(name string, fs *flag.FlagSet, args []string, o config.Options) error {
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// withDevDefaults fills the secrets left unset with the fixed development
// values when config allows it for these listeners, and says so loudly.
func withDevDefaults(f *config.ControlPlane, log *slog.Logger, listens ...string) error {
	filled, err := f.WithDevDefaults(listens...)
	if err != nil {
		return err
	}
	// In development (the other secrets defaulted too) a secrets keyring is
	// generated once and kept, so SSO and TOTP work on one machine.
	if len(filled) > 0 && f.SecretsKey == "" && f.DevKeyDir != "" {
		key, err := devSecretsKey(f.DevKeyDir)
		if err != nil {
			return err
		}
		f.SecretsKey = key
		filled = append(filled, secrets.EnvVar+" (generated in "+f.DevKeyDir+")")
	}
	if len(filled) > 0 {
		log.Warn("using INSECURE development defaults; set these for any shared or production use", "unset", filled)
	}
	return nil
}
