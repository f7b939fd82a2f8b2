package clickhouse

import (
	"context"
	"database/sql"
	"errors"
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

// ErrBadQuery marks analytics requests that cannot be answered as asked (an
// unknown group-by, a filter the table lacks, an empty range): client errors.
var ErrBadQuery = errors.New("clickhouse: bad analytics query")

func badQuery(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadQuery}, args...)...)
}

// Filters narrow analytics queries; empty fields do not filter. Values are
// bound as arguments.
type Filters struct {
	KeyIDs     []string
	Providers  []string
	Models     []string // matches model served, else requested
	Operations []string
	Sources    []string
	Statuses   []string // HTTP status codes as text, e.g. "429"
	// Dimensions keeps events whose dimension name has one of the values.
	Dimensions map[string][]string
}

// Spec says what to sum: a tenant's events in [From, To), narrowed by
// Filters, grouped by GroupBy (names from GroupByNames or dim:<name>) and,
// for time series, bucketed by Bucket (hour, day, week, month; UTC, weeks
// start on Monday like budget weeks).
type Spec struct {
	Tenant   string
	From, To time.Time
	Filters  Filters
	GroupBy  []string
	Bucket   string
}

// table is one table analytics can read, with the expressions of the names
// callers group and filter by.
type table struct {
	name    string
	timeCol string
	grain   time.Duration // 0: raw events; otherwise rows are pre-summed per grain
	cols    map[string]string
	sums    string
	// dim is set for the dimension rollups: the one dimension read, whose
	// value is the dim_value column.
	dim string
}

// Usage is summed from two legs: the events (or a rollup of them) and the
// cost corrections of re-priced events. Each leg sums as Int64 (corrections
// subtract unpriced events), and the outer query adds the legs up.
const (
	rawModel = "if(model_served != '', model_served, model_requested)"
	rawSums  = `toInt64(count()) AS events, toInt64(countIf(priced = 0)) AS unpriced_events,
	sum(list_cost_nano_usd) AS list_nano_usd, sum(tenant_cost_nano_usd) AS tenant_nano_usd,
	sum(input + cached_input + cache_write_5m + cache_write_1h + audio_input + image_input) AS input_tokens,
	sum(output + reasoning + audio_output + image_output) AS output_tokens`
	rollupSums = `toInt64(sum(events)) AS events, toInt64(sum(unpriced_events)) AS unpriced_events,
	sum(list_cost_nano_usd) AS list_nano_usd, sum(tenant_cost_nano_usd) AS tenant_nano_usd,
	sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens`
	correctionSums = `toInt64(0) AS events, sum(unpriced_delta) AS unpriced_events,
	sum(list_delta) AS list_nano_usd, sum(tenant_delta) AS tenant_nano_usd,
	toInt64(0) AS input_tokens, toInt64(0) AS output_tokens`
	outerSums = `toUInt64(sum(events)) AS events, toUInt64(sum(unpriced_events)) AS unpriced_events,
	sum(list_nano_usd) AS list_nano_usd, sum(tenant_nano_usd) AS tenant_nano_usd,
	sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens`
)

var (
	usageTable = table{name: "usage_events", timeCol: "time", sums: rawSums, cols: map[string]string{
		"key":          "key_id",
		"provider":     "provider",
		"model":        rawModel,
		"operation":    "operation",
		"service_tier": "service_tier",
		"source":       "source",
		"status":       "toString(status_code)",
	}}
	rollupCols     = map[string]string{"key": "key_id", "provider": "provider", "model": "model"}
	hourlyTable    = table{name: HourlyRollup, timeCol: "bucket", grain: time.Hour, sums: rollupSums, cols: rollupCols}
	dailyTable     = table{name: DailyRollup, timeCol: "bucket", grain: 24 * time.Hour, sums: rollupSums, cols: rollupCols}
	dimHourlyTable = table{name: DimHourlyRollup, timeCol: "bucket", grain: time.Hour, sums: rollupSums}
	dimDailyTable  = table{name: DimDailyRollup, timeCol: "bucket", grain: 24 * time.Hour, sums: rollupSums}
	// correctionsTable holds cost corrections of re-priced events, with the
	// event's attributes so they group and filter like the events.
	correctionsTable = table{name: CorrectionsTable, timeCol: "time", sums: correctionSums, cols: map[string]string{
		"key":          "key_id",
		"provider":     "provider",
		"model":        "model",
		"operation":    "operation",
		"service_tier": "service_tier",
		"source":       "source",
		"status":       "toString(status_code)",
	}}
	denialsTable = table{name: "denial_events", timeCol: "time", sums: "count() AS events", cols: map[string]string{
		"key":       "key_id",
		"provider":  "provider",
		"model":     "model_requested",
		"operation": "operation",
		"source":    "source",
		"reason":    "denial_reason",
	}}
)

