package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Rollup is a SummingMergeTree table of usage pre-summed per hour, day or
// month and per attribution: the attributes an event is grouped and
// filtered by. Five families, named by what they keep:
//
//   - attr: every attribute — key, provider, model, operation, service
//     tier, source, status and the event's whole dimension set (its hash
//     and its two arrays). Any group-by and filter the API offers is an
//     aggregation over it, dimension pairs included: dim:<name> is read
//     from the arrays exactly as from raw events, and events without the
//     dimension group under "" as they do there.
//   - core: every attribute but the dimensions (key × model × status …).
//   - dims: every attribute but the key (dimension set × model × status …).
//   - keydims: the key and the dimension set only: key × team, key × app,
//     a key filtered by a dimension — the common key shapes, far fewer rows
//     than attr, which multiplies them by every model and status.
//   - totals: every attribute but the key and the dimensions (hourly only:
//     hourly series over weeks, which dims would answer with a row per
//     dimension set and model per hour).
//   - onedim (hourly only; OneDim): one dimension pair at a time. Each event
//     adds a row per dimension pair it carries and one with no dimension
//     (dim_name ”), each twice: once with its key and once with its model
//     (attr_name 'key' or 'model', attr_value). Sorted by dimension name,
//     attribute and value before the bucket, so a series by one dimension
//     (× key or × model) reads only that dimension's rows; events without
//     the dimension are the no-dimension rows minus the dimension's rows.
//
// The planner (analytics.go) reads, per grain, the smallest family that has
// the attributes a query needs. All are fed by materialized views on
// usage_events, so they hold the same events as the raw table: exact sums,
// never estimates. Re-pricing never rewrites events; its cost corrections
// are added from cost_corrections by every query.
type Rollup struct {
	Name  string
	Grain Grain
	Key   bool // carries key_id
	Attrs bool // carries provider, model, operation, service_tier, source, status_code
	Dims  bool // carries the dimension set
	// OneDim: the onedim family (dim_name, attr_name, dim_value,
	// attr_value), never picked by family size; see oneDim in analytics.go.
	OneDim bool
}

// Grain is a rollup's bucket: an hour, a UTC day or a UTC month.
type Grain int

const (
	Hour Grain = iota
	Day
	Month
)

// floor is the start of the bucket holding t (UTC).
func (g Grain) floor(t time.Time) time.Time {
	t = t.UTC()
	switch g {
	case Month:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	case Day:
		return t.Truncate(24 * time.Hour)
	}
	return t.Truncate(time.Hour)
}

// ceil is the start of the first bucket at or after t.
func (g Grain) ceil(t time.Time) time.Time {
	f := g.floor(t)
	if f.Before(t) {
		return g.next(f)
	}
	return f
}

func (g Grain) next(t time.Time) time.Time {
	switch g {
	case Month:
		return t.AddDate(0, 1, 0)
	case Day:
		return t.Add(24 * time.Hour)
	}
	return t.Add(time.Hour)
}

// bucketSQL buckets usage_events' time into g.
func (g Grain) bucketSQL() string {
	switch g {
	case Month:
		return "toDateTime(toStartOfMonth(time))"
	case Day:
		return "toDateTime(toDate(time))"
	}
	return "toStartOfHour(time)"
}

// Rollups lists every rollup, coarsest grain first and smallest family
// first within a grain (the planner's order of preference). The first six
// are the rollups of schema version 32; the migrations add the others.
var Rollups = []*Rollup{
	{Name: "usage_dims_daily", Grain: Day, Attrs: true, Dims: true},
	{Name: "usage_core_daily", Grain: Day, Key: true, Attrs: true},
	{Name: "usage_attr_daily", Grain: Day, Key: true, Attrs: true, Dims: true},
	{Name: "usage_dims_hourly", Grain: Hour, Attrs: true, Dims: true},
	{Name: "usage_core_hourly", Grain: Hour, Key: true, Attrs: true},
	{Name: "usage_attr_hourly", Grain: Hour, Key: true, Attrs: true, Dims: true},
	{Name: "usage_totals_hourly", Grain: Hour, Attrs: true},
	{Name: "usage_keydims_hourly", Grain: Hour, Key: true, Dims: true},
	{Name: "usage_keydims_daily", Grain: Day, Key: true, Dims: true},
	{Name: "usage_dims_monthly", Grain: Month, Attrs: true, Dims: true},
	{Name: "usage_core_monthly", Grain: Month, Key: true, Attrs: true},
	{Name: "usage_keydims_monthly", Grain: Month, Key: true, Dims: true},
	{Name: "usage_attr_monthly", Grain: Month, Key: true, Attrs: true, Dims: true},
	{Name: OneDimTable, Grain: Hour, OneDim: true},
}

// OneDimTable is the onedim family's one table.
const OneDimTable = "usage_onedim_hourly"

// firstRollups is how many of Rollups schema version 32 made, and
// secondRollups how many versions up to 59 had made (issue #26).
const (
	firstRollups  = 6
	secondRollups = 13
)

