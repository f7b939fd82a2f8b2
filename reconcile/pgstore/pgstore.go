// Package pgstore keeps reconciliation in Postgres (reconcile.Store):
// provider connections with sealed keys, raw report pages, reported rows,
// settings and drift alerts. Every query names its tenant; mutations made
// by a caller are audited in their transaction.
package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/reconcile"
)

// Store is the Postgres store.
type Store struct{ db *pgxpool.Pool }

// New returns a store over db.
func New(db *pgxpool.Pool) *Store { return &Store{db: db} }

var _ reconcile.Store = (*Store)(nil)

const connCols = `id::text, tenant_id::text, provider, name, admin_key_sealed, admin_key_last4, data_key_sealed, data_key_last4,
	lookback_days, enabled, created_at, updated_at, running, progress, last_run_at, last_ok_at, last_error, last_pages, last_rows, failures`

func scanConn(r pgx.Row) (reconcile.SealedConnection, error) {
	var c reconcile.SealedConnection
	var prov string
	err := r.Scan(&c.ID, &c.TenantID, &prov, &c.Name, &c.AdminKeySealed, &c.AdminKeyLast4, &c.DataKeySealed, &c.DataKeyLast4,
		&c.LookbackDays, &c.Enabled, &c.CreatedAt, &c.UpdatedAt, &c.Run.Running, &c.Run.Progress, &c.Run.LastRunAt, &c.Run.LastOKAt,
		&c.Run.LastError, &c.Run.Pages, &c.Run.Rows, &c.Run.Attempts)
	c.Provider = reconcile.Provider(prov)
	return c, err
}

func (s *Store) inTx(ctx context.Context, f func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.db, f)
}

func nameTaken(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return apierr.New(apierr.CodeConflict, "the tenant already has a provider connection of that name")
	}
	return err
}

// CreateConnection inserts c and audits it.
func (s *Store) CreateConnection(ctx context.Context, p auth.Principal, c *reconcile.SealedConnection) (reconcile.Connection, error) {
	var out reconcile.SealedConnection
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanConn(tx.QueryRow(ctx, `INSERT INTO provider_connections (id, tenant_id, provider, name, admin_key_sealed, admin_key_last4,
			data_key_sealed, data_key_last4, lookback_days, enabled) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING `+connCols,
			c.ID, c.TenantID, string(c.Provider), c.Name, c.AdminKeySealed, c.AdminKeyLast4, c.DataKeySealed, c.DataKeyLast4, c.LookbackDays, c.Enabled))
		if err != nil {
			return nameTaken(err)
		}
		return controlplane.AuditTx(ctx, tx, c.TenantID, p, "provider_connection.create", "provider_connection", c.ID, map[string]any{
			"provider": c.Provider, "name": c.Name, "admin_key_last4": c.AdminKeyLast4, "data_key_last4": c.DataKeyLast4,
			"lookback_days": c.LookbackDays, "enabled": c.Enabled})
	})
	return out.Connection, err
}