var dimName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// GroupByNames lists the group-by names usage analytics accept (besides
// dim:<name>).
func GroupByNames() []string {
	out := make([]string, 0, len(usageTable.cols))
	for k := range usageTable.cols {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ValidDimensionName reports whether name can be grouped or filtered by.
func ValidDimensionName(name string) bool { return dimName.MatchString(name) }

func (t *table) expr(name string) (string, error) {
	if c, ok := t.cols[name]; ok {
		return c, nil
	}
	if t.dim != "" && name == "dim:"+t.dim {
		return "dim_value", nil
	}
	if d, ok := strings.CutPrefix(name, "dim:"); ok && dimName.MatchString(d) && t.grain == 0 {
		return "dim_values[indexOf(dim_names, '" + d + "')]", nil
	}
	names := make([]string, 0, len(t.cols))
	for k := range t.cols {
		names = append(names, k)
	}
	sort.Strings(names)
	return "", badQuery("cannot group %s by %q: use one of %s or dim:<name>", t.name, name, strings.Join(names, ", "))
}

func (f *Filters) byName() map[string][]string {
	return map[string][]string{"key": f.KeyIDs, "provider": f.Providers, "model": f.Models,
		"operation": f.Operations, "source": f.Sources, "status": f.Statuses}
}

// where builds the WHERE clause of spec over t.
func (t *table) where(s *Spec) (string, []any, error) {
	if s.Tenant == "" {
		return "", nil, badQuery("no tenant")
	}
	if !s.From.Before(s.To) {
		return "", nil, badQuery("empty time range [%s, %s)", s.From.Format(time.RFC3339), s.To.Format(time.RFC3339))
	}
	w := "tenant_id = ? AND " + t.timeCol + " >= ? AND " + t.timeCol + " < ?"
	args := []any{s.Tenant, s.From.UTC(), s.To.UTC()}
	if t.dim != "" {
		w = "tenant_id = ? AND dim_name = '" + t.dim + "' AND " + t.timeCol + " >= ? AND " + t.timeCol + " < ?"
	}
	byName := s.Filters.byName()
	for _, name := range []string{"key", "provider", "model", "operation", "source", "status"} {
		vals := byName[name]
		if len(vals) == 0 {
			continue
		}
		col, ok := t.cols[name]
		if !ok {
			return "", nil, badQuery("%s cannot be filtered by %s", t.name, name)
		}
		w += " AND has(?, " + col + ")"
		args = append(args, vals)
	}
	names := make([]string, 0, len(s.Filters.Dimensions))
	for n := range s.Filters.Dimensions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !dimName.MatchString(n) {
			return "", nil, badQuery("dimension name %q: use letters, digits, _ . - (at most 64)", n)
		}
		switch {
		case t.dim == n:
			w += " AND has(?, dim_value)"
		case t.grain != 0:
			return "", nil, badQuery("%s has no dimension %s", t.name, n)
		default:
			w += " AND has(?, dim_values[indexOf(dim_names, '" + n + "')])"
		}
		args = append(args, s.Filters.Dimensions[n])
	}
	return w, args, nil
}

// usageSource picks the cheapest table that answers spec exactly:
//   - the daily or hourly rollup when every group-by and filter is one they
//     keep (key, provider, model) and the range falls on their grain;
//   - the dimension rollups when one dimension is all that is grouped or
//     filtered by (see dimSource);
//   - else the raw events.
//
// All give the same sums: the rollups are fed by the same inserts.
func usageSource(s *Spec, missingGroupOK bool) *table {
	aligned := func(d time.Duration) bool {
		return s.From.UTC().Truncate(d).Equal(s.From) && s.To.UTC().Truncate(d).Equal(s.To)
	}
	pick := func(daily, hourly *table) *table {
		switch {
		case s.Bucket != "hour" && aligned(24*time.Hour):
			return daily
		case aligned(time.Hour):
			return hourly
		}
		return &usageTable
	}
	f := &s.Filters
	plain := len(f.Operations)+len(f.Sources)+len(f.Statuses) == 0
	rollupOK := plain && len(f.Dimensions) == 0
	for _, g := range s.GroupBy {
		if _, ok := rollupCols[g]; !ok {
			rollupOK = false
		}
	}
	if rollupOK {
		return pick(&dailyTable, &hourlyTable)
	}
	if dim, ok := dimSource(s, missingGroupOK); ok && plain {
		daily, hourly := dimDailyTable, dimHourlyTable
		daily.dim, hourly.dim = dim, dim
		if t := pick(&daily, &hourly); t.dim != "" {
			return t
		}
	}
	return &usageTable
}

// dimSource says whether the dimension rollups can answer s, and for which
// dimension: s groups and filters by one dimension only, and filters for no
// empty value (events without the dimension have no rollup row). Grouping by
// the dimension without filtering it leaves out the events that lack it; only
// callers that add that group back (missingGroupOK) may do that.
func dimSource(s *Spec, missingGroupOK bool) (string, bool) {
	f := &s.Filters
	if len(f.KeyIDs)+len(f.Providers)+len(f.Models) > 0 || len(f.Dimensions) > 1 || len(s.GroupBy) > 1 {
		return "", false
	}
	dim := ""
	for n, vals := range f.Dimensions {
		for _, v := range vals {
			if v == "" {
				return "", false
			}
		}
		dim = n
	}
	if len(s.GroupBy) == 1 {
		g, ok := strings.CutPrefix(s.GroupBy[0], "dim:")
		if !ok || (dim != "" && g != dim) {
			return "", false
		}
		if dim == "" && !missingGroupOK {
			return "", false
		}
		dim = g
	}
	return dim, dim != "" && dimName.MatchString(dim)
}

func bucketExpr(bucket, col string) (string, error) {
	switch bucket {
	case "hour":
		return "toStartOfHour(" + col + ")", nil
	case "day":
		return "toDateTime(toDate(" + col + "))", nil
	case "week":
		return "toDateTime(toMonday(" + col + "))", nil
	case "month":
		return "toDateTime(toStartOfMonth(" + col + "))", nil
	}
	return "", badQuery("time bucket %q: use hour, day, week or month", bucket)
}

func (t *table) groupSelect(groupBy []string) (sel, keys string, err error) {
	ks := make([]string, 0, len(groupBy))
	for i, g := range groupBy {
		e, err := t.expr(g)
		if err != nil {
			return "", "", err
		}
		k := fmt.Sprintf("g%d", i)
		sel += e + " AS " + k + ", "
		ks = append(ks, k)
	}
	return sel, strings.Join(ks, ", "), nil
}

func qualified(database string, t *table) string { return database + "." + t.name }

// sumsSQL sums spec's usage read from t together with the cost corrections
// of the same events: SELECT [bucket_start,] g0…, sums FROM (events leg
// UNION ALL corrections leg) [GROUP BY …]. Callers append WITH TOTALS,
// ORDER BY and LIMIT. keys lists the group columns (bucket_start first).
func sumsSQL(database string, s *Spec, t *table, bucket string) (sql, keys string, args []any, err error) {
	var legs []string
	for _, leg := range []*table{t, &correctionsTable} {
		w, a, err := leg.where(s)
		if err != nil {
			return "", "", nil, err
		}
		if leg == &correctionsTable && t.dim != "" {
			// As the dimension rollup: only events that carry the dimension.
			w += " AND has(dim_names, '" + t.dim + "')"
		}
		sel, k, err := leg.groupSelect(s.GroupBy)
		if err != nil {
			return "", "", nil, err
		}
		if bucket != "" {
			b, err := bucketExpr(bucket, leg.timeCol)
			if err != nil {
				return "", "", nil, err
			}
			sel = b + " AS bucket_start, " + sel
			k = strings.TrimSuffix("bucket_start, "+k, ", ")
		}
		part := "SELECT " + sel + leg.sums + " FROM " + qualified(database, leg) + " WHERE " + w
		if k != "" {
			part += " GROUP BY " + k
		}
		legs = append(legs, part)
		args = append(args, a...)
		keys = k
	}
	sql = "SELECT "
	if keys != "" {
		sql += keys + ", "
	}
	sql += outerSums + " FROM (" + legs[0] + " UNION ALL " + legs[1] + ")"
	if keys != "" {
		sql += " GROUP BY " + keys
	}
	return sql, keys, args, nil
}

// TotalSpendSQL sums a tenant's usage in [From, To).
func TotalSpendSQL(database string, s Spec) (Query, error) {
	sql, _, args, err := sumsSQL(database, &s, usageSource(&s, false), "")
	return Query{SQL: sql, Args: args}, err
}

// BreakdownSQL sums a tenant's usage per group, largest tenant cost first;
// limit > 0 keeps the top limit groups. WITH TOTALS sums every group in the
// same read, before the limit, so "other" (total minus the top) comes from
// one consistent snapshot. Grouped by one unfiltered dimension, it reads the
// dimension rollup, which has no row for events without the dimension:
// missingGroup reports that, and the caller adds that group (the total of all
// events minus the rows).
func BreakdownSQL(database string, s Spec, limit int) (q Query, missingGroup bool, err error) {
	if len(s.GroupBy) == 0 {
		return Query{}, false, badQuery("a breakdown needs at least one group-by")
	}
	t := usageSource(&s, true)
	missingGroup = t.dim != "" && len(s.Filters.Dimensions) == 0
	if missingGroup {
		limit = 0 // the added group may belong in the top
	}
	sql, keys, args, err := sumsSQL(database, &s, t, "")
	if err != nil {
		return Query{}, false, err
	}
	sql += " WITH TOTALS ORDER BY tenant_nano_usd DESC, list_nano_usd DESC, events DESC, " + keys
	if limit > 0 {
		sql += fmt.Sprintf(" LIMIT %d", limit)
	}
	return Query{SQL: sql, Args: args}, missingGroup, nil
}

// TimeSeriesSQL sums a tenant's usage per bucket and optional groups.
func TimeSeriesSQL(database string, s Spec) (Query, error) {
	if _, err := bucketExpr(s.Bucket, "time"); err != nil {
		return Query{}, err
	}
	sql, keys, args, err := sumsSQL(database, &s, usageSource(&s, false), s.Bucket)
	if err != nil {
		return Query{}, err
	}
	return Query{SQL: sql + " ORDER BY " + keys, Args: args}, nil
}

// DenialsSQL counts a tenant's denials per group (default: reason), most
// first.
func DenialsSQL(database string, s Spec) (Query, error) {
	t := &denialsTable
	groupBy := s.GroupBy
	if len(groupBy) == 0 {
		groupBy = []string{"reason"}
	}
	w, args, err := t.where(&s)
	if err != nil {
		return Query{}, err
	}
	sel, keys, err := t.groupSelect(groupBy)
	if err != nil {
		return Query{}, err
	}
	return Query{SQL: "SELECT " + sel + t.sums + " FROM " + qualified(database, t) + " WHERE " + w +
		" GROUP BY " + keys + " ORDER BY events DESC, " + keys, Args: args}, nil
}

// notCorrected keeps events no cost correction names (one argument: the
// tenant).
func notCorrected(database string) string {
	return " AND event_id NOT IN (SELECT event_id FROM " + database + "." + CorrectionsTable + " WHERE tenant_id = ?)"
}

// UnknownModelsSQL lists the models a tenant used that have no price, most
// used first: what an admin must price before re-pricing. Events re-priced
// since are left out.
func UnknownModelsSQL(database string, s Spec, limit int) (Query, error) {
	t := &usageTable
	w, args, err := t.where(&s)
	if err != nil {
		return Query{}, err
	}
	return Query{SQL: "SELECT provider, " + rawModel + " AS model, count() AS events, " +
		"sum(input + cached_input + cache_write_5m + cache_write_1h + audio_input + image_input) AS input_tokens, " +
		"sum(output + reasoning + audio_output + image_output) AS output_tokens, min(time) AS first_seen, max(time) AS last_seen " +
		"FROM " + qualified(database, t) + " WHERE " + w + " AND priced = 0" + notCorrected(database) + " GROUP BY provider, model " +
		fmt.Sprintf("ORDER BY events DESC, provider, model LIMIT %d", limit), Args: append(args, s.Tenant)}, nil
}

// eventSelect reads events with their corrections applied: the cost, the
// priced flag and the explanation are the corrected ones, and repriced says
// a correction exists. The join's subquery takes the tenant as its one
// argument, before the WHERE clause's. It is named: ClickHouse 20.x and
// later refuse an unnamed joined subquery (joined_subquery_requires_alias).
func eventSelect(database string) string {
	return `SELECT event_id, time, key_id, source, provider, operation, model_requested, model_served,
	if(c_model != '', c_model, catalogue_model), streaming, service_tier, complete, status_code, latency_ms, ttfb_ms, request_id,
	input, cached_input, cache_write_5m, cache_write_1h, output, reasoning, audio_input, audio_output, image_input, image_output,
	web_searches, characters, seconds, images, toUInt8(priced = 1 OR c_unpriced < 0), list_cost_nano_usd + c_list,
	tenant_cost_nano_usd + c_tenant, provider_reported_nano_usd, has_provider_reported,
	if(c_override != '', c_override, override_id), if(c_tier != '', c_tier, pricing_tier), if(c_lines != '', c_lines, cost_lines),
	dim_names, dim_values, raw_usage, toUInt8(c_count > 0)
	FROM ` + database + `.usage_events ANY LEFT JOIN (SELECT event_id, sum(list_delta) AS c_list, sum(tenant_delta) AS c_tenant,
		min(unpriced_delta) AS c_unpriced, any(catalogue_model) AS c_model, any(override_id) AS c_override,
		any(pricing_tier) AS c_tier, any(cost_lines) AS c_lines, count() AS c_count
		FROM ` + database + `.` + CorrectionsTable + ` WHERE tenant_id = ? GROUP BY event_id) AS corrections USING event_id`
}

// EventCursor is the position after the last event of a page: events are
// listed newest first by (time, event_id).
type EventCursor struct {
	Time    time.Time
	EventID string
}

// EventsSQL lists a tenant's usage events newest first, after cursor (nil:
// from the newest), at most limit.
func EventsSQL(database string, s Spec, after *EventCursor, limit int) (Query, error) {
	w, args, err := usageTable.where(&s)
	if err != nil {
		return Query{}, err
	}
	if after != nil {
		// A tuple comparison would be shorter, but this form runs on 18.16.
		w += " AND (time < ? OR (time = ? AND event_id < ?))"
		args = append(args, after.Time.UTC(), after.Time.UTC(), after.EventID)
	}
	return Query{SQL: eventSelect(database) + " WHERE " + w + fmt.Sprintf(" ORDER BY time DESC, event_id DESC LIMIT %d", limit),
		Args: append([]any{s.Tenant}, args...)}, nil
}

// EventSQL finds one of a tenant's usage events by id.
func EventSQL(database, tenant, eventID string) Query {
	return Query{SQL: eventSelect(database) + " WHERE tenant_id = ? AND event_id = ? LIMIT 1", Args: []any{tenant, tenant, eventID}}
}

// UnpricedSQL lists a tenant's unpriced, uncorrected events in the range,
// oldest first, after cursor: what re-pricing works through.
func UnpricedSQL(database string, s Spec, after *EventCursor, limit int) (Query, error) {
	w, args, err := usageTable.where(&s)
	if err != nil {
		return Query{}, err
	}
	w += " AND priced = 0" + notCorrected(database)
	args = append(args, s.Tenant)
	if after != nil {
		w += " AND (time > ? OR (time = ? AND event_id > ?))"
		args = append(args, after.Time.UTC(), after.Time.UTC(), after.EventID)
	}
	return Query{SQL: eventSelect(database) + " WHERE " + w + fmt.Sprintf(" ORDER BY time, event_id LIMIT %d", limit),
		Args: append([]any{s.Tenant}, args...)}, nil
}

// Sums are exact totals of usage events.
type Sums struct {
	Events, UnpricedEvents     uint64
	ListNanoUSD, TenantNanoUSD int64
	InputTokens, OutputTokens  int64
}

// Add adds o to s.
func (s *Sums) Add(o Sums) {
	s.Events += o.Events
	s.UnpricedEvents += o.UnpricedEvents
	s.ListNanoUSD += o.ListNanoUSD
	s.TenantNanoUSD += o.TenantNanoUSD
	s.InputTokens += o.InputTokens
	s.OutputTokens += o.OutputTokens
}

// Sub subtracts o from s.
func (s *Sums) Sub(o Sums) {
	s.Events -= o.Events
	s.UnpricedEvents -= o.UnpricedEvents
	s.ListNanoUSD -= o.ListNanoUSD
	s.TenantNanoUSD -= o.TenantNanoUSD
	s.InputTokens -= o.InputTokens
	s.OutputTokens -= o.OutputTokens
}

func (s *Sums) dest() []any {
	return []any{&s.Events, &s.UnpricedEvents, &s.ListNanoUSD, &s.TenantNanoUSD, &s.InputTokens, &s.OutputTokens}
}

// Group is one row of a breakdown: Keys in group-by order.
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

// DenialGroup counts denials of one group.
type DenialGroup struct {
	Keys   []string
	Events uint64
}

// UnknownModel is a model used without a known price.
type UnknownModel struct {
	Provider, Model           string
	Events                    uint64
	InputTokens, OutputTokens int64
	FirstSeen, LastSeen       time.Time
}

// EventRow is one stored usage event with its cost.
type EventRow struct {
	EventID, KeyID, Source, Provider, Operation         string
	ModelRequested, ModelServed, CatalogueModel         string
	Time                                                time.Time
	Streaming, Complete                                 bool
	ServiceTier, RequestID                              string
	StatusCode                                          uint16
	LatencyMs, TTFBMs                                   uint32
	Input, CachedInput, CacheWrite5m, CacheWrite1h      int64
	Output, Reasoning, AudioInput, AudioOutput          int64
	ImageInput, ImageOutput, WebSearches                int64
	Characters, Seconds, Images                         int64
	Priced, HasProviderReported                         bool
	ListNanoUSD, TenantNanoUSD, ProviderReportedNanoUSD int64
	OverrideID, PricingTier                             string
	// CostLines is the pricing explanation as stored (JSON of []pricing.Line).
	CostLines           string
	DimNames, DimValues []string
	// RawUsage is the provider's usage object(s) as received.
	RawUsage string
	// Repriced is true when a cost correction applies: the costs, priced
	// flag and explanation above are the corrected ones.
	Repriced bool
}

// Analytics runs the query builders against a database.
type Analytics struct {
	Conn     driver.Conn
	Database string
}

// TotalSpend sums a tenant's usage.
func (a Analytics) TotalSpend(ctx context.Context, s Spec) (Sums, error) {
	q, err := TotalSpendSQL(a.Database, s)
	if err != nil {
		return Sums{}, err
	}
	var sums Sums
	if err := a.Conn.QueryRow(ctx, q.SQL, q.Args...).Scan(sums.dest()...); err != nil {
		return Sums{}, fmt.Errorf("clickhouse: total spend: %w", err)
	}
	return sums, nil
}

// Breakdown sums a tenant's usage per group, keeping the top limit groups
// (limit > 0), and returns the total over every group with them.
func (a Analytics) Breakdown(ctx context.Context, s Spec, limit int) ([]Group, Sums, error) {
	q, missingGroup, err := BreakdownSQL(a.Database, s, limit)
	if err != nil {
		return nil, Sums{}, err
	}
	var out []Group
	var total Sums
	err = a.scanTotals(ctx, q, "breakdown", func(r driver.Rows) error {
		g := Group{Keys: make([]string, len(s.GroupBy))}
		if err := r.Scan(append(keyDest(g.Keys), g.dest()...)...); err != nil {
			return err
		}
		out = append(out, g)
		return nil
	}, func(r driver.Rows) error {
		return r.Totals(append(keyDest(make([]string, len(s.GroupBy))), total.dest()...)...)
	})
	if err != nil || !missingGroup {
		return out, total, err
	}
	// Events without the dimension: the total of all events minus the
	// dimension's rows, shown as the empty value, as a raw-event query groups
	// them. The two tables are fed by one insert but not at one instant; a
	// read between the two sees more dimension rows than events, and then
	// the missing group is left out rather than made negative.
	all := s
	all.GroupBy = nil
	allTotal, err := a.TotalSpend(ctx, all)
	if err != nil {
		return nil, Sums{}, err
	}
	missing := allTotal
	missing.Sub(total)
	if missing.Events == 0 || !missing.nonNegative() {
		return trim(out, limit), total, nil
	}
	out = append(out, Group{Keys: []string{""}, Sums: missing})
	sort.SliceStable(out, func(i, j int) bool { return ranksBefore(&out[i], &out[j]) })
	return trim(out, limit), allTotal, nil
}

func trim(groups []Group, limit int) []Group {
	if limit > 0 && len(groups) > limit {
		return groups[:limit]
	}
	return groups
}

func (s *Sums) nonNegative() bool {
	// Events and UnpricedEvents are unsigned: a wrapped difference is huge.
	return s.Events < 1<<63 && s.UnpricedEvents < 1<<63 && s.ListNanoUSD >= 0 && s.TenantNanoUSD >= 0 &&
		s.InputTokens >= 0 && s.OutputTokens >= 0
}

// ranksBefore is BreakdownSQL's ORDER BY.
func ranksBefore(a, b *Group) bool {
	switch {
	case a.TenantNanoUSD != b.TenantNanoUSD:
		return a.TenantNanoUSD > b.TenantNanoUSD
	case a.ListNanoUSD != b.ListNanoUSD:
		return a.ListNanoUSD > b.ListNanoUSD
	case a.Events != b.Events:
		return a.Events > b.Events
	}
	return strings.Join(a.Keys, "\x00") < strings.Join(b.Keys, "\x00")
}

// TimeSeries sums a tenant's usage per bucket (UTC) and group.
func (a Analytics) TimeSeries(ctx context.Context, s Spec) ([]Point, error) {
	q, err := TimeSeriesSQL(a.Database, s)
	if err != nil {
		return nil, err
	}
	var out []Point
	err = a.scan(ctx, q, "time series", func(r driver.Rows) error {
		p := Point{Keys: make([]string, len(s.GroupBy))}
		dest := append([]any{&p.Bucket}, keyDest(p.Keys)...)
		if err := r.Scan(append(dest, p.dest()...)...); err != nil {
			return err
		}
		p.Bucket = p.Bucket.UTC()
		out = append(out, p)
		return nil
	})
	return out, err
}

// Denials counts a tenant's denials per group (default: reason).
func (a Analytics) Denials(ctx context.Context, s Spec) ([]DenialGroup, error) {
	q, err := DenialsSQL(a.Database, s)
	if err != nil {
		return nil, err
	}
	n := max(len(s.GroupBy), 1)
	var out []DenialGroup
	err = a.scan(ctx, q, "denials", func(r driver.Rows) error {
		g := DenialGroup{Keys: make([]string, n)}
		if err := r.Scan(append(keyDest(g.Keys), &g.Events)...); err != nil {
			return err
		}
		out = append(out, g)
		return nil
	})
	return out, err
}

// UnknownModels lists unpriced models, most used first.
func (a Analytics) UnknownModels(ctx context.Context, s Spec, limit int) ([]UnknownModel, error) {
	q, err := UnknownModelsSQL(a.Database, s, limit)
	if err != nil {
		return nil, err
	}
	var out []UnknownModel
	err = a.scan(ctx, q, "unknown models", func(r driver.Rows) error {
		var m UnknownModel
		if err := r.Scan(&m.Provider, &m.Model, &m.Events, &m.InputTokens, &m.OutputTokens, &m.FirstSeen, &m.LastSeen); err != nil {
			return err
		}
		m.FirstSeen, m.LastSeen = m.FirstSeen.UTC(), m.LastSeen.UTC()
		out = append(out, m)
		return nil
	})
	return out, err
}

// Events lists usage events newest first.
func (a Analytics) Events(ctx context.Context, s Spec, after *EventCursor, limit int) ([]EventRow, error) {
	q, err := EventsSQL(a.Database, s, after, limit)
	if err != nil {
		return nil, err
	}
	var out []EventRow
	err = a.scan(ctx, q, "events", func(r driver.Rows) error {
		e, err := scanEvent(r)
		if err == nil {
			out = append(out, e)
		}
		return err
	})
	return out, err
}

// Unpriced lists unpriced, uncorrected events oldest first (re-pricing).
func (a Analytics) Unpriced(ctx context.Context, s Spec, after *EventCursor, limit int) ([]EventRow, error) {
	q, err := UnpricedSQL(a.Database, s, after, limit)
	if err != nil {
		return nil, err
	}
	var out []EventRow
	err = a.scan(ctx, q, "unpriced events", func(r driver.Rows) error {
		e, err := scanEvent(r)
		if err == nil {
			out = append(out, e)
		}
		return err
	})
	return out, err
}

// ErrEventNotFound is returned by Event for an id the tenant has no event of.
var ErrEventNotFound = errors.New("clickhouse: event not found")

// Event finds one usage event of a tenant.
func (a Analytics) Event(ctx context.Context, tenant, eventID string) (EventRow, error) {
	q := EventSQL(a.Database, tenant, eventID)
	var found []EventRow
	err := a.scan(ctx, q, "event", func(r driver.Rows) error {
		e, err := scanEvent(r)
		if err == nil {
			found = append(found, e)
		}
		return err
	})
	if err != nil {
		return EventRow{}, err
	}
	if len(found) == 0 {
		return EventRow{}, ErrEventNotFound
	}
	return found[0], nil
}

func scanEvent(r driver.Rows) (EventRow, error) {
	var e EventRow
	var streaming, complete, priced, reported, repriced uint8
	err := r.Scan(&e.EventID, &e.Time, &e.KeyID, &e.Source, &e.Provider, &e.Operation, &e.ModelRequested, &e.ModelServed, &e.CatalogueModel,
		&streaming, &e.ServiceTier, &complete, &e.StatusCode, &e.LatencyMs, &e.TTFBMs, &e.RequestID,
		&e.Input, &e.CachedInput, &e.CacheWrite5m, &e.CacheWrite1h, &e.Output, &e.Reasoning, &e.AudioInput, &e.AudioOutput,
		&e.ImageInput, &e.ImageOutput, &e.WebSearches, &e.Characters, &e.Seconds, &e.Images,
		&priced, &e.ListNanoUSD, &e.TenantNanoUSD, &e.ProviderReportedNanoUSD, &reported, &e.OverrideID, &e.PricingTier,
		&e.CostLines, &e.DimNames, &e.DimValues, &e.RawUsage, &repriced)
	e.Time = e.Time.UTC()
	e.Streaming, e.Complete, e.Priced, e.HasProviderReported = streaming == 1, complete == 1, priced == 1, reported == 1
	e.Repriced = repriced == 1
	return e, err
}

func keyDest(keys []string) []any {
	out := make([]any, len(keys))
	for i := range keys {
		out[i] = &keys[i]
	}
	return out
}

func (a Analytics) scan(ctx context.Context, q Query, what string, row func(driver.Rows) error) error {
	return a.scanTotals(ctx, q, what, row, nil)
}

// scanTotals is scan for queries WITH TOTALS: totals reads the totals row
// once the rows are read (a result without rows has no totals row).
func (a Analytics) scanTotals(ctx context.Context, q Query, what string, row, totals func(driver.Rows) error) error {
	rows, err := a.Conn.Query(ctx, q.SQL, q.Args...)
	if err != nil {
		return fmt.Errorf("clickhouse: %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return fmt.Errorf("clickhouse: %s row: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("clickhouse: %s: %w", what, err)
	}
	if totals != nil {
		if err := totals(rows); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("clickhouse: %s totals: %w", what, err)
		}
	}
	return nil
}
