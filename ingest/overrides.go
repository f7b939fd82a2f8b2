package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/pricing"
)

// PGOverrides reads tenant pricing overrides from the Postgres table
// pricing_overrides. The consumer caches them per tenant (OverridesTTL).
type PGOverrides struct{ Pool *pgxpool.Pool }

// TenantOverrides returns every override of a tenant, in any time window; the
// pricing package picks the ones effective at each event's time.
func (p PGOverrides) TenantOverrides(ctx context.Context, tenantID string) ([]pricing.Override, error) {
	rows, err := p.Pool.Query(ctx, `SELECT id::text, tenant_id::text, provider, model, effective_from, effective_to, rates, percent_adjustment_bp
		FROM pricing_overrides WHERE tenant_id = $1 ORDER BY effective_from, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("ingest: load pricing overrides of %s: %w", tenantID, err)
	}
	defer rows.Close()
	var out []pricing.Override
	for rows.Next() {
		var o pricing.Override
		var to *time.Time
		var rates []byte
		if err := rows.Scan(&o.ID, &o.TenantID, &o.Provider, &o.Model, &o.EffectiveFrom, &to, &rates, &o.PercentAdjustmentBP); err != nil {
			return nil, fmt.Errorf("ingest: scan pricing override: %w", err)
		}
		o.EffectiveTo = to
		if len(rates) > 0 {
			if err := json.Unmarshal(rates, &o.Rates); err != nil {
				return nil, fmt.Errorf("ingest: pricing override %s: rates are not {class: nano-USD per million}: %w", o.ID, err)
			}
		}
		out = append(out, o)
	}
	return out, rows.Err()
}
