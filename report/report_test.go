package report

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func valid() Definition {
	return Definition{TenantID: "t", Name: "Weekly", Frequency: Weekly, TimeZone: "Europe/Berlin", Scope: Scope{Kind: ScopeTenant},
		Emails: []string{"finance@example.com"}}
}

func TestValidateSaysWhatIsWrong(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		change func(*Definition)
		want   []string
	}{
		"unknown time zone":     {func(d *Definition) { d.TimeZone = "Mars/Olympus" }, []string{`time zone "Mars/Olympus" is not a known IANA time zone`}},
		"Local is not portable": {func(d *Definition) { d.TimeZone = "Local" }, []string{`time zone "Local": use an IANA name`}},
		"bad cron": {func(d *Definition) { d.Frequency, d.Cron = Cron, "61 8 * * *" }, []string{`cron "61 8 * * *": end of range (61) above maximum (59)`,
			"five fields"}},
		"cron too often":       {func(d *Definition) { d.Frequency, d.Cron = Cron, "*/5 * * * *" }, []string{"fires every 5m0s; reports go out at most hourly"}},
		"cron never fires":     {func(d *Definition) { d.Frequency, d.Cron = Cron, "0 8 30 2 *" }, []string{`cron "0 8 30 2 *" never fires`}},
		"cron missing":         {func(d *Definition) { d.Frequency = Cron }, []string{"a cron report needs a cron expression"}},
		"@every has no period": {func(d *Definition) { d.Frequency, d.Cron = Cron, "@every 2h" }, []string{"@every has no calendar period"}},
		"TZ in cron":           {func(d *Definition) { d.Frequency, d.Cron = Cron, "TZ=UTC 0 8 * * *" }, []string{"set the time zone in the time zone field"}},
		"cron on weekly":       {func(d *Definition) { d.Cron = "0 8 * * *" }, []string{"a weekly report takes no cron expression"}},
		"frequency":            {func(d *Definition) { d.Frequency = "daily" }, []string{`frequency must be weekly, monthly or cron, not "daily"`}},
		"bad recipients": {func(d *Definition) { d.Emails = []string{"Bob <bob@example.com>", "nobody", "a@b.com", "A@b.com"} }, []string{
			`"Bob <bob@example.com>" is not an address`, `"nobody" is not an address`, `"A@b.com" is given twice`}},
		"nobody to send to":   {func(d *Definition) { d.Emails = nil }, []string{"at least one email recipient or a Slack webhook URL"}},
		"slack must be https": {func(d *Definition) { d.SlackWebhookURL = "http://hooks.slack.com/x" }, []string{"must be an https:// URL"}},
		"team needs an id":    {func(d *Definition) { d.Scope = Scope{Kind: ScopeTeam} }, []string{"a team report needs the team's id"}},
		"scope":               {func(d *Definition) { d.Scope = Scope{Kind: "key"} }, []string{`scope must be tenant, team or project, not "key"`}},
		"several at once":     {func(d *Definition) { d.Name, d.TimeZone = "", "Nowhere" }, []string{"name must be 1 to 200", `time zone "Nowhere"`}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := valid()
			c.change(&d)
			err := d.Validate()
			if err == nil || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v, want ErrInvalid", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant %q", err, w)
				}
			}
		})
	}
	d := valid()
	if err := d.Validate(); err != nil {
		t.Fatalf("valid definition: %v", err)
	}
}

func TestNextAndPeriodInTheReportsZone(t *testing.T) {
	t.Parallel()
	berlin, _ := time.LoadLocation("Europe/Berlin")
	ny, _ := time.LoadLocation("America/New_York")
	at := func(loc *time.Location, y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, loc)
	}
	cases := map[string]struct {
		d        Definition
		now      time.Time
		next     time.Time
		from, to time.Time
		prevFrom time.Time
	}{
		"weekly: next Monday 08:00 Berlin, covering the week before": {
			d: Definition{Frequency: Weekly, TimeZone: "Europe/Berlin"}, now: at(berlin, 2026, 12, 3, 12, 0),
			next: at(berlin, 2026, 12, 7, 8, 0), from: at(berlin, 2026, 11, 30, 0, 0), to: at(berlin, 2026, 12, 7, 0, 0), prevFrom: at(berlin, 2026, 11, 23, 0, 0)},
		"weekly on Monday 08:00 itself is next week's": {
			d: Definition{Frequency: Weekly, TimeZone: "Europe/Berlin"}, now: at(berlin, 2026, 12, 7, 8, 0),
			next: at(berlin, 2026, 12, 14, 8, 0), from: at(berlin, 2026, 12, 7, 0, 0), to: at(berlin, 2026, 12, 14, 0, 0), prevFrom: at(berlin, 2026, 11, 30, 0, 0)},
		"monthly across the DST change: the month is local": {
			d: Definition{Frequency: Monthly, TimeZone: "America/New_York"}, now: at(ny, 2026, 10, 20, 0, 0),
			next: at(ny, 2026, 11, 1, 8, 0), from: at(ny, 2026, 10, 1, 0, 0), to: at(ny, 2026, 11, 1, 0, 0), prevFrom: at(ny, 2026, 9, 1, 0, 0)},
		"cron weekdays 07:30 UTC covers since the previous time": {
			d: Definition{Frequency: Cron, Cron: "30 7 * * 1-5"}, now: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC), // a Friday
			next: time.Date(2026, 12, 7, 7, 30, 0, 0, time.UTC), from: time.Date(2026, 12, 4, 7, 30, 0, 0, time.UTC),
			to: time.Date(2026, 12, 7, 7, 30, 0, 0, time.UTC), prevFrom: time.Date(2026, 12, 1, 7, 30, 0, 0, time.UTC)},
		"cron in the tenant's zone": {
			d: Definition{Frequency: Cron, Cron: "0 9 1 * *", TimeZone: "Europe/Berlin"}, now: at(berlin, 2026, 12, 1, 10, 0),
			next: at(berlin, 2027, 1, 1, 9, 0), from: at(berlin, 2026, 12, 1, 9, 0), to: at(berlin, 2027, 1, 1, 9, 0), prevFrom: at(berlin, 2026, 10, 31, 9, 0)},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			next, err := c.d.Next(c.now)
			if err != nil || !next.Equal(c.next) {
				t.Fatalf("next %s (%v), want %s", next.In(c.next.Location()), err, c.next)
			}
			p, err := c.d.PeriodAt(next)
			if err != nil {
				t.Fatal(err)
			}
			if !p.From.Equal(c.from) || !p.To.Equal(c.to) || !p.PrevFrom.Equal(c.prevFrom) || !p.PrevTo.Equal(c.from) {
				t.Fatalf("period %s..%s prev %s..%s, want %s..%s prev from %s", p.From, p.To, p.PrevFrom, p.PrevTo, c.from, c.to, c.prevFrom)
			}
		})
	}
}
