package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/schedule"
)

// SyncResult says what one sync did.
type SyncResult struct {
	From, To time.Time
	Pages    int
	Rows     int
	Alerts   int
}

// SyncNow pulls one connection's reports now (admins): what the hourly job
// does, on demand.
func (s *Service) SyncNow(ctx context.Context, tenantID, id string) (SyncResult, error) {
	p, err := s.auth.Authorize(ctx, tenantID, controlplane.RoleAdmin)
	if err != nil {
		return SyncResult{}, err
	}
	if err := checkID(id); err != nil {
		return SyncResult{}, err
	}
	c, err := s.store.Connection(ctx, tenantID, id)
	if err != nil {
		return SyncResult{}, err
	}
	if !c.Provider.Pulled() {
		return SyncResult{}, invalid("%s reports are imported (importBillingExport), not pulled", c.Provider)
	}
	res, err := s.Sync(ctx, &c)
	details := map[string]any{"pages": res.Pages, "rows": res.Rows, "alerts": res.Alerts, "from": res.From, "to": res.To}
	if err != nil {
		details["error"] = err.Error() // the provider's status and message, never the key
	}
	if aerr := s.store.Audit(context.WithoutCancel(ctx), p, tenantID, "provider_connection.sync", "provider_connection", id, details); aerr != nil {
		return res, errors.Join(err, aerr)
	}
	var ae *apierr.Error
	if err != nil && !errors.As(err, &ae) {
		// The provider's answer (or its absence) is the client's to see:
		// the message names the endpoint and status, never the key.
		return res, &apierr.Error{Code: apierr.CodeUnavailable, Message: "the sync failed: " + err.Error(), Cause: err}
	}
	return res, err
}

// Sync pulls a connection's reports for its look-back window, keeps every
// page, replaces the window's reported rows and checks drift. Its outcome is
// kept on the connection (last run, error, pages, rows).
func (s *Service) Sync(ctx context.Context, c *SealedConnection) (res SyncResult, err error) {
	res.From, res.To = Window(s.Now(), c.LookbackDays)
	if err := s.store.StartRun(ctx, c.ID); err != nil {
		return res, err
	}
	defer func() {
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if ferr := s.store.FinishRun(context.WithoutCancel(ctx), c.ID, res.Pages, res.Rows, msg); ferr != nil {
			err = errors.Join(err, ferr)
		}
	}()
	key, err := s.open(c.AdminKeySealed, SecretAAD(c.ID, "admin"))
	if err != nil {
		return res, err
	}
	rec := func(ctx context.Context, pg Page) error {
		pg.TenantID, pg.ConnectionID, pg.Provider = c.TenantID, c.ID, c.Provider
		if _, err := s.store.RecordPage(ctx, &pg); err != nil {
			return fmt.Errorf("keeping the %s page: %w", pg.Endpoint, err)
		}
		res.Pages++
		progress := fmt.Sprintf("%d pages fetched (last: %s)", res.Pages, pg.Endpoint)
		schedule.Progress(ctx, "%s", progress) // on the job's row too, when scheduled
		return s.store.Progress(ctx, c.ID, progress)
	}
	rows, err := s.fetch.Fetch(ctx, c.Provider, s.cfg.BaseURLs[c.Provider], key, res.From, res.To, rec)
	if err != nil {
		return res, fmt.Errorf("%s reports: %w", c.Provider, err)
	}
	rows = within(rows, res.From, res.To)
	if err := s.store.ReplaceReported(ctx, &c.Connection, res.From, res.To, rows); err != nil {
		return res, err
	}
	if err := s.reportedChanged(ctx, c.TenantID, res.From, res.To); err != nil {
		return res, err
	}
	res.Rows = len(rows)
	res.Alerts, err = s.checkDrift(ctx, c.TenantID, c.Provider, res.From, res.To)
	return res, err
}

// reportedChanged hands freshly stored reports to the budgets. Its failure
// fails the sync (retried with backoff): the rows are stored, and the next
// run re-evaluates the same days again, which is idempotent.
func (s *Service) reportedChanged(ctx context.Context, tenantID string, from, to time.Time) error {
	if s.budgets == nil {
		return nil
	}
	if err := s.budgets.ReportedChanged(ctx, tenantID, from, to); err != nil {
		return fmt.Errorf("counting the reports toward budgets: %w", err)
	}
	return nil
}

// within keeps rows of days in [from, to): a provider answering buckets
// outside the request must not overwrite days outside the replaced window.
func within(rows []ReportedRow, from, to time.Time) []ReportedRow {
	out := rows[:0]
	for _, r := range rows {
		if !r.Day.Before(from) && r.Day.Before(to) {
			out = append(out, r)
		}
	}
	return out
}

