package clickhouse

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/spendgate/spendgate/internal/testenv"
)

// legacySchema is the schema spendgate shipped before the attribution
// rollups, as it made it: versions in a TinyLog table, rollups as
// materialized views with inner tables, two of them with POPULATE.
var legacySchema = []string{
	"CREATE TABLE {db}.schema_migrations (version UInt32, applied_at DateTime) ENGINE = TinyLog",
	migrations[0].sql,
	migrations[1].sql,
	`CREATE MATERIALIZED VIEW {db}.usage_hourly
	ENGINE = SummingMergeTree() PARTITION BY toYYYYMM(bucket) ORDER BY (tenant_id, bucket, key_id, provider, model)
	AS SELECT toStartOfHour(time) AS bucket, tenant_id, key_id, provider, if(model_served != '', model_served, model_requested) AS model,
		count() AS events, toUInt64(countIf(priced = 0)) AS unpriced_events,
		sum(list_cost_nano_usd) AS list_cost_nano_usd, sum(tenant_cost_nano_usd) AS tenant_cost_nano_usd,
		sum(input + cached_input + cache_write_5m + cache_write_1h + audio_input + image_input) AS input_tokens,
		sum(output + reasoning + audio_output + image_output) AS output_tokens
	FROM {db}.usage_events GROUP BY bucket, tenant_id, key_id, provider, model`,
	`CREATE MATERIALIZED VIEW {db}.usage_daily
	ENGINE = SummingMergeTree() PARTITION BY toYYYYMM(bucket) ORDER BY (tenant_id, bucket, key_id, provider, model)
	AS SELECT toDateTime(toDate(time)) AS bucket, tenant_id, key_id, provider, if(model_served != '', model_served, model_requested) AS model,
		count() AS events, toUInt64(countIf(priced = 0)) AS unpriced_events,
		sum(list_cost_nano_usd) AS list_cost_nano_usd, sum(tenant_cost_nano_usd) AS tenant_cost_nano_usd,
		sum(input + cached_input + cache_write_5m + cache_write_1h + audio_input + image_input) AS input_tokens,
		sum(output + reasoning + audio_output + image_output) AS output_tokens
	FROM {db}.usage_events GROUP BY bucket, tenant_id, key_id, provider, model`,
	`CREATE MATERIALIZED VIEW {db}.usage_dim_hourly
	ENGINE = SummingMergeTree() PARTITION BY toYYYYMM(bucket) ORDER BY (tenant_id, dim_name, bucket, dim_value)
	POPULATE AS SELECT toStartOfHour(time) AS bucket, tenant_id, dim_name, dim_value,
		count() AS events, toUInt64(countIf(priced = 0)) AS unpriced_events,
		sum(list_cost_nano_usd) AS list_cost_nano_usd, sum(tenant_cost_nano_usd) AS tenant_cost_nano_usd,
		sum(input + cached_input + cache_write_5m + cache_write_1h + audio_input + image_input) AS input_tokens,
		sum(output + reasoning + audio_output + image_output) AS output_tokens
	FROM {db}.usage_events ARRAY JOIN dim_names AS dim_name, dim_values AS dim_value
	GROUP BY bucket, tenant_id, dim_name, dim_value`,
	`CREATE MATERIALIZED VIEW {db}.usage_dim_daily
	ENGINE = SummingMergeTree() PARTITION BY toYYYYMM(bucket) ORDER BY (tenant_id, dim_name, bucket, dim_value)
	POPULATE AS SELECT toDateTime(toDate(time)) AS bucket, tenant_id, dim_name, dim_value,
		count() AS events, toUInt64(countIf(priced = 0)) AS unpriced_events,
		sum(list_cost_nano_usd) AS list_cost_nano_usd, sum(tenant_cost_nano_usd) AS tenant_cost_nano_usd,
		sum(input + cached_input + cache_write_5m + cache_write_1h + audio_input + image_input) AS input_tokens,
		sum(output + reasoning + audio_output + image_output) AS output_tokens
	FROM {db}.usage_events ARRAY JOIN dim_names AS dim_name, dim_values AS dim_value
	GROUP BY bucket, tenant_id, dim_name, dim_value`,
	migrations[6].sql,
	migrations[7].sql,
	"INSERT INTO {db}.schema_migrations (version, applied_at) SELECT number + 1, now() FROM numbers(8)",
}

