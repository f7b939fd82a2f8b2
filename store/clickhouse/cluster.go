package clickhouse

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
)

// Schema says where spendgate's tables live: one database on one server, or
// the same database on every replica of a ClickHouse cluster.
//
// Cluster mode is one shard with N replicas (high availability, not
// write scale-out: one shard holds every tenant, and 2 cores of ClickHouse
// insert well over what one ingest process sends). Every table is a
// Replicated*MergeTree created ON CLUSTER, so each replica holds all rows and
// the analytics SQL reads local tables unchanged on any replica; the rollup
// views are created ON CLUSTER too and fire only on the replica that
// received an INSERT (replication carries the rollup's parts to the others,
// so nothing is summed twice). Several shards would need Distributed tables
// in front of every read and a sharding key; docs/clickhouse.md says why it
// is not offered.
type Schema struct {
	Database string
	// Cluster names a cluster in the servers' <remote_servers>; empty: a
	// single server. Each server's <macros> must define {shard} and
	// {replica}, and the servers share a ZooKeeper (or Keeper) ensemble.
	Cluster string
}

var clusterName = dbName

// Validate reports a name ClickHouse would not take as a plain identifier.
func (s Schema) Validate() error {
	if !dbName.MatchString(s.Database) {
		return fmt.Errorf("clickhouse: database name %q is not a plain identifier", s.Database)
	}
	if s.Cluster != "" && !clusterName.MatchString(s.Cluster) {
		return fmt.Errorf("clickhouse: cluster name %q is not a plain identifier", s.Cluster)
	}
	return nil
}

var (
	// createStmt finds the object a CREATE or DROP statement names, to put
	// ON CLUSTER after it.
	createStmt = regexp.MustCompile(`^\s*(CREATE TABLE IF NOT EXISTS|CREATE MATERIALIZED VIEW IF NOT EXISTS|DROP TABLE IF EXISTS|DROP TABLE) \{db\}\.([A-Za-z0-9_]+)`)
	// engineClause is a MergeTree-family engine with its arguments; the
	// arguments run to the last ')' before PARTITION BY or ORDER BY
	// (SummingMergeTree's column tuple nests parentheses).
	engineClause = regexp.MustCompile(`ENGINE = (\w*)MergeTree\((.*?)\) (PARTITION BY|ORDER BY)`)
)

// DDL renders a schema statement written for one server ({db} standing for
// the database) for s: unchanged but for the database on a single server;
// in cluster mode CREATE and DROP run ON CLUSTER and MergeTree engines
// become their Replicated forms, each table under its own ZooKeeper path.
// ALTERs are left alone: a Replicated table replicates its own ALTERs and
// partition drops.
func (s Schema) DDL(sql string) string {
	if s.Cluster != "" {
		if m := createStmt.FindStringSubmatchIndex(sql); m != nil {
			table := sql[m[4]:m[5]]
			sql = sql[:m[1]] + " ON CLUSTER " + s.Cluster + sql[m[1]:]
			sql = engineClause.ReplaceAllStringFunc(sql, func(engine string) string {
				p := engineClause.FindStringSubmatch(engine)
				args := "'/clickhouse/tables/{shard}/" + s.Database + "/" + table + "', '{replica}'"
				if p[2] != "" {
					args += ", " + p[2]
				}
				return "ENGINE = Replicated" + p[1] + "MergeTree(" + args + ") " + p[3]
			})
		}
	}
	return replaceDB(sql, s.Database)
}

// createDatabase creates s's database (on every replica in cluster mode:
// ON CLUSTER tables need it everywhere).
func (s Schema) createDatabase() string {
	sql := "CREATE DATABASE IF NOT EXISTS " + s.Database
	if s.Cluster != "" {
		sql += " ON CLUSTER " + s.Cluster
	}
	return sql
}

// Quorum makes a writer's INSERTs wait until n replicas hold the rows
// (insert_quorum) and its id lookups read only rows that reached a quorum
// (select_sequential_consistency). That is what keeps "never insert an id
// twice" true across a replica failure: an INSERT acknowledged to the
// consumer is on n replicas, so the lookup sees it on whichever replica the
// writer reaches next. With fewer than n replicas alive, INSERTs fail and
// the consumer retries them (events wait in JetStream; nothing is lost).
// n = 0 or 1 leaves both settings off (a single server).
func (w *Writer) Quorum(n int) { w.quorum = n }

// QuorumSize is the insert quorum set by Quorum.
func (w *Writer) QuorumSize() int { return w.quorum }

// insertContext carries the quorum settings of INSERTs.
func (w *Writer) insertContext(ctx context.Context) context.Context {
	if w.quorum < 2 {
		return ctx
	}
	settings := chgo.Settings{}
	for k, v := range w.insertSettings() {
		settings[k] = v
	}
	return chgo.Context(ctx, chgo.WithSettings(settings))
}

// insertSettings are the quorum settings of INSERTs (nil: none).
func (w *Writer) insertSettings() map[string]int {
	if w.quorum < 2 {
		return nil
	}
	return map[string]int{"insert_quorum": w.quorum, "insert_quorum_timeout": int(QuorumTimeout / time.Millisecond)}
}

// lookupContext makes id lookups see every quorum INSERT.
func (w *Writer) lookupContext(ctx context.Context) context.Context {
	if w.quorum < 2 {
		return ctx
	}
	return chgo.Context(ctx, chgo.WithSettings(chgo.Settings{"select_sequential_consistency": 1}))
}

// QuorumTimeout bounds how long an INSERT waits for its quorum (ClickHouse's
// default is 10 minutes) when a replica died without its ZooKeeper session
// ending yet. The INSERT then fails but its rows may stay on the replicas
// that took them; ClickHouse refuses every later quorum INSERT into the
// table until those rows reach the quorum, so the retry's id lookup sees
// them before anything new is written and nothing is stored twice.
const QuorumTimeout = 15 * time.Second

// DefaultQuorum is the insert quorum a cluster of the given replicas uses
// unless told otherwise: a majority, so one replica of three may be down
// while events keep flowing (two replicas: both).
func DefaultQuorum(replicas int) int {
	if replicas < 2 {
		return 0
	}
	return replicas/2 + 1
}

// SplitAddrs splits a comma-separated list of native addresses (one per
// replica; the client fails over between them).
func SplitAddrs(addrs string) []string {
	var out []string
	for _, a := range strings.Split(addrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}
