package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/spendgate/spendgate/billing"
	"github.com/spendgate/spendgate/pricing"
)

// billingClasses are the usage classes summed per invoice line: the
// pricing classes, which are also the usage_events column names.
var billingClasses = pricing.ClassNames()

// BillingUsageSQL sums a tenant's usage in [from, to) per provider × model
// (× group when groupBy is set: team, project, workspace or dim:<name>)
// for invoices and statements: every class quantity, event counts, list
// and tenant cost, and the overrides that priced them. It reads raw events,
// not rollups (rollups have no per-class quantities), and adds the cost
// corrections of re-priced events of the same range, so it is exact and
// reproduces from what is stored.
func BillingUsageSQL(database, tenantID string, from, to time.Time, groupBy string) (Query, error) {
	if tenantID == "" {
		return Query{}, badQuery("no tenant")
	}
	if !from.Before(to) {
		return Query{}, badQuery("empty time range [%s, %s)", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	eventGroup, correctionGroup := "''", "''"
	if groupBy != "" {
		var err error
		if eventGroup, err = usageTable.expr(groupBy); err != nil {
			return Query{}, err
		}
		if correctionGroup, err = correctionsTable.expr(groupBy); err != nil {
			return Query{}, err
		}
		if _, isAttr := attributionCols[groupBy]; !isAttr && !strings.HasPrefix(groupBy, "dim:") {
			return Query{}, badQuery("billing groups by team, project, workspace or dim:<name>, not %q", groupBy)
		}
	}
	var eventQty, correctionQty, outerQty []string
	for _, c := range billingClasses {
		eventQty = append(eventQty, "sum("+c+") AS q_"+c)
		correctionQty = append(correctionQty, "toInt64(0) AS q_"+c)
		outerQty = append(outerQty, "sum(q_"+c+")")
	}
	sql := `SELECT b_provider, b_model, b_group, toInt64(sum(b_events)), toInt64(sum(b_unpriced)), ` + strings.Join(outerQty, ", ") + `,
	sum(b_list), sum(b_tenant), arraySort(groupUniqArrayArray(b_overrides))
FROM (
	SELECT provider AS b_provider, ` + rawModel + ` AS b_model, ` + eventGroup + ` AS b_group,
		toInt64(count()) AS b_events, toInt64(countIf(priced = 0)) AS b_unpriced, ` + strings.Join(eventQty, ", ") + `,
		sum(list_cost_nano_usd) AS b_list, sum(tenant_cost_nano_usd) AS b_tenant, groupUniqArray(override_id) AS b_overrides
	FROM ` + database + `.` + UsageTable + ` WHERE tenant_id = ? AND time >= ? AND time < ?
	GROUP BY b_provider, b_model, b_group
	UNION ALL
	SELECT provider AS b_provider, model AS b_model, ` + correctionGroup + ` AS b_group,
		toInt64(0) AS b_events, sum(unpriced_delta) AS b_unpriced, ` + strings.Join(correctionQty, ", ") + `,
		sum(list_delta) AS b_list, sum(tenant_delta) AS b_tenant, groupUniqArray(override_id) AS b_overrides
	FROM ` + database + `.` + CorrectionsTable + ` WHERE tenant_id = ? AND time >= ? AND time < ?
	GROUP BY b_provider, b_model, b_group
)
GROUP BY b_provider, b_model, b_group
ORDER BY b_provider, b_model, b_group`
	return Query{SQL: sql, Args: []any{tenantID, from.UTC(), to.UTC(), tenantID, from.UTC(), to.UTC()},
		Tables: []string{UsageTable}}, nil
}

// BillingUsage implements billing.Usage.
func (a Analytics) BillingUsage(ctx context.Context, tenantID string, from, to time.Time, groupBy string) ([]billing.UsageRow, error) {
	q, err := BillingUsageSQL(a.Database, tenantID, from, to, groupBy)
	if err != nil {
		return nil, err
	}
	var out []billing.UsageRow
	err = a.scan(ctx, q, "billing usage", func(r driver.Rows) error {
		row := billing.UsageRow{Quantities: billing.Quantities{}}
		qty := make([]int64, len(billingClasses))
		dest := []any{&row.Provider, &row.Model, &row.Group, &row.Events, &row.UnpricedEvents}
		for i := range qty {
			dest = append(dest, &qty[i])
		}
		dest = append(dest, &row.ListNanoUSD, &row.TenantNanoUSD, &row.Overrides)
		if err := r.Scan(dest...); err != nil {
			return fmt.Errorf("clickhouse: scan billing usage: %w", err)
		}
		for i, c := range billingClasses {
			if qty[i] != 0 {
				row.Quantities[c] = qty[i]
			}
		}
		// An event priced by stacked overrides stores their ids comma-separated.
		var ids []string
		for _, o := range row.Overrides {
			for _, id := range strings.Split(o, ",") {
				if id = strings.TrimSpace(id); id != "" {
					ids = append(ids, id)
				}
			}
		}
		row.Overrides = ids
		out = append(out, row)
		return nil
	})
	return out, err
}

var _ billing.Usage = Analytics{}
