package clickhouse

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Probe checks, without changing anything, what Open needs of a server:
// the database name is a plain identifier, the server answers and runs in
// UTC. It reports whether the database exists yet (Open creates it).
func Probe(ctx context.Context, addr, database string) (databaseExists bool, err error) {
	if !dbName.MatchString(database) {
		return false, fmt.Errorf("clickhouse: database name %q is not a plain identifier", database)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, MaxOpenConns: 1})
	if err != nil {
		return false, fmt.Errorf("clickhouse: %w", err)
	}
	defer func() { _ = conn.Close() }()
	if err := conn.Ping(ctx); err != nil {
		return false, fmt.Errorf("clickhouse: cannot reach %s: %w", addr, err)
	}
	var tz string
	if err := conn.QueryRow(ctx, "SELECT timezone()").Scan(&tz); err != nil {
		return false, fmt.Errorf("clickhouse: server time zone: %w", err)
	}
	if !utcZone(tz) {
		return false, fmt.Errorf("clickhouse: the server's time zone is %s; run ClickHouse in UTC (<timezone>UTC</timezone> in its config.xml)", tz)
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", database).Scan(&n); err != nil {
		return false, fmt.Errorf("clickhouse: list databases: %w", err)
	}
	return n > 0, nil
}
