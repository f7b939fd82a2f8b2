package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/pricing/revision"
	"github.com/spendgate/spendgate/store/postgres"
)

const defaultDSN = "postgres://postgres@127.0.0.1:5432/spendgate?sslmode=disable"

// openRevisions connects to the control plane database (migrated) and seeds
// the first revision, for the CLI's revision commands.
func openRevisions(ctx context.Context, dsn string) (*revision.Service, func(), error) {
	if err := postgres.Migrate(ctx, dsn); err != nil {
		return nil, nil, err
	}
	pool, err := postgres.Open(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	svc := revision.New(pool, nil)
	if err := svc.Seed(ctx); err != nil {
		pool.Close()
		return nil, nil, err
	}
	return svc, pool.Close, nil
}

// pricingPropose imports a LiteLLM file over the applied catalogue and stores
// the result as a proposed revision, printing its diff for review.
func pricingPropose(ctx context.Context, dsn, from, source, effective, providers string, removeMissing bool, out io.Writer) error {
	eff, err := time.Parse(time.DateOnly, effective)
	if err != nil {
		if eff, err = time.Parse(time.RFC3339, effective); err != nil {
			return fmt.Errorf("pricing sync: --effective-from must be YYYY-MM-DD or RFC 3339: %q", effective)
		}
	}
	data, err := readSource(ctx, from)
	if err != nil {
		return err
	}
	svc, closeDB, err := openRevisions(ctx, dsn)
	if err != nil {
		return err
	}
	defer closeDB()
	if source == "" {
		source = from
	}
	var only []string
	for _, p := range strings.Split(providers, ",") {
		if p = strings.TrimSpace(p); p != "" {
			only = append(only, p)
		}
	}
	rev, err := svc.ProposeLiteLLM(ctx, revision.ProposeInput{LiteLLM: data, Source: source, EffectiveFrom: eff, By: "cli",
		Providers: only, RemoveMissing: removeMissing})
	if err != nil {
		return fmt.Errorf("pricing sync: %w", err)
	}
	fmt.Fprintf(out, "proposed revision %d (from revision %d, effective %s): %s\n", rev.ID, rev.BaseID, rev.EffectiveFrom.Format(time.RFC3339), rev.Summary)
	printDiff(out, &rev.Diff)
	fmt.Fprintf(out, "review it, then: spendgate pricing apply %d (or reject %d)\n", rev.ID, rev.ID)
	return nil
}

// printDiff writes a diff for review: every added, changed and removed
// model with old → new values in each field's unit.
func printDiff(w io.Writer, d *pricing.CatalogueDiff) {
	fmt.Fprintf(w, "diff: %s\n", d.Summary())
	for _, sec := range []struct {
		name   string
		models []pricing.ModelDiff
	}{{"added", d.Added}, {"changed", d.Changed}, {"removed", d.Removed}} {
		for _, m := range sec.models {
			when := ""
			if m.EffectiveFrom != "" {
				when = " from " + m.EffectiveFrom
			}
			fmt.Fprintf(w, "  %s %s/%s%s\n", sec.name, m.Provider, m.Model, when)
			for _, ch := range m.Changes {
				unit, o, n := ch.Display()
				if o == "" {
					o = "-"
				}
				if n == "" {
					n = "-"
				}
				if unit != "" {
					unit = " per " + unit
				}
				fmt.Fprintf(w, "      %-34s %s → %s%s\n", ch.Field, o, n, unit)
			}
		}
	}
}

func pricingRevisions(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("pricing revisions")
	dsn := fs.String("postgres-dsn", defaultDSN, "control plane database")
	n := fs.Int("n", 20, "how many, newest first")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	svc, closeDB, err := openRevisions(ctx, *dsn)
	if err != nil {
		return err
	}
	defer closeDB()
	revs, err := svc.List(ctx, *n)
	if err != nil {
		return err
	}
	for _, r := range revs {
		fmt.Fprintf(out, "%5d  %-8s effective %s  %s  (%s by %s)\n", r.ID, r.Status, r.EffectiveFrom.Format(time.RFC3339), r.Summary, r.Source, r.CreatedBy)
	}
	return nil
}

func revisionArg(fs interface {
	NArg() int
	Arg(int) string
}, usage string) (int64, error) {
	if fs.NArg() != 1 {
		return 0, errors.New(usage)
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("revision id %q is not a positive integer", fs.Arg(0))
	}
	return id, nil
}

func pricingRevisionDiff(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("pricing diff")
	dsn := fs.String("postgres-dsn", defaultDSN, "control plane database")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	id, err := revisionArg(fs, "usage: spendgate pricing diff ID")
	if err != nil {
		return err
	}
	svc, closeDB, err := openRevisions(ctx, *dsn)
	if err != nil {
		return err
	}
	defer closeDB()
	r, err := svc.Get(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "revision %d: %s, effective %s, from revision %d, source %s\n", r.ID, r.Status, r.EffectiveFrom.Format(time.RFC3339), r.BaseID, r.Source)
	printDiff(out, &r.Diff)
	return nil
}

// pricingDecide applies or rejects a proposed revision. The CLI acts as an
// operator with database access; it is audited as "system".
func pricingDecide(ctx context.Context, verb string, args []string, out io.Writer) error {
	fs := newFlagSet("pricing " + verb)
	dsn := fs.String("postgres-dsn", defaultDSN, "control plane database")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	id, err := revisionArg(fs, "usage: spendgate pricing "+verb+" ID")
	if err != nil {
		return err
	}
	svc, closeDB, err := openRevisions(ctx, *dsn)
	if err != nil {
		return err
	}
	defer closeDB()
	decide := svc.Apply
	if verb == "reject" {
		decide = svc.Reject
	}
	r, err := decide(ctx, id, auth.Principal{})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "revision %d is %s (effective %s); running services pick it up without a restart\n", r.ID, r.Status, r.EffectiveFrom.Format(time.RFC3339))
	return nil
}

// pricingCoverage measures the catalogue against a LiteLLM file.
func pricingCoverage(args []string, out io.Writer) error {
	fs := newFlagSet("pricing coverage")
	from := fs.String("from", "", "LiteLLM price file (required)")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if *from == "" {
		return errors.New("usage: spendgate pricing coverage --from FILE")
	}
	data, err := os.ReadFile(*from)
	if err != nil {
		return err
	}
	rep, err := pricing.Coverage(pricing.Default(), data, time.Now())
	if err != nil {
		return err
	}
	for _, p := range rep.Providers {
		fmt.Fprintf(out, "%-11s %4d/%4d  missing: %s\n", p.Provider, p.Covered, p.Total, strings.Join(p.Missing, ", "))
	}
	fmt.Fprintf(out, "total %d/%d = %d.%02d %%\n", rep.Covered, rep.Total, rep.Percent()/100, rep.Percent()%100)
	return nil
}
