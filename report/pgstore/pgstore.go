// Package pgstore keeps report definitions and sent reports in Postgres
// (migration 20261205040000_reports.sql). Every query names the tenant; a
// definition is changed together with its audit-log row, in one
// transaction.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/auth"
	budgetstore "github.com/spendgate/spendgate/budget/pgstore"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/report"
)

// ErrNotFound is returned for a definition the tenant does not have.
var ErrNotFound = errors.New("report: definition not found")

// ErrNoNode is returned when the report's team or project is not the tenant's.
var ErrNoNode = errors.New("report: the team or project is not in this tenant")

// Store is the Postgres report store.
type Store struct {
	db      *pgxpool.Pool
	budgets *budgetstore.Store
}

// New returns a store on db.
func New(db *pgxpool.Pool) *Store { return &Store{db: db, budgets: budgetstore.New(db)} }

const cols = `id::text, tenant_id::text, name, frequency, cron, time_zone, scope, coalesce(team_id::text, coalesce(project_id::text, '')),
	emails, slack_webhook_url, enabled, scheduled_since, created_at, updated_at`

func scan(r pgx.Row) (report.Definition, time.Time, error) {
	var d report.Definition
	var freq, scope string
	var since time.Time
	err := r.Scan(&d.ID, &d.TenantID, &d.Name, &freq, &d.Cron, &d.TimeZone, &scope, &d.Scope.NodeID, &d.Emails, &d.SlackWebhookURL,
		&d.Enabled, &since, &d.CreatedAt, &d.UpdatedAt)
	d.Frequency, d.Scope.Kind = report.Frequency(freq), report.ScopeKind(scope)
	return d, since, err
}

// emails is never NULL in the table: no recipients is an empty array.
func emails(e []string) []string {
	if e == nil {
		return []string{}
	}
	return e
}

func nodeArgs(s report.Scope) (team, project any) {
	switch s.Kind {
	case report.ScopeTeam:
		return s.NodeID, nil
	case report.ScopeProject:
		return nil, s.NodeID
	}
	return nil, nil
}

func details(d *report.Definition) map[string]any {
	return map[string]any{"name": d.Name, "frequency": d.Frequency, "cron": d.Cron, "time_zone": d.TimeZone, "scope": d.Scope.Kind,
		"node_id": d.Scope.NodeID, "emails": d.Emails, "slack": d.SlackWebhookURL != "", "enabled": d.Enabled}
}

func (s *Store) inTx(ctx context.Context, f func(pgx.Tx) error) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // rollback after commit is a no-op
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func fkErr(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && (pg.Code == "23503" || pg.Code == "22P02") {
		return ErrNoNode
	}
	return err
}

// Create stores a new definition and audits it as p.
func (s *Store) Create(ctx context.Context, p auth.Principal, d report.Definition) (report.Definition, error) {
	team, project := nodeArgs(d.Scope)
	var out report.Definition
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, _, err = scan(tx.QueryRow(ctx, `INSERT INTO report_definitions (tenant_id, name, frequency, cron, time_zone, scope, team_id,
			project_id, emails, slack_webhook_url, enabled) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING `+cols,
			d.TenantID, d.Name, string(d.Frequency), d.Cron, d.TimeZone, string(d.Scope.Kind), team, project, emails(d.Emails), d.SlackWebhookURL, d.Enabled))
		if err != nil {
			return fkErr(err)
		}
		return controlplane.AuditTx(ctx, tx, d.TenantID, p, "report.create", "report", out.ID, details(&out))
	})
	if err != nil {
		return report.Definition{}, fmt.Errorf("report: create: %w", err)
	}
	return out, nil
}