// family ranks a rollup's attributes from smallest to widest, for the
// planner: totals, dims, core, keydims, attr.
func (r *Rollup) family() int {
	switch {
	case !r.Key && !r.Dims:
		return 0
	case !r.Key:
		return 1
	case !r.Dims:
		return 2
	case !r.Attrs:
		return 3
	}
	return 4
}

// has says whether r keeps every attribute a query needs (the onedim
// family answers only the queries oneDim picks it for).
func (r *Rollup) has(key, attrs, dims bool) bool {
	return !r.OneDim && (r.Key || !key) && (r.Attrs || !attrs) && (r.Dims || !dims)
}

// EveryEvent is a condition on r's rows that keeps each event once (the
// onedim family holds an event in several rows): what tests compare with
// raw events.
func (r *Rollup) EveryEvent() string {
	if r.OneDim {
		return "dim_name = '' AND attr_name = 'model'"
	}
	return "1"
}

// RollupNamed returns the rollup called name, or nil.
func RollupNamed(name string) *Rollup {
	for _, r := range Rollups {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// sumColumns are what a rollup row sums; everything else is its key.
var sumColumns = []string{"events", "unpriced_events", "list_cost_nano_usd", "tenant_cost_nano_usd", "input_tokens", "output_tokens"}

// keyColumns are the rollup's sort key after tenant_id and bucket: the
// dimension set sorts by its hash first (fixed width, cheap to compare) and
// then by its arrays, so two sets never merge even if their hashes collide.
func (r *Rollup) keyColumns() []string {
	if r.OneDim {
		return []string{"dim_name", "attr_name", "dim_value", "attr_value"}
	}
	var cols []string
	if r.Key {
		cols = append(cols, "key_id")
	}
	if r.Attrs {
		cols = append(cols, "provider", "model", "operation", "service_tier", "source", "status_code")
	}
	if r.Dims {
		cols = append(cols, "dims_hash", "dim_names", "dim_values")
	}
	return cols
}

// rollupGranularity is the rollups' index granularity: rows per primary
// index mark. A day of a wide family holds tens of thousands of rows per
// tenant, sorted by key after the bucket, so a key filter reads a mark or
// two per bucket: 1,024 rows each rather than the default 8,192.
const rollupGranularity = "1024"

func (r *Rollup) createTable() string {
	types := map[string]string{"status_code": "UInt16", "dims_hash": "UInt64", "dim_names": "Array(String)", "dim_values": "Array(String)"}
	cols := []string{"tenant_id String", "bucket DateTime"}
	for _, c := range r.keyColumns() {
		t := types[c]
		if t == "" {
			t = "String"
		}
		cols = append(cols, c+" "+t)
	}
	cols = append(cols, "events UInt64", "unpriced_events UInt64", "list_cost_nano_usd Int64", "tenant_cost_nano_usd Int64",
		"input_tokens Int64", "output_tokens Int64")
	order := "tenant_id, bucket, " + strings.Join(r.keyColumns(), ", ")
	if r.OneDim {
		// The bucket after the dimension and attribute: a query reads one
		// dimension's rows (and the no-dimension rows) over its range.
		order = "tenant_id, dim_name, attr_name, dim_value, bucket, attr_value"
	}
	return "CREATE TABLE IF NOT EXISTS {db}." + r.Name + " (" + strings.Join(cols, ", ") + ") " +
		"ENGINE = SummingMergeTree((" + strings.Join(sumColumns, ", ") + ")) PARTITION BY toYYYYMM(bucket) " +
		"ORDER BY (" + order + ") SETTINGS index_granularity = " + rollupGranularity
}

// oneDimSelect is selectSQL for the onedim family: every event once per
// (dimension name, or ” for none) × (key, model). A name repeated in an
// event's arrays counts once, with its first value (as
// dim_values[indexOf(dim_names, …)] reads it from raw events), and an
// empty name not at all (no query can name it); the value is read by
// index, so arrays of unequal length cannot fail the insert.
func (r *Rollup) oneDimSelect(where string) string {
	sql := "SELECT tenant_id, " + r.Grain.bucketSQL() + " AS bucket, " +
		"arrayJoin(arrayConcat([''], arrayFilter((n, i) -> n != '' AND indexOf(dim_names, n) = i, dim_names, arrayEnumerate(dim_names)))) AS dim_name, " +
		"arrayJoin(['key', 'model']) AS attr_name, " +
		"if(dim_name = '', '', dim_values[indexOf(dim_names, dim_name)]) AS dim_value, " +
		"if(attr_name = 'key', key_id, " + rawModel + ") AS attr_value, " + rawRollupSums + " FROM {db}.usage_events"
	if where != "" {
		sql += " WHERE " + where
	}
	return sql + " GROUP BY tenant_id, bucket, dim_name, attr_name, dim_value, attr_value"
}

// selectSQL sums usage_events rows into r's rows; where narrows the events
// (the fill's day) or is empty (the view: each inserted block).
func (r *Rollup) selectSQL(where string) string {
	if r.OneDim {
		return r.oneDimSelect(where)
	}
	bucket := r.Grain.bucketSQL()
	exprs := map[string]string{"model": rawModel + " AS model", "dims_hash": "cityHash64(dim_names, dim_values) AS dims_hash"}
	sel := []string{"tenant_id", bucket + " AS bucket"}
	group := []string{"tenant_id", "bucket"}
	for _, c := range r.keyColumns() {
		e := exprs[c]
		if e == "" {
			e = c
		}
		sel = append(sel, e)
		group = append(group, c)
	}
	sql := "SELECT " + strings.Join(sel, ", ") + ", " + rawRollupSums + " FROM {db}.usage_events"
	if where != "" {
		sql += " WHERE " + where
	}
	return sql + " GROUP BY " + strings.Join(group, ", ")
}

// rawRollupSums sums raw events into a rollup row's sums.
const rawRollupSums = `toUInt64(count()) AS events, toUInt64(countIf(priced = 0)) AS unpriced_events,
	sum(list_cost_nano_usd) AS list_cost_nano_usd, sum(tenant_cost_nano_usd) AS tenant_cost_nano_usd,
	sum(input + cached_input + cache_write_5m + cache_write_1h + audio_input + image_input) AS input_tokens,
	sum(output + reasoning + audio_output + image_output) AS output_tokens`

// createView feeds r from every insert into usage_events (CREATE
// MATERIALIZED VIEW … TO: the table is r's own, created apart, which
// ClickHouse Cloud and Replicated databases accept, unlike POPULATE or an
// inner table). Under optimize_on_insert (21.1+) an INSERT's rows with one
// sort key collapse in usage_events but not in what the view sees; the
// writers never put an event id twice in one INSERT, so both agree.
func (r *Rollup) createView() string {
	return "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}." + r.Name + "_mv TO {db}." + r.Name + " AS " + r.selectSQL("")
}

// Fill sums the events stored so far into r, month partition by month
// partition, one day per INSERT so memory stays bounded at any size. Each
// month's rollup partition is dropped first, so a fill that died half-way
// is simply run again. Only safe while nothing else inserts into r (its
// view does not exist yet; see Migrate).
func (r *Rollup) Fill(ctx context.Context, conn Conn, database string) error {
	var first, last uint32
	if err := conn.QueryRow(ctx, "SELECT toUInt32(min(time)), toUInt32(max(time)) FROM "+database+".usage_events").Scan(&first, &last); err != nil {
		return fmt.Errorf("fill %s: range: %w", r.Name, err)
	}
	var events uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+database+".usage_events").Scan(&events); err != nil {
		return fmt.Errorf("fill %s: count: %w", r.Name, err)
	}
	if events == 0 {
		return nil
	}
	from := time.Unix(int64(first), 0).UTC()
	to := time.Unix(int64(last), 0).UTC()
	cols := "tenant_id, bucket, " + strings.Join(r.keyColumns(), ", ") + ", " + strings.Join(sumColumns, ", ")
	month := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC)
	for ; !month.After(to); month = month.AddDate(0, 1, 0) {
		if err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s DROP PARTITION %d", database, r.Name, month.Year()*100+int(month.Month()))); err != nil {
			return fmt.Errorf("fill %s: clear %s: %w", r.Name, month.Format("2006-01"), err)
		}
		for day := month; day.Before(month.AddDate(0, 1, 0)) && !day.After(to); day = day.Add(24 * time.Hour) {
			if day.Add(24 * time.Hour).Before(from) {
				continue
			}
			where := fmt.Sprintf("time >= toDateTime(%d) AND time < toDateTime(%d)", day.Unix(), day.Add(24*time.Hour).Unix())
			if err := conn.Exec(ctx, "INSERT INTO "+database+"."+r.Name+" ("+cols+") "+replaceDB(r.selectSQL(where), database)); err != nil {
				return fmt.Errorf("fill %s: %s: %w", r.Name, day.Format("2006-01-02"), err)
			}
		}
	}
	return nil
}

