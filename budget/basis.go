package budget

import (
	"fmt"
	"slices"
	"time"
)

// SpendBasis says what a budget counts as spent in a period. This file is
// the one owner of the rule: the reservation store, the blocked checks, the
// status screens and the threshold alerts all ask Counted.
type SpendBasis string

// Spend bases.
const (
	// BasisMetered counts what spendgate metered (the default).
	BasisMetered SpendBasis = "metered"
	// BasisMaxMeteredReported counts the larger of what spendgate metered
	// and what the providers themselves reported for the period's days
	// (package reconcile), so spend that bypassed the proxy still counts.
	BasisMaxMeteredReported SpendBasis = "max_metered_reported"
)

// ParseSpendBasis checks a basis name; "" is BasisMetered.
func ParseSpendBasis(s string) (SpendBasis, error) {
	switch b := SpendBasis(s); b {
	case "":
		return BasisMetered, nil
	case BasisMetered, BasisMaxMeteredReported:
		return b, nil
	}
	return "", fmt.Errorf("%w: spend basis must be metered or max_metered_reported, not %q", ErrInvalid, s)
}

// UsesReported reports whether b counts provider-reported spend.
func (b *Budget) UsesReported() bool { return b.SpendBasis == BasisMaxMeteredReported }

// Counted is what budget b has spent in a period: the metered spend, or for
// a budget on the max basis the larger of metered and provider-reported.
// A provider's report and spendgate's meter count the same calls (reports
// do not add to metering), so the larger of the two is the best estimate
// of what was really spent, never their sum.
func (b *Budget) Counted(metered, reported int64) int64 {
	if b.UsesReported() {
		return max(metered, reported)
	}
	return metered
}

// reportedProviders are the metered providers whose provider report covers
// exactly their spend (reconcile pulls OpenAI's and Anthropic's admin APIs
// per organization). A Google billing export covers Gemini API and Vertex
// AI together, so neither of those can be a provider budget on reported
// spend: it would count the other's spend too.
var reportedProviders = []string{"openai", "anthropic"}

// ReportedProvider is which provider's reports count toward b: "" for a
// tenant budget (every provider's), the provider of a provider budget.
// ok is false when b cannot count reported spend (checked by Validate).
func (b *Budget) ReportedProvider() (provider string, ok bool) {
	switch b.Scope {
	case ScopeTenant:
		return "", true
	case ScopeProvider:
		return b.Provider, slices.Contains(reportedProviders, b.Provider)
	}
	return "", false
}

// validateBasis checks that a budget on reported spend is one reports can
// be attributed to: providers report per organization, day and model, never
// per key, team, project, workspace or dimension, and a model budget would
// need a model-by-model match of names the providers spell their own way.
func (b *Budget) validateBasis() error {
	basis, err := ParseSpendBasis(string(b.SpendBasis))
	if err != nil {
		return err
	}
	b.SpendBasis = basis
	if !b.UsesReported() {
		return nil
	}
	if _, ok := b.ReportedProvider(); ok {
		return nil
	}
	if b.Scope == ScopeProvider {
		return fmt.Errorf("%w: provider-reported spend counts only on openai and anthropic provider budgets: Google's billing export covers gemini and vertex_ai together; use a tenant budget", ErrInvalid)
	}
	return fmt.Errorf("%w: provider-reported spend counts only on tenant and provider budgets: providers report per organization, day and model, so it cannot be attributed to a %s budget", ErrInvalid, b.Scope)
}

// ReportedDays is the half-open range of UTC days [from, to) whose
// provider reports count toward the period [start, end): every budget
// period starts and ends at 00:00 UTC, so a day's report belongs to exactly
// one period and no day is split.
func ReportedDays(start, end time.Time) (from, to time.Time) {
	return start.UTC().Truncate(24 * time.Hour), end.UTC().Truncate(24 * time.Hour)
}