// Update replaces a definition of the tenant and audits it as p. A changed
// schedule (frequency, cron, time zone) or enabling it again moves
// scheduled_since to now; rescheduled says so.
func (s *Store) Update(ctx context.Context, p auth.Principal, d report.Definition) (out report.Definition, rescheduled bool, err error) {
	team, project := nodeArgs(d.Scope)
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var since time.Time
		var before time.Time
		if err := tx.QueryRow(ctx, `SELECT scheduled_since FROM report_definitions WHERE tenant_id = $1 AND id::text = $2 FOR UPDATE`,
			d.TenantID, d.ID).Scan(&before); errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		var err error
		out, since, err = scan(tx.QueryRow(ctx, `UPDATE report_definitions SET name = $3, frequency = $4, cron = $5, time_zone = $6,
			scope = $7, team_id = $8, project_id = $9, emails = $10, slack_webhook_url = $11, enabled = $12, updated_at = now(),
			scheduled_since = CASE WHEN frequency <> $4 OR cron <> $5 OR time_zone <> $6 OR (enabled = false AND $12) THEN now()
				ELSE scheduled_since END
			WHERE tenant_id = $1 AND id::text = $2 RETURNING `+cols,
			d.TenantID, d.ID, d.Name, string(d.Frequency), d.Cron, d.TimeZone, string(d.Scope.Kind), team, project, emails(d.Emails), d.SlackWebhookURL, d.Enabled))
		if err != nil {
			return fkErr(err)
		}
		rescheduled = !since.Equal(before)
		return controlplane.AuditTx(ctx, tx, d.TenantID, p, "report.update", "report", out.ID, details(&out))
	})
	if err != nil {
		return report.Definition{}, false, fmt.Errorf("report: update: %w", err)
	}
	return out, rescheduled, nil
}

// Delete removes a definition of the tenant (and its sent reports) and
// audits it as p.
func (s *Store) Delete(ctx context.Context, p auth.Principal, tenantID, id string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var name string
		if err := tx.QueryRow(ctx, `DELETE FROM report_definitions WHERE tenant_id = $1 AND id::text = $2 RETURNING name`, tenantID, id).
			Scan(&name); errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		return controlplane.AuditTx(ctx, tx, tenantID, p, "report.delete", "report", id, map[string]any{"name": name})
	})
	if err != nil {
		return fmt.Errorf("report: delete: %w", err)
	}
	return nil
}

// Get reads one definition of the tenant.
func (s *Store) Get(ctx context.Context, tenantID, id string) (report.Definition, error) {
	d, _, err := scan(s.db.QueryRow(ctx, `SELECT `+cols+` FROM report_definitions WHERE tenant_id = $1 AND id::text = $2`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return report.Definition{}, ErrNotFound
	}
	if err != nil {
		return report.Definition{}, fmt.Errorf("report: get: %w", err)
	}
	return d, nil
}

// List reads the tenant's definitions by name.
func (s *Store) List(ctx context.Context, tenantID string) ([]report.Definition, error) {
	rows, err := s.db.Query(ctx, `SELECT `+cols+` FROM report_definitions WHERE tenant_id = $1 ORDER BY name, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("report: list: %w", err)
	}
	return collect(rows)
}

func collect(rows pgx.Rows) ([]report.Definition, error) {
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (report.Definition, error) {
		d, _, err := scan(r)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return out, nil
}

// Enabled lists every tenant's enabled definitions (the scheduler's jobs).
func (s *Store) Enabled(ctx context.Context) ([]report.Definition, error) {
	rows, err := s.db.Query(ctx, `SELECT `+cols+` FROM report_definitions WHERE enabled ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("report: enabled: %w", err)
	}
	return collect(rows)
}

// ScheduledSince is when the definition's current schedule began.
func (s *Store) ScheduledSince(ctx context.Context, tenantID, id string) (time.Time, error) {
	_, since, err := scan(s.db.QueryRow(ctx, `SELECT `+cols+` FROM report_definitions WHERE tenant_id = $1 AND id::text = $2`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, ErrNotFound
	}
	return since, err
}

// Run is one sent report.
type Run struct {
	DefinitionID, TenantID string
	Slot                   time.Time
	Test                   bool
	report.Period
	SpendNanoUSD int64
	Channels     []string
	SentAt       time.Time
}

// Sent reports whether the scheduled report of slot was sent already.
func (s *Store) Sent(ctx context.Context, tenantID, id string, slot time.Time) (bool, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM report_runs WHERE tenant_id = $1 AND definition_id::text = $2 AND slot = $3 AND NOT test`,
		tenantID, id, slot).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("report: sent: %w", err)
	}
	return n > 0, nil
}

// RecordRun records a sent report. A scheduled slot recorded already (a
// concurrent run) is not an error.
func (s *Store) RecordRun(ctx context.Context, r Run) error {
	_, err := s.db.Exec(ctx, `INSERT INTO report_runs (definition_id, tenant_id, slot, test, period_from, period_to, spend_nano_usd, channels)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
		r.DefinitionID, r.TenantID, r.Slot, r.Test, r.From, r.To, r.SpendNanoUSD, r.Channels)
	if err != nil {
		return fmt.Errorf("report: record run: %w", err)
	}
	return nil
}

// DeliveredChannels lists the channels that already got the scheduled
// report of slot (a run that failed on another channel recorded them).
func (s *Store) DeliveredChannels(ctx context.Context, tenantID, id string, slot time.Time) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT channel FROM report_channel_deliveries
		WHERE tenant_id = $1 AND definition_id::text = $2 AND slot = $3 ORDER BY channel`, tenantID, id, slot)
	if err != nil {
		return nil, fmt.Errorf("report: delivered channels: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("report: delivered channels: %w", err)
	}
	return out, nil
}

// RecordChannel records that channel got the scheduled report of slot.
func (s *Store) RecordChannel(ctx context.Context, tenantID, id string, slot time.Time, channel string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO report_channel_deliveries (definition_id, tenant_id, slot, channel)
		VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, id, tenantID, slot, channel)
	if err != nil {
		return fmt.Errorf("report: record %s delivery: %w", channel, err)
	}
	return nil
}

// Runs lists a definition's sent reports, newest first.
func (s *Store) Runs(ctx context.Context, tenantID, id string, limit int) ([]Run, error) {
	rows, err := s.db.Query(ctx, `SELECT definition_id::text, tenant_id::text, slot, test, period_from, period_to, spend_nano_usd, channels, sent_at
		FROM report_runs WHERE tenant_id = $1 AND definition_id::text = $2 ORDER BY sent_at DESC, id DESC LIMIT $3`, tenantID, id, limit)
	if err != nil {
		return nil, fmt.Errorf("report: runs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Run, error) {
		var x Run
		err := r.Scan(&x.DefinitionID, &x.TenantID, &x.Slot, &x.Test, &x.From, &x.To, &x.SpendNanoUSD, &x.Channels, &x.SentAt)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("report: runs: %w", err)
	}
	return out, nil
}

// NodeInTenant reports whether a team or project id is the tenant's.
func (s *Store) NodeInTenant(ctx context.Context, tenantID string, kind report.ScopeKind, id string) (bool, error) {
	table := map[report.ScopeKind]string{report.ScopeTeam: "teams", report.ScopeProject: "projects"}[kind]
	if table == "" {
		return false, nil
	}
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE tenant_id = $1 AND id::text = $2`, tenantID, id).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("report: %s: %w", kind, err)
	}
	return n > 0, nil
}

