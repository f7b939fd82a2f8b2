package main

import (
	"context"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/config"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
)

// clickhouseWriter returns an event writer with the insert quorum the
// flags ask for.
func clickhouseWriter(f config.ClickHouseCluster, conn driver.Conn, addrs, database string) *chstore.Writer {
	w := chstore.NewWriter(conn, database)
	w.Quorum(f.InsertQuorum(addrs))
	return w
}

// openClickHouse connects to ClickHouse (any replica listed) and migrates
// it under the control plane's advisory lock.
func openClickHouse(ctx context.Context, f config.ClickHouseCluster, pool *pgxpool.Pool, addrs, database string) (driver.Conn, error) {
	s := f.Schema(database)
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
