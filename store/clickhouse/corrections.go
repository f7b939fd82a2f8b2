package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/spendgate/spendgate/spend"
)

// WriteCorrections stores corrections whose id is not stored yet and
// reports how many were new, so a re-pricing run that is repeated after a
// failure stores each correction once. Calls must not overlap for the same
// ids (the re-pricing service holds a per-tenant lock).
func (w *Writer) WriteCorrections(ctx context.Context, cs []spend.Correction) (int, error) {
	if len(cs) == 0 {
		return 0, nil
	}
	seen := map[string]bool{}
	for start := 0; start < len(cs); start += lookupChunk {
		chunk := cs[start:min(start+lookupChunk, len(cs))]
		minT, maxT := chunk[0].Time, chunk[0].Time
		var tenants, ids []any
		tenantSeen := map[string]bool{}
		for _, c := range chunk {
			minT, maxT = minTime(minT, c.Time), maxTime(maxT, c.Time)
			ids = append(ids, c.ID)
			if !tenantSeen[c.TenantID] {
				tenantSeen[c.TenantID] = true
				tenants = append(tenants, c.TenantID)
			}
		}
		if err := w.lookup(ctx, CorrectionsTable, "correction_id", tenants, minT, maxT, ids, seen); err != nil {
			return 0, err
		}
	}
	batch, err := w.conn.PrepareBatch(w.insertContext(ctx), "INSERT INTO "+w.database+"."+CorrectionsTable+` (correction_id, event_id, time, tenant_id, key_id,
		source, provider, operation, model, service_tier, status_code, dim_names, dim_values, list_delta, tenant_delta, unpriced_delta,
		catalogue_model, override_id, pricing_tier, cost_lines, created_at)`)
	if err != nil {
		return 0, fmt.Errorf("clickhouse: prepare correction insert: %w", err)
	}
	now := time.Now().UTC()
	n := 0
	for _, c := range cs {
		if seen[c.ID] {
			continue
		}
		seen[c.ID] = true
		names, values := withAttribution(nonNilStrings(c.DimNames), nonNilStrings(c.DimValues), c.WorkspaceID, c.TeamID, c.ProjectID)
		if err := batch.Append(c.ID, c.EventID, c.Time.UTC(), c.TenantID, c.KeyID, c.Source, c.Provider, c.Operation, c.Model,
			c.ServiceTier, c.StatusCode, names, values, c.ListDelta, c.TenantDelta, c.UnpricedDelta,
			c.CatalogueModel, c.OverrideID, c.PricingTier, c.Lines, now); err != nil {
			_ = batch.Abort()
			return 0, fmt.Errorf("clickhouse: append correction: %w", err)
		}
		n++
	}
	if n == 0 {
		_ = batch.Abort()
		return 0, nil
	}
	if err := batch.Send(); err != nil {
		return 0, fmt.Errorf("clickhouse: insert corrections: %w", err)
	}
	return n, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
