// Package report holds scheduled spend reports: their definitions (who gets
// what, how often, in which time zone), when they run and which period a run
// covers, and the content of one report (spend against the previous period,
// top movers, budgets, anomalies, recommendations) with its CSV and PDF
// renderings. Storage, delivery and authorization live beside it
// (report/pgstore, report/service, mail); this package does no I/O of its own
// beyond the small interfaces its generator is given.
package report

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Frequency says how often a report is sent.
type Frequency string

// Frequencies.
const (
	// Weekly reports go out on Monday at SendHour in the report's time zone
	// and cover the week (Monday to Monday) before.
	Weekly Frequency = "weekly"
	// Monthly reports go out on the 1st at SendHour and cover the month before.
	Monthly Frequency = "monthly"
	// Cron reports go out at the times of a cron expression and cover the
	// time since the expression's previous time.
	Cron Frequency = "cron"
)

// SendHour is the local hour weekly and monthly reports are sent at: the
// start of a working day, after the night's late events have arrived.
const SendHour = 8

// ScopeKind says which spend a report covers.
type ScopeKind string

// Scope kinds.
const (
	ScopeTenant  ScopeKind = "tenant"
	ScopeTeam    ScopeKind = "team"
	ScopeProject ScopeKind = "project"
)

// Scope is the tenant, or one team or project of it (NodeID).
type Scope struct {
	Kind   ScopeKind
	NodeID string
}

// Limits of a definition.
const (
	MaxRecipients = 50
	MaxNameLength = 200
)

// Definition is a scheduled report.
type Definition struct {
	ID, TenantID, Name string
	Frequency          Frequency
	// Cron is the expression of a Cron report: five fields (minute hour
	// day-of-month month day-of-week) or a descriptor such as @daily.
	Cron string
	// TimeZone is an IANA zone name ("Europe/Berlin"); periods and send
	// times are local to it.
	TimeZone string
	Scope    Scope
	// Emails receive the report with its CSV and PDF attached.
	Emails []string
	// SlackWebhookURL, when set, receives a summary and a link to the portal.
	SlackWebhookURL string
	Enabled         bool
	// NextRunAt is when the report is sent next (computed, not set by callers).
	NextRunAt time.Time
	LastRunAt *time.Time
	LastError string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ErrInvalid marks a definition that cannot be saved as given.
var ErrInvalid = errors.New("report: invalid definition")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Validate checks a definition and returns every problem at once.
func (d *Definition) Validate() error {
	var errs []error
	if n := len(strings.TrimSpace(d.Name)); n == 0 || n > MaxNameLength {
		errs = append(errs, invalid("name must be 1 to %d characters", MaxNameLength))
	}
	if _, err := d.Location(); err != nil {
		errs = append(errs, err)
	}
	switch d.Frequency {
	case Weekly, Monthly:
		if d.Cron != "" {
			errs = append(errs, invalid("a %s report takes no cron expression (use frequency cron)", d.Frequency))
		}
	case Cron:
		if _, err := d.cronSchedule(); err != nil {
			errs = append(errs, err)
		}
	default:
		errs = append(errs, invalid("frequency must be weekly, monthly or cron, not %q", d.Frequency))
	}
	switch d.Scope.Kind {
	case ScopeTenant:
		if d.Scope.NodeID != "" {
			errs = append(errs, invalid("a tenant-wide report names no team or project"))
		}
	case ScopeTeam, ScopeProject:
		if d.Scope.NodeID == "" {
			errs = append(errs, invalid("a %s report needs the %s's id", d.Scope.Kind, d.Scope.Kind))
		}
	default:
		errs = append(errs, invalid("scope must be tenant, team or project, not %q", d.Scope.Kind))
	}
	errs = append(errs, validateRecipients(d.Emails, d.SlackWebhookURL)...)
	return errors.Join(errs...)
}

func validateRecipients(emails []string, slack string) []error {
	var errs []error
	if len(emails) == 0 && slack == "" {
		errs = append(errs, invalid("a report needs at least one email recipient or a Slack webhook URL"))
	}
	if len(emails) > MaxRecipients {
		errs = append(errs, invalid("%d email recipients; at most %d are allowed", len(emails), MaxRecipients))
	}
	seen := map[string]bool{}
	for _, e := range emails {
		if err := ValidEmail(e); err != nil {
			errs = append(errs, err)
			continue
		}
		if k := strings.ToLower(e); seen[k] {
			errs = append(errs, invalid("email recipient %q is given twice", e))
		} else {
			seen[k] = true
		}
	}
	if slack != "" {
		u, err := url.Parse(slack)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, invalid("Slack webhook URL %q must be an https:// URL (https://hooks.slack.com/services/…)", slack))
		}
	}
	return errs
}

// ValidEmail checks one recipient: a bare address (user@example.com),
// without a display name or angle brackets, since it goes into RCPT TO.
func ValidEmail(e string) error {
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" || !strings.Contains(e[strings.LastIndexByte(e, '@')+1:], ".") {
		return invalid("email recipient %q is not an address like name@example.com", e)
	}
	return nil
}

// Location loads the definition's time zone ("" is UTC).
func (d *Definition) Location() (*time.Location, error) {
	if d.TimeZone == "" {
		return time.UTC, nil
	}
	// time.LoadLocation accepts "Local" and relative paths; only IANA names
	// mean the same on every replica.
	if d.TimeZone == "Local" || strings.HasPrefix(d.TimeZone, "/") || strings.Contains(d.TimeZone, "..") {
		return nil, invalid("time zone %q: use an IANA name such as Europe/Berlin or America/New_York", d.TimeZone)
	}
	loc, err := time.LoadLocation(d.TimeZone)
	if err != nil {
		return nil, invalid("time zone %q is not a known IANA time zone (such as Europe/Berlin or America/New_York)", d.TimeZone)
	}
	return loc, nil
}