// --- report.Directory ---

// Names answers key and node names (the control plane's lookups).
type Names interface {
	KeyNames(ctx context.Context, tenantID string, ids []string) (map[string]string, error)
	NodeNames(ctx context.Context, tenantID string, ids []string) (map[string]string, error)
}

// Directory is the report.Directory over Postgres.
type Directory struct {
	Store *Store
	Names
}

// TenantName reads the tenant's name.
func (d Directory) TenantName(ctx context.Context, tenantID string) (string, error) {
	var name string
	if err := d.Store.db.QueryRow(ctx, `SELECT name FROM tenants WHERE id = $1`, tenantID).Scan(&name); err != nil {
		return "", fmt.Errorf("report: tenant %s: %w", tenantID, err)
	}
	return name, nil
}

// Budgets lists the scope's budgets where they stand at now.
func (d Directory) Budgets(ctx context.Context, tenantID string, scope report.Scope, now time.Time) ([]report.BudgetLine, error) {
	var team, project string
	switch scope.Kind {
	case report.ScopeTeam:
		team = scope.NodeID
	case report.ScopeProject:
		project = scope.NodeID
	}
	bs, err := d.Store.budgets.ScopeBudgets(ctx, tenantID, team, project)
	if err != nil {
		return nil, err
	}
	totals, err := d.Store.budgets.PeriodTotals(ctx, bs, now)
	if err != nil {
		return nil, err
	}
	out := make([]report.BudgetLine, 0, len(bs))
	for _, b := range bs {
		st := totals[b.ID]
		out = append(out, report.BudgetLine{Name: b.Name, Period: string(b.Period), AmountNanoUSD: st.AmountNanoUSD, SpentNanoUSD: st.SpentNanoUSD,
			ForecastNanoUSD: st.ForecastNanoUSD, PeriodStart: st.PeriodStart, PeriodEnd: st.PeriodEnd, Hard: b.Hard})
	}
	return out, nil
}

var _ report.Directory = Directory{}
