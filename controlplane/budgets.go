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

// Budget scopes and periods.
const (
	ScopeTenant    = "tenant"
	ScopeKey       = "key"
	ScopeDimension = "dimension"
)

// Budget limits spend of a scope per period.
type Budget struct {
	ID, TenantID, Name, Scope, Period  string
	KeyID, DimensionName, DimensionVal *string
	AmountNanoUSD                      int64
	Thresholds                         []int
	Hard                               bool
	WebhookURL                         *string
	CreatedAt, UpdatedAt               time.Time
}

// BudgetInput is a budget as created or replaced.
type BudgetInput struct {
	Name, Scope, Period                string
	KeyID, DimensionName, DimensionVal *string
	AmountNanoUSD                      int64
	Thresholds                         []int
	Hard                               bool
	WebhookURL                         *string
}

const budgetColumns = `id, tenant_id, name, scope, period, key_id, dimension_name, dimension_value, amount_nano_usd, thresholds, hard, webhook_url, created_at, updated_at`

func scanBudget(r pgx.Row) (Budget, error) {
	var b Budget
	var th []int32
	err := r.Scan(&b.ID, &b.TenantID, &b.Name, &b.Scope, &b.Period, &b.KeyID, &b.DimensionName, &b.DimensionVal, &b.AmountNanoUSD, &th, &b.Hard, &b.WebhookURL, &b.CreatedAt, &b.UpdatedAt)
	for _, t := range th {
		b.Thresholds = append(b.Thresholds, int(t))
	}
	return b, err
}

// maxBudgetNano caps budgets at one billion dollars.
const maxBudgetNano = int64(1_000_000_000) * 1_000_000_000

func (s *Service) validateBudget(ctx context.Context, q querier, tenantID string, in *BudgetInput) error {
	var err error
	if in.Name, err = cleanName("name", in.Name); err != nil {
		return err
	}
	switch in.Period {
	case "day", "week", "month":
	default:
		return invalid("period must be day, week or month")
	}
	if in.AmountNanoUSD <= 0 || in.AmountNanoUSD > maxBudgetNano {
		return invalid("amount must be positive and at most 1000000000 USD")
	}
	if in.Thresholds, err = validateThresholds(in.Thresholds); err != nil {
		return err
	}
	if err := validateWebhook(in.WebhookURL); err != nil {
		return err
	}
	switch in.Scope {
	case ScopeTenant:
		if in.KeyID != nil || in.DimensionName != nil || in.DimensionVal != nil {
			return invalid("a tenant budget takes no keyId or dimension")
		}
	case ScopeKey:
		if in.KeyID == nil || in.DimensionName != nil || in.DimensionVal != nil {
			return invalid("a key budget needs keyId and no dimension")
		}
		if _, err := s.getKey(ctx, q, tenantID, *in.KeyID); err != nil {
			return err
		}
	case ScopeDimension:
		if in.KeyID != nil || in.DimensionName == nil || in.DimensionVal == nil {
			return invalid("a dimension budget needs dimensionName and dimensionValue and no keyId")
		}
		if err := validatePolicy(&KeyPolicy{DefaultDimensions: map[string]string{*in.DimensionName: *in.DimensionVal}}); err != nil {
			return err
		}
	default:
		return invalid("scope must be tenant, key or dimension")
	}
	return nil
}

// Budgets lists a tenant's budgets.
func (s *Service) Budgets(ctx context.Context, tenantID string, page Page) (Connection[Budget], error) {
	if _, _, err := s.authorize(ctx, tenantID, RoleViewer); err != nil {
		return Connection[Budget]{}, err
	}
	return listPage(ctx, s.db, page, `SELECT `+budgetColumns+` FROM budgets WHERE tenant_id = $1`, []any{tenantID},
		scanBudget, func(b Budget) (time.Time, string) { return b.CreatedAt, b.ID })
}

// KeyBudgets lists the budgets that name a key.
func (s *Service) KeyBudgets(ctx context.Context, tenantID, keyID string) ([]Budget, error) {
	if _, _, err := s.authorize(ctx, tenantID, RoleViewer); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+budgetColumns+` FROM budgets WHERE tenant_id = $1 AND key_id = $2 ORDER BY created_at`, tenantID, keyID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Budget, error) { return scanBudget(r) })
}

// BudgetsCoveringKey lists every budget that limits a key's spend, oldest
// first: the tenant's, the key's own, and the dimension budgets matching one
// of the key's default dimensions. (A call can name other dimension values in
// its headers; budgets on those apply to that call too.)
func (s *Service) BudgetsCoveringKey(ctx context.Context, tenantID, keyID string) ([]Budget, error) {
	if _, _, err := s.authorize(ctx, tenantID, RoleViewer); err != nil {
		return nil, err
	}
	if _, err := s.getKey(ctx, s.db, tenantID, keyID); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+budgetColumns+` FROM budgets WHERE tenant_id = $1 AND (scope = 'tenant' OR key_id = $2
		OR (scope = 'dimension' AND (SELECT default_dimensions FROM api_keys WHERE id = $2) ->> dimension_name = dimension_value))
		ORDER BY created_at, id`, tenantID, keyID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Budget, error) { return scanBudget(r) })
}

// Budget returns one budget.
func (s *Service) Budget(ctx context.Context, tenantID, id string) (Budget, error) {
	if _, _, err := s.authorize(ctx, tenantID, RoleViewer); err != nil {
		return Budget{}, err
	}
	return s.getBudget(ctx, s.db, tenantID, id)
}

