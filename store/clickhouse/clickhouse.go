// Package clickhouse stores priced events in ClickHouse. The SQL runs on
// ClickHouse 18.16 and current releases alike: no Map, DateTime64,
// LowCardinality, TTL or server-side parameters; dimensions are parallel
// arrays; money is Int64 nano-USD; every INSERT names its columns.
//
// Exactly once in effect: the writer never inserts an event id that is
// already stored (it checks the batch's ids first), and the consumer acks
// JetStream only after the insert. A redelivered or re-published event is
// therefore skipped, so plain sums are exact. The tables are also
// ReplacingMergeTree on the event's sort key as a second line of defence, so
// queries that must be exact even under concurrent writers can read FINAL.
package clickhouse

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

var dbName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Open connects to ClickHouse over the native protocol and creates the
// database when missing.
func Open(ctx context.Context, addr, database string) (driver.Conn, error) {
	if !dbName.MatchString(database) {
		return nil, fmt.Errorf("clickhouse: database name %q is not a plain identifier", database)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, DialTimeout: 5 * time.Second,
		MaxOpenConns: 8, ConnMaxLifetime: time.Hour})
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	if err := conn.Ping(ctx); err != nil {
		return nil, fmt.Errorf("clickhouse: cannot reach %s: %w", addr, err)
	}
	var tz string
	if err := conn.QueryRow(ctx, "SELECT timezone()").Scan(&tz); err != nil {
		return nil, fmt.Errorf("clickhouse: server time zone: %w", err)
	}
	if !utcZone(tz) {
		_ = conn.Close()
		return nil, fmt.Errorf("clickhouse: the server's time zone is %s; spendgate's hourly and daily rollups and budget periods are UTC, "+
			"so run ClickHouse in UTC (<timezone>UTC</timezone> in its config.xml)", tz)
	}
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+database); err != nil {
		return nil, fmt.Errorf("clickhouse: create database: %w", err)
	}
	return conn, nil
}

// utcZone reports whether a ClickHouse time zone name is UTC: the rollups
// bucket with toStartOfHour/toDate in the server's zone.
func utcZone(tz string) bool {
	switch tz {
	case "UTC", "Etc/UTC", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu", "GMT", "Etc/GMT", "Etc/GMT0", "Etc/GMT+0", "Etc/GMT-0", "Etc/Greenwich", "GMT0":
		return true
	}
	return false
}

