package clickhouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/spendgate/spendgate/meter"
	"github.com/spendgate/spendgate/spend"
)

// Query is SQL with positional ? arguments, bound client-side by
// clickhouse-go (ClickHouse 18.16 has no server-side parameters).
// Identifiers never come from arguments: they are whitelisted here.
type Query struct {
	SQL  string
	Args []any
	// Tables are the usage tables a sums query reads, in the order of its
	// legs (rollups and usage_events; cost_corrections is always read).
	Tables []string `json:"-"`
}

// Source says what answered a sums query: "rollup" when only rollups did,
// "raw" when only raw events did, "rollup+raw" when rollups answered the
// aligned part of the range and raw events the ragged edges; "raw" for
// queries that always read raw events.
func (q Query) Source() string {
	rollup, raw := false, len(q.Tables) == 0
	for _, t := range q.Tables {
		if t == UsageTable {
			raw = true
		} else {
			rollup = true
		}
	}
	switch {
	case rollup && raw:
		return "rollup+raw"
	case rollup:
		return "rollup"
	}
	return "raw"
}

// UsageTable is the raw usage events table.
const UsageTable = "usage_events"

func badQuery(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{spend.ErrBadQuery}, args...)...)
}

// table is one table analytics can read, with the expressions of the names
// callers group and filter by.
type table struct {
	name    string
	timeCol string
	cols    map[string]string
	sums    string
	// dims: dim:<name> is read from the dim_names/dim_values arrays.
	dims bool
	// rollup is set for rollup tables.
	rollup *Rollup
}

// Usage is summed from legs: the events (rollups for the aligned part of
// the range, raw events for its edges) and the cost corrections of
// re-priced events. Each leg sums as Int64 (corrections subtract unpriced
// events), and the outer query adds the legs up.
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

// attributeCols are the expressions of the group-by and filter names over
// tables with the model in one column (rollups, corrections).
var attributeCols = map[string]string{
	"key":          "key_id",
	"provider":     "provider",
	"model":        "model",
	"operation":    "operation",
	"service_tier": "service_tier",
	"source":       "source",
	"status":       "toString(status_code)",
}

var (
	usageTable = table{name: UsageTable, timeCol: "time", sums: rawSums, dims: true, cols: map[string]string{
		"key":          "key_id",
		"provider":     "provider",
		"model":        rawModel,
		"operation":    "operation",
		"service_tier": "service_tier",
		"source":       "source",
		"status":       "toString(status_code)",
	}}
	// correctionsTable holds cost corrections of re-priced events, with the
	// event's attributes so they group and filter like the events.
	correctionsTable = table{name: CorrectionsTable, timeCol: "time", sums: correctionSums, dims: true, cols: attributeCols}
	denialsTable     = table{name: "denial_events", timeCol: "time", sums: "count() AS events", dims: true, cols: map[string]string{
		"key":       "key_id",
		"provider":  "provider",
		"model":     "model_requested",
		"operation": "operation",
		"source":    "source",
		"reason":    "denial_reason",
	}}
	rollupTables = func() map[*Rollup]*table {
		out := map[*Rollup]*table{}
		for _, r := range Rollups {
			cols := map[string]string{}
			for k, v := range attributeCols {
				if k == "key" && r.Key || k != "key" && r.Attrs {
					cols[k] = v
				}
			}
			out[r] = &table{name: r.Name, timeCol: "bucket", sums: rollupSums, cols: cols, dims: r.Dims, rollup: r}
		}
		return out
	}()
)

func (t *table) expr(name string) (string, error) {
	if c, ok := t.cols[name]; ok {
		return c, nil
	}
	if d, ok := attributionCols[name]; ok && t.dims {
		return "dim_values[indexOf(dim_names, '" + d + "')]", nil
	}
	if d, ok := strings.CutPrefix(name, "dim:"); ok && spend.ValidDimensionName(d) && t.dims {
		return "dim_values[indexOf(dim_names, '" + d + "')]", nil
	}
	names := make([]string, 0, len(t.cols))
	for k := range t.cols {
		names = append(names, k)
	}
	sort.Strings(names)
	return "", badQuery("cannot group %s by %q: use one of %s or dim:<name>", t.name, name, strings.Join(names, ", "))
}

