package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/spendgate/spendgate/money"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/usage"
)

func runPricing(ctx context.Context, args []string) error {
	const help = "usage: spendgate pricing <sync|revisions|diff|apply|reject|show|cost|list|coverage> [flags]"
	if len(args) == 0 {
		return errors.New(help)
	}
	switch args[0] {
	case "sync":
		return pricingSync(ctx, args[1:], os.Stdout, os.Stderr)
	case "show":
		return pricingShow(args[1:])
	case "cost":
		return pricingCost(args[1:])
	case "list":
		return pricingList(args[1:])
	case "revisions":
		return pricingRevisions(ctx, args[1:], os.Stdout)
	case "diff":
		return pricingRevisionDiff(ctx, args[1:], os.Stdout)
	case "apply", "reject":
		return pricingDecide(ctx, args[0], args[1:], os.Stdout)
	case "coverage":
		return pricingCoverage(args[1:], os.Stdout)
	default:
		return fmt.Errorf("unknown pricing command %q; %s", args[0], help)
	}
}

// pricingSync imports LiteLLM's model_prices_and_context_window.json and
// writes a catalogue for review (it never changes prices in place silently:
// changed models get a new effective-dated price).
func pricingSync(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("pricing sync")
	from := fs.String("from", "", "LiteLLM price file: a path or an http(s) URL (required)")
	base := fs.String("catalogue", "", "catalogue to merge into (default: the one built into this binary)")
	out := fs.String("out", "", "where to write the merged catalogue (default: stdout)")
	today := time.Now().UTC().Format(time.DateOnly)
	effective := fs.String("effective-from", today, "date changed prices take effect (YYYY-MM-DD)")
	source := fs.String("source", "", "source recorded on imported entries (default: --from)")
	checked := fs.String("checked", today, "date recorded as when imported prices were checked (YYYY-MM-DD)")
	only := fs.String("providers", strings.Join(pricing.Providers, ","), "providers to import, comma-separated")
	dsn := fs.String("postgres-dsn", "", "propose the result as a catalogue revision in this database instead of writing a file (an admin applies it: pricing apply ID or GraphQL applyPricingRevision)")
	removeMissing := fs.Bool("remove-missing", false, "end the price of LiteLLM-sourced models the file no longer lists (with --postgres-dsn)")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if *from == "" {
		return errors.New("pricing sync: --from FILE|URL is required")
	}
	if *dsn != "" {
		return pricingPropose(ctx, *dsn, *from, *source, *effective, *only, *removeMissing, stdout)
	}
	if _, err := time.Parse(time.DateOnly, *effective); err != nil {
		return fmt.Errorf("pricing sync: --effective-from must be YYYY-MM-DD: %w", err)
	}
	data, err := readSource(ctx, *from)
	if err != nil {
		return err
	}
	curData := pricing.EmbeddedCatalogueYAML()
	if *base != "" {
		if curData, err = os.ReadFile(*base); err != nil {
			return fmt.Errorf("pricing sync: %w", err)
		}
	}
	var current pricing.File
	if err := yaml.UnmarshalStrict(curData, &current); err != nil {
		return fmt.Errorf("pricing sync: current catalogue: %w", err)
	}
	progress := func(done, total int) {
		if done == total || done%25 == 0 {
			fmt.Fprintf(stderr, "\rimporting %d/%d entries", done, total)
		}
	}
	if *source == "" {
		*source = *from
	}
	res, err := pricing.ImportLiteLLM(data, *source, *checked, *effective, progress)
	fmt.Fprintln(stderr)
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, p := range strings.Split(*only, ",") {
		keep[strings.TrimSpace(p)] = true
	}
	var imported []pricing.FileModel
	for _, m := range res.Models {
		if keep[m.Provider] {
			imported = append(imported, m)
		}
	}
	merged, rep := pricing.Sync(&current, imported, *effective)
	if _, err := pricing.FromFile(merged); err != nil {
		return fmt.Errorf("pricing sync: merged catalogue does not validate: %w", err)
	}
	diff := pricing.Diff(&current, merged)
	printDiff(stderr, &diff)
	body, err := yaml.Marshal(merged)
	if err != nil {
		return err
	}
	body = append([]byte(catalogueHeader), body...)
	if *out == "" {
		if _, err := stdout.Write(body); err != nil {
			return err
		}
	} else if err := os.WriteFile(*out, body, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "pricing sync: %d added, %d changed, %d unchanged, %d pinned, %d skipped (not routed or no per-unit price)\n",
		len(rep.Added), len(rep.Changed), len(rep.Unchanged), len(rep.Pinned), len(res.Skipped))
	for _, n := range rep.Added {
		fmt.Fprintf(stderr, "  added: %s\n", n)
	}
	for _, n := range rep.Changed {
		fmt.Fprintf(stderr, "  changed: %s\n", n)
	}
	for _, n := range rep.Pinned {
		fmt.Fprintf(stderr, "  pinned, kept: %s\n", n)
	}
	for _, n := range res.Ignored {
		fmt.Fprintf(stderr, "  ignored cost field the catalogue cannot express: %s\n", n)
	}
	for _, n := range res.Skipped {
		// Entries of providers spendgate does not route are expected; a bad
		// price of a routed provider needs a human look.
		if !strings.Contains(n, "is not one spendgate routes") {
			fmt.Fprintf(stderr, "  skipped: %s\n", n)
		}
	}
	if *out != "" {
		fmt.Fprintf(stderr, "review %s, then copy it to pricing/catalogue.yaml and rebuild\n", *out)
	}
	return nil
}