// migrations are applied in order and recorded in schema_migrations.
var migrations = []string{
	`CREATE TABLE IF NOT EXISTS {db}.usage_events (
		event_id String, time DateTime, tenant_id String, key_id String, source String,
		provider String, operation String, model_requested String, model_served String, catalogue_model String,
		streaming UInt8, service_tier String, complete UInt8, status_code UInt16, latency_ms UInt32, ttfb_ms UInt32, request_id String,
		input Int64, cached_input Int64, cache_write_5m Int64, cache_write_1h Int64, output Int64, reasoning Int64,
		audio_input Int64, audio_output Int64, image_input Int64, image_output Int64, web_searches Int64,
		characters Int64, seconds Int64, images Int64,
		priced UInt8, list_cost_nano_usd Int64, tenant_cost_nano_usd Int64, provider_reported_nano_usd Int64,
		has_provider_reported UInt8, override_id String, pricing_tier String, cost_lines String,
		dim_names Array(String), dim_values Array(String), raw_usage String, reservation_id String, ingested_at DateTime
	) ENGINE = ReplacingMergeTree(ingested_at) PARTITION BY toYYYYMM(time) ORDER BY (tenant_id, time, event_id)`,
	`CREATE TABLE IF NOT EXISTS {db}.denial_events (
		event_id String, time DateTime, tenant_id String, key_id String, source String,
		provider String, operation String, model_requested String, denial_reason String, denial_message String,
		dim_names Array(String), dim_values Array(String), ingested_at DateTime
	) ENGINE = ReplacingMergeTree(ingested_at) PARTITION BY toYYYYMM(time) ORDER BY (tenant_id, time, event_id)`,
	// Rollups by hour and day × tenant × key × provider × model. They are fed
	// by every insert into usage_events, which is safe because the writer
	// never inserts a stored event id. Read them with sum() … GROUP BY: rows
	// of one key collapse only when parts merge.
	`CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.usage_hourly
	ENGINE = SummingMergeTree() PARTITION BY toYYYYMM(bucket) ORDER BY (tenant_id, bucket, key_id, provider, model)
	AS SELECT toStartOfHour(time) AS bucket, tenant_id, key_id, provider, if(model_served != '', model_served, model_requested) AS model,
		count() AS events, toUInt64(countIf(priced = 0)) AS unpriced_events,
		sum(list_cost_nano_usd) AS list_cost_nano_usd, sum(tenant_cost_nano_usd) AS tenant_cost_nano_usd,
		sum(input + cached_input + cache_write_5m + cache_write_1h + audio_input + image_input) AS input_tokens,
		sum(output + reasoning + audio_output + image_output) AS output_tokens
	FROM {db}.usage_events GROUP BY bucket, tenant_id, key_id, provider, model`,
	`CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.usage_daily
	ENGINE = SummingMergeTree() PARTITION BY toYYYYMM(bucket) ORDER BY (tenant_id, bucket, key_id, provider, model)
	AS SELECT toDateTime(toDate(time)) AS bucket, tenant_id, key_id, provider, if(model_served != '', model_served, model_requested) AS model,
		count() AS events, toUInt64(countIf(priced = 0)) AS unpriced_events,
		sum(list_cost_nano_usd) AS list_cost_nano_usd, sum(tenant_cost_nano_usd) AS tenant_cost_nano_usd,
		sum(input + cached_input + cache_write_5m + cache_write_1h + audio_input + image_input) AS input_tokens,
		sum(output + reasoning + audio_output + image_output) AS output_tokens
	FROM {db}.usage_events GROUP BY bucket, tenant_id, key_id, provider, model`,
	// Rollups by dimension: one row per hour or day × tenant × dimension
	// name × value (events without a dimension have no row for it). They
	// answer "spend by team" without reading the raw arrays. POPULATE fills
	// them from events stored before this migration; migrations run before
	// the writer starts, so no insert can slip between the two.
	`CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.usage_dim_hourly
	ENGINE = SummingMergeTree() PARTITION BY toYYYYMM(bucket) ORDER BY (tenant_id, dim_name, bucket, dim_value)
	POPULATE AS SELECT toStartOfHour(time) AS bucket, tenant_id, dim_name, dim_value,
		count() AS events, toUInt64(countIf(priced = 0)) AS unpriced_events,
		sum(list_cost_nano_usd) AS list_cost_nano_usd, sum(tenant_cost_nano_usd) AS tenant_cost_nano_usd,
		sum(input + cached_input + cache_write_5m + cache_write_1h + audio_input + image_input) AS input_tokens,
		sum(output + reasoning + audio_output + image_output) AS output_tokens
	FROM {db}.usage_events ARRAY JOIN dim_names AS dim_name, dim_values AS dim_value
	GROUP BY bucket, tenant_id, dim_name, dim_value`,
	`CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.usage_dim_daily
	ENGINE = SummingMergeTree() PARTITION BY toYYYYMM(bucket) ORDER BY (tenant_id, dim_name, bucket, dim_value)
	POPULATE AS SELECT toDateTime(toDate(time)) AS bucket, tenant_id, dim_name, dim_value,
		count() AS events, toUInt64(countIf(priced = 0)) AS unpriced_events,
		sum(list_cost_nano_usd) AS list_cost_nano_usd, sum(tenant_cost_nano_usd) AS tenant_cost_nano_usd,
		sum(input + cached_input + cache_write_5m + cache_write_1h + audio_input + image_input) AS input_tokens,
		sum(output + reasoning + audio_output + image_output) AS output_tokens
	FROM {db}.usage_events ARRAY JOIN dim_names AS dim_name, dim_values AS dim_value
	GROUP BY bucket, tenant_id, dim_name, dim_value`,
	// unknown_model flags usage of a model the pricing catalogue does not
	// know (then priced only by a tenant override or the provider's own
	// figure, or not at all: priced = 0). An ALIAS is computed on read, so
	// events stored before this migration are flagged too.
	`ALTER TABLE {db}.usage_events ADD COLUMN unknown_model UInt8 ALIAS toUInt8(catalogue_model = '')`,
	// Cost corrections of re-priced events: stored events never change (the
	// rollups were fed by them), so re-pricing adds the difference here, with
	// the event's attributes so analytics group and filter it like the event.
	// unpriced_delta is -1 when an unpriced event got a price. The writer
	// never stores a correction id twice; ReplacingMergeTree is the second
	// line of defence, as for events.
	`CREATE TABLE IF NOT EXISTS {db}.cost_corrections (
		correction_id String, event_id String, time DateTime, tenant_id String, key_id String, source String,
		provider String, operation String, model String, service_tier String, status_code UInt16,
		dim_names Array(String), dim_values Array(String),
		list_delta Int64, tenant_delta Int64, unpriced_delta Int64,
		catalogue_model String, override_id String, pricing_tier String, cost_lines String, created_at DateTime
	) ENGINE = ReplacingMergeTree(created_at) PARTITION BY toYYYYMM(time) ORDER BY (tenant_id, time, correction_id)`,
}

