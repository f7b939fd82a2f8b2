// Package pgstore keeps anomaly episodes in Postgres: open episodes per
// series (at most one, by a partial unique index), the hour each tenant was
// judged through, and the alert outbox an opened episode fills in the same
// transaction (NATS for live subscriptions, and the webhook of every budget
// that covers the series).
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/anomaly"
	"github.com/spendgate/spendgate/budget"
)

// Store reads and writes episodes.
type Store struct{ db *pgxpool.Pool }

// New returns a store over db.
func New(db *pgxpool.Pool) *Store { return &Store{db: db} }

// Tenants lists every tenant id (the job judges each).
func (s *Store) Tenants(ctx context.Context) ([]string, error) {
	rows, err := s.db.Query(ctx, "SELECT id::text FROM tenants ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("anomaly: tenants: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("anomaly: tenants: %w", err)
	}
	return ids, nil
}

// JudgedThrough is the start of the last hour judged for the tenant (zero:
// never).
func (s *Store) JudgedThrough(ctx context.Context, tenantID string) (time.Time, error) {
	var t time.Time
	err := s.db.QueryRow(ctx, "SELECT judged_through FROM anomaly_cursors WHERE tenant_id = $1", tenantID).Scan(&t)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("anomaly: cursor: %w", err)
	}
	return t.UTC(), nil
}

const episodeCols = `id::text, tenant_id::text, dimension, series_value, started_at, last_anomalous_at, ended_at, peak_hour,
	peak_nano_usd, peak_expected_nano_usd, peak_score, severity, excess_nano_usd, anomalous_hours, detected_at`

func scanEpisode(r pgx.Row) (anomaly.Episode, error) {
	var e anomaly.Episode
	var dim, sev string
	err := r.Scan(&e.ID, &e.TenantID, &dim, &e.Series.Value, &e.StartedAt, &e.LastAnomalousAt, &e.EndedAt, &e.PeakHour,
		&e.PeakNanoUSD, &e.PeakExpectedNanoUSD, &e.PeakScore, &sev, &e.ExcessNanoUSD, &e.AnomalousHours, &e.DetectedAt)
	e.Series.Dimension, e.Severity = anomaly.Dimension(dim), anomaly.Severity(sev)
	e.StartedAt, e.LastAnomalousAt, e.PeakHour, e.DetectedAt = e.StartedAt.UTC(), e.LastAnomalousAt.UTC(), e.PeakHour.UTC(), e.DetectedAt.UTC()
	if e.EndedAt != nil {
		t := e.EndedAt.UTC()
		e.EndedAt = &t
	}
	return e, err
}

