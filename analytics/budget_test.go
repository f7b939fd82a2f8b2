package analytics

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/apierr"
)

func TestRawBudget(t *testing.T) {
	t.Parallel()
	to := time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)
	cases := map[string]struct {
		from           time.Time
		events, budget uint64
		want           string // "" when allowed
	}{
		"within the budget":     {to.Add(-90 * 24 * time.Hour), 20_000_000, 20_000_000, ""},
		"90 days over a budget": {to.Add(-90 * 24 * time.Hour), 100_000_000, 20_000_000, "choose a range of at most 18 days, e.g. from 2026-03-13T00:00:00Z to 2026-03-31T00:00:00Z"},
		"hours when under two days": {to.Add(-10 * 24 * time.Hour), 100_000_000, 15_000_000,
			"holds 100000000 of them, more than the 15000000 one query may read: choose a range of at most 36 hours"},
		"never less than an hour": {to.Add(-2 * time.Hour), 1_000_000_000, 1, "at most 1 hour, e.g."},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := RawBudget(c.from, to, c.events, c.budget)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var cpErr *apierr.Error
			if !errors.As(err, &cpErr) || cpErr.Code != apierr.CodeInvalidArgument || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want INVALID_ARGUMENT with %q", err, c.want)
			}
		})
	}
}