func (s *Service) getBudget(ctx context.Context, q querier, tenantID, id string) (Budget, error) {
	return getOne(ctx, q, "budgets", budgetColumns, "budget", scanBudget, tenantID, id)
}

// CreateBudget adds a budget.
func (s *Service) CreateBudget(ctx context.Context, tenantID string, in BudgetInput) (Budget, error) {
	p, _, err := s.authorize(ctx, tenantID, RoleAdmin)
	if err != nil {
		return Budget{}, err
	}
	var b Budget
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := s.validateBudget(ctx, tx, tenantID, &in); err != nil {
			return err
		}
		var err error
		b, err = scanBudget(tx.QueryRow(ctx, `INSERT INTO budgets (tenant_id, name, scope, period, key_id, dimension_name, dimension_value,
			amount_nano_usd, thresholds, hard, webhook_url) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING `+budgetColumns,
			tenantID, in.Name, in.Scope, in.Period, in.KeyID, in.DimensionName, in.DimensionVal, in.AmountNanoUSD, in.Thresholds, in.Hard, in.WebhookURL))
		if err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "budget.create", "budget", b.ID, budgetDetails(&in))
	})
	return b, err
}

func budgetDetails(in *BudgetInput) map[string]any {
	return map[string]any{"name": in.Name, "scope": in.Scope, "period": in.Period, "amount_nano_usd": in.AmountNanoUSD,
		"thresholds": in.Thresholds, "hard": in.Hard}
}

// UpdateBudget replaces a budget.
func (s *Service) UpdateBudget(ctx context.Context, tenantID, id string, in BudgetInput) (Budget, error) {
	p, _, err := s.authorize(ctx, tenantID, RoleAdmin)
	if err != nil {
		return Budget{}, err
	}
	var b Budget
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := s.getBudget(ctx, tx, tenantID, id); err != nil {
			return err
		}
		if err := s.validateBudget(ctx, tx, tenantID, &in); err != nil {
			return err
		}
		var err error
		b, err = scanBudget(tx.QueryRow(ctx, `UPDATE budgets SET name = $3, scope = $4, period = $5, key_id = $6, dimension_name = $7,
			dimension_value = $8, amount_nano_usd = $9, thresholds = $10, hard = $11, webhook_url = $12, updated_at = now()
			WHERE tenant_id = $1 AND id = $2 RETURNING `+budgetColumns,
			tenantID, id, in.Name, in.Scope, in.Period, in.KeyID, in.DimensionName, in.DimensionVal, in.AmountNanoUSD, in.Thresholds, in.Hard, in.WebhookURL))
		if err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "budget.update", "budget", id, budgetDetails(&in))
	})
	return b, err
}

// DeleteBudget removes a budget.
func (s *Service) DeleteBudget(ctx context.Context, tenantID, id string) error {
	return s.deleteOne(ctx, tenantID, id, "budgets", "budget", "budget")
}

// deleteOne removes a tenant's row of table by id, for admins, with its
// audit entry (action kind.delete); NOT_FOUND names it what.
func (s *Service) deleteOne(ctx context.Context, tenantID, id, table, what, kind string) error {
	p, _, err := s.authorize(ctx, tenantID, RoleAdmin)
	if err != nil {
		return err
	}
	if err := checkID("id", id); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE tenant_id = $1 AND id = $2`, tenantID, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound(what)
		}
		return audit(ctx, tx, tenantID, p, kind+".delete", kind, id, nil)
	})
}

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
func (s *Service) PricingOverrides(ctx context.Context, tenantID string, page Page) (Connection[PricingOverride], error) {
	if _, _, err := s.authorize(ctx, tenantID, RoleViewer); err != nil {
		return Connection[PricingOverride]{}, err
	}
	return listPage(ctx, s.db, page, `SELECT `+overrideColumns+` FROM pricing_overrides WHERE tenant_id = $1`, []any{tenantID},
		scanOverride, func(o PricingOverride) (time.Time, string) { return o.CreatedAt, o.ID })
}

// PricingOverride returns one override.
func (s *Service) PricingOverride(ctx context.Context, tenantID, id string) (PricingOverride, error) {
	if _, _, err := s.authorize(ctx, tenantID, RoleViewer); err != nil {
		return PricingOverride{}, err
	}
	return s.getOverride(ctx, s.db, tenantID, id)
}

func (s *Service) getOverride(ctx context.Context, q querier, tenantID, id string) (PricingOverride, error) {
	return getOne(ctx, q, "pricing_overrides", overrideColumns, "pricing override", scanOverride, tenantID, id)
}

// CreatePricingOverride adds an override.
func (s *Service) CreatePricingOverride(ctx context.Context, tenantID string, in OverrideInput) (PricingOverride, error) {
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
func (s *Service) UpdatePricingOverride(ctx context.Context, tenantID, id string, in OverrideInput) (PricingOverride, error) {
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
func (s *Service) DeletePricingOverride(ctx context.Context, tenantID, id string) error {
	return s.deleteOne(ctx, tenantID, id, "pricing_overrides", "pricing override", "pricing_override")
}

// TenantOverrides returns a tenant's overrides for pricing (ingest); no
// principal: the caller is a trusted service.
func (s *Service) TenantOverrides(ctx context.Context, tenantID string) ([]pricing.Override, error) {
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
