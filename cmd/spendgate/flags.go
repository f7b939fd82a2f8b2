package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// newFlagSet returns a flag set whose flags, after Parse, fall back to
// SPENDGATE_<NAME> environment variables when not given on the command line.
func newFlagSet(name string) *flag.FlagSet {
	return flag.NewFlagSet("spendgate "+name, flag.ContinueOnError)
}

// parseWithEnv parses args, then fills every flag not set on the command line
// from its SPENDGATE_* environment variable. A malformed value is an error
// naming the variable.
func parseWithEnv(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []string
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		name := envName(f.Name)
		if v, ok := os.LookupEnv(name); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Sprintf("%s=%q: %v", name, v, err))
			}
		}
	})
	if len(errs) > 0 {
		return fmt.Errorf("bad environment: %s", strings.Join(errs, "; "))
	}
	return nil
}

func envName(flagName string) string {
	return "SPENDGATE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}