// UpdateConnection locks, changes and saves a connection, audited.
func (s *Store) UpdateConnection(ctx context.Context, p auth.Principal, tenantID, id string,
	change func(*reconcile.SealedConnection) (map[string]any, error)) (reconcile.Connection, error) {
	var out reconcile.SealedConnection
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := scanConn(tx.QueryRow(ctx, `SELECT `+connCols+` FROM provider_connections WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return controlplane.NotFound("provider connection")
		}
		if err != nil {
			return err
		}
		details, err := change(&c)
		if err != nil {
			return err
		}
		out, err = scanConn(tx.QueryRow(ctx, `UPDATE provider_connections SET name = $3, admin_key_sealed = $4, admin_key_last4 = $5,
			data_key_sealed = $6, data_key_last4 = $7, lookback_days = $8, enabled = $9, updated_at = now()
			WHERE tenant_id = $1 AND id = $2 RETURNING `+connCols,
			tenantID, id, c.Name, c.AdminKeySealed, c.AdminKeyLast4, c.DataKeySealed, c.DataKeyLast4, c.LookbackDays, c.Enabled))
		if err != nil {
			return nameTaken(err)
		}
		return controlplane.AuditTx(ctx, tx, tenantID, p, "provider_connection.update", "provider_connection", id, details)
	})
	return out.Connection, err
}

// DeleteConnection deletes a connection (its pages and rows go with it),
// audited.
func (s *Store) DeleteConnection(ctx context.Context, p auth.Principal, tenantID, id string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var prov, name string
		err := tx.QueryRow(ctx, `DELETE FROM provider_connections WHERE tenant_id = $1 AND id = $2 RETURNING provider, name`, tenantID, id).Scan(&prov, &name)
		if errors.Is(err, pgx.ErrNoRows) {
			return controlplane.NotFound("provider connection")
		}
		if err != nil {
			return err
		}
		return controlplane.AuditTx(ctx, tx, tenantID, p, "provider_connection.delete", "provider_connection", id,
			map[string]any{"provider": prov, "name": name})
	})
}

// Connection reads one of a tenant's connections.
func (s *Store) Connection(ctx context.Context, tenantID, id string) (reconcile.SealedConnection, error) {
	c, err := scanConn(s.db.QueryRow(ctx, `SELECT `+connCols+` FROM provider_connections WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, controlplane.NotFound("provider connection")
	}
	return c, err
}

// Connections lists a tenant's connections by name, without their sealed keys.
func (s *Store) Connections(ctx context.Context, tenantID string) ([]reconcile.Connection, error) {
	rows, err := s.db.Query(ctx, `SELECT `+connCols+` FROM provider_connections WHERE tenant_id = $1 ORDER BY name`, tenantID)
	if err != nil {
		return nil, err
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (reconcile.SealedConnection, error) { return scanConn(r) })
	out := make([]reconcile.Connection, len(cs))
	for i := range cs {
		out[i] = cs[i].Connection
	}
	return out, err
}

// DataKeys lists the tenant's enabled connections holding a data-plane key,
// oldest first.
func (s *Store) DataKeys(ctx context.Context, tenantID string) ([]reconcile.SealedConnection, error) {
	rows, err := s.db.Query(ctx, `SELECT `+connCols+` FROM provider_connections
		WHERE tenant_id = $1 AND enabled AND data_key_sealed <> '' ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (reconcile.SealedConnection, error) { return scanConn(r) })
}

// EnabledConnections lists every tenant's enabled pulled connections.
func (s *Store) EnabledConnections(ctx context.Context) ([]reconcile.SealedConnection, error) {
	rows, err := s.db.Query(ctx, `SELECT `+connCols+` FROM provider_connections
		WHERE enabled AND provider IN ('openai', 'anthropic') ORDER BY tenant_id, id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (reconcile.SealedConnection, error) { return scanConn(r) })
}

// StartRun marks a sync as running.
func (s *Store) StartRun(ctx context.Context, id string) error {
	_, err := s.db.Exec(ctx, `UPDATE provider_connections SET running = true, progress = 'starting', last_run_at = now() WHERE id = $1`, id)
	return err
}

// Progress records how far a running sync got.
func (s *Store) Progress(ctx context.Context, id, progress string) error {
	_, err := s.db.Exec(ctx, `UPDATE provider_connections SET progress = $2 WHERE id = $1`, id, progress)
	return err
}

// FinishRun records a sync's outcome; failures counts consecutive failed
// runs.
func (s *Store) FinishRun(ctx context.Context, id string, pages, rows int, runErr string) error {
	_, err := s.db.Exec(ctx, `UPDATE provider_connections SET running = false, progress = '', last_error = $2, last_pages = $3, last_rows = $4,
		last_run_at = COALESCE(last_run_at, now()),
		last_ok_at = CASE WHEN $2 = '' THEN now() ELSE last_ok_at END,
		failures = CASE WHEN $2 = '' THEN 0 ELSE failures + 1 END WHERE id = $1`, id, runErr, pages, rows)
	return err
}

// --- pages ---

// RecordPage keeps a page as received with its sha256.
func (s *Store) RecordPage(ctx context.Context, pg *reconcile.Page) (int64, error) {
	pg.SHA256 = reconcile.PageSHA256(pg.Body)
	pg.Size = len(pg.Body)
	err := s.db.QueryRow(ctx, `INSERT INTO provider_pages (tenant_id, connection_id, provider, endpoint, request_url, status, fetched_at, sha256, content_type, body)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		pg.TenantID, pg.ConnectionID, string(pg.Provider), pg.Endpoint, pg.RequestURL, pg.Status, pg.FetchedAt, pg.SHA256, pg.ContentType, pg.Body).Scan(&pg.ID)
	return pg.ID, err
}

const pageCols = `id, tenant_id::text, connection_id::text, provider, endpoint, request_url, status, fetched_at, sha256, content_type, length(body)`

func scanPage(r pgx.Row, body bool) (reconcile.Page, error) {
	var p reconcile.Page
	var prov string
	dest := []any{&p.ID, &p.TenantID, &p.ConnectionID, &prov, &p.Endpoint, &p.RequestURL, &p.Status, &p.FetchedAt, &p.SHA256, &p.ContentType, &p.Size}
	if body {
		dest = append(dest, &p.Body)
	}
	err := r.Scan(dest...)
	p.Provider = reconcile.Provider(prov)
	return p, err
}

// Pages lists a tenant's pages (of one connection when connectionID is
// set), newest first, without bodies.
func (s *Store) Pages(ctx context.Context, tenantID, connectionID string, limit int, beforeID int64) ([]reconcile.Page, error) {
	rows, err := s.db.Query(ctx, `SELECT `+pageCols+` FROM provider_pages WHERE tenant_id = $1
		AND ($2 = '' OR connection_id::text = $2) AND ($3 = 0 OR id < $3) ORDER BY id DESC LIMIT $4`, tenantID, connectionID, beforeID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (reconcile.Page, error) { return scanPage(r, false) })
}

// Page reads one of a tenant's pages with its body.
func (s *Store) Page(ctx context.Context, tenantID string, id int64) (reconcile.Page, error) {
	p, err := scanPage(s.db.QueryRow(ctx, `SELECT `+pageCols+`, body FROM provider_pages WHERE tenant_id = $1 AND id = $2`, tenantID, id), true)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, controlplane.NotFound("provider report page")
	}
	return p, err
}

// Audit records an action in the tenant's audit log.
func (s *Store) Audit(ctx context.Context, p auth.Principal, tenantID, action, targetType, targetID string, details map[string]any) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		return controlplane.AuditTx(ctx, tx, tenantID, p, action, targetType, targetID, details)
	})
}

// PurgePages deletes pages fetched before t.
func (s *Store) PurgePages(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM provider_pages WHERE fetched_at < $1`, before)
	return tag.RowsAffected(), err
}

// --- reported rows ---

// ReplaceReported replaces the connection's rows of days [from, to).
func (s *Store) ReplaceReported(ctx context.Context, c *reconcile.Connection, from, to time.Time, rows []reconcile.ReportedRow) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// One replacement of a connection at a time (a manual sync beside the
		// scheduled one): the second waits, then deletes what the first wrote.
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM provider_connections WHERE id = $1 AND tenant_id = $2 FOR UPDATE`, c.ID, c.TenantID).Scan(&one); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return controlplane.NotFound("provider connection")
			}
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM provider_reported WHERE connection_id = $1 AND tenant_id = $2 AND day >= $3::date AND day < $4::date`,
			c.ID, c.TenantID, from.UTC().Format(time.DateOnly), to.UTC().Format(time.DateOnly)); err != nil {
			return err
		}
		b := &pgx.Batch{}
		for _, r := range rows {
			b.Queue(`INSERT INTO provider_reported (connection_id, tenant_id, provider, day, model, requests, input_tokens, output_tokens, cost_nano_usd, has_cost)
				VALUES ($1, $2, $3, $4::date, $5, $6, $7, $8, $9, $10)
				ON CONFLICT (connection_id, day, model) DO UPDATE SET requests = provider_reported.requests + EXCLUDED.requests,
				input_tokens = provider_reported.input_tokens + EXCLUDED.input_tokens, output_tokens = provider_reported.output_tokens + EXCLUDED.output_tokens,
				cost_nano_usd = provider_reported.cost_nano_usd + EXCLUDED.cost_nano_usd, has_cost = provider_reported.has_cost OR EXCLUDED.has_cost`,
				c.ID, c.TenantID, string(c.Provider), r.Day.UTC().Format(time.DateOnly), r.Model, r.Requests, r.InputTokens, r.OutputTokens, r.CostNanoUSD, r.HasCost)
		}
		return tx.SendBatch(ctx, b).Close()
	})
}

