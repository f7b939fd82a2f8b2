package main

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/config"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
)

// clickhouseWriter returns a writer with the insert quorum the flags ask
// for, inserting over the native connection (re-pricing's corrections).
func clickhouseWriter(f config.ClickHouseCluster, conn driver.Conn, addrs, database string) *chstore.Writer {
	w := chstore.NewWriter(conn, database)
	w.Quorum(f.InsertQuorum(addrs))
	return w
}

// eventWriter is clickhouseWriter with the INSERT transport the flags ask
// for, for the consumer's events; an HTTP interface that does not answer
// fails here, at start.
func eventWriter(ctx context.Context, f config.ClickHouseCluster, conn driver.Conn, addrs, database string) (*chstore.Writer, error) {
	w := clickhouseWriter(f, conn, addrs, database)
	h, err := f.Inserter(addrs)
	if err != nil || h == nil {
		return w, err
	}
	if err := h.Ping(ctx); err != nil {
		return nil, fmt.Errorf("%w (set --clickhouse-http-addr to the servers' HTTP interface, or %s to insert over the native connection)", err, config.NoHTTP)
	}
	w.InsertOverHTTP(h)
	return w, nil
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