func legacyDB(t *testing.T) (driver.Conn, string) {
	t.Helper()
	ctx := context.Background()
	addr, db := testenv.ClickHouse(t)
	conn, err := Open(ctx, addr, db)
	testenv.Must(t, err, "open")
	for i, sql := range legacySchema {
		testenv.Must(t, conn.Exec(ctx, replaceDB(sql, db)), fmt.Sprintf("legacy statement %d", i+1))
	}
	return conn, db
}

// A database made by the old schema, with events in two months, upgrades
// in place: versions move to the MergeTree table, the new rollups are
// filled from the stored events and then fed by new inserts, the old views
// are gone, and every answer equals the raw events'.
func TestMigrateUpgradesALegacyDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, db := legacyDB(t)
	g := Generation{Database: db, Tenant: "t1", Keys: []string{"k1", "k2", "k3"}, Start: time.Date(2026, 2, 25, 0, 0, 0, 0, time.UTC),
		End: time.Date(2026, 3, 4, 7, 0, 0, 0, time.UTC), Events: 6000, IDPrefix: "old-", Varied: true}
	q := GenerateSlice(g, 0, g.Events)
	testenv.Must(t, conn.Exec(ctx, q.SQL, q.Args...), "old events")
	testenv.Must(t, Migrate(ctx, conn, db), "upgrade")
	testenv.Must(t, Migrate(ctx, conn, db), "upgrade again")
	var tables []string
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? ORDER BY name", db)
	testenv.Must(t, err, "tables")
	for rows.Next() {
		var n string
		testenv.Must(t, rows.Scan(&n), "scan")
		tables = append(tables, n)
	}
	rows.Close()
	wantTables := []string{"cost_corrections", "denial_events", "schema_versions", "usage_events"}
	for _, r := range Rollups {
		wantTables = append(wantTables, r.Name, r.Name+"_mv")
	}
	sort.Strings(wantTables)
	if want := fmt.Sprint(wantTables); fmt.Sprint(tables) != want {
		t.Fatalf("tables %v\nwant %s", tables, want)
	}
	var versions, top uint64
	testenv.Must(t, conn.QueryRow(ctx, "SELECT count(), toUInt64(max(version)) FROM "+db+".schema_versions").Scan(&versions, &top), "versions")
	if versions != uint64(len(migrations)) || top != uint64(len(migrations)) {
		t.Fatalf("%d versions up to %d, want %d", versions, top, len(migrations))
	}
	// New events after the upgrade reach the rollups through their views.
	g2 := g
	g2.IDPrefix, g2.Events = "new-", 3000
	q = GenerateSlice(g2, 0, g2.Events)
	testenv.Must(t, conn.Exec(ctx, q.SQL, q.Args...), "new events")
	compareWithRaw(t, conn, db, g.Tenant, g.Start, g.End)
}

// A fill that ran (wholly or half-way) and was not recorded runs again
// without counting anything twice.
func TestFillRunsAgainWithoutDoubling(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, db := legacyDB(t)
	g := Generation{Database: db, Tenant: "t1", Keys: []string{"k1", "k2"}, Start: time.Date(2026, 1, 30, 0, 0, 0, 0, time.UTC),
		End: time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC), Events: 2000, IDPrefix: "x-"}
	q := GenerateSlice(g, 0, g.Events)
	testenv.Must(t, conn.Exec(ctx, q.SQL, q.Args...), "events")
	// Up to the first fill, then that fill once more by hand: the process
	// died after it ran and before it was recorded.
	firstFill := 0
	for i, m := range migrations {
		if m.fill != nil {
			firstFill = i
			break
		}
	}
	testenv.Must(t, migrateTo(ctx, conn, Schema{Database: db}, firstFill+1), "migrate through the first fill")
	testenv.Must(t, migrations[firstFill].fill.Fill(ctx, conn, db), "fill again")
	testenv.Must(t, Migrate(ctx, conn, db), "migrate")
	compareWithRaw(t, conn, db, g.Tenant, g.Start, g.End)
}