// ImportBillingExport imports a Google Cloud Billing export file into a
// google connection (admins): the file is kept as a page, and the days it
// covers replace the connection's rows of those days.
func (s *Service) ImportBillingExport(ctx context.Context, tenantID, id, format string, body []byte) (SyncResult, error) {
	p, err := s.auth.Authorize(ctx, tenantID, controlplane.RoleAdmin)
	if err != nil {
		return SyncResult{}, err
	}
	if err := checkID(id); err != nil {
		return SyncResult{}, err
	}
	if len(body) == 0 {
		return SyncResult{}, invalid("the billing export is empty")
	}
	if len(body) > s.cfg.MaxImportBytes {
		return SyncResult{}, invalid("the billing export is %d bytes; at most %d are imported at once (split it by day)", len(body), s.cfg.MaxImportBytes)
	}
	c, err := s.store.Connection(ctx, tenantID, id)
	if err != nil {
		return SyncResult{}, err
	}
	if c.Provider != Google {
		return SyncResult{}, invalid("billing exports are imported into google connections; this one is %s", c.Provider)
	}
	rows, err := s.fetch.ParseBillingExport(body, format)
	if err != nil {
		return SyncResult{}, invalid("%s", err.Error())
	}
	var res SyncResult
	for _, r := range rows {
		if res.From.IsZero() || r.Day.Before(res.From) {
			res.From = r.Day
		}
		if r.Day.AddDate(0, 0, 1).After(res.To) {
			res.To = r.Day.AddDate(0, 0, 1)
		}
	}
	ct := "application/x-ndjson"
	if format == "csv" {
		ct = "text/csv"
	}
	pg := Page{TenantID: tenantID, ConnectionID: id, Provider: Google, Endpoint: "billing_export", RequestURL: "import:" + format,
		Status: 200, FetchedAt: s.Now().UTC(), ContentType: ct, Body: body}
	if _, err := s.store.RecordPage(ctx, &pg); err != nil {
		return res, err
	}
	res.Pages = 1
	if len(rows) == 0 {
		return res, invalid("the billing export has no Vertex AI or Gemini API rows")
	}
	if err := s.store.ReplaceReported(ctx, &c.Connection, res.From, res.To, rows); err != nil {
		return res, err
	}
	if err := s.reportedChanged(ctx, tenantID, res.From, res.To); err != nil {
		return res, err
	}
	res.Rows = len(rows)
	if err := s.store.FinishRun(ctx, c.ID, res.Pages, res.Rows, ""); err != nil {
		return res, err
	}
	if err := s.store.Audit(ctx, p, tenantID, "provider_connection.import", "provider_connection", id,
		map[string]any{"format": format, "bytes": len(body), "rows": res.Rows, "from": res.From, "to": res.To, "sha256": pg.SHA256}); err != nil {
		return res, err
	}
	res.Alerts, err = s.checkDrift(ctx, tenantID, Google, res.From, res.To)
	return res, err
}

// Housekeeping purges pages past retention and retries undelivered drift
// alerts (a scheduled job of its own).
func (s *Service) Housekeeping(ctx context.Context) error {
	var errs []error
	if n, err := s.PurgePages(ctx); err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		s.log.Info("reconcile: purged raw pages past retention", "pages", n, "retention", s.cfg.Retention.String())
	}
	if err := s.DeliverAlerts(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// PageSHA256 is the hex sha256 of a page body.
func PageSHA256(body []byte) string {
	h := sha256.Sum256(body)
	return hex.EncodeToString(h[:])
}

// HousekeepingJob is the scheduled purge and alert retry.
const HousekeepingJob = "reconcile/housekeeping"

// JobName is the scheduled sync of one connection: "reconcile/<tenant>/<id>"
// (schedule.Runner.Statuses reads a tenant's by prefix).
func JobName(tenantID, connectionID string) string {
	return "reconcile/" + tenantID + "/" + connectionID
}

// Jobs lists the scheduled work afresh on every tick (schedule.Source): a
// job per enabled pulled connection, every interval (hourly by default; a
// failed sync is retried with the scheduler's backoff), and the
// housekeeping. The scheduler's lease runs each on one replica.
func (s *Service) Jobs(every time.Duration) schedule.Source {
	return func(ctx context.Context) ([]schedule.Job, error) {
		conns, err := s.store.EnabledConnections(ctx)
		if err != nil {
			return nil, err
		}
		jobs := []schedule.Job{{Name: HousekeepingJob, Every: every, Run: s.Housekeeping}}
		for i := range conns {
			tenantID, id := conns[i].TenantID, conns[i].ID
			jobs = append(jobs, schedule.Job{Name: JobName(tenantID, id), Every: every, Run: func(ctx context.Context) error {
				// Read it again: the key may have rotated, or the
				// connection been disabled or deleted, since it was listed.
				c, err := s.store.Connection(ctx, tenantID, id)
				if apierr.CodeOf(err) == apierr.CodeNotFound {
					return nil
				}
				if err != nil {
					return err
				}
				if !c.Enabled {
					return nil
				}
				_, err = s.Sync(ctx, &c)
				return err
			}})
		}
		return jobs, nil
	}
}