func (d *Definition) cronSchedule() (cron.Schedule, error) {
	if strings.TrimSpace(d.Cron) == "" {
		return nil, invalid("a cron report needs a cron expression, e.g. \"0 8 * * 1\" (Mondays at 08:00)")
	}
	if strings.HasPrefix(strings.TrimSpace(d.Cron), "@every") {
		return nil, invalid("cron %q: @every has no calendar period; use five fields or @daily/@weekly/@monthly", d.Cron)
	}
	if strings.Contains(d.Cron, "TZ=") {
		return nil, invalid("cron %q: set the time zone in the time zone field, not in the expression", d.Cron)
	}
	s, err := cronParser.Parse(d.Cron)
	if err != nil {
		return nil, invalid("cron %q: %v (five fields: minute hour day-of-month month day-of-week, e.g. \"0 8 * * 1\")", d.Cron, err)
	}
	// An expression that fires more than hourly would mail people all day.
	first := s.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if first.IsZero() {
		return nil, invalid("cron %q never fires (a day that no month has?)", d.Cron)
	}
	if second := s.Next(first); second.Sub(first) < time.Hour {
		return nil, invalid("cron %q fires every %s; reports go out at most hourly", d.Cron, second.Sub(first))
	}
	return s, nil
}

// Next is the first send time strictly after t.
func (d *Definition) Next(t time.Time) (time.Time, error) {
	loc, err := d.Location()
	if err != nil {
		return time.Time{}, err
	}
	local := t.In(loc)
	switch d.Frequency {
	case Weekly:
		day := time.Date(local.Year(), local.Month(), local.Day(), SendHour, 0, 0, 0, loc)
		day = day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7)) // this week's Monday
		for !day.After(t) {
			day = day.AddDate(0, 0, 7)
		}
		return day.UTC(), nil
	case Monthly:
		m := time.Date(local.Year(), local.Month(), 1, SendHour, 0, 0, 0, loc)
		for !m.After(t) {
			m = m.AddDate(0, 1, 0)
		}
		return m.UTC(), nil
	case Cron:
		s, err := d.cronSchedule()
		if err != nil {
			return time.Time{}, err
		}
		return s.Next(local).UTC(), nil
	}
	return time.Time{}, invalid("frequency must be weekly, monthly or cron, not %q", d.Frequency)
}

// Period is the time one report covers, [From, To), and the period before it
// of the same kind (the previous week or calendar month, or for cron the
// same length just before), which the report compares with.
type Period struct {
	From, To         time.Time
	PrevFrom, PrevTo time.Time
}

// PeriodAt is the period a report sent at sendAt covers: the last whole
// week or month before it in the report's zone, or for cron reports the
// time since the expression's previous time.
func (d *Definition) PeriodAt(sendAt time.Time) (Period, error) {
	loc, err := d.Location()
	if err != nil {
		return Period{}, err
	}
	local := sendAt.In(loc)
	switch d.Frequency {
	case Weekly:
		to := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
		to = to.AddDate(0, 0, -((int(to.Weekday()) + 6) % 7))
		from := to.AddDate(0, 0, -7)
		return Period{From: from.UTC(), To: to.UTC(), PrevFrom: from.AddDate(0, 0, -7).UTC(), PrevTo: from.UTC()}, nil
	case Monthly:
		to := time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, loc)
		from := to.AddDate(0, -1, 0)
		return Period{From: from.UTC(), To: to.UTC(), PrevFrom: from.AddDate(0, -1, 0).UTC(), PrevTo: from.UTC()}, nil
	case Cron:
		s, err := d.cronSchedule()
		if err != nil {
			return Period{}, err
		}
		from, err := previousFire(s, local)
		if err != nil {
			return Period{}, err
		}
		span := local.Sub(from)
		return Period{From: from.UTC(), To: sendAt.UTC(), PrevFrom: from.Add(-span).UTC(), PrevTo: from.UTC()}, nil
	}
	return Period{}, invalid("frequency must be weekly, monthly or cron, not %q", d.Frequency)
}

// previousFire is the schedule's last time strictly before t (cron
// schedules only go forward: look back ever further and walk up to t).
func previousFire(s cron.Schedule, t time.Time) (time.Time, error) {
	for _, back := range []time.Duration{time.Hour, 25 * time.Hour, 8 * 24 * time.Hour, 32 * 24 * time.Hour, 367 * 24 * time.Hour, 5 * 367 * 24 * time.Hour} {
		last := time.Time{}
		for n := s.Next(t.Add(-back)); !n.IsZero() && n.Before(t); n = s.Next(n) {
			last = n
		}
		if !last.IsZero() {
			return last, nil
		}
	}
	return time.Time{}, invalid("the cron expression has no time in the five years before %s", t.Format(time.RFC3339))
}

// Slot is the latest send time at or before t: the schedule time a run at
// t sends the report of (a run may start late: after downtime or a retry).
func (d *Definition) Slot(t time.Time) (time.Time, error) {
	for _, back := range []time.Duration{time.Hour, 25 * time.Hour, 8 * 24 * time.Hour, 32 * 24 * time.Hour, 367 * 24 * time.Hour, 5 * 367 * 24 * time.Hour} {
		last := time.Time{}
		n, err := d.Next(t.Add(-back))
		for ; err == nil && !n.IsZero() && !n.After(t); n, err = d.Next(n) {
			last = n
		}
		if err != nil {
			return time.Time{}, err
		}
		if !last.IsZero() {
			return last, nil
		}
	}
	return time.Time{}, invalid("the schedule has no time in the five years before %s", t.Format(time.RFC3339))
}
