package pricing

import (
	"slices"
	"testing"

	"github.com/spendgate/spendgate/meter"
)

// TestProvidersAreTheKnownProviders keeps the catalogue's provider list equal
// to meter.KnownProviderIDs, the one list of providers a tenant may name
// (routed and record-only): a provider tenants could name but the catalogue
// rejected would make its overrides unstorable, and the reverse would price
// events no key could be allowed to record.
func TestProvidersAreTheKnownProviders(t *testing.T) {
	got, want := slices.Clone(Providers), meter.KnownProviderIDs()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("pricing.Providers %v, meter.KnownProviderIDs %v", got, want)
	}
}
