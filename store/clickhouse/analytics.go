package clickhouse

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Query is SQL with positional ? arguments, bound client-side by
// clickhouse-go (ClickHouse 18.16 has no server-side parameters).
// Identifiers never come from arguments: they are whitelisted here.
type Query struct {
	SQL  string
	Args []any
}

// Filters narrow analytics queries; empty fields do not filter. Values are
// bound as arguments.
type Filters struct {
	KeyIDs     []string
	Providers  []string
	Models     []string // matches model served, else requested
	Operations []string
	// Dimensions keeps events whose dimension name has one of the values.
	Dimensions map[string][]string
}

// Group-by names accepted by Breakdown and TimeSeries. "dim:<name>" groups by
// a caller dimension (name: letters, digits, _ . -).
var groupColumns = map[string]string{
	"key":          "key_id",
	"provider":     "provider",
	"model":        "if(model_served != '', model_served, model_requested)",
	"operation":    "operation",
	"service_tier": "service_tier",
	"source":       "source",
}

var dimName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// GroupByNames lists the accepted group-by names (besides dim:<name>).
func GroupByNames() []string {
	out := make([]string, 0, len(groupColumns))
	for k := range groupColumns {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func groupExpr(name string) (string, error) {
	if c, ok := groupColumns[name]; ok {
		return c, nil
	}
	if d, ok := strings.CutPrefix(name, "dim:"); ok && dimName.MatchString(d) {
		return "dim_values[indexOf(dim_names, '" + d + "')]", nil
	}
	return "", fmt.Errorf("clickhouse: cannot group by %q: use one of %s or dim:<name>", name, strings.Join(GroupByNames(), ", "))
}

const sums = `count() AS events, toUInt64(countIf(priced = 0)) AS unpriced_events,
	sum(list_cost_nano_usd) AS list_nano_usd, sum(tenant_cost_nano_usd) AS tenant_nano_usd,
	sum(input + cached_input + cache_write_5m + cache_write_1h + audio_input + image_input) AS input_tokens,
	sum(output + reasoning + audio_output + image_output) AS output_tokens`

func where(tenant string, from, to time.Time, f Filters) (string, []any, error) {
	if !from.Before(to) {
		return "", nil, fmt.Errorf("clickhouse: empty time range [%s, %s)", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	w := "tenant_id = ? AND time >= ? AND time < ?"
	args := []any{tenant, from.UTC(), to.UTC()}
	in := func(col string, vals []string) {
		if len(vals) > 0 {
			w += " AND has(?, " + col + ")"
			args = append(args, vals)
		}
	}
	in("key_id", f.KeyIDs)
	in("provider", f.Providers)
	in(groupColumns["model"], f.Models)
	in("operation", f.Operations)
	names := make([]string, 0, len(f.Dimensions))
	for n := range f.Dimensions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !dimName.MatchString(n) {
			return "", nil, fmt.Errorf("clickhouse: dimension name %q: use letters, digits, _ . -", n)
		}
		in("dim_values[indexOf(dim_names, '"+n+"')]", f.Dimensions[n])
	}
	return w, args, nil
}

// TotalSpendSQL sums a tenant's usage in [from, to).
func TotalSpendSQL(database, tenant string, from, to time.Time, f Filters) (Query, error) {
	w, args, err := where(tenant, from, to, f)
	if err != nil {
		return Query{}, err
	}
	return Query{SQL: "SELECT " + sums + " FROM " + database + ".usage_events WHERE " + w, Args: args}, nil
}

// BreakdownSQL sums a tenant's usage in [from, to) per group, largest tenant
// cost first.
func BreakdownSQL(database, tenant string, from, to time.Time, groupBy []string, f Filters) (Query, error) {
	if len(groupBy) == 0 {
		return Query{}, fmt.Errorf("clickhouse: breakdown needs at least one group-by")
	}
	w, args, err := where(tenant, from, to, f)
	if err != nil {
		return Query{}, err
	}
	sel, keys, err := groupSelect(groupBy)
	if err != nil {
		return Query{}, err
	}
	return Query{SQL: "SELECT " + sel + sums + " FROM " + database + ".usage_events WHERE " + w +
		" GROUP BY " + keys + " ORDER BY tenant_nano_usd DESC, " + keys, Args: args}, nil
}

func groupSelect(groupBy []string) (sel, keys string, err error) {
	var ks []string
	for i, g := range groupBy {
		e, err := groupExpr(g)
		if err != nil {
			return "", "", err
		}
		k := fmt.Sprintf("g%d", i)
		sel += e + " AS " + k + ", "
		ks = append(ks, k)
	}
	return sel, strings.Join(ks, ", "), nil
}

// TimeSeriesSQL sums a tenant's usage in [from, to) per bucket ("hour" or
// "day", UTC) and optional groups.
func TimeSeriesSQL(database, tenant string, from, to time.Time, bucket string, groupBy []string, f Filters) (Query, error) {
	var b string
	switch bucket {
	case "hour":
		b = "toStartOfHour(time)"
	case "day":
		b = "toDateTime(toDate(time))"
	default:
		return Query{}, fmt.Errorf("clickhouse: time bucket %q: use hour or day", bucket)
	}
	w, args, err := where(tenant, from, to, f)
	if err != nil {
		return Query{}, err
	}
	sel, keys, err := groupSelect(groupBy)
	if err != nil {
		return Query{}, err
	}
	order := "bucket"
	if keys != "" {
		order += ", " + keys
	}
	return Query{SQL: "SELECT " + b + " AS bucket, " + sel + sums + " FROM " + database + ".usage_events WHERE " + w +
		" GROUP BY " + order + " ORDER BY " + order, Args: args}, nil
}

// Sums are exact totals of usage events.
type Sums struct {
	Events, UnpricedEvents     uint64
	ListNanoUSD, TenantNanoUSD int64
	InputTokens, OutputTokens  int64
}

// Group is one row of a breakdown: Keys in groupBy order.
type Group struct {
	Keys []string
	Sums
}

// Point is one bucket of a time series.
type Point struct {
	Bucket time.Time
	Keys   []string
	Sums
}

// Analytics runs the query builders against a database.
type Analytics struct {
	Conn     driver.Conn
	Database string
}

// TotalSpend sums a tenant's usage in [from, to).
func (a Analytics) TotalSpend(ctx context.Context, tenant string, from, to time.Time, f Filters) (Sums, error) {
	q, err := TotalSpendSQL(a.Database, tenant, from, to, f)
	if err != nil {
		return Sums{}, err
	}
	var s Sums
	err = a.Conn.QueryRow(ctx, q.SQL, q.Args...).Scan(&s.Events, &s.UnpricedEvents, &s.ListNanoUSD, &s.TenantNanoUSD, &s.InputTokens, &s.OutputTokens)
	if err != nil {
		return Sums{}, fmt.Errorf("clickhouse: total spend: %w", err)
	}
	return s, nil
}

// Breakdown sums a tenant's usage per group.
func (a Analytics) Breakdown(ctx context.Context, tenant string, from, to time.Time, groupBy []string, f Filters) ([]Group, error) {
	q, err := BreakdownSQL(a.Database, tenant, from, to, groupBy, f)
	if err != nil {
		return nil, err
	}
	rows, err := a.Conn.Query(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: breakdown: %w", err)
	}
	defer rows.Close()
	var out []Group
	for rows.Next() {
		g := Group{Keys: make([]string, len(groupBy))}
		dest := make([]any, 0, len(groupBy)+6)
		for i := range g.Keys {
			dest = append(dest, &g.Keys[i])
		}
		dest = append(dest, &g.Events, &g.UnpricedEvents, &g.ListNanoUSD, &g.TenantNanoUSD, &g.InputTokens, &g.OutputTokens)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("clickhouse: breakdown row: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// TimeSeries sums a tenant's usage per hour or day (UTC) and group.
func (a Analytics) TimeSeries(ctx context.Context, tenant string, from, to time.Time, bucket string, groupBy []string, f Filters) ([]Point, error) {
	q, err := TimeSeriesSQL(a.Database, tenant, from, to, bucket, groupBy, f)
	if err != nil {
		return nil, err
	}
	rows, err := a.Conn.Query(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: time series: %w", err)
	}
	defer rows.Close()
	var out []Point
	for rows.Next() {
		p := Point{Keys: make([]string, len(groupBy))}
		dest := []any{&p.Bucket}
		for i := range p.Keys {
			dest = append(dest, &p.Keys[i])
		}
		dest = append(dest, &p.Events, &p.UnpricedEvents, &p.ListNanoUSD, &p.TenantNanoUSD, &p.InputTokens, &p.OutputTokens)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("clickhouse: time series row: %w", err)
		}
		p.Bucket = p.Bucket.UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}