// migrationDone holds, for migrations that cannot say IF NOT EXISTS on
// 18.16, a query counting what they create: one applied before the process
// died, unrecorded, is then only recorded. Keyed by version (1-based).
var migrationDone = map[int]string{
	7: `SELECT count() FROM system.columns WHERE database = '{db}' AND table = 'usage_events' AND name = 'unknown_model'`,
}

// Rollup tables (materialized views over usage_events).
const (
	HourlyRollup    = "usage_hourly"
	DailyRollup     = "usage_daily"
	DimHourlyRollup = "usage_dim_hourly"
	DimDailyRollup  = "usage_dim_daily"
	// CorrectionsTable holds cost corrections of re-priced events.
	CorrectionsTable = "cost_corrections"
)

// Conn is what the schema code needs of a connection: clickhouse-go's
// driver.Conn has it, and so has the chDB adapter of the two-engine test.
type Conn interface {
	Exec(ctx context.Context, query string, args ...any) error
	QueryRow(ctx context.Context, query string, args ...any) driver.Row
}

// Migrate creates the schema (idempotent). ClickHouse has no transactions or
// locks: processes that may start together (api, ingest) must not migrate at
// the same time, or a POPULATE backfill could run twice; cmd/spendgate runs it
// under the control plane's Postgres advisory lock (postgres.WithAdvisoryLock).
func Migrate(ctx context.Context, conn Conn, database string) error {
	return migrateTo(ctx, conn, database, len(migrations))
}

// migrateTo applies migrations up to version n (tests start from old schemas).
func migrateTo(ctx context.Context, conn Conn, database string, n int) error {
	if err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+database+".schema_migrations (version UInt32, applied_at DateTime) ENGINE = TinyLog"); err != nil {
		return fmt.Errorf("clickhouse: schema_migrations: %w", err)
	}
	var applied uint32
	// The highest version recorded: a version recorded twice (an interrupted
	// run retried) must not push later migrations out.
	if err := conn.QueryRow(ctx, "SELECT toUInt32(max(version)) FROM "+database+".schema_migrations").Scan(&applied); err != nil {
		return fmt.Errorf("clickhouse: read schema version: %w", err)
	}
	for v := int(applied); v < n; v++ {
		var done uint64
		if q, ok := migrationDone[v+1]; ok {
			if err := conn.QueryRow(ctx, replaceDB(q, database)).Scan(&done); err != nil {
				return fmt.Errorf("clickhouse: migration %d: %w", v+1, err)
			}
		}
		if done == 0 {
			if err := conn.Exec(ctx, replaceDB(migrations[v], database)); err != nil {
				return fmt.Errorf("clickhouse: migration %d: %w", v+1, err)
			}
		}
		// INSERT ... SELECT: the native protocol would wait for a data block
		// after INSERT ... VALUES sent through Exec.
		if err := conn.Exec(ctx, fmt.Sprintf("INSERT INTO %s.schema_migrations (version, applied_at) SELECT %d, now()", database, v+1)); err != nil {
			return fmt.Errorf("clickhouse: record migration %d: %w", v+1, err)
		}
	}
	return nil
}

func replaceDB(sql, db string) string {
	out := []byte{}
	for i := 0; i < len(sql); i++ {
		if i+4 <= len(sql) && sql[i:i+4] == "{db}" {
			out = append(out, db...)
			i += 3
			continue
		}
		out = append(out, sql[i])
	}
	return string(out)
}
