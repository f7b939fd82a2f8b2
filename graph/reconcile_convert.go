package graph

import (
	"strconv"
	"time"

	"github.com/spendgate/spendgate/graph/model"
	"github.com/spendgate/spendgate/graph/scalar"
	"github.com/spendgate/spendgate/reconcile"
)

// The reconcile package's types as the API answers them.

// ReconcilePagePath is where the API server serves a raw page's body.
func ReconcilePagePath(tenantID string, id int64) string {
	return "/reconcile/pages/" + strconv.FormatInt(id, 10) + "?tenantId=" + tenantID
}

func (r *Resolver) reconcile() (*reconcile.Service, error) {
	if r.Reconcile == nil {
		return nil, errNotAvailable("provider reconciliation is")
	}
	return r.Reconcile, nil
}

func toProviderConnection(c *reconcile.Connection) *model.ProviderConnection {
	return &model.ProviderConnection{ID: c.ID, Provider: string(c.Provider), Name: c.Name, AdminKeyLast4: optional(c.AdminKeyLast4),
		DataKeyLast4: optional(c.DataKeyLast4), LookbackDays: c.LookbackDays, Enabled: c.Enabled, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		LastRun: &model.ProviderSyncStatus{Running: c.Run.Running, Progress: c.Run.Progress, LastRunAt: c.Run.LastRunAt, LastOkAt: c.Run.LastOKAt, NextRunAt: c.Run.NextRunAt,
			LastError: c.Run.LastError, Pages: c.Run.Pages, Rows: c.Run.Rows, ConsecutiveFailures: c.Run.Attempts}}
}

func toSyncResult(s reconcile.SyncResult) *model.ProviderSyncResult {
	return &model.ProviderSyncResult{From: s.From, To: s.To, Pages: s.Pages, Rows: s.Rows, Alerts: s.Alerts}
}

func toReportPage(p *reconcile.Page) *model.ProviderReportPage {
	return &model.ProviderReportPage{ID: strconv.FormatInt(p.ID, 10), ConnectionID: p.ConnectionID, Provider: string(p.Provider),
		Endpoint: p.Endpoint, RequestURL: p.RequestURL, Status: p.Status, FetchedAt: p.FetchedAt, Sha256: p.SHA256,
		ContentType: p.ContentType, Size: p.Size, DownloadPath: ReconcilePagePath(p.TenantID, p.ID)}
}

func percentOf(bp int64, ok bool) *string {
	if !ok {
		return nil
	}
	s := reconcile.Percent(bp)
	return &s
}

func toReconciliation(tenantID string, q reconcile.Query, rep *reconcile.Report) *model.Reconciliation {
	out := &model.Reconciliation{Rows: make([]*model.ReconciliationRow, 0, len(rep.Rows)), Days: make([]*model.ReconciliationDay, 0, len(rep.Days))}
	for i := range rep.Rows {
		x := &rep.Rows[i]
		out.Rows = append(out.Rows, &model.ReconciliationRow{Provider: string(x.Provider), Day: x.Day, Model: x.Model,
			Status: model.ReconciliationStatus(x.Status), MeteredEvents: int64(x.MeteredEvents), MeteredInputTokens: x.MeteredInputTokens,
			MeteredOutputTokens: x.MeteredOutputTokens, MeteredCost: scalar.Money(x.MeteredNanoUSD), ReportedRequests: x.ReportedRequests,
			ReportedInputTokens: x.ReportedInputTokens, ReportedOutputTokens: x.ReportedOutputTokens, ReportedCost: scalar.Money(x.ReportedNanoUSD),
			ReportedHasCost: x.ReportedHasCost, Drift: scalar.Money(x.DriftNanoUSD),
			DriftPercent: percentOf(reconcile.DriftBP(x.DriftNanoUSD, x.ReportedNanoUSD, x.MeteredNanoUSD))})
	}
	day := func(d *reconcile.DayTotal) *model.ReconciliationDay {
		m := &model.ReconciliationDay{Provider: string(d.Provider), MeteredCost: scalar.Money(d.MeteredNanoUSD),
			ReportedCost: scalar.Money(d.ReportedNanoUSD), Drift: scalar.Money(d.DriftNanoUSD), DriftPercent: percentOf(d.DriftBP()),
			UnmeteredCost: scalar.Money(d.UnmeteredNanoUSD), UnreportedCost: scalar.Money(d.UnreportedNanoUSD)}
		if !d.Day.IsZero() {
			t := d.Day
			m.Day = &t
		}
		return m
	}
	for i := range rep.Days {
		out.Days = append(out.Days, day(&rep.Days[i]))
	}
	out.Totals = day(&rep.Totals)
	out.CSVPath = "/export/reconciliation.csv?tenantId=" + tenantID + "&from=" + q.From.UTC().Format(time.RFC3339) +
		"&to=" + q.To.UTC().Format(time.RFC3339)
	if q.Provider != "" {
		out.CSVPath += "&provider=" + string(q.Provider)
	}
	return out
}

func toReconcileSettings(s reconcile.Settings) *model.ReconcileSettings {
	return &model.ReconcileSettings{DriftThresholdPercent: reconcile.Percent(int64(s.ThresholdBP)), HasAlertWebhook: s.WebhookURL != ""}
}

func toDriftAlert(a *reconcile.DriftAlert) *model.DriftAlert {
	return &model.DriftAlert{ID: strconv.FormatInt(a.ID, 10), Provider: string(a.Provider), Day: a.Day,
		ThresholdPercent: reconcile.Percent(int64(a.ThresholdBP)), DriftPercent: reconcile.Percent(a.DriftBP),
		Drift: scalar.Money(a.DriftNanoUSD), ReportedCost: scalar.Money(a.ReportedNanoUSD), MeteredCost: scalar.Money(a.MeteredNanoUSD),
		CreatedAt: a.CreatedAt, DeliveredAt: a.DeliveredAt, Attempts: a.Attempts, LastError: a.LastError}
}