// rebuilt counts r's table when it has the rollups' index granularity:
// tables made by schema version 32 have the default and are rebuilt.
func (r *Rollup) rebuilt() string {
	return "SELECT count() FROM system.tables WHERE database = '{db}' AND name = '" + r.Name +
		"' AND engine_full LIKE '%index_granularity = " + rollupGranularity + "%'"
}

// rebuild remakes r with the current DDL: view and table dropped, the
// table created, filled from the stored events and fed by a new view.
// Like Fill, only safe while no writer inserts (see Migrate); run again
// after dying half-way, it starts over.
func (r *Rollup) rebuild(ctx context.Context, conn Conn, s Schema) error {
	for _, sql := range []string{"DROP TABLE IF EXISTS {db}." + r.Name + "_mv", "DROP TABLE IF EXISTS {db}." + r.Name, r.createTable()} {
		if err := conn.Exec(ctx, s.DDL(sql)); err != nil {
			return fmt.Errorf("rebuild %s: %w", r.Name, err)
		}
	}
	if err := r.Fill(ctx, conn, s.Database); err != nil {
		return err
	}
	if err := conn.Exec(ctx, s.DDL(r.createView())); err != nil {
		return fmt.Errorf("rebuild %s: %w", r.Name, err)
	}
	return nil
}