// OpenEpisodes returns the tenant's open episodes by series.
func (s *Store) OpenEpisodes(ctx context.Context, tenantID string) (map[anomaly.SeriesKey]*anomaly.Episode, error) {
	rows, err := s.db.Query(ctx, "SELECT "+episodeCols+" FROM anomaly_episodes WHERE tenant_id = $1 AND ended_at IS NULL", tenantID)
	if err != nil {
		return nil, fmt.Errorf("anomaly: open episodes: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (anomaly.Episode, error) { return scanEpisode(r) })
	if err != nil {
		return nil, fmt.Errorf("anomaly: open episodes: %w", err)
	}
	out := make(map[anomaly.SeriesKey]*anomaly.Episode, len(list))
	for i := range list {
		out[list[i].Series] = &list[i]
	}
	return out, nil
}

// ListQuery selects episodes of one tenant that overlap [From, To).
type ListQuery struct {
	TenantID string
	From, To time.Time
	// Dimension keeps one dimension ("" all); Limit caps the list.
	Dimension anomaly.Dimension
	Limit     int
}

// List returns episodes overlapping the window, newest first.
func (s *Store) List(ctx context.Context, q ListQuery) ([]anomaly.Episode, error) {
	rows, err := s.db.Query(ctx, "SELECT "+episodeCols+` FROM anomaly_episodes
		WHERE tenant_id = $1 AND started_at < $3 AND (ended_at IS NULL OR ended_at > $2) AND ($4 = '' OR dimension = $4)
		ORDER BY started_at DESC, id LIMIT $5`, q.TenantID, q.From, q.To, string(q.Dimension), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("anomaly: list: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (anomaly.Episode, error) { return scanEpisode(r) })
	if err != nil {
		return nil, fmt.Errorf("anomaly: list: %w", err)
	}
	return list, nil
}

// Change is one episode the job opened, extended or closed.
type Change struct {
	Step    anomaly.Step
	Episode *anomaly.Episode
}

// Save records a judged run of one tenant in one transaction: opened
// episodes are inserted with their alerts queued, the others updated, and
// the cursor moved to through. It returns the opened episodes with ids.
func (s *Store) Save(ctx context.Context, tenantID string, through time.Time, changes []Change) ([]anomaly.Episode, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("anomaly: save: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	var opened []anomaly.Episode
	for _, c := range changes {
		e := c.Episode
		if e.TenantID != tenantID {
			return nil, fmt.Errorf("anomaly: save: episode of tenant %s in a run of %s", e.TenantID, tenantID)
		}
		switch c.Step {
		case anomaly.StepOpened:
			// An episode may open and end within one run (catching up).
			err := tx.QueryRow(ctx, `INSERT INTO anomaly_episodes (tenant_id, dimension, series_value, started_at, last_anomalous_at, peak_hour,
				peak_nano_usd, peak_expected_nano_usd, peak_score, severity, excess_nano_usd, anomalous_hours, detected_at, ended_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id::text`,
				tenantID, string(e.Series.Dimension), e.Series.Value, e.StartedAt, e.LastAnomalousAt, e.PeakHour, e.PeakNanoUSD,
				e.PeakExpectedNanoUSD, e.PeakScore, string(e.Severity), e.ExcessNanoUSD, e.AnomalousHours, e.DetectedAt, e.EndedAt).Scan(&e.ID)
			if err != nil {
				return nil, fmt.Errorf("anomaly: open episode: %w", err)
			}
			if err := queueAlert(ctx, tx, e); err != nil {
				return nil, err
			}
			opened = append(opened, *e)
		case anomaly.StepExtended, anomaly.StepClosed:
			tag, err := tx.Exec(ctx, `UPDATE anomaly_episodes SET last_anomalous_at = $3, ended_at = $4, peak_hour = $5, peak_nano_usd = $6,
				peak_expected_nano_usd = $7, peak_score = $8, severity = $9, excess_nano_usd = $10, anomalous_hours = $11
				WHERE id = $1 AND tenant_id = $2 AND ended_at IS NULL`,
				e.ID, tenantID, e.LastAnomalousAt, e.EndedAt, e.PeakHour, e.PeakNanoUSD, e.PeakExpectedNanoUSD, e.PeakScore,
				string(e.Severity), e.ExcessNanoUSD, e.AnomalousHours)
			if err != nil {
				return nil, fmt.Errorf("anomaly: update episode: %w", err)
			}
			if tag.RowsAffected() != 1 {
				return nil, fmt.Errorf("anomaly: episode %s is not open any more (another run?)", e.ID)
			}
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO anomaly_cursors (tenant_id, judged_through) VALUES ($1, $2)
		ON CONFLICT (tenant_id) DO UPDATE SET judged_through = GREATEST(anomaly_cursors.judged_through, EXCLUDED.judged_through)`, tenantID, through); err != nil {
		return nil, fmt.Errorf("anomaly: cursor: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("anomaly: save: %w", err)
	}
	return opened, nil
}

// queueAlert queues the episode's alert: one NATS row, and one webhook row
// per distinct webhook URL of the tenant's budgets that cover the series
// (a tenant budget covers every series; a key, team, project or model
// budget its own).
func queueAlert(ctx context.Context, tx pgx.Tx, e *anomaly.Episode) error {
	if _, err := tx.Exec(ctx, "INSERT INTO anomaly_alert_outbox (episode_id, kind) VALUES ($1, 'nats')", e.ID); err != nil {
		return fmt.Errorf("anomaly: queue alert: %w", err)
	}
	_, err := tx.Exec(ctx, `INSERT INTO anomaly_alert_outbox (episode_id, kind, webhook_url)
		SELECT DISTINCT $1::uuid, 'webhook', webhook_url FROM budgets
		WHERE tenant_id = $2 AND webhook_url IS NOT NULL AND webhook_url <> '' AND (scope = 'tenant'
			OR scope = 'key' AND $3 = 'key' AND key_id::text = $4
			OR scope = 'team' AND $3 = 'team' AND team_id::text = $4
			OR scope = 'project' AND $3 = 'project' AND project_id::text = $4
			OR scope = 'model' AND $3 = 'model' AND model = $4)`,
		e.ID, e.TenantID, string(e.Series.Dimension), e.Series.Value)
	if err != nil {
		return fmt.Errorf("anomaly: queue webhook alerts: %w", err)
	}
	return nil
}

// DeliverDue claims due outbox rows of kind, sends each and records the
// outcome like the budget alert outbox: delivered, retried after the
// policy's backoff, or failed after MaxAttempts. Rows are claimed FOR
// UPDATE SKIP LOCKED, so dispatchers on several replicas never send one
// row twice at once.
func (s *Store) DeliverDue(ctx context.Context, kind string, limit int, pol budget.DeliverPolicy, send func(context.Context, anomaly.Delivery) error) (int, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("anomaly: outbox: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	// The series' name as people know it, read at delivery (a key renamed
	// since is named as it is now).
	rows, err := tx.Query(ctx, `SELECT o.id, o.webhook_url, o.attempts, `+prefixed("e.")+`,
		COALESCE(CASE e.dimension
			WHEN 'key' THEN (SELECT name FROM api_keys WHERE tenant_id = e.tenant_id AND id::text = e.series_value)
			WHEN 'team' THEN (SELECT name FROM teams WHERE tenant_id = e.tenant_id AND id::text = e.series_value)
			WHEN 'project' THEN (SELECT name FROM projects WHERE tenant_id = e.tenant_id AND id::text = e.series_value) END, '')
		FROM anomaly_alert_outbox o JOIN anomaly_episodes e ON e.id = o.episode_id
		WHERE o.kind = $1 AND o.delivered_at IS NULL AND o.failed_at IS NULL AND o.next_attempt_at <= now()
		ORDER BY o.id LIMIT $2 FOR UPDATE OF o SKIP LOCKED`, kind, limit)
	if err != nil {
		return 0, fmt.Errorf("anomaly: outbox: %w", err)
	}
	type due struct {
		id  int64
		del anomaly.Delivery
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (due, error) {
		var d due
		var e anomaly.Episode
		var dim, sev string
		err := r.Scan(&d.id, &d.del.WebhookURL, &d.del.Attempt, &e.ID, &e.TenantID, &dim, &e.Series.Value, &e.StartedAt, &e.LastAnomalousAt,
			&e.EndedAt, &e.PeakHour, &e.PeakNanoUSD, &e.PeakExpectedNanoUSD, &e.PeakScore, &sev, &e.ExcessNanoUSD, &e.AnomalousHours, &e.DetectedAt, &e.Label)
		e.Series.Dimension, e.Severity = anomaly.Dimension(dim), anomaly.Severity(sev)
		e.StartedAt, e.PeakHour, e.DetectedAt = e.StartedAt.UTC(), e.PeakHour.UTC(), e.DetectedAt.UTC()
		d.del.Kind, d.del.Attempt, d.del.Alert = kind, d.del.Attempt+1, anomaly.AlertOf(&e)
		return d, err
	})
	if err != nil {
		return 0, fmt.Errorf("anomaly: outbox: %w", err)
	}
	sent := 0
	for _, d := range list {
		if err := send(ctx, d.del); err != nil {
			if d.del.Attempt >= pol.MaxAttempts {
				_, err = tx.Exec(ctx, "UPDATE anomaly_alert_outbox SET attempts = $2, failed_at = now(), last_error = $3 WHERE id = $1", d.id, d.del.Attempt, err.Error())
			} else {
				_, err = tx.Exec(ctx, "UPDATE anomaly_alert_outbox SET attempts = $2, next_attempt_at = now() + $3::interval, last_error = $4 WHERE id = $1",
					d.id, d.del.Attempt, pol.Backoff(d.del.Attempt).String(), err.Error())
			}
			if err != nil {
				return sent, fmt.Errorf("anomaly: outbox: %w", err)
			}
			continue
		}
		if _, err := tx.Exec(ctx, "UPDATE anomaly_alert_outbox SET attempts = $2, delivered_at = now(), last_error = '' WHERE id = $1", d.id, d.del.Attempt); err != nil {
			return sent, fmt.Errorf("anomaly: outbox: %w", err)
		}
		sent++
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("anomaly: outbox: %w", err)
	}
	return sent, nil
}

func prefixed(p string) string {
	return p + `id::text, ` + p + `tenant_id::text, ` + p + `dimension, ` + p + `series_value, ` + p + `started_at, ` + p + `last_anomalous_at, ` +
		p + `ended_at, ` + p + `peak_hour, ` + p + `peak_nano_usd, ` + p + `peak_expected_nano_usd, ` + p + `peak_score, ` + p + `severity, ` +
		p + `excess_nano_usd, ` + p + `anomalous_hours, ` + p + `detected_at`
}
