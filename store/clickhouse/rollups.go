package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Rollup is a SummingMergeTree table of usage pre-summed per hour or day
// and per attribution: the attributes an event is grouped and filtered by.
// Three families, each hourly and daily:
//
//   - attr: every attribute — key, provider, model, operation, service
//     tier, source, status and the event's whole dimension set (its hash
//     and its two arrays). Any group-by and filter the API offers is an
//     aggregation over it, dimension pairs included: dim:<name> is read
//     from the arrays exactly as from raw events, and events without the
//     dimension group under "" as they do there.
//   - core: every attribute but the dimensions (key × model × status …).
//   - dims: every attribute but the key (dimension set × model × status …).
//
// The planner (analytics.go) reads the smallest family that has the
// attributes a query needs. All are fed by materialized views on
// usage_events, so they hold the same events as the raw table: exact sums,
// never estimates. Re-pricing never rewrites events; its cost corrections
// are added from cost_corrections by every query.
type Rollup struct {
	Name  string
	Daily bool // day grain; hour otherwise
	Key   bool // carries key_id
	Dims  bool // carries the dimension set
}

// Rollups lists every rollup, smallest first within a grain (the planner's
// order of preference).
var Rollups = []*Rollup{
	{Name: "usage_dims_daily", Daily: true, Dims: true},
	{Name: "usage_core_daily", Daily: true, Key: true},
	{Name: "usage_attr_daily", Daily: true, Key: true, Dims: true},
	{Name: "usage_dims_hourly", Dims: true},
	{Name: "usage_core_hourly", Key: true},
	{Name: "usage_attr_hourly", Key: true, Dims: true},
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
	var cols []string
	if r.Key {
		cols = append(cols, "key_id")
	}
	cols = append(cols, "provider", "model", "operation", "service_tier", "source", "status_code")
	if r.Dims {
		cols = append(cols, "dims_hash", "dim_names", "dim_values")
	}
	return cols
}

func (r *Rollup) grain() time.Duration {
	if r.Daily {
		return 24 * time.Hour
	}
	return time.Hour
}

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
	return "CREATE TABLE IF NOT EXISTS {db}." + r.Name + " (" + strings.Join(cols, ", ") + ") " +
		"ENGINE = SummingMergeTree((" + strings.Join(sumColumns, ", ") + ")) PARTITION BY toYYYYMM(bucket) " +
		"ORDER BY (tenant_id, bucket, " + strings.Join(r.keyColumns(), ", ") + ")"
}

// selectSQL sums usage_events rows into r's rows; where narrows the events
// (the fill's day) or is empty (the view: each inserted block).
func (r *Rollup) selectSQL(where string) string {
	bucket := "toStartOfHour(time)"
	if r.Daily {
		bucket = "toDateTime(toDate(time))"
	}
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
