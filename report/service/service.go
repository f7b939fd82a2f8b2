// Package service manages and sends scheduled reports: definitions are
// created, changed and deleted by tenant admins, and a team's or project's
// also by its team admins and project members (validated, audited); each
// enabled definition is one job of the shared Postgres scheduler
// ("report:<id>", on the definition's calendar), and a run generates the
// report of its period and delivers it by email (CSV and PDF attached) and
// to a Slack incoming webhook (a summary and a link to the portal).
package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/egress"
	"github.com/spendgate/spendgate/mail"
	"github.com/spendgate/spendgate/org"
	"github.com/spendgate/spendgate/report"
	"github.com/spendgate/spendgate/report/pgstore"
	"github.com/spendgate/spendgate/schedule"
)

// Tenants authorizes callers, finds nodes of the tree and audits actions
// outside Postgres (the control plane).
type Tenants interface {
	// Access is what the caller may do in the tenant (FORBIDDEN for a
	// non-member).
	Access(ctx context.Context, tenantID string) (org.Access, error)
	// Tree lists the nodes the caller reads, with their paths.
	Tree(ctx context.Context, tenantID string) ([]controlplane.Node, error)
	AuditedAction(ctx context.Context, tenantID string, need controlplane.Role, action, targetType, targetID string,
		details map[string]any, do func(ctx context.Context) error) error
}

// Mailer sends email (mail.Sender).
type Mailer interface {
	Send(ctx context.Context, m *mail.Message) error
}

// Scheduler is what the service asks of the shared scheduler: forget a
// deleted or rescheduled report's job, and read its row.
type Scheduler interface {
	Forget(ctx context.Context, name string) error
	JobStatus(ctx context.Context, name string) (schedule.Status, error)
}

// Config wires the service.
type Config struct {
	Store     *pgstore.Store
	Generator *report.Generator
	Tenants   Tenants
	// Mailer sends the emails; nil: email is not configured on this server,
	// and definitions with email recipients are refused with that reason.
	Mailer Mailer
	// Scheduler may be nil (no job bookkeeping: tests and the API without
	// the scheduler).
	Scheduler Scheduler
	// HTTP posts to Slack webhooks; nil: a client dialling only what Egress
	// allows, with a 10 s timeout.
	HTTP   *http.Client
	Egress *egress.Policy
	// PortalURL is the portal's external URL, linked from Slack and email.
	PortalURL string
	Log       *slog.Logger
	Now       func() time.Time
}

// Service manages and sends reports.
type Service struct{ cfg Config }

// New builds the service.
func New(cfg Config) *Service {
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 10 * time.Second, Transport: cfg.Egress.Transport()}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg}
}

// JobName is the scheduler's name of a definition's job.
func JobName(id string) string { return "report:" + id }

// Report is a definition with its schedule state.
type Report struct {
	report.Definition
	// Schedule is the job's row (nil before its first run or without a
	// scheduler).
	Schedule *schedule.Status
}

func clientErr(err error) error {
	switch {
	case errors.Is(err, report.ErrInvalid):
		msgs := []string{}
		for _, line := range strings.Split(err.Error(), "\n") {
			msgs = append(msgs, strings.TrimPrefix(line, report.ErrInvalid.Error()+": "))
		}
		return apierr.Invalid("%s", strings.Join(msgs, "; "))
	case errors.Is(err, pgstore.ErrNotFound):
		return controlplane.NotFound("report")
	case errors.Is(err, pgstore.ErrNoNode):
		return apierr.Invalid("the report's team or project is not in this tenant")
	}
	return err
}

// check validates d for saving in its tenant.
func (s *Service) check(ctx context.Context, d *report.Definition) error {
	if err := d.Validate(); err != nil {
		return clientErr(err)
	}
	if len(d.Emails) > 0 && s.cfg.Mailer == nil {
		return apierr.Invalid("email is not configured on this server (the operator sets --smtp-host and --smtp-from); use a Slack webhook or ask them")
	}
	if d.Scope.Kind != report.ScopeTenant {
		ok, err := s.cfg.Store.NodeInTenant(ctx, d.TenantID, d.Scope.Kind, d.Scope.NodeID)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.Invalid("%s %q is not in this tenant", d.Scope.Kind, d.Scope.NodeID)
		}
	}
	if d.SlackWebhookURL != "" {
		if err := s.cfg.Egress.CheckURL(ctx, d.SlackWebhookURL, nil); err != nil {
			return apierr.Invalid("Slack webhook URL: %v", err)
		}
	}
	return nil
}