// compareWithRaw wants every rollup to hold exactly the raw events' sums
// per hour (or day).
func compareWithRaw(t *testing.T, conn driver.Conn, db, tenant string, from, to time.Time) {
	t.Helper()
	ctx := context.Background()
	for _, r := range Rollups {
		bucket := r.Grain.bucketSQL()
		var diff, rows uint64
		err := conn.QueryRow(ctx, `SELECT countIf(r.events != e.events OR r.list != e.list OR r.tok != e.tok), count() FROM
			(SELECT bucket, sum(events) AS events, sum(list_cost_nano_usd) AS list, sum(input_tokens + output_tokens) AS tok
			 FROM `+db+`.`+r.Name+` WHERE tenant_id = ? AND `+r.EveryEvent()+` GROUP BY bucket) AS r
			FULL OUTER JOIN
			(SELECT `+bucket+` AS bucket, count() AS events, sum(list_cost_nano_usd) AS list,
			 sum(input + cached_input + cache_write_5m + cache_write_1h + audio_input + image_input + output + reasoning + audio_output + image_output) AS tok
			 FROM `+db+`.usage_events WHERE tenant_id = ? GROUP BY bucket) AS e USING bucket`, tenant, tenant).Scan(&diff, &rows)
		testenv.Must(t, err, r.Name)
		if diff != 0 || rows == 0 {
			t.Fatalf("%s: %d of %d buckets differ from raw events", r.Name, diff, rows)
		}
	}
}

// A database at schema version 32 has the first six rollups with the
// default index granularity: the upgrade rebuilds them (filled again from
// the stored events, fed by new views), adds the others filled too, and
// every rollup then holds the raw events' sums, old and new events alike.
func TestMigrateRebuildsTheRollupsOfVersion32(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr, db := testenv.ClickHouse(t)
	conn, err := Open(ctx, addr, db)
	testenv.Must(t, err, "open")
	s := Schema{Database: db}
	testenv.Must(t, migrateTo(ctx, conn, s, 32), "migrate to 32")
	// Version 32 made its rollups without SETTINGS.
	for _, r := range Rollups[:firstRollups] {
		old := strings.Replace(r.createTable(), " SETTINGS index_granularity = "+rollupGranularity, "", 1)
		for _, sql := range []string{"DROP TABLE {db}." + r.Name + "_mv", "DROP TABLE {db}." + r.Name, old, r.createView()} {
			testenv.Must(t, conn.Exec(ctx, replaceDB(sql, db)), sql)
		}
	}
	g := Generation{Database: db, Tenant: "t1", Keys: []string{"k1", "k2", "k3"}, Start: time.Date(2026, 1, 28, 0, 0, 0, 0, time.UTC),
		End: time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC), Events: 6000, IDPrefix: "old-", Varied: true}
	q := GenerateSlice(g, 0, g.Events)
	testenv.Must(t, conn.Exec(ctx, q.SQL, q.Args...), "events at version 32")
	testenv.Must(t, Migrate(ctx, conn, db), "upgrade")
	testenv.Must(t, Migrate(ctx, conn, db), "upgrade again")
	for _, r := range Rollups {
		var n uint64
		testenv.Must(t, conn.QueryRow(ctx, replaceDB(r.rebuilt(), db)).Scan(&n), r.Name)
		if n != 1 {
			t.Fatalf("%s has not the rollups' index granularity", r.Name)
		}
	}
	g2 := g
	g2.IDPrefix, g2.Events = "new-", 3000
	q = GenerateSlice(g2, 0, g2.Events)
	testenv.Must(t, conn.Exec(ctx, q.SQL, q.Args...), "new events")
	compareWithRaw(t, conn, db, g.Tenant, g.Start, g.End)
}
