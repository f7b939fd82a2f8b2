// Package pgstore keeps billing settings and issued invoices in Postgres.
// Every query is scoped by tenant. Issuing takes a per-tenant transaction
// lock (the tenant's invoice counter row), so concurrent requests for the
// same period issue one invoice and numbers have no gaps; a partial unique
// index on (tenant, period) for live invoices backs it up, and a trigger
// refuses any change to an issued invoice's contents.
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/billing"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/event"
)

// Store implements billing.Store.
type Store struct{ db *pgxpool.Pool }

// New returns a store over db (migrated by store/postgres).
func New(db *pgxpool.Pool) *Store { return &Store{db: db} }

var _ billing.Store = (*Store)(nil)

// Settings returns the tenant's settings, the defaults when none are saved.
func (s *Store) Settings(ctx context.Context, tenantID string) (billing.Settings, error) {
	set := billing.DefaultSettings()
	err := s.db.QueryRow(ctx, `SELECT time_zone, period_start_day, group_by FROM billing_settings WHERE tenant_id = $1`, tenantID).
		Scan(&set.TimeZone, &set.PeriodStartDay, &set.GroupBy)
	if errors.Is(err, pgx.ErrNoRows) {
		return billing.DefaultSettings(), nil
	}
	return set, err
}

// SaveSettings stores the tenant's settings, audited.
func (s *Store) SaveSettings(ctx context.Context, p auth.Principal, tenantID string, set billing.Settings) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO billing_settings (tenant_id, time_zone, period_start_day, group_by) VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant_id) DO UPDATE SET time_zone = $2, period_start_day = $3, group_by = $4, updated_at = now()`,
			tenantID, set.TimeZone, set.PeriodStartDay, set.GroupBy)
		if err != nil {
			return err
		}
		return controlplane.AuditTx(ctx, tx, tenantID, p, "billing.settings", "tenant", tenantID,
			map[string]any{"time_zone": set.TimeZone, "period_start_day": set.PeriodStartDay, "group_by": set.GroupBy})
	})
}

// CatalogueRevisions lists the applied catalogue revisions in force at some
// time in [from, to): the last one effective at from and those effective
// later within the range.
func (s *Store) CatalogueRevisions(ctx context.Context, from, to time.Time) ([]int64, error) {
	rows, err := s.db.Query(ctx, `(SELECT id FROM pricing_revisions WHERE status = 'applied' AND effective_from <= $1
			ORDER BY effective_from DESC, id DESC LIMIT 1)
		UNION SELECT id FROM pricing_revisions WHERE status = 'applied' AND effective_from > $1 AND effective_from < $2
		ORDER BY id`, from, to)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

const invoiceColumns = `id::text, tenant_id::text, number, status, period_label, period_start, period_end, time_zone, group_by, currency,
	list_nano_usd, tenant_nano_usd, total_nano_usd, lines, pricing, provider_reported, issued_at, issued_by,
	paid_at, coalesce(paid_by, ''), voided_at, coalesce(voided_by, ''), coalesce(void_reason, '')`

func scanInvoice(r pgx.Row) (billing.Invoice, error) {
	var inv billing.Invoice
	var lines, basis, reported []byte
	err := r.Scan(&inv.ID, &inv.TenantID, &inv.Number, &inv.Status, &inv.Period.Label, &inv.Period.Start, &inv.Period.End,
		&inv.Period.TimeZone, &inv.GroupBy, &inv.Currency, &inv.ListNanoUSD, &inv.TenantNanoUSD, &inv.TotalNanoUSD,
		&lines, &basis, &reported, &inv.IssuedAt, &inv.IssuedBy, &inv.PaidAt, &inv.PaidBy, &inv.VoidedAt, &inv.VoidedBy, &inv.VoidReason)
	if err != nil {
		return inv, err
	}
	inv.Period.Start, inv.Period.End, inv.IssuedAt = inv.Period.Start.UTC(), inv.Period.End.UTC(), inv.IssuedAt.UTC()
	if err := json.Unmarshal(lines, &inv.Lines); err != nil {
		return inv, fmt.Errorf("billing: invoice %s lines: %w", inv.ID, err)
	}
	if err := json.Unmarshal(basis, &inv.Pricing); err != nil {
		return inv, fmt.Errorf("billing: invoice %s pricing: %w", inv.ID, err)
	}
	if err := json.Unmarshal(reported, &inv.ProviderReported); err != nil {
		return inv, fmt.Errorf("billing: invoice %s provider figures: %w", inv.ID, err)
	}
	return inv, nil
}

// Invoices lists the tenant's invoices, newest period first (a void one
// after the live one of its period).
func (s *Store) Invoices(ctx context.Context, tenantID string) ([]billing.Invoice, error) {
	return invoices(ctx, s.db, tenantID)
}

func invoices(ctx context.Context, q queryer, tenantID string) ([]billing.Invoice, error) {
	rows, err := q.Query(ctx, `SELECT `+invoiceColumns+` FROM invoices WHERE tenant_id = $1 ORDER BY period_start DESC, number DESC`, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (billing.Invoice, error) { return scanInvoice(r) })
}

// Invoice reads one invoice of the tenant.
func (s *Store) Invoice(ctx context.Context, tenantID, id string) (billing.Invoice, error) {
	if !event.IsUUID(id) {
		return billing.Invoice{}, apierr.Invalid("invoice id %q is not a valid id", id)
	}
	inv, err := scanInvoice(s.db.QueryRow(ctx, `SELECT `+invoiceColumns+` FROM invoices WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return inv, billing.ErrNotFound
	}
	return inv, err
}