// errNotManager answers a caller who may not manage a report's scope.
var errNotManager = apierr.New(apierr.CodeForbidden,
	"reports are managed by tenant admins, and a team's or project's reports also by its team admins and project members")

// manages reports whether a may manage reports of every scope given:
// tenant admins any; a scoped manager (team admin, project member) those
// of the teams and projects it manages (the tree's one rule, org.Access).
func (s *Service) manages(ctx context.Context, tenantID string, a org.Access, scopes ...report.Scope) (bool, error) {
	if a.TenantWide(org.Manage) {
		return true, nil
	}
	var nodes []controlplane.Node
	for _, sc := range scopes {
		if sc.Kind == report.ScopeTenant {
			return false, nil
		}
		if nodes == nil {
			var err error
			if nodes, err = s.cfg.Tenants.Tree(ctx, tenantID); err != nil {
				return false, err
			}
		}
		i := slices.IndexFunc(nodes, func(n controlplane.Node) bool { return n.ID == sc.NodeID })
		if i < 0 || !a.Can(org.Manage, nodes[i].Path) {
			return false, nil
		}
	}
	return len(scopes) > 0, nil
}

// authorize checks that the caller may manage reports of the scopes and
// returns the caller.
func (s *Service) authorize(ctx context.Context, tenantID string, a org.Access, scopes ...report.Scope) (auth.Principal, error) {
	ok, err := s.manages(ctx, tenantID, a, scopes...)
	if err != nil {
		return auth.Principal{}, err
	}
	if !ok {
		return auth.Principal{}, errNotManager
	}
	p, _ := auth.PrincipalFrom(ctx)
	return p, nil
}

// Create saves a new report (tenant admins; team admins and project
// members for their teams and projects).
func (s *Service) Create(ctx context.Context, d report.Definition) (Report, error) {
	a, err := s.cfg.Tenants.Access(ctx, d.TenantID)
	if err != nil {
		return Report{}, err
	}
	d.ID = ""
	p, err := s.authorize(ctx, d.TenantID, a, d.Scope)
	if err != nil {
		return Report{}, err
	}
	if err := s.check(ctx, &d); err != nil {
		return Report{}, err
	}
	out, err := s.cfg.Store.Create(ctx, p, d)
	if err != nil {
		return Report{}, clientErr(err)
	}
	return s.withStatus(ctx, out), nil
}

// Update replaces a report; the caller must manage both its old and its
// new scope. A new schedule takes effect at once: the old job is forgotten
// and the new calendar counts from now.
func (s *Service) Update(ctx context.Context, d report.Definition) (Report, error) {
	a, err := s.cfg.Tenants.Access(ctx, d.TenantID)
	if err != nil {
		return Report{}, err
	}
	old, err := s.cfg.Store.Get(ctx, d.TenantID, d.ID)
	if err != nil {
		return Report{}, clientErr(err)
	}
	if _, err := s.authorize(ctx, d.TenantID, a, old.Scope); err != nil {
		return Report{}, err
	}
	p, err := s.authorize(ctx, d.TenantID, a, d.Scope)
	if err != nil {
		return Report{}, err
	}
	if err := s.check(ctx, &d); err != nil {
		return Report{}, err
	}
	out, rescheduled, err := s.cfg.Store.Update(ctx, p, d)
	if err != nil {
		return Report{}, clientErr(err)
	}
	if rescheduled && s.cfg.Scheduler != nil {
		if err := s.cfg.Scheduler.Forget(ctx, JobName(out.ID)); err != nil {
			return Report{}, err
		}
	}
	return s.withStatus(ctx, out), nil
}

// Delete removes a report (whoever manages its scope).
func (s *Service) Delete(ctx context.Context, tenantID, id string) error {
	a, err := s.cfg.Tenants.Access(ctx, tenantID)
	if err != nil {
		return err
	}
	old, err := s.cfg.Store.Get(ctx, tenantID, id)
	if err != nil {
		return clientErr(err)
	}
	p, err := s.authorize(ctx, tenantID, a, old.Scope)
	if err != nil {
		return err
	}
	if err := s.cfg.Store.Delete(ctx, p, tenantID, id); err != nil {
		return clientErr(err)
	}
	if s.cfg.Scheduler != nil {
		return s.cfg.Scheduler.Forget(ctx, JobName(id))
	}
	return nil
}

