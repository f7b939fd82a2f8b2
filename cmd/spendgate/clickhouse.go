package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"

	chstore "github.com/spendgate/spendgate/store/clickhouse"
)

// clickhouseClusterFlags say whether ClickHouse is one server or a
// replicated cluster (docs/clickhouse.md, "Cluster mode").
type clickhouseClusterFlags struct {
	cluster string
	quorum  int
}

func addClickHouseClusterFlags(fs *flag.FlagSet, f *clickhouseClusterFlags) {
	fs.StringVar(&f.cluster, "clickhouse-cluster", "", "ClickHouse cluster (a <remote_servers> name of one shard and its replicas) to create replicated tables ON; "+
		"list every replica in --clickhouse-addr, separated by commas (empty: one server)")
	fs.IntVar(&f.quorum, "clickhouse-insert-quorum", -1, "replicas that must hold an insert before it counts as stored (-1: a majority of the replicas in --clickhouse-addr with --clickhouse-cluster, else off)")
}

// schema is where the tables live.
func (f clickhouseClusterFlags) schema(database string) chstore.Schema {
	return chstore.Schema{Database: database, Cluster: f.cluster}
}

func (f clickhouseClusterFlags) validate(addrs string) error {
	replicas := len(chstore.SplitAddrs(addrs))
	switch {
	case f.quorum > replicas:
		return fmt.Errorf("--clickhouse-insert-quorum %d is more than the %d replicas in --clickhouse-addr", f.quorum, replicas)
	case f.quorum < -1:
		return fmt.Errorf("--clickhouse-insert-quorum %d: want -1 (default), 0 (off) or a number of replicas", f.quorum)
	case f.cluster == "" && replicas > 1:
		return fmt.Errorf("--clickhouse-addr lists %d servers: that needs --clickhouse-cluster (replicas of one cluster), or list one server", replicas)
	}
	return f.schema("spendgate").Validate()
}

// writer returns an event writer with the insert quorum the flags ask for.
func (f clickhouseClusterFlags) writer(conn driver.Conn, addrs, database string) *chstore.Writer {
	w := chstore.NewWriter(conn, database)
	q := f.quorum
	if q < 0 {
		q = 0
		if f.cluster != "" {
			q = chstore.DefaultQuorum(len(chstore.SplitAddrs(addrs)))
		}
	}
	w.Quorum(q)
	return w
}

// open connects to ClickHouse (any replica listed) and migrates it under
// the control plane's advisory lock.
func (f clickhouseClusterFlags) open(ctx context.Context, pool *pgxpool.Pool, addrs, database string) (driver.Conn, error) {
	s := f.schema(database)
	conn, err := chstore.OpenSchema(ctx, chstore.SplitAddrs(addrs), s)
	if err != nil {
		return nil, err
	}
	if err := migrateClickHouse(ctx, pool, conn, s); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return conn, nil
}
