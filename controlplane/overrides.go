package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/pricing"
)

// PricingOverride is a tenant's price override (see pricing.Override).
type PricingOverride struct {
	ID, TenantID, Provider, Model string
	EffectiveFrom                 time.Time
	EffectiveTo                   *time.Time
	Rates                         map[string]int64
	PercentAdjustmentBP           int64
	Note                          string
	CreatedAt                     time.Time
}

// OverrideInput is an override as created or replaced.
type OverrideInput struct {
	Provider, Model     string
	EffectiveFrom       time.Time
	EffectiveTo         *time.Time
	Rates               map[string]int64
	PercentAdjustmentBP int64
	Note                string
}

// OverrideService manages tenants' pricing overrides.
type OverrideService struct{ *core }

const overrideColumns = `id, tenant_id, provider, model, effective_from, effective_to, rates, percent_adjustment_bp, note, created_at`

func scanOverride(r pgx.Row) (PricingOverride, error) {
	var o PricingOverride
	var rates []byte
	err := r.Scan(&o.ID, &o.TenantID, &o.Provider, &o.Model, &o.EffectiveFrom, &o.EffectiveTo, &rates, &o.PercentAdjustmentBP, &o.Note, &o.CreatedAt)
	if err == nil {
		_ = json.Unmarshal(rates, &o.Rates)
	}
	return o, err
}

func validateOverride(in *OverrideInput) error {
	in.Model = strings.TrimSpace(in.Model)
	o := pricing.Override{Provider: in.Provider, Model: in.Model, EffectiveFrom: in.EffectiveFrom, EffectiveTo: in.EffectiveTo,
		Rates: in.Rates, PercentAdjustmentBP: in.PercentAdjustmentBP}
	if err := pricing.ValidateOverride(&o); err != nil {
		var inv *pricing.InvalidError
		if errors.As(err, &inv) {
			return invalid("%s", inv.Msg)
		}
		return err
	}
	for class, r := range in.Rates {
		if r > math.MaxInt64/1_000_000 {
			return invalid("rate for %s is too large", class)
		}
	}
	if len(in.Note) > 1000 {
		return invalid("note must be at most 1000 characters")
	}
	return nil
}

// PricingOverrides lists a tenant's overrides.
func (s *OverrideService) PricingOverrides(ctx context.Context, tenantID string, page Page) (Connection[PricingOverride], error) {
	if _, _, err := s.authorize(ctx, tenantID, RoleViewer); err != nil {
		return Connection[PricingOverride]{}, err
	}
	return listPage(ctx, s.db, page, byCreated, `SELECT `+overrideColumns+` FROM pricing_overrides WHERE tenant_id = $1`, []any{tenantID},
		scanOverride, func(o PricingOverride) (time.Time, string) { return o.CreatedAt, o.ID })
}

// PricingOverride returns one override.
func (s *OverrideService) PricingOverride(ctx context.Context, tenantID, id string) (PricingOverride, error) {
	if _, _, err := s.authorize(ctx, tenantID, RoleViewer); err != nil {
		return PricingOverride{}, err
	}
	return s.getOverride(ctx, s.db, tenantID, id)
}

func (s *OverrideService) getOverride(ctx context.Context, q querier, tenantID, id string) (PricingOverride, error) {
	return getOne(ctx, q, "pricing_overrides", overrideColumns, "pricing override", scanOverride, tenantID, id)
}

// CreatePricingOverride adds an override.
func (s *OverrideService) CreatePricingOverride(ctx context.Context, tenantID string, in OverrideInput) (PricingOverride, error) {
	p, _, err := s.authorize(ctx, tenantID, RoleAdmin)
	if err != nil {
		return PricingOverride{}, err
	}
	if err := validateOverride(&in); err != nil {
		return PricingOverride{}, err
	}
	var o PricingOverride
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		rates, _ := json.Marshal(in.Rates)
		var err error
		o, err = scanOverride(tx.QueryRow(ctx, `INSERT INTO pricing_overrides (tenant_id, provider, model, effective_from, effective_to, rates,
			percent_adjustment_bp, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING `+overrideColumns,
			tenantID, in.Provider, in.Model, in.EffectiveFrom, in.EffectiveTo, rates, in.PercentAdjustmentBP, in.Note))
		if err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "pricing_override.create", "pricing_override", o.ID, overrideDetails(&in))
	})
	return o, err
}

func overrideDetails(in *OverrideInput) map[string]any {
	return map[string]any{"provider": in.Provider, "model": in.Model, "rates": in.Rates, "percent_adjustment_bp": in.PercentAdjustmentBP,
		"effective_from": in.EffectiveFrom, "effective_to": in.EffectiveTo}
}

// UpdatePricingOverride replaces an override.
func (s *OverrideService) UpdatePricingOverride(ctx context.Context, tenantID, id string, in OverrideInput) (PricingOverride, error) {
	p, _, err := s.authorize(ctx, tenantID, RoleAdmin)
	if err != nil {
		return PricingOverride{}, err
	}
	if err := validateOverride(&in); err != nil {
		return PricingOverride{}, err
	}
	var o PricingOverride
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := s.getOverride(ctx, tx, tenantID, id); err != nil {
			return err
		}
		rates, _ := json.Marshal(in.Rates)
		var err error
		o, err = scanOverride(tx.QueryRow(ctx, `UPDATE pricing_overrides SET provider = $3, model = $4, effective_from = $5, effective_to = $6,
			rates = $7, percent_adjustment_bp = $8, note = $9 WHERE tenant_id = $1 AND id = $2 RETURNING `+overrideColumns,
			tenantID, id, in.Provider, in.Model, in.EffectiveFrom, in.EffectiveTo, rates, in.PercentAdjustmentBP, in.Note))
		if err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "pricing_override.update", "pricing_override", id, overrideDetails(&in))
	})
	return o, err
}

// DeletePricingOverride removes an override.
func (s *OverrideService) DeletePricingOverride(ctx context.Context, tenantID, id string) error {
	return s.deleteOne(ctx, tenantID, id, "pricing_overrides", "pricing override", "pricing_override")
}

// TenantOverrides returns a tenant's overrides for pricing (ingest); no
// principal: the caller is a trusted service.
func (s *OverrideService) TenantOverrides(ctx context.Context, tenantID string) ([]pricing.Override, error) {
	return OverrideReader{DB: s.db}.TenantOverrides(ctx, tenantID)
}

// OverrideReader reads tenants' pricing overrides for ingest, which needs no
// other part of the control plane.
type OverrideReader struct{ DB *pgxpool.Pool }

// TenantOverrides returns a tenant's overrides as pricing.Override values.
func (r OverrideReader) TenantOverrides(ctx context.Context, tenantID string) ([]pricing.Override, error) {
	rows, err := r.DB.Query(ctx, `SELECT `+overrideColumns+` FROM pricing_overrides WHERE tenant_id = $1`, tenantID)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PricingOverride, error) { return scanOverride(r) })
	if err != nil {
		return nil, err
	}
	out := make([]pricing.Override, 0, len(list))
	for _, o := range list {
		out = append(out, pricing.Override{ID: o.ID, TenantID: o.TenantID, Provider: o.Provider, Model: o.Model,
			EffectiveFrom: o.EffectiveFrom, EffectiveTo: o.EffectiveTo, Rates: o.Rates, PercentAdjustmentBP: o.PercentAdjustmentBP})
	}
	return out, nil
}