func filtersByName(f *spend.Filters) map[string][]string {
	return map[string][]string{"key": f.KeyIDs, "provider": f.Providers, "model": f.Models,
		"operation": f.Operations, "source": f.Sources, "status": f.Statuses,
		"workspace": f.WorkspaceIDs, "team": f.TeamIDs, "project": f.ProjectIDs}
}

// where builds the WHERE clause of spec over t for [from, to).
func (t *table) where(s *spend.Spec, from, to time.Time) (string, []any, error) {
	if s.Tenant == "" {
		return "", nil, badQuery("no tenant")
	}
	if !s.From.Before(s.To) {
		return "", nil, badQuery("empty time range [%s, %s)", s.From.Format(time.RFC3339), s.To.Format(time.RFC3339))
	}
	w := "tenant_id = ? AND " + t.timeCol + " >= ? AND " + t.timeCol + " < ?"
	args := []any{s.Tenant, from.UTC(), to.UTC()}
	byName := filtersByName(&s.Filters)
	for _, name := range []string{"key", "provider", "model", "operation", "source", "status", "workspace", "team", "project"} {
		vals := byName[name]
		if len(vals) == 0 {
			continue
		}
		col, err := t.expr(name)
		if err != nil {
			return "", nil, badQuery("%s cannot be filtered by %s", t.name, name)
		}
		// IN, not has(): the primary index prunes by IN (a key filter on a
		// rollup reads a mark or two per bucket), and 18.16 does not by has().
		w += " AND " + col + " IN ?"
		args = append(args, groupSet(vals))
	}
	if w2, a2, err := t.within(&s.Filters); err != nil {
		return "", nil, err
	} else if w2 != "" {
		w += w2
		args = append(args, a2...)
	}
	names := make([]string, 0, len(s.Filters.Dimensions))
	for n := range s.Filters.Dimensions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !spend.ValidDimensionName(n) {
			return "", nil, badQuery("dimension name %q: use letters, digits, _ . - (at most 64)", n)
		}
		if !t.dims {
			return "", nil, badQuery("%s has no dimensions", t.name)
		}
		w += " AND has(?, dim_values[indexOf(dim_names, '" + n + "')])"
		args = append(args, s.Filters.Dimensions[n])
	}
	return w, args, nil
}

// leg is one table read over one part of the range.
type leg struct {
	t        *table
	from, to time.Time
}

// plan splits spec's range over the cheapest tables that answer it
// exactly: per grain, the smallest rollup family with every attribute spec
// groups or filters by; its monthly table for the whole months in the
// range (unless the series is hourly, daily or weekly), its daily table
// for the whole days left at either end (unless the series is hourly), its
// hourly table for the whole hours left, and raw events for the minutes at
// the very ends. Every part gives the sums of the same events, so the legs
// add up to the raw answer.
func plan(s *spend.Spec) []leg {
	needKey, needDims := len(s.Filters.KeyIDs) > 0, len(s.Filters.Dimensions) > 0 || s.Filters.Attributed()
	needAttrs := len(s.Filters.Providers)+len(s.Filters.Models)+len(s.Filters.Operations)+len(s.Filters.Sources)+len(s.Filters.Statuses) > 0
	for _, g := range s.GroupBy {
		needKey = needKey || g == "key"
		needDims = needDims || strings.HasPrefix(g, "dim:") || attributionCols[g] != ""
		needAttrs = needAttrs || (g != "key" && attributeCols[g] != "")
	}
	// A series by hour, day or week of one dimension (× key or × model):
	// the onedim family's hours (see oneDim).
	if _, _, ok := oneDim(s); ok && useOneDim {
		return splitLegs(s, []*table{rollupTables[RollupNamed(OneDimTable)]})
	}
	// A series bucket must hold whole rollup buckets: months hold no whole
	// weeks or days, days no whole hours.
	coarsest := Month
	switch s.Bucket {
	case "hour":
		coarsest = Hour
	case "day", "week":
		coarsest = Day
	}
	var grains []*table
	for g := coarsest; g >= Hour; g-- {
		var best *Rollup
		for _, r := range Rollups {
			if r.Grain == g && r.has(needKey, needAttrs, needDims) && (best == nil || r.family() < best.family()) {
				best = r
			}
		}
		if best != nil {
			grains = append(grains, rollupTables[best])
		}
	}
	return splitLegs(s, grains)
}

