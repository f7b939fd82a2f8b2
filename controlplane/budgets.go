package controlplane

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spendgate/spendgate/egress"
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

// BudgetService manages budgets.
type BudgetService struct {
	*core
	// egress says which webhook destinations are allowed (nil: public only);
	// resolver looks their names up (nil: the system's).
	egress   *egress.Policy
	resolver egress.Resolver
}

// maxBudgetNano caps budgets at one billion dollars.
const maxBudgetNano = int64(1_000_000_000) * 1_000_000_000

func (s *BudgetService) validateBudget(ctx context.Context, q querier, tenantID string, in *BudgetInput) error {
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
	if err := validateWebhook(ctx, s.egress, s.resolver, in.WebhookURL); err != nil {
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
		if _, err := getKey(ctx, q, tenantID, *in.KeyID); err != nil {
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
func (s *BudgetService) Budgets(ctx context.Context, tenantID string, page Page) (Connection[Budget], error) {
	if _, _, err := s.authorize(ctx, tenantID, RoleViewer); err != nil {
		return Connection[Budget]{}, err
	}
	return listPage(ctx, s.db, page, byCreated, `SELECT `+budgetColumns+` FROM budgets WHERE tenant_id = $1`, []any{tenantID},
		scanBudget, func(b Budget) (time.Time, string) { return b.CreatedAt, b.ID })
}

// KeyBudgets lists the budgets that name a key.
func (s *BudgetService) KeyBudgets(ctx context.Context, tenantID, keyID string) ([]Budget, error) {
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
func (s *BudgetService) BudgetsCoveringKey(ctx context.Context, tenantID, keyID string) ([]Budget, error) {
	if _, _, err := s.authorize(ctx, tenantID, RoleViewer); err != nil {
		return nil, err
	}
	if _, err := getKey(ctx, s.db, tenantID, keyID); err != nil {
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
func (s *BudgetService) Budget(ctx context.Context, tenantID, id string) (Budget, error) {
	if _, _, err := s.authorize(ctx, tenantID, RoleViewer); err != nil {
		return Budget{}, err
	}
	return s.getBudget(ctx, s.db, tenantID, id)
}

func (s *BudgetService) getBudget(ctx context.Context, q querier, tenantID, id string) (Budget, error) {
	return getOne(ctx, q, "budgets", budgetColumns, "budget", scanBudget, tenantID, id)
}

// CreateBudget adds a budget.
func (s *BudgetService) CreateBudget(ctx context.Context, tenantID string, in BudgetInput) (Budget, error) {
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
func (s *BudgetService) UpdateBudget(ctx context.Context, tenantID, id string, in BudgetInput) (Budget, error) {
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
func (s *BudgetService) DeleteBudget(ctx context.Context, tenantID, id string) error {
	return s.deleteOne(ctx, tenantID, id, "budgets", "budget", "budget")
}
