package clickhouse

import (
	"strings"
	"testing"
)

// Every statement the migrations run renders for a cluster: CREATE and DROP
// ON CLUSTER, every MergeTree engine Replicated under a path of its own
// table, and nothing else changed; on a single server only {db} changes.
func TestSchemaDDL(t *testing.T) {
	single, cluster := Schema{Database: "sg"}, Schema{Database: "sg", Cluster: "prod"}
	cases := map[string]struct{ in, single, cluster string }{
		"replacing table": {
			in:      "CREATE TABLE IF NOT EXISTS {db}.usage_events (a String) ENGINE = ReplacingMergeTree(ingested_at) PARTITION BY toYYYYMM(time) ORDER BY (a)",
			single:  "CREATE TABLE IF NOT EXISTS sg.usage_events (a String) ENGINE = ReplacingMergeTree(ingested_at) PARTITION BY toYYYYMM(time) ORDER BY (a)",
			cluster: "CREATE TABLE IF NOT EXISTS sg.usage_events ON CLUSTER prod (a String) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/sg/usage_events', '{replica}', ingested_at) PARTITION BY toYYYYMM(time) ORDER BY (a)",
		},
		"summing table with a column tuple": {
			in:      "CREATE TABLE IF NOT EXISTS {db}.r (x Int64) ENGINE = SummingMergeTree((x, y)) PARTITION BY toYYYYMM(bucket) ORDER BY (x)",
			single:  "CREATE TABLE IF NOT EXISTS sg.r (x Int64) ENGINE = SummingMergeTree((x, y)) PARTITION BY toYYYYMM(bucket) ORDER BY (x)",
			cluster: "CREATE TABLE IF NOT EXISTS sg.r ON CLUSTER prod (x Int64) ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/sg/r', '{replica}', (x, y)) PARTITION BY toYYYYMM(bucket) ORDER BY (x)",
		},
		"plain merge tree": {
			in:      "CREATE TABLE IF NOT EXISTS {db}.schema_versions (version UInt32) ENGINE = MergeTree() ORDER BY version",
			single:  "CREATE TABLE IF NOT EXISTS sg.schema_versions (version UInt32) ENGINE = MergeTree() ORDER BY version",
			cluster: "CREATE TABLE IF NOT EXISTS sg.schema_versions ON CLUSTER prod (version UInt32) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/sg/schema_versions', '{replica}') ORDER BY version",
		},
		"view": {
			in:      "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.r_mv TO {db}.r AS SELECT 1 FROM {db}.usage_events",
			single:  "CREATE MATERIALIZED VIEW IF NOT EXISTS sg.r_mv TO sg.r AS SELECT 1 FROM sg.usage_events",
			cluster: "CREATE MATERIALIZED VIEW IF NOT EXISTS sg.r_mv ON CLUSTER prod TO sg.r AS SELECT 1 FROM sg.usage_events",
		},
		"drop": {
			in:      "DROP TABLE IF EXISTS {db}.usage_hourly",
			single:  "DROP TABLE IF EXISTS sg.usage_hourly",
			cluster: "DROP TABLE IF EXISTS sg.usage_hourly ON CLUSTER prod",
		},
		"alter replicates by itself": {
			in:      "ALTER TABLE {db}.usage_events ADD COLUMN u UInt8 ALIAS 1",
			single:  "ALTER TABLE sg.usage_events ADD COLUMN u UInt8 ALIAS 1",
			cluster: "ALTER TABLE sg.usage_events ADD COLUMN u UInt8 ALIAS 1",
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := single.DDL(c.in); got != c.single {
				t.Errorf("single server:\n got %s\nwant %s", got, c.single)
			}
			if got := cluster.DDL(c.in); got != c.cluster {
				t.Errorf("cluster:\n got %s\nwant %s", got, c.cluster)
			}
		})
	}
	// Every real migration that creates a MergeTree table becomes Replicated.
	for i, m := range migrations {
		if m.sql == "" || !strings.Contains(m.sql, "MergeTree") {
			continue
		}
		if got := cluster.DDL(m.sql); !strings.Contains(got, "ON CLUSTER prod") || !strings.Contains(got, "ENGINE = Replicated") {
			t.Errorf("migration %d not rendered for the cluster: %s", i+1, got)
		}
	}
	for _, r := range Rollups {
		if got := cluster.DDL(r.createTable()); !strings.Contains(got, "ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/sg/"+r.Name+"'") {
			t.Errorf("rollup %s not rendered for the cluster: %s", r.Name, got)
		}
	}
}

func TestSchemaValidate(t *testing.T) {
	for name, s := range map[string]Schema{
		"database with a dot":  {Database: "a.b"},
		"cluster with a quote": {Database: "sg", Cluster: "x'"},
		"empty database":       {},
	} {
		if err := s.Validate(); err == nil {
			t.Errorf("%s: accepted %+v", name, s)
		}
	}
	if err := (Schema{Database: "sg", Cluster: "prod_1"}).Validate(); err != nil {
		t.Errorf("plain names refused: %v", err)
	}
	if q := DefaultQuorum(1); q != 0 {
		t.Errorf("one replica: quorum %d", q)
	}
	if q := DefaultQuorum(2); q != 2 {
		t.Errorf("two replicas: quorum %d", q)
	}
	if q := DefaultQuorum(3); q != 2 {
		t.Errorf("three replicas: quorum %d", q)
	}
}
