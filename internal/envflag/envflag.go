// Package envflag gives the spendgate commands (spendgate, spendgate-bench)
// one rule for configuration: every flag can also be set through the
// environment as SPENDGATE_<FLAG> (upper case, dashes as underscores), and a
// flag given on the command line wins.
package envflag

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// NewFlagSet returns a flag set named name that returns parse errors instead
// of exiting, for use with Parse.
func NewFlagSet(name string) *flag.FlagSet {
	return flag.NewFlagSet(name, flag.ContinueOnError)
}

// Parse parses args, then fills every flag not set on the command line from
// its SPENDGATE_* environment variable. A malformed value is an error naming
// the variable.
func Parse(fs *flag.FlagSet, args []string) error {
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
		name := Name(f.Name)
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

// Name is the environment variable of a flag: SPENDGATE_<FLAG>.
func Name(flagName string) string {
	return "SPENDGATE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}
