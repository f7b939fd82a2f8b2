package graph

import (
	"strings"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/graph/model"
	"github.com/spendgate/spendgate/graph/scalar"
	"github.com/spendgate/spendgate/report"
	reportservice "github.com/spendgate/spendgate/report/service"
)

// errNoReports answers the report fields on a server built without them.
var errNoReports = &apierr.Error{Code: apierr.CodeInternal, Message: "scheduled reports are not available on this server"}

func reportInput(tenantID, id string, in model.ReportInput) report.Definition {
	d := report.Definition{ID: id, TenantID: tenantID, Name: in.Name, Frequency: report.Frequency(strings.ToLower(string(in.Frequency))),
		Scope: report.Scope{Kind: report.ScopeKind(strings.ToLower(string(in.Scope)))}, Emails: in.Emails, Enabled: true}
	if in.Cron != nil {
		d.Cron = strings.TrimSpace(*in.Cron)
	}
	d.TimeZone = "UTC"
	if in.TimeZone != nil && *in.TimeZone != "" {
		d.TimeZone = *in.TimeZone
	}
	if in.NodeID != nil {
		d.Scope.NodeID = *in.NodeID
	}
	if in.SlackWebhookURL != nil {
		d.SlackWebhookURL = strings.TrimSpace(*in.SlackWebhookURL)
	}
	if in.Enabled != nil {
		d.Enabled = *in.Enabled
	}
	if d.Emails == nil {
		d.Emails = []string{}
	}
	return d
}

func reportOut(r reportservice.Report) *model.Report {
	out := &model.Report{ID: r.ID, TenantID: r.TenantID, Name: r.Name, Frequency: model.ReportFrequency(strings.ToUpper(string(r.Frequency))),
		TimeZone: r.TimeZone, Scope: model.ReportScope(strings.ToUpper(string(r.Scope.Kind))), Emails: r.Emails, Enabled: r.Enabled,
		LastRunAt: r.LastRunAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if out.Emails == nil {
		out.Emails = []string{}
	}
	if r.Cron != "" {
		out.Cron = &r.Cron
	}
	if r.Scope.NodeID != "" {
		out.NodeID = &r.Scope.NodeID
	}
	if r.SlackWebhookURL != "" {
		out.SlackWebhookURL = &r.SlackWebhookURL
	}
	if !r.NextRunAt.IsZero() && r.Enabled {
		next := r.NextRunAt
		out.NextRunAt = &next
	}
	if r.LastRunAt != nil {
		e := r.LastError
		out.LastError = &e
	}
	return out
}

func reportDelivery(s reportservice.Sent) *model.ReportDelivery {
	ch := s.Channels
	if ch == nil {
		ch = []string{}
	}
	return &model.ReportDelivery{PeriodFrom: s.From, PeriodTo: s.To, Spend: scalar.Money(s.SpendNanoUSD), Channels: ch}
}