// List reads the reports the caller manages (they hold recipients, so
// readers without a managing role are refused).
func (s *Service) List(ctx context.Context, tenantID string) ([]Report, error) {
	a, err := s.cfg.Tenants.Access(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if !a.TenantWide(org.Manage) && !slices.ContainsFunc(a.Grants, func(g org.Grant) bool {
		return g.Role == org.RoleTeamAdmin || g.Role == org.RoleProjectMember
	}) {
		return nil, errNotManager
	}
	defs, err := s.cfg.Store.List(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := make([]Report, 0, len(defs))
	for i := range defs {
		ok, err := s.manages(ctx, tenantID, a, defs[i].Scope)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, s.withStatus(ctx, defs[i]))
		}
	}
	return out, nil
}

// Get reads one report the caller manages.
func (s *Service) Get(ctx context.Context, tenantID, id string) (Report, error) {
	a, err := s.cfg.Tenants.Access(ctx, tenantID)
	if err != nil {
		return Report{}, err
	}
	d, err := s.cfg.Store.Get(ctx, tenantID, id)
	if err != nil {
		return Report{}, clientErr(err)
	}
	if _, err := s.authorize(ctx, tenantID, a, d.Scope); err != nil {
		return Report{}, err
	}
	return s.withStatus(ctx, d), nil
}

func (s *Service) withStatus(ctx context.Context, d report.Definition) Report {
	r := Report{Definition: d}
	if next, err := d.Next(s.cfg.Now()); err == nil {
		r.NextRunAt = next
	}
	if s.cfg.Scheduler == nil {
		return r
	}
	st, err := s.cfg.Scheduler.JobStatus(ctx, JobName(d.ID))
	if err == nil {
		r.Schedule = &st
		r.LastRunAt, r.LastError = st.LastRunAt, st.LastError
		if st.NextRunAt.After(s.cfg.Now()) {
			r.NextRunAt = st.NextRunAt
		}
	}
	return r
}

// Sent is what one delivery did.
type Sent struct {
	report.Period
	SpendNanoUSD int64
	Channels     []string
}

// SendTest generates the report of the last complete period now and
// delivers it to its recipients (whoever manages its scope; audited).
func (s *Service) SendTest(ctx context.Context, tenantID, id string) (Sent, error) {
	var sent Sent
	// Any member passes the role check; the scope decides inside.
	err := s.cfg.Tenants.AuditedAction(ctx, tenantID, controlplane.RoleMember, "report.send_test", "report", id, nil, func(ctx context.Context) error {
		a, err := s.cfg.Tenants.Access(ctx, tenantID)
		if err != nil {
			return err
		}
		d, err := s.cfg.Store.Get(ctx, tenantID, id)
		if err != nil {
			return clientErr(err)
		}
		if _, err := s.authorize(ctx, tenantID, a, d.Scope); err != nil {
			return err
		}
		if len(d.Emails) > 0 && s.cfg.Mailer == nil {
			return apierr.Invalid("email is not configured on this server (--smtp-host)")
		}
		now := s.cfg.Now()
		slot, err := d.Slot(now)
		if err != nil {
			return clientErr(err)
		}
		sent, err = s.deliver(ctx, &d, slot, true)
		if err != nil {
			return &apierr.Error{Code: apierr.CodeUnavailable, Message: "the test report was not delivered: " + err.Error(), Cause: err}
		}
		return nil
	})
	return sent, err
}

// Jobs lists one scheduler job per enabled report (a schedule.Source).
func (s *Service) Jobs(ctx context.Context) ([]schedule.Job, error) {
	defs, err := s.cfg.Store.Enabled(ctx)
	if err != nil {
		return nil, err
	}
	jobs := make([]schedule.Job, 0, len(defs))
	for i := range defs {
		d := defs[i]
		if err := d.Validate(); err != nil {
			// Saved definitions were valid; a time zone the machine's
			// tzdata no longer knows lands here.
			s.cfg.Log.Warn("report skipped: its definition is no longer valid", "report", d.ID, "tenant", d.TenantID, "err", err)
			continue
		}
		jobs = append(jobs, schedule.Job{
			Name:    JobName(d.ID),
			Next:    func(after time.Time) time.Time { n, _ := d.Next(after); return n },
			Timeout: 10 * time.Minute,
			Run:     func(ctx context.Context) error { _, err := s.RunScheduled(ctx, d.TenantID, d.ID); return err },
		})
	}
	return jobs, nil
}