// splitLegs splits s's range over grains, coarsest first: each grain's
// table for the whole buckets it holds, the next for what is left at
// either end, raw events for the rest.
func splitLegs(s *spend.Spec, grains []*table) []leg {
	var legs []leg
	var split func(from, to time.Time, level int)
	split = func(from, to time.Time, level int) {
		if !from.Before(to) {
			return
		}
		if level == len(grains) {
			legs = append(legs, leg{&usageTable, from, to})
			return
		}
		g := grains[level].rollup.Grain
		a, b := g.ceil(from), g.floor(to)
		if !a.Before(b) {
			split(from, to, level+1)
			return
		}
		split(from, a, level+1)
		legs = append(legs, leg{grains[level], a, b})
		split(b, to, level+1)
	}
	split(s.From.UTC(), s.To.UTC(), 0)
	return legs
}

// useOneDim is false only where a measurement compares the onedim family
// with the plan before it (onedim_cost_test.go).
var useOneDim = true

// oneDim says whether the onedim family answers s exactly, and with
// which dimension (its stored name) and attribute ("key" or "model"): a
// series by hour, day or week that groups or filters by exactly one
// dimension (a dim:<name> or a level of the hierarchy) and otherwise by
// the key alone or the model alone, with no other filter (the family has
// no provider, status, … and no second dimension; a scoped reader's reach
// names two). Breakdowns and monthly series keep the months and days of
// the other families.
func oneDim(s *spend.Spec) (dim, attr string, ok bool) {
	f := &s.Filters
	switch {
	case s.Bucket != "hour" && s.Bucket != "day" && s.Bucket != "week",
		f.Within != nil, len(f.Providers)+len(f.Operations)+len(f.Sources)+len(f.Statuses) > 0:
		return "", "", false
	}
	dims := map[string]bool{}
	for n := range f.Dimensions {
		dims[n] = true
	}
	for level, ids := range map[string][]string{"workspace": f.WorkspaceIDs, "team": f.TeamIDs, "project": f.ProjectIDs} {
		if len(ids) > 0 {
			dims[attributionCols[level]] = true
		}
	}
	key, model := len(f.KeyIDs) > 0, len(f.Models) > 0
	for _, g := range s.GroupBy {
		if d, isDim := strings.CutPrefix(g, "dim:"); isDim {
			dims[d] = true
			continue
		}
		if d := attributionCols[g]; d != "" {
			dims[d] = true
			continue
		}
		switch g {
		case "key":
			key = true
		case "model":
			model = true
		default:
			return "", "", false
		}
	}
	if len(dims) != 1 || key && model {
		return "", "", false
	}
	for d := range dims {
		dim = d
	}
	if !spend.ValidDimensionName(dim) && dim != attrWorkspace && dim != attrTeam && dim != attrProject {
		return "", "", false
	}
	if key {
		return dim, "key", true
	}
	return dim, "model", true
}

// oneDimValues are the values s filters its one dimension by (nil: none).
func oneDimValues(s *spend.Spec, dim string) []string {
	switch dim {
	case attrWorkspace:
		return s.Filters.WorkspaceIDs
	case attrTeam:
		return s.Filters.TeamIDs
	case attrProject:
		return s.Filters.ProjectIDs
	}
	return s.Filters.Dimensions[dim]
}