// Issue implements billing.Store.Issue. The invoice is computed outside the
// transaction (it reads ClickHouse and other Postgres connections), against
// a snapshot of the tenant's invoices; the transaction then takes the
// tenant's counter row lock, returns the period's invoice if another request
// stored it meanwhile, and stores this one only if the snapshot still holds
// (else computes again). Requests waiting on the lock hold nothing the
// holder needs, so any number of them cannot exhaust the pool into a
// deadlock.
func (s *Store) Issue(ctx context.Context, p auth.Principal, tenantID string, period billing.Period,
	compute func(ctx context.Context, issued []billing.Invoice) (billing.Invoice, error)) (billing.Invoice, bool, error) {
	for attempt := 0; attempt < issueAttempts; attempt++ {
		if inv, err := s.livePeriodInvoice(ctx, s.db, tenantID, period); err == nil || !errors.Is(err, pgx.ErrNoRows) {
			return inv, false, err
		}
		all, err := invoices(ctx, s.db, tenantID)
		if err != nil {
			return billing.Invoice{}, false, err
		}
		snapshot := fingerprint(all)
		inv, err := compute(ctx, live(all))
		if err != nil {
			return billing.Invoice{}, false, err
		}
		var out billing.Invoice
		var created, stale bool
		err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			// The counter row is the tenant's issuing lock, held to commit.
			var last int64
			if err := tx.QueryRow(ctx, `INSERT INTO invoice_counters (tenant_id, last_number) VALUES ($1, 0)
				ON CONFLICT (tenant_id) DO UPDATE SET last_number = invoice_counters.last_number RETURNING last_number`, tenantID).Scan(&last); err != nil {
				return err
			}
			existing, err := s.livePeriodInvoice(ctx, tx, tenantID, period)
			if err == nil {
				out = existing
				return nil
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			now, err := invoices(ctx, tx, tenantID)
			if err != nil {
				return err
			}
			if fingerprint(now) != snapshot {
				stale = true // another invoice was issued, paid or voided meanwhile: its adjustments may differ
				return nil
			}
			inv.Number = last + 1
			if err := insertInvoice(ctx, tx, tenantID, &inv); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE invoice_counters SET last_number = $2 WHERE tenant_id = $1`, tenantID, inv.Number); err != nil {
				return err
			}
			inv.TenantID, inv.Status, created = tenantID, billing.Issued, true
			out = inv
			return controlplane.AuditTx(ctx, tx, tenantID, p, "invoice.issue", "invoice", inv.ID, map[string]any{
				"number": inv.NumberText(), "period": inv.Period.Label, "total_nano_usd": inv.TotalNanoUSD,
				"catalogue_revisions": inv.Pricing.CatalogueRevisions})
		})
		if err != nil {
			return billing.Invoice{}, false, err
		}
		if !stale {
			return out, created, nil
		}
	}
	return billing.Invoice{}, false, apierr.New(apierr.CodeConflict, "invoices of this tenant kept changing while issuing %s; try again", period.Label)
}

// issueAttempts bounds recomputing an invoice whose snapshot went stale.
const issueAttempts = 5

type queryer interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}

func (s *Store) livePeriodInvoice(ctx context.Context, q queryer, tenantID string, period billing.Period) (billing.Invoice, error) {
	return scanInvoice(q.QueryRow(ctx, `SELECT `+invoiceColumns+` FROM invoices
		WHERE tenant_id = $1 AND period_start = $2 AND status <> 'void'`, tenantID, period.Start))
}

// fingerprint identifies a list of invoices by ids and statuses.
func fingerprint(all []billing.Invoice) string {
	var b strings.Builder
	for _, inv := range all {
		b.WriteString(inv.ID)
		b.WriteByte(':')
		b.WriteString(string(inv.Status))
		b.WriteByte(',')
	}
	return b.String()
}

func live(all []billing.Invoice) []billing.Invoice {
	out := make([]billing.Invoice, 0, len(all))
	for _, inv := range all {
		if inv.Status != billing.Void {
			out = append(out, inv)
		}
	}
	return out
}

func insertInvoice(ctx context.Context, tx pgx.Tx, tenantID string, inv *billing.Invoice) error {
	lines, err := json.Marshal(inv.Lines)
	if err != nil {
		return err
	}
	basis, err := json.Marshal(inv.Pricing)
	if err != nil {
		return err
	}
	reported, err := json.Marshal(inv.ProviderReported)
	if err != nil {
		return err
	}
	return tx.QueryRow(ctx, `INSERT INTO invoices (tenant_id, number, period_label, period_start, period_end, time_zone, group_by,
		status, currency, list_nano_usd, tenant_nano_usd, total_nano_usd, lines, pricing, provider_reported, issued_at, issued_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 'issued', $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id::text`,
		tenantID, inv.Number, inv.Period.Label, inv.Period.Start, inv.Period.End, inv.Period.TimeZone, inv.GroupBy,
		inv.Currency, inv.ListNanoUSD, inv.TenantNanoUSD, inv.TotalNanoUSD, lines, basis, reported, inv.IssuedAt, inv.IssuedBy).Scan(&inv.ID)
}

// SetStatus moves an invoice to paid or void under a row lock, audited.
func (s *Store) SetStatus(ctx context.Context, p auth.Principal, tenantID, id string, to billing.Status, reason string, at time.Time) (billing.Invoice, error) {
	if !event.IsUUID(id) {
		return billing.Invoice{}, apierr.Invalid("invoice id %q is not a valid id", id)
	}
	var out billing.Invoice
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		inv, err := scanInvoice(tx.QueryRow(ctx, `SELECT `+invoiceColumns+` FROM invoices WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return billing.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := billing.CheckTransition(&inv, to); err != nil {
			return err
		}
		switch to {
		case billing.Paid:
			_, err = tx.Exec(ctx, `UPDATE invoices SET status = 'paid', paid_at = $3, paid_by = $4 WHERE tenant_id = $1 AND id = $2`, tenantID, id, at, p.Email)
			inv.PaidAt, inv.PaidBy = &at, p.Email
		case billing.Void:
			_, err = tx.Exec(ctx, `UPDATE invoices SET status = 'void', voided_at = $3, voided_by = $4, void_reason = $5 WHERE tenant_id = $1 AND id = $2`,
				tenantID, id, at, p.Email, reason)
			inv.VoidedAt, inv.VoidedBy, inv.VoidReason = &at, p.Email, reason
		}
		if err != nil {
			return err
		}
		inv.Status = to
		out = inv
		details := map[string]any{"number": inv.NumberText(), "period": inv.Period.Label}
		if reason != "" {
			details["reason"] = reason
		}
		return controlplane.AuditTx(ctx, tx, tenantID, p, "invoice."+string(to), "invoice", id, details)
	})
	return out, err
}