// Reported sums a tenant's reported rows of one provider per day × model
// over its connections, days [from, to).
func (s *Store) Reported(ctx context.Context, tenantID string, p reconcile.Provider, from, to time.Time) ([]reconcile.ReportedRow, error) {
	rows, err := s.db.Query(ctx, `SELECT day, model, sum(requests)::bigint, sum(input_tokens)::bigint, sum(output_tokens)::bigint,
		sum(cost_nano_usd)::bigint, bool_or(has_cost) FROM provider_reported
		WHERE tenant_id = $1 AND provider = $2 AND day >= $3::date AND day < $4::date GROUP BY day, model ORDER BY day, model`,
		tenantID, string(p), from.UTC().Format(time.DateOnly), to.UTC().Format(time.DateOnly))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (reconcile.ReportedRow, error) {
		var x reconcile.ReportedRow
		err := r.Scan(&x.Day, &x.Model, &x.Requests, &x.InputTokens, &x.OutputTokens, &x.CostNanoUSD, &x.HasCost)
		x.Day = reconcile.Day(x.Day)
		return x, err
	})
}

// --- settings ---

// Settings reads a tenant's settings (defaults when none were set).
func (s *Store) Settings(ctx context.Context, tenantID string) (reconcile.Settings, error) {
	st := reconcile.Settings{ThresholdBP: reconcile.DefaultThresholdBP}
	err := s.db.QueryRow(ctx, `SELECT drift_threshold_bp, alert_webhook_url FROM reconcile_settings WHERE tenant_id = $1`, tenantID).
		Scan(&st.ThresholdBP, &st.WebhookURL)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, nil
	}
	return st, err
}