const catalogueHeader = `# spendgate pricing catalogue. Rates are exact decimal USD per 1,000,000 units of
# a usage class (input, cached_input, cache_write_5m, cache_write_1h, output,
# reasoning, audio_input, audio_output, image_input, image_output, web_searches,
# characters, seconds, images). Every entry names its source and the date it
# was checked. Generated by 'spendgate pricing sync' and reviewed by hand.
`

func readSource(ctx context.Context, from string) ([]byte, error) {
	if strings.HasPrefix(from, "http://") || strings.HasPrefix(from, "https://") {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, from, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("pricing sync: fetch %s: %w", from, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("pricing sync: fetch %s: HTTP %s", from, resp.Status)
		}
		return io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	}
	data, err := os.ReadFile(from)
	if err != nil {
		return nil, fmt.Errorf("pricing sync: %w", err)
	}
	return data, nil
}

func pricingShow(args []string) error {
	fs := newFlagSet("pricing show")
	provider := fs.String("provider", "", "provider id (required)")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if *provider == "" || fs.NArg() != 1 {
		return errors.New("usage: spendgate pricing show --provider P MODEL")
	}
	m, by, ok := pricing.Default().Lookup(*provider, fs.Arg(0))
	if !ok {
		return fmt.Errorf("no price for %s/%s in the catalogue", *provider, fs.Arg(0))
	}
	fmt.Printf("%s/%s (matched by %s; source %s, checked %s)\n", m.Provider, m.ID, by, m.Source, m.Checked)
	for _, p := range m.Prices {
		to := "open"
		if !p.EffectiveTo.IsZero() {
			to = p.EffectiveTo.Format(time.RFC3339)
		}
		fmt.Printf("  from %s to %s\n", p.EffectiveFrom.Format(time.RFC3339), to)
		printRates("", &p.Rates)
		for _, v := range []struct {
			name  string
			rates *pricing.Rates
		}{{"batch", p.Batch}, {"priority", p.Priority}, {"flex", p.Flex}} {
			if v.rates != nil {
				printRates(v.name+" ", v.rates)
			}
		}
		if lc := p.LongContext; lc != nil {
			fmt.Printf("    above %d input tokens:\n", lc.AboveInputTokens)
			printRates("  ", &lc.Rates)
			if lc.Priority != nil {
				printRates("  priority ", lc.Priority)
			}
		}
		if p.RequestFeeNanoUSD > 0 {
			fmt.Printf("    request fee $%s\n", money.FormatNano(p.RequestFeeNanoUSD))
		}
		for i, fee := range p.RequestFeeBySearchContext {
			if fee >= 0 {
				fmt.Printf("    request fee with %s search context $%s\n", pricing.SearchContextSizes[i], money.FormatNano(fee))
			}
		}
	}
	if m.Pinned != "" {
		fmt.Printf("  pinned: %s\n", m.Pinned)
	}
	return nil
}

func printRates(label string, r *pricing.Rates) {
	for _, name := range pricing.ClassNames() {
		c, _ := pricing.ClassByName(name)
		if v, ok := r.Get(c); ok {
			fmt.Printf("    %s%-15s $%s / 1M\n", label, name, money.FormatNano(v))
		}
	}
}