// oneDimParts sums the onedim family over [from, to) for s (see oneDim):
// the rows of s's dimension, grouped by its value, and, when the series
// groups by the dimension unfiltered or its filter takes "" (as raw
// events read a missing dimension), the events without it: the
// no-dimension rows minus the dimension's rows (an event with the
// dimension set to "" is in both, so it counts once, under ""). Groups
// where every event has the dimension are left out, as raw events have
// no such group.
func oneDimParts(database string, t *table, s *spend.Spec, from, to time.Time, bucket string) (parts []string, args []any, keys string, err error) {
	dim, attr, _ := oneDim(s)
	b, err := bucketExpr(bucket, "bucket")
	if err != nil {
		return nil, nil, "", err
	}
	w := "tenant_id = ? AND bucket >= ? AND bucket < ? AND attr_name = '" + attr + "'"
	common := []any{s.Tenant, from.UTC(), to.UTC()}
	if vals := map[string][]string{"key": s.Filters.KeyIDs, "model": s.Filters.Models}[attr]; len(vals) > 0 {
		w += " AND attr_value IN ?"
		common = append(common, groupSet(vals))
	}
	sel := func(dimCol string) string {
		out := b + " AS bucket_start, "
		ks := []string{"bucket_start"}
		for i, g := range s.GroupBy {
			col := dimCol
			if g == "key" || g == "model" {
				col = "attr_value"
			}
			out += fmt.Sprintf("%s AS g%d, ", col, i)
			ks = append(ks, fmt.Sprintf("g%d", i))
		}
		keys = strings.Join(ks, ", ")
		return out
	}
	vals := oneDimValues(s, dim)
	with := "SELECT " + sel("dim_value") + rollupSums + " FROM " + qualified(database, t) + " WHERE " + w + " AND dim_name = '" + dim + "'"
	args = append(args, common...)
	if len(vals) > 0 {
		with += " AND dim_value IN ?"
		args = append(args, groupSet(vals))
	}
	parts = append(parts, with+" GROUP BY "+keys)
	if len(vals) == 0 || slices.Contains(vals, "") {
		parts = append(parts, "SELECT "+sel("''")+oneDimWithoutSums+" FROM "+qualified(database, t)+" WHERE "+w+
			" AND dim_name IN ('', '"+dim+"') GROUP BY "+keys+" HAVING events != 0")
		args = append(args, common...)
	}
	return parts, args, keys, nil
}

// oneDimWithoutSums sums the onedim rows of the events without a
// dimension: its no-dimension rows minus its own.
const oneDimWithoutSums = `toInt64(sumIf(events, dim_name = '')) - toInt64(sumIf(events, dim_name != '')) AS events,
	toInt64(sumIf(unpriced_events, dim_name = '')) - toInt64(sumIf(unpriced_events, dim_name != '')) AS unpriced_events,
	sumIf(list_cost_nano_usd, dim_name = '') - sumIf(list_cost_nano_usd, dim_name != '') AS list_nano_usd,
	sumIf(tenant_cost_nano_usd, dim_name = '') - sumIf(tenant_cost_nano_usd, dim_name != '') AS tenant_nano_usd,
	sumIf(input_tokens, dim_name = '') - sumIf(input_tokens, dim_name != '') AS input_tokens,
	sumIf(output_tokens, dim_name = '') - sumIf(output_tokens, dim_name != '') AS output_tokens`

