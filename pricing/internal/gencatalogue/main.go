// Command gencatalogue writes pricing/catalogue.yaml from the reviewed
// entries and a copy of LiteLLM's price file (see pricing.Generate). Run it
// with `go generate ./pricing`; review the report it prints and the diff of
// catalogue.yaml before committing.
package main

import (
	"flag"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"

	"github.com/spendgate/spendgate/pricing"
)

func main() {
	reviewed := flag.String("reviewed", "sources/reviewed.yaml", "reviewed entries")
	litellm := flag.String("litellm", "sources/litellm_model_prices.json", "copy of LiteLLM's model_prices_and_context_window.json")
	ref := flag.String("ref", pricing.LiteLLMCopyRef, "what the LiteLLM copy is (commit or date), recorded as each imported entry's source")
	date := flag.String("date", pricing.LiteLLMCopyDate, "YYYY-MM-DD the LiteLLM copy was taken")
	out := flag.String("out", "catalogue.yaml", "catalogue to write")
	strict := flag.Bool("strict", true, "fail when an entry labelled LiteLLM-sourced is not in the file")
	flag.Parse()
	if err := run(*reviewed, *litellm, *ref, *date, *out, *strict); err != nil {
		fmt.Fprintln(os.Stderr, "gencatalogue:", err)
		os.Exit(1)
	}
}

func run(reviewedPath, litellmPath, ref, date, out string, strict bool) error {
	if ref == "" || date == "" {
		return fmt.Errorf("-ref and -date are required")
	}
	data, err := os.ReadFile(reviewedPath)
	if err != nil {
		return err
	}
	var reviewed pricing.File
	if err := yaml.UnmarshalStrict(data, &reviewed); err != nil {
		return fmt.Errorf("%s: %w", reviewedPath, err)
	}
	raw, err := os.ReadFile(litellmPath)
	if err != nil {
		return err
	}
	f, rep, err := pricing.Generate(&reviewed, raw, ref, date)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "gencatalogue: %d models: %d added from LiteLLM, %d corrected, %d filled, %d conflicts kept, %d orphans, %d LiteLLM entries skipped\n",
		len(f.Models), len(rep.Added), len(rep.Corrected), len(rep.Filled), len(rep.Conflicts), len(rep.Orphans), rep.Skipped)
	for _, s := range rep.Corrected {
		fmt.Fprintln(os.Stderr, "  corrected:", s)
	}
	for _, s := range rep.Filled {
		fmt.Fprintln(os.Stderr, "  filled from LiteLLM:", s)
	}
	for _, s := range rep.Conflicts {
		fmt.Fprintln(os.Stderr, "  conflict:", s)
	}
	for _, s := range rep.Orphans {
		fmt.Fprintln(os.Stderr, "  orphan (labelled LiteLLM, not in the file):", s)
	}
	if strict && len(rep.Orphans) > 0 {
		return fmt.Errorf("%d entries are labelled LiteLLM-sourced but the file does not have them: give them their real source in %s", len(rep.Orphans), reviewedPath)
	}
	body, err := pricing.MarshalGenerated(f)
	if err != nil {
		return err
	}
	return os.WriteFile(out, body, 0o644)
}