// RunScheduled sends the report of the latest schedule time, unless it was
// sent already or the time is before the schedule began (a new or changed
// report's job runs at once: it waits for its first time). sent is false
// when nothing was due.
func (s *Service) RunScheduled(ctx context.Context, tenantID, id string) (sent bool, err error) {
	d, err := s.cfg.Store.Get(ctx, tenantID, id)
	if errors.Is(err, pgstore.ErrNotFound) {
		return false, nil // deleted since it was listed
	}
	if err != nil {
		return false, err
	}
	if !d.Enabled {
		return false, nil
	}
	since, err := s.cfg.Store.ScheduledSince(ctx, tenantID, id)
	if err != nil {
		return false, err
	}
	slot, err := d.Slot(s.cfg.Now())
	if err != nil {
		return false, err
	}
	if slot.Before(since) {
		return false, nil
	}
	done, err := s.cfg.Store.Sent(ctx, tenantID, id, slot)
	if err != nil || done {
		return false, err
	}
	schedule.Progress(ctx, "sending the report of %s", slot.Format(time.RFC3339))
	if _, err := s.deliver(ctx, &d, slot, false); err != nil {
		return false, err
	}
	return true, nil
}

// deliver generates the report sent at slot and sends it everywhere, then
// records it. An email or Slack failure fails the delivery and the scheduler
// retries it with backoff; a scheduled report's channel that got it is
// recorded at once, so the retry sends only to the channels still missing
// (a test send goes to every channel each time).
func (s *Service) deliver(ctx context.Context, d *report.Definition, slot time.Time, test bool) (Sent, error) {
	p, err := d.PeriodAt(slot)
	if err != nil {
		return Sent{}, err
	}
	var delivered []string
	if !test {
		if delivered, err = s.cfg.Store.DeliveredChannels(ctx, d.TenantID, d.ID, slot); err != nil {
			return Sent{}, err
		}
	}
	r, err := s.cfg.Generator.Generate(ctx, d, p)
	if err != nil {
		return Sent{}, err
	}
	out := Sent{Period: p, SpendNanoUSD: r.Current.TenantNanoUSD}
	var errs []error
	send := func(channel string, wanted bool, f func(context.Context, *report.Definition, *report.Report, bool) error) {
		if !wanted {
			return
		}
		if slices.Contains(delivered, channel) {
			out.Channels = append(out.Channels, channel)
			return
		}
		if err := f(ctx, d, r, test); err != nil {
			errs = append(errs, err)
			return
		}
		out.Channels = append(out.Channels, channel)
		if !test {
			if err := s.cfg.Store.RecordChannel(ctx, d.TenantID, d.ID, slot, channel); err != nil {
				errs = append(errs, err)
			}
		}
	}
	send("email", len(d.Emails) > 0, s.email)
	send("slack", d.SlackWebhookURL != "", s.slack)
	if err := errors.Join(errs...); err != nil {
		return out, err
	}
	if err := s.cfg.Store.RecordRun(ctx, pgstore.Run{DefinitionID: d.ID, TenantID: d.TenantID, Slot: slot, Test: test, Period: p,
		SpendNanoUSD: out.SpendNanoUSD, Channels: out.Channels}); err != nil {
		return out, err
	}
	return out, nil
}