func groupSet(vals []string) chgo.GroupSet {
	set := make([]any, len(vals))
	for i, v := range vals {
		set[i] = v
	}
	return chgo.GroupSet{Value: set}
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

// sumsSQL sums spec's usage over the legs of its plan together with the
// cost corrections of the same events: SELECT [bucket_start,] g0…, sums
// FROM (leg UNION ALL … UNION ALL corrections leg) [GROUP BY …]. Callers
// append WITH TOTALS, ORDER BY and LIMIT. keys lists the group columns
// (bucket_start first).
func sumsSQL(database string, s *spend.Spec, bucket string, raw bool) (q Query, keys string, err error) {
	legs := plan(s)
	if raw {
		legs = []leg{{&usageTable, s.From.UTC(), s.To.UTC()}}
	}
	legs = append(legs, leg{&correctionsTable, s.From.UTC(), s.To.UTC()})
	var parts []string
	for _, l := range legs {
		if l.t.rollup != nil && l.t.rollup.OneDim {
			ps, a, k, err := oneDimParts(database, l.t, s, l.from, l.to, bucket)
			if err != nil {
				return Query{}, "", err
			}
			parts = append(parts, ps...)
			q.Args = append(q.Args, a...)
			q.Tables = append(q.Tables, l.t.name)
			keys = k
			continue
		}
		w, a, err := l.t.where(s, l.from, l.to)
		if err != nil {
			return Query{}, "", err
		}
		sel, k, err := l.t.groupSelect(s.GroupBy)
		if err != nil {
			return Query{}, "", err
		}
		if bucket != "" {
			b, err := bucketExpr(bucket, l.t.timeCol)
			if err != nil {
				return Query{}, "", err
			}
			sel = b + " AS bucket_start, " + sel
			k = strings.TrimSuffix("bucket_start, "+k, ", ")
		}
		part := "SELECT " + sel + l.t.sums + " FROM " + qualified(database, l.t) + " WHERE " + w
		if k != "" {
			part += " GROUP BY " + k
		}
		parts = append(parts, part)
		q.Args = append(q.Args, a...)
		if l.t != &correctionsTable {
			q.Tables = append(q.Tables, l.t.name)
		}
		keys = k
	}
	q.SQL = "SELECT "
	if keys != "" {
		q.SQL += keys + ", "
	}
	q.SQL += outerSums + " FROM (" + strings.Join(parts, " UNION ALL ") + ")"
	if keys != "" {
		q.SQL += " GROUP BY " + keys
	}
	return q, keys, nil
}

// SumsSource says what answers a sums query of s (TotalSpend, Breakdown,
// TimeSeries): see Query.Source. Planning is pure, so callers can report
// it without running anything.
func SumsSource(s spend.Spec) (source string, tables []string) {
	for _, l := range plan(&s) {
		if !slices.Contains(tables, l.t.name) {
			tables = append(tables, l.t.name)
		}
	}
	return Query{Tables: tables}.Source(), tables
}

// TotalSpendSQL sums a tenant's usage in [From, To).
func TotalSpendSQL(database string, s spend.Spec) (Query, error) {
	return totalSpendSQL(database, s, false)
}

// raw: read raw events only (tests compare the rollups with them).
func totalSpendSQL(database string, s spend.Spec, raw bool) (Query, error) {
	q, _, err := sumsSQL(database, &s, "", raw)
	return q, err
}

// BreakdownSQL sums a tenant's usage per group, largest tenant cost first;
// limit > 0 keeps the top limit groups. WITH TOTALS sums every group in the
// same read, before the limit, so "other" (total minus the top) comes from
// one consistent snapshot.
func BreakdownSQL(database string, s spend.Spec, limit int) (Query, error) {
	return breakdownSQL(database, s, limit, false)
}

func breakdownSQL(database string, s spend.Spec, limit int, raw bool) (Query, error) {
	if len(s.GroupBy) == 0 {
		return Query{}, badQuery("a breakdown needs at least one group-by")
	}
	q, keys, err := sumsSQL(database, &s, "", raw)
	if err != nil {
		return Query{}, err
	}
	q.SQL += " WITH TOTALS ORDER BY tenant_nano_usd DESC, list_nano_usd DESC, events DESC, " + keys
	if limit > 0 {
		q.SQL += fmt.Sprintf(" LIMIT %d", limit)
	}
	return q, nil
}

// TimeSeriesSQL sums a tenant's usage per bucket and optional groups.
func TimeSeriesSQL(database string, s spend.Spec) (Query, error) {
	return timeSeriesSQL(database, s, false)
}

func timeSeriesSQL(database string, s spend.Spec, raw bool) (Query, error) {
	if _, err := bucketExpr(s.Bucket, "time"); err != nil {
		return Query{}, err
	}
	q, keys, err := sumsSQL(database, &s, s.Bucket, raw)
	if err != nil {
		return Query{}, err
	}
	q.SQL += " ORDER BY " + keys
	return q, nil
}

// DenialsSQL counts a tenant's denials per group (default: reason), most
// first.
func DenialsSQL(database string, s spend.Spec) (Query, error) {
	t := &denialsTable
	groupBy := s.GroupBy
	if len(groupBy) == 0 {
		groupBy = []string{"reason"}
	}
	w, args, err := t.where(&s, s.From, s.To)
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
func UnknownModelsSQL(database string, s spend.Spec, limit int) (Query, error) {
	t := &usageTable
	w, args, err := t.where(&s, s.From, s.To)
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

// EventsSQL lists a tenant's usage events newest first, after cursor (nil:
// from the newest), at most limit.
func EventsSQL(database string, s spend.Spec, after *spend.EventCursor, limit int) (Query, error) {
	w, args, err := usageTable.where(&s, s.From, s.To)
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

// EventSQL finds one of a tenant's usage events by id, among those with a
// time in [from, to) unless from is zero (then any time: a scan of the
// tenant's events, since the id is not in the sort key's prefix).
func EventSQL(database, tenant, eventID string, from, to time.Time) Query {
	if from.IsZero() {
		return Query{SQL: eventSelect(database) + " WHERE tenant_id = ? AND event_id = ? LIMIT 1", Args: []any{tenant, tenant, eventID}}
	}
	return Query{SQL: eventSelect(database) + " WHERE tenant_id = ? AND time >= ? AND time < ? AND event_id = ? LIMIT 1",
		Args: []any{tenant, tenant, from.UTC(), to.UTC(), eventID}}
}

// EventWindow is where an event with this id is stored, by the time in its
// id when it is a UUIDv7 (meter.NewEventID): the data plane mints the id
// when the call ends and stores the call's start as the event's time, so
// the time is at most the call's length before the id's (a minute of
// clock skew allowed after). ok is false for other ids. An event outside
// the window (a call longer than an hour, a sender's own v7 id) is still
// found: Event looks at every time when the window has nothing.
func EventWindow(eventID string) (from, to time.Time, ok bool) {
	minted, ok := meter.EventIDTime(eventID)
	if !ok {
		return time.Time{}, time.Time{}, false
	}
	return minted.Add(-time.Hour).Truncate(time.Second), minted.Add(time.Minute).Truncate(time.Second), true
}

// UnpricedSQL lists a tenant's unpriced, uncorrected events in the range,
// oldest first, after cursor: what re-pricing works through.
func UnpricedSQL(database string, s spend.Spec, after *spend.EventCursor, limit int) (Query, error) {
	w, args, err := usageTable.where(&s, s.From, s.To)
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

func sumsDest(s *spend.Sums) []any {
	return []any{&s.Events, &s.UnpricedEvents, &s.ListNanoUSD, &s.TenantNanoUSD, &s.InputTokens, &s.OutputTokens}
}

// Analytics runs the query builders against a database.
type Analytics struct {
	Conn     driver.Conn
	Database string
	// RawOnly answers sums from raw events only, never the rollups: the
	// baseline tests and benchmarks compare the rollups with.
	RawOnly bool
}

// SumsSource says what answers sums of s (see the package function).
func (a Analytics) SumsSource(s spend.Spec) (string, []string) {
	if a.RawOnly {
		return "raw", []string{UsageTable}
	}
	return SumsSource(s)
}

// TotalSpend sums a tenant's usage.
func (a Analytics) TotalSpend(ctx context.Context, s spend.Spec) (spend.Sums, error) {
	q, err := totalSpendSQL(a.Database, s, a.RawOnly)
	if err != nil {
		return spend.Sums{}, err
	}
	var sums spend.Sums
	if err := a.Conn.QueryRow(ctx, q.SQL, q.Args...).Scan(sumsDest(&sums)...); err != nil {
		return spend.Sums{}, queryErr("total spend", err)
	}
	return sums, nil
}

// Breakdown sums a tenant's usage per group, keeping the top limit groups
// (limit > 0), and returns the total over every group with them.
func (a Analytics) Breakdown(ctx context.Context, s spend.Spec, limit int) ([]spend.Group, spend.Sums, error) {
	q, err := breakdownSQL(a.Database, s, limit, a.RawOnly)
	if err != nil {
		return nil, spend.Sums{}, err
	}
	var out []spend.Group
	var total spend.Sums
	err = a.scanTotals(ctx, q, "breakdown", func(r driver.Rows) error {
		g := spend.Group{Keys: make([]string, len(s.GroupBy))}
		if err := r.Scan(append(keyDest(g.Keys), sumsDest(&g.Sums)...)...); err != nil {
			return err
		}
		out = append(out, g)
		return nil
	}, func(r driver.Rows) error {
		return r.Totals(append(keyDest(make([]string, len(s.GroupBy))), sumsDest(&total)...)...)
	})
	return out, total, err
}

// TimeSeries sums a tenant's usage per bucket (UTC) and group.
func (a Analytics) TimeSeries(ctx context.Context, s spend.Spec) ([]spend.Point, error) {
	q, err := timeSeriesSQL(a.Database, s, a.RawOnly)
	if err != nil {
		return nil, err
	}
	var out []spend.Point
	err = a.scan(ctx, q, "time series", func(r driver.Rows) error {
		p := spend.Point{Keys: make([]string, len(s.GroupBy))}
		dest := append([]any{&p.Bucket}, keyDest(p.Keys)...)
		if err := r.Scan(append(dest, sumsDest(&p.Sums)...)...); err != nil {
			return err
		}
		p.Bucket = p.Bucket.UTC()
		out = append(out, p)
		return nil
	})
	return out, err
}

// Denials counts a tenant's denials per group (default: reason).
func (a Analytics) Denials(ctx context.Context, s spend.Spec) ([]spend.DenialGroup, error) {
	q, err := DenialsSQL(a.Database, s)
	if err != nil {
		return nil, err
	}
	n := max(len(s.GroupBy), 1)
	var out []spend.DenialGroup
	err = a.scan(ctx, q, "denials", func(r driver.Rows) error {
		g := spend.DenialGroup{Keys: make([]string, n)}
		if err := r.Scan(append(keyDest(g.Keys), &g.Events)...); err != nil {
			return err
		}
		out = append(out, g)
		return nil
	})
	return out, err
}

// UnknownModels lists unpriced models, most used first.
func (a Analytics) UnknownModels(ctx context.Context, s spend.Spec, limit int) ([]spend.UnknownModel, error) {
	q, err := UnknownModelsSQL(a.Database, s, limit)
	if err != nil {
		return nil, err
	}
	var out []spend.UnknownModel
	err = a.scan(ctx, q, "unknown models", func(r driver.Rows) error {
		var m spend.UnknownModel
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
func (a Analytics) Events(ctx context.Context, s spend.Spec, after *spend.EventCursor, limit int) ([]spend.EventRow, error) {
	q, err := EventsSQL(a.Database, s, after, limit)
	if err != nil {
		return nil, err
	}
	var out []spend.EventRow
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
func (a Analytics) Unpriced(ctx context.Context, s spend.Spec, after *spend.EventCursor, limit int) ([]spend.EventRow, error) {
	q, err := UnpricedSQL(a.Database, s, after, limit)
	if err != nil {
		return nil, err
	}
	var out []spend.EventRow
	err = a.scan(ctx, q, "unpriced events", func(r driver.Rows) error {
		e, err := scanEvent(r)
		if err == nil {
			out = append(out, e)
		}
		return err
	})
	return out, err
}

// Event finds one usage event of a tenant.
func (a Analytics) Event(ctx context.Context, tenant, eventID string) (spend.EventRow, error) {
	var found []spend.EventRow
	find := func(q Query) error {
		return a.scan(ctx, q, "event", func(r driver.Rows) error {
			e, err := scanEvent(r)
			if err == nil {
				found = append(found, e)
			}
			return err
		})
	}
	// First where a UUIDv7 id says the event is (an hour of the tenant's
	// events), then, for any other id or when that has nothing, everywhere.
	if from, to, ok := EventWindow(eventID); ok {
		if err := find(EventSQL(a.Database, tenant, eventID, from, to)); err != nil {
			return spend.EventRow{}, err
		}
	}
	if len(found) == 0 {
		if err := find(EventSQL(a.Database, tenant, eventID, time.Time{}, time.Time{})); err != nil {
			return spend.EventRow{}, err
		}
	}
	if len(found) == 0 {
		return spend.EventRow{}, spend.ErrEventNotFound
	}
	return found[0], nil
}

func scanEvent(r driver.Rows) (spend.EventRow, error) {
	var e spend.EventRow
	var streaming, complete, priced, reported, repriced uint8
	err := r.Scan(&e.EventID, &e.Time, &e.KeyID, &e.Source, &e.Provider, &e.Operation, &e.ModelRequested, &e.ModelServed, &e.CatalogueModel,
		&streaming, &e.ServiceTier, &complete, &e.StatusCode, &e.LatencyMs, &e.TTFBMs, &e.RequestID,
		&e.Input, &e.CachedInput, &e.CacheWrite5m, &e.CacheWrite1h, &e.Output, &e.Reasoning, &e.AudioInput, &e.AudioOutput,
		&e.ImageInput, &e.ImageOutput, &e.WebSearches, &e.Characters, &e.Seconds, &e.Images,
		&priced, &e.ListNanoUSD, &e.TenantNanoUSD, &e.ProviderReportedNanoUSD, &reported, &e.OverrideID, &e.PricingTier,
		&e.CostLines, &e.DimNames, &e.DimValues, &e.RawUsage, &repriced)
	e.Time = e.Time.UTC()
	e.DimNames, e.DimValues, e.WorkspaceID, e.TeamID, e.ProjectID = splitAttribution(e.DimNames, e.DimValues)
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
		return queryErr(what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return fmt.Errorf("clickhouse: %s row: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return queryErr(what, err)
	}
	if totals != nil {
		if err := totals(rows); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("clickhouse: %s totals: %w", what, err)
		}
	}
	return nil
}
