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
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

var dbName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Open connects to ClickHouse over the native protocol and creates the
// database when missing. addr may list several replicas separated by
// commas; see OpenSchema.
func Open(ctx context.Context, addr, database string) (driver.Conn, error) {
	return OpenSchema(ctx, SplitAddrs(addr), Schema{Database: database})
}

// OpenSchema connects to the first of addrs that answers (the client moves
// to the next when a connection fails: in cluster mode, list every
// replica) and creates s's database when missing, on every replica in
// cluster mode.
func OpenSchema(ctx context.Context, addrs []string, s Schema) (driver.Conn, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("clickhouse: no server address")
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: addrs, DialTimeout: 5 * time.Second,
		MaxOpenConns: 8, ConnMaxLifetime: time.Hour, ConnOpenStrategy: clickhouse.ConnOpenInOrder})
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	if err := conn.Ping(ctx); err != nil {
		return nil, fmt.Errorf("clickhouse: cannot reach %s: %w", strings.Join(addrs, ", "), err)
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
	if err := conn.Exec(ctx, s.createDatabase()); err != nil {
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

// migrations are applied in order and recorded in schema_versions. A
// migration that a later one supersedes stays in the list as a no-op, so
// every database, whatever version it is at, upgrades by running the rest.
var migrations = []migration{
	{sql: `CREATE TABLE IF NOT EXISTS {db}.usage_events (
		event_id String, time DateTime, tenant_id String, key_id String, source String,
		provider String, operation String, model_requested String, model_served String, catalogue_model String,
		streaming UInt8, service_tier String, complete UInt8, status_code UInt16, latency_ms UInt32, ttfb_ms UInt32, request_id String,
		input Int64, cached_input Int64, cache_write_5m Int64, cache_write_1h Int64, output Int64, reasoning Int64,
		audio_input Int64, audio_output Int64, image_input Int64, image_output Int64, web_searches Int64,
		characters Int64, seconds Int64, images Int64,
		priced UInt8, list_cost_nano_usd Int64, tenant_cost_nano_usd Int64, provider_reported_nano_usd Int64,
		has_provider_reported UInt8, override_id String, pricing_tier String, cost_lines String,
		dim_names Array(String), dim_values Array(String), raw_usage String, reservation_id String, ingested_at DateTime
	) ENGINE = ReplacingMergeTree(ingested_at) PARTITION BY toYYYYMM(time) ORDER BY (tenant_id, time, event_id)`},
	{sql: `CREATE TABLE IF NOT EXISTS {db}.denial_events (
		event_id String, time DateTime, tenant_id String, key_id String, source String,
		provider String, operation String, model_requested String, denial_reason String, denial_message String,
		dim_names Array(String), dim_values Array(String), ingested_at DateTime
	) ENGINE = ReplacingMergeTree(ingested_at) PARTITION BY toYYYYMM(time) ORDER BY (tenant_id, time, event_id)`},
	// 3–6 made materialized views with inner tables (usage_hourly,
	// usage_daily, usage_dim_hourly, usage_dim_daily; the last two with
	// POPULATE). The attribution rollups below replace them; databases that
	// have them drop them after the new ones are filled.
	{}, {}, {}, {},
	// unknown_model flags usage of a model the pricing catalogue does not
	// know (then priced only by a tenant override or the provider's own
	// figure, or not at all: priced = 0). An ALIAS is computed on read, so
	// events stored before this migration are flagged too.
	{sql: `ALTER TABLE {db}.usage_events ADD COLUMN unknown_model UInt8 ALIAS toUInt8(catalogue_model = '')`,
		done: `SELECT count() FROM system.columns WHERE database = '{db}' AND table = 'usage_events' AND name = 'unknown_model'`},
	// Cost corrections of re-priced events: stored events never change (the
	// rollups were fed by them), so re-pricing adds the difference here, with
	// the event's attributes so analytics group and filter it like the event.
	// unpriced_delta is -1 when an unpriced event got a price. The writer
	// never stores a correction id twice; ReplacingMergeTree is the second
	// line of defence, as for events.
	{sql: `CREATE TABLE IF NOT EXISTS {db}.cost_corrections (
		correction_id String, event_id String, time DateTime, tenant_id String, key_id String, source String,
		provider String, operation String, model String, service_tier String, status_code UInt16,
		dim_names Array(String), dim_values Array(String),
		list_delta Int64, tenant_delta Int64, unpriced_delta Int64,
		catalogue_model String, override_id String, pricing_tier String, cost_lines String, created_at DateTime
	) ENGINE = ReplacingMergeTree(created_at) PARTITION BY toYYYYMM(time) ORDER BY (tenant_id, time, correction_id)`},
	// The catalogue's own price of an event, kept beside a reported cost
	// (a provider's, or the caller's on the public record API), which wins
	// list_cost_nano_usd: has_catalogue_cost = 1 when the catalogue (or a
	// tenant override) priced every class used. Events stored before have 0.
	{sql: `ALTER TABLE {db}.usage_events ADD COLUMN catalogue_cost_nano_usd Int64 DEFAULT 0`,
		done: `SELECT count() FROM system.columns WHERE database = '{db}' AND table = 'usage_events' AND name = 'catalogue_cost_nano_usd'`},
	{sql: `ALTER TABLE {db}.usage_events ADD COLUMN has_catalogue_cost UInt8 DEFAULT 0`,
		done: `SELECT count() FROM system.columns WHERE database = '{db}' AND table = 'usage_events' AND name = 'has_catalogue_cost'`},
}

func init() {
	// The attribution rollups (rollups.go): every table first, then each
	// filled from the events already stored, then the views that feed them
	// from every later insert, then the old views dropped. Filling before
	// the views exist is exact because no writer runs during migrations
	// (see Migrate); a fill that dies half-way is redone from scratch.
	// Versions 11–28 make the first six rollups and 29–32 drop the old
	// views; 33–38 rebuild the six with the rollups' index granularity
	// (no-ops where they were made with it); 39–59 add the monthly, keydims
	// and totals rollups (issue #26).
	addRollups := func(rs []*Rollup) {
		for _, r := range rs {
			migrations = append(migrations, migration{sql: r.createTable()})
		}
		for _, r := range rs {
			migrations = append(migrations, migration{fill: r})
		}
		for _, r := range rs {
			migrations = append(migrations, migration{sql: r.createView()})
		}
	}
	addRollups(Rollups[:firstRollups])
	for _, old := range []string{"usage_hourly", "usage_daily", "usage_dim_hourly", "usage_dim_daily"} {
		migrations = append(migrations, migration{sql: "DROP TABLE IF EXISTS {db}." + old})
	}
	for _, r := range Rollups[:firstRollups] {
		migrations = append(migrations, migration{rebuild: r, done: r.rebuilt()})
	}
	addRollups(Rollups[firstRollups:secondRollups])
	// 60–62: the onedim family (hourly series by one dimension).
	addRollups(Rollups[secondRollups:])
}

// migration is one schema version: a statement, or the fill of a rollup
// from stored events, or nothing (superseded).
type migration struct {
	sql string
	// done, for statements that cannot say IF NOT EXISTS on 18.16, counts
	// what they create: one applied before the process died, unrecorded, is
	// then only recorded.
	done string
	fill *Rollup
	// rebuild remakes a rollup made by an older version.
	rebuild *Rollup
}

// CorrectionsTable holds cost corrections of re-priced events.
const CorrectionsTable = "cost_corrections"

// Conn is what the schema code needs of a connection: clickhouse-go's
// driver.Conn has it, and so has the chDB adapter of the two-engine test.
type Conn interface {
	Exec(ctx context.Context, query string, args ...any) error
	QueryRow(ctx context.Context, query string, args ...any) driver.Row
}

// Migrate creates or upgrades the schema (idempotent). ClickHouse has no
// transactions or locks: processes that may start together (api, ingest)
// must not migrate at the same time, and no writer may insert events while
// a rollup is filled; cmd/spendgate runs it under the control plane's
// Postgres advisory lock (postgres.WithAdvisoryLock), and writers start only
// after it.
func Migrate(ctx context.Context, conn Conn, database string) error {
	return MigrateSchema(ctx, conn, Schema{Database: database})
}

// MigrateSchema is Migrate for a database on a single server or, with
// s.Cluster, on every replica of a cluster (statements ON CLUSTER, so every
// replica must be up while it runs).
func MigrateSchema(ctx context.Context, conn Conn, s Schema) error {
	if err := s.Validate(); err != nil {
		return err
	}
	return migrateTo(ctx, conn, s, len(migrations))
}

// migrateTo applies migrations up to version n (tests start from old schemas).
func migrateTo(ctx context.Context, conn Conn, s Schema, n int) error {
	database := s.Database
	if err := versionTable(ctx, conn, s); err != nil {
		return err
	}
	var applied uint32
	// The highest version recorded: a version recorded twice (an interrupted
	// run retried) must not push later migrations out.
	if err := conn.QueryRow(ctx, "SELECT toUInt32(max(version)) FROM "+database+".schema_versions").Scan(&applied); err != nil {
		return fmt.Errorf("clickhouse: read schema version: %w", err)
	}
	for v := int(applied); v < n; v++ {
		m := migrations[v]
		var done uint64
		if m.done != "" {
			if err := conn.QueryRow(ctx, replaceDB(m.done, database)).Scan(&done); err != nil {
				return fmt.Errorf("clickhouse: migration %d: %w", v+1, err)
			}
		}
		switch {
		case done > 0:
		case m.fill != nil:
			if err := m.fill.Fill(ctx, conn, database); err != nil {
				return fmt.Errorf("clickhouse: migration %d: %w", v+1, err)
			}
		case m.rebuild != nil:
			if err := m.rebuild.rebuild(ctx, conn, s); err != nil {
				return fmt.Errorf("clickhouse: migration %d: %w", v+1, err)
			}
		case m.sql != "":
			if err := conn.Exec(ctx, s.DDL(m.sql)); err != nil {
				return fmt.Errorf("clickhouse: migration %d: %w", v+1, err)
			}
		}
		// INSERT ... SELECT: the native protocol would wait for a data block
		// after INSERT ... VALUES sent through Exec.
		if err := conn.Exec(ctx, fmt.Sprintf("INSERT INTO %s.schema_versions (version, applied_at) SELECT %d, now()", database, v+1)); err != nil {
			return fmt.Errorf("clickhouse: record migration %d: %w", v+1, err)
		}
	}
	return nil
}

// versionTable makes sure the versions are recorded in schema_versions, a
// MergeTree table (ClickHouse Cloud and Replicated databases refuse the
// TinyLog table spendgate used first, schema_migrations). Versions found
// in schema_migrations are copied over before it is dropped; a run that
// dies in between copies nothing twice.
func versionTable(ctx context.Context, conn Conn, s Schema) error {
	database := s.Database
	if err := conn.Exec(ctx, s.DDL("CREATE TABLE IF NOT EXISTS {db}.schema_versions (version UInt32, applied_at DateTime) "+
		"ENGINE = MergeTree() ORDER BY version")); err != nil {
		return fmt.Errorf("clickhouse: schema_versions: %w", err)
	}
	var legacy uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = 'schema_migrations'", database).Scan(&legacy); err != nil {
		return fmt.Errorf("clickhouse: look for schema_migrations: %w", err)
	}
	if legacy == 0 {
		return nil
	}
	if err := conn.Exec(ctx, "INSERT INTO "+database+".schema_versions (version, applied_at) SELECT version, applied_at FROM "+
		database+".schema_migrations WHERE version NOT IN (SELECT version FROM "+database+".schema_versions)"); err != nil {
		return fmt.Errorf("clickhouse: copy schema_migrations: %w", err)
	}
	if err := conn.Exec(ctx, "DROP TABLE "+database+".schema_migrations"); err != nil {
		return fmt.Errorf("clickhouse: drop schema_migrations: %w", err)
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