// FileBase is the attachments' file name without extension:
// spend-report-<from date>-<to date>.
func FileBase(r *report.Report) string {
	loc, err := time.LoadLocation(r.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	return "spend-report-" + r.From.In(loc).Format(time.DateOnly) + "-" + r.To.In(loc).Add(-time.Nanosecond).Format(time.DateOnly)
}

func (s *Service) email(ctx context.Context, d *report.Definition, r *report.Report, test bool) error {
	csv, err := r.CSV()
	if err != nil {
		return err
	}
	pdf, err := r.PDF(s.cfg.Now())
	if err != nil {
		return err
	}
	subject := fmt.Sprintf("%s: %s (%s)", r.Name, report.USD(r.Current.TenantNanoUSD), periodText(r))
	if test {
		subject = "[test] " + subject
	}
	base := FileBase(r)
	msg := &mail.Message{To: d.Emails, Subject: subject, Text: Summary(r, s.link(r)),
		Attachments: []mail.Attachment{{Name: base + ".csv", ContentType: "text/csv", Data: csv},
			{Name: base + ".pdf", ContentType: "application/pdf", Data: pdf}}}
	if err := s.cfg.Mailer.Send(ctx, msg); err != nil {
		return fmt.Errorf("email: %w", err)
	}
	return nil
}

// link is the portal's dashboard ("" without a portal URL). The portal
// keeps the chosen tenant and range itself; the link does not set them.
func (s *Service) link(*report.Report) string {
	if s.cfg.PortalURL == "" {
		return ""
	}
	return strings.TrimRight(s.cfg.PortalURL, "/") + "/#/dashboard"
}

func periodText(r *report.Report) string {
	loc, err := time.LoadLocation(r.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	return r.From.In(loc).Format("2 Jan 2006") + " to " + r.To.In(loc).Add(-time.Nanosecond).Format("2 Jan 2006")
}

// Summary is the report in a few lines of text: the email's body and the
// Slack message.
func Summary(r *report.Report, link string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s — %s, %s (%s)\n\n", r.Name, r.ScopeLabel, periodText(r), r.TimeZone)
	fmt.Fprintf(&b, "Spend: %s (previous period %s, change %s)\n", report.USD(r.Current.TenantNanoUSD),
		report.USD(r.Previous.TenantNanoUSD), signed(r.ChangeNanoUSD()))
	fmt.Fprintf(&b, "Requests: %d\n", r.Current.Events)
	if len(r.Movers) > 0 {
		b.WriteString("\nTop movers:\n")
		for i := range r.Movers {
			if i == 5 {
				break
			}
			m := &r.Movers[i]
			fmt.Fprintf(&b, "  %s %s: %s\n", m.Dimension, m.Label, signed(m.ChangeNanoUSD()))
		}
	}
	exceeded, risk := 0, 0
	for i := range r.Budgets {
		switch r.Budgets[i].State() {
		case "exceeded":
			exceeded++
		case "at risk":
			risk++
		}
	}
	if len(r.Budgets) > 0 {
		fmt.Fprintf(&b, "\nBudgets: %d, %d exceeded, %d at risk\n", len(r.Budgets), exceeded, risk)
	}
	if len(r.Anomalies) > 0 {
		fmt.Fprintf(&b, "Anomalies: %d\n", len(r.Anomalies))
	}
	if len(r.Recommendations) > 0 {
		var total int64
		for i := range r.Recommendations {
			total += r.Recommendations[i].EstimatedMonthlySavingsNanoUSD
		}
		fmt.Fprintf(&b, "Recommendations: %d, up to %s a month in savings\n", len(r.Recommendations), report.USD(total))
	}
	if link != "" {
		fmt.Fprintf(&b, "\nOpen in spendgate: %s\n", link)
	}
	return b.String()
}

func signed(n int64) string {
	if n > 0 {
		return "+" + report.USD(n)
	}
	return report.USD(n)
}

// slackBody is Slack's incoming-webhook payload: text (mrkdwn) only.
type slackBody struct {
	Text string `json:"text"`
}

func (s *Service) slack(ctx context.Context, d *report.Definition, r *report.Report, test bool) error {
	text := Summary(r, "")
	if l := s.link(r); l != "" {
		text += "\n<" + l + "|Open spendgate>"
	}
	if test {
		text = "[test] " + text
	}
	body, err := json.Marshal(slackBody{Text: text})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.SlackWebhookURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("slack: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "spendgate-reports")
	resp, err := s.cfg.HTTP.Do(req)
	if err != nil {
		// The URL's path holds Slack's secret: name the host only.
		return fmt.Errorf("slack webhook at %s: %w", req.URL.Host, unwrapURL(err))
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("slack webhook at %s: HTTP %d %s", req.URL.Host, resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	return nil
}

// unwrapURL drops *url.Error's text, which repeats the secret URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