func pricingCost(args []string) error {
	fs := newFlagSet("pricing cost")
	provider := fs.String("provider", "", "provider id (required)")
	model := fs.String("model", "", "model name as sent to the provider (required)")
	at := fs.String("at", "", "price in force at this RFC 3339 time (default: latest)")
	tier := fs.String("service-tier", "", "priority, flex or batch (default: the usage object's service_tier, else standard)")
	searchContext := fs.String("search-context-size", "", "low, medium or high (default: the usage object's search_context_size)")
	batch := fs.Bool("batch", false, "batch API price")
	raw := fs.String("usage", "", "usage JSON: normalised classes ({\"input\":10,...}) or the provider's own usage object with --raw")
	rawKind := fs.String("raw", "", "parse --usage as a provider usage object: openai, anthropic or gemini")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if *provider == "" || *model == "" || *raw == "" {
		return errors.New("usage: spendgate pricing cost --provider P --model M --usage JSON [--raw openai|anthropic|gemini]")
	}
	var tok usage.Tokens
	var hints usage.Hints
	var err error
	switch *rawKind {
	case "":
		err = json.Unmarshal([]byte(*raw), &tok)
	case "openai":
		tok, err = usage.ParseOpenAI([]byte(*raw))
	case "anthropic":
		tok, err = usage.ParseAnthropic([]byte(*raw))
	case "gemini":
		tok, err = usage.ParseGemini([]byte(*raw))
	default:
		return fmt.Errorf("--raw must be openai, anthropic or gemini, not %q", *rawKind)
	}
	if err != nil {
		return fmt.Errorf("usage: %w", err)
	}
	if *rawKind != "" {
		hints = usage.ParseHints([]byte(*raw))
	}
	req := pricing.Request{Provider: *provider, Model: *model, ServiceTier: hints.ServiceTier, Batch: *batch,
		SearchContextSize: hints.SearchContextSize}
	if *tier != "" {
		req.ServiceTier = *tier
	}
	if *searchContext != "" {
		req.SearchContextSize = *searchContext
	}
	if *at != "" {
		if req.Time, err = time.Parse(time.RFC3339, *at); err != nil {
			return fmt.Errorf("--at: %w", err)
		}
	}
	c := pricing.Default().Cost(req, tok, nil)
	if !c.Priced && c.UnratedClasses == "" {
		return fmt.Errorf("no price for %s/%s: the cost is unknown (add it to the catalogue or a tenant override)", *provider, *model)
	}
	fmt.Printf("%s/%s matched %s by %s, tier %s\n", *provider, *model, c.Model, c.MatchedBy, c.Tier)
	for _, l := range c.Lines {
		fmt.Printf("  %-15s %12d × $%s/1M = $%s\n", l.Class, l.Quantity, money.FormatNano(l.RateNanoUSD), money.FormatNano(l.AmountNanoUSD))
	}
	if c.RequestFeeNanoUSD > 0 {
		fmt.Printf("  request fee $%s\n", money.FormatNano(c.RequestFeeNanoUSD))
	}
	if c.HasProviderReported {
		fmt.Printf("  computed $%s; the provider reported $%s, which is the list cost\n",
			money.FormatNano(c.ComputedListNanoUSD), money.FormatNano(c.ProviderReportedNanoUSD))
	}
	if c.UnratedClasses != "" {
		fmt.Printf("  no rate for %s: this cost is incomplete\n", c.UnratedClasses)
	}
	if !c.Priced {
		fmt.Println("  total unknown: events like this are stored unpriced until the missing rate is added")
		return nil
	}
	fmt.Printf("  total $%s\n", money.FormatNano(c.ListNanoUSD))
	return nil
}

func pricingList(args []string) error {
	fs := newFlagSet("pricing list")
	provider := fs.String("provider", "", "only this provider")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	for _, m := range pricing.Default().Models() {
		if *provider != "" && m.Provider != *provider {
			continue
		}
		p := m.Prices[len(m.Prices)-1]
		in, _ := p.Rates.Get(pricing.Input)
		out, _ := p.Rates.Get(pricing.Output)
		fmt.Printf("%-11s %-45s in $%-8s out $%-8s /1M  (%s)\n", m.Provider, m.ID, money.FormatNano(max(in, 0)), money.FormatNano(max(out, 0)), m.Checked)
	}
	return nil
}
