package billing

import (
	"fmt"
	"strings"
	"time"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/spend"
)

// Settings are a tenant's billing settings.
type Settings struct {
	// TimeZone is the IANA zone billing periods are cut in ("UTC" default).
	TimeZone string
	// PeriodStartDay is the day of the month a period starts (1..28; 1 is
	// the calendar month). 29–31 are refused: not every month has them.
	PeriodStartDay int
	// GroupBy splits invoice lines per provider × model further: "" (no
	// split), team, project, workspace or dim:<name>.
	GroupBy string
}

// DefaultSettings bill calendar months in UTC, one line per provider × model.
func DefaultSettings() Settings { return Settings{TimeZone: "UTC", PeriodStartDay: 1} }

// Validate says what is wrong with s, if anything.
func (s Settings) Validate() error {
	if _, err := time.LoadLocation(s.TimeZone); err != nil || s.TimeZone == "" || strings.EqualFold(s.TimeZone, "local") {
		return apierr.Invalid("timeZone %q is not an IANA time zone (e.g. UTC, Europe/Berlin)", s.TimeZone)
	}
	if s.PeriodStartDay < 1 || s.PeriodStartDay > 28 {
		return apierr.Invalid("periodStartDay must be between 1 and 28 (every month has those days); got %d", s.PeriodStartDay)
	}
	return ValidGroupBy(s.GroupBy, true)
}

// ValidGroupBy checks a grouping name; empty is allowed when allowNone.
func ValidGroupBy(g string, allowNone bool) error {
	switch g {
	case "team", "project", "workspace":
		return nil
	case "":
		if allowNone {
			return nil
		}
		return apierr.Invalid("groupBy is required: team, project, workspace or dim:<name>")
	}
	if d, ok := strings.CutPrefix(g, "dim:"); ok && spend.ValidDimensionName(d) {
		return nil
	}
	return apierr.Invalid("groupBy %q: use team, project, workspace or dim:<name> (letters, digits, _ . -)", g)
}

func (s Settings) location() *time.Location {
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Period is one billing period [Start, End), cut in a time zone. Label names
// it by the month it starts in: "2026-11".
type Period struct {
	Label      string
	Start, End time.Time
	TimeZone   string
}

// PeriodOf parses a period label (YYYY-MM) under s.
func (s Settings) PeriodOf(label string) (Period, error) {
	t, err := time.Parse("2006-01", label)
	if err != nil || t.Year() < 2000 || t.Year() > 9999 {
		return Period{}, apierr.Invalid("period %q is not a month: write YYYY-MM, e.g. 2026-11", label)
	}
	return s.periodStarting(t.Year(), t.Month()), nil
}

func (s Settings) periodStarting(year int, month time.Month) Period {
	loc := s.location()
	start := time.Date(year, month, s.PeriodStartDay, 0, 0, 0, 0, loc)
	end := time.Date(year, month+1, s.PeriodStartDay, 0, 0, 0, 0, loc)
	return Period{Label: fmt.Sprintf("%04d-%02d", start.Year(), int(start.Month())), Start: start.UTC(), End: end.UTC(), TimeZone: s.TimeZone}
}

// PeriodContaining is the period t falls in.
func (s Settings) PeriodContaining(t time.Time) Period {
	local := t.In(s.location())
	y, m := local.Year(), local.Month()
	if local.Day() < s.PeriodStartDay {
		m--
	}
	return s.periodStarting(y, m)
}

// Previous is the period before p (under the settings p was cut with).
func (s Settings) Previous(p Period) Period {
	return s.PeriodContaining(p.Start.Add(-time.Second))
}

func formatNumber(n int64) string { return fmt.Sprintf("INV-%06d", n) }