// SetSettings saves a tenant's settings, audited.
func (s *Store) SetSettings(ctx context.Context, p auth.Principal, tenantID string, st reconcile.Settings) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO reconcile_settings (tenant_id, drift_threshold_bp, alert_webhook_url) VALUES ($1, $2, $3)
			ON CONFLICT (tenant_id) DO UPDATE SET drift_threshold_bp = $2, alert_webhook_url = $3, updated_at = now()`,
			tenantID, st.ThresholdBP, st.WebhookURL); err != nil {
			return err
		}
		return controlplane.AuditTx(ctx, tx, tenantID, p, "reconcile_settings.update", "tenant", tenantID,
			map[string]any{"drift_threshold_bp": st.ThresholdBP, "alert_webhook_url": st.WebhookURL != ""})
	})
}

// --- drift alerts ---

const alertCols = `id, tenant_id::text, provider, day, threshold_bp, drift_bp, drift_nano_usd, reported_nano_usd, metered_nano_usd,
	created_at, delivered_at, attempts, last_error`

func scanAlert(r pgx.Row) (reconcile.DriftAlert, error) {
	var a reconcile.DriftAlert
	var prov string
	err := r.Scan(&a.ID, &a.TenantID, &prov, &a.Day, &a.ThresholdBP, &a.DriftBP, &a.DriftNanoUSD, &a.ReportedNanoUSD, &a.MeteredNanoUSD,
		&a.CreatedAt, &a.DeliveredAt, &a.Attempts, &a.LastError)
	a.Provider = reconcile.Provider(prov)
	a.Day = reconcile.Day(a.Day)
	return a, err
}

// RecordDriftAlert inserts a unless its tenant, provider, day and threshold
// already alerted.
func (s *Store) RecordDriftAlert(ctx context.Context, a *reconcile.DriftAlert) (bool, error) {
	err := s.db.QueryRow(ctx, `INSERT INTO reconcile_drift_alerts (tenant_id, provider, day, threshold_bp, drift_bp, drift_nano_usd,
		reported_nano_usd, metered_nano_usd) VALUES ($1, $2, $3::date, $4, $5, $6, $7, $8)
		ON CONFLICT (tenant_id, provider, day, threshold_bp) DO NOTHING RETURNING id, created_at`,
		a.TenantID, string(a.Provider), a.Day.UTC().Format(time.DateOnly), a.ThresholdBP, a.DriftBP, a.DriftNanoUSD, a.ReportedNanoUSD, a.MeteredNanoUSD).
		Scan(&a.ID, &a.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// DriftAlerts lists a tenant's alerts, newest first.
func (s *Store) DriftAlerts(ctx context.Context, tenantID string, limit int) ([]reconcile.DriftAlert, error) {
	rows, err := s.db.Query(ctx, `SELECT `+alertCols+` FROM reconcile_drift_alerts WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2`, tenantID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (reconcile.DriftAlert, error) { return scanAlert(r) })
}

// UndeliveredDriftAlerts lists alerts whose next delivery attempt is due.
func (s *Store) UndeliveredDriftAlerts(ctx context.Context, limit int) ([]reconcile.DriftAlert, error) {
	rows, err := s.db.Query(ctx, `SELECT `+alertCols+` FROM reconcile_drift_alerts
		WHERE delivered_at IS NULL AND next_attempt_at <= now() ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (reconcile.DriftAlert, error) { return scanAlert(r) })
}

// maxAlertAttempts: after these, an alert stays undelivered with its error.
const maxAlertAttempts = 10

// MarkDriftAlert records a delivery attempt: delivered, or retried after
// 2^attempts minutes (at most 10 attempts).
func (s *Store) MarkDriftAlert(ctx context.Context, id int64, deliveryErr string) error {
	_, err := s.db.Exec(ctx, `UPDATE reconcile_drift_alerts SET attempts = attempts + 1, last_error = $2,
		delivered_at = CASE WHEN $2 = '' THEN now() END,
		next_attempt_at = CASE WHEN attempts + 1 >= $3 THEN 'infinity' ELSE now() + make_interval(mins => least(power(2, attempts)::int, 240)) END
		WHERE id = $1`, id, deliveryErr, maxAlertAttempts)
	return err
}
