package config

import (
	"flag"
	"fmt"

	chstore "github.com/spendgate/spendgate/store/clickhouse"
)

// ClickHouseCluster says whether ClickHouse is one server or a replicated
// cluster (docs/clickhouse.md, "Cluster mode"), and how the event writer
// sends its INSERTs there (docs/clickhouse.md, "How events are inserted").
type ClickHouseCluster struct {
	Cluster string
	Quorum  int
	// HTTPAddr lists each replica's HTTP address ("": derived, "none": the
	// native connection); HTTPCompression is chstore.HTTPCompression.
	HTTPAddr, HTTPCompression string
}

// NoHTTP is the --clickhouse-http-addr that keeps INSERTs on the native
// connection.
const NoHTTP = "none"

func (f *ClickHouseCluster) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Cluster, "clickhouse-cluster", "", "ClickHouse cluster (a <remote_servers> name of one shard and its replicas) to create replicated tables ON; "+
		"list every replica in --clickhouse-addr, separated by commas (empty: one server)")
	fs.IntVar(&f.Quorum, "clickhouse-insert-quorum", -1, "replicas that must hold an insert before it counts as stored (-1: a majority of the replicas in --clickhouse-addr with --clickhouse-cluster, else off)")
}

// RegisterInsert adds the flags of the event writer's INSERTs (the commands
// that run the ingest consumer).
func (f *ClickHouseCluster) RegisterInsert(fs *flag.FlagSet) {
	fs.StringVar(&f.HTTPAddr, "clickhouse-http-addr", "", "ClickHouse HTTP interface the event writer INSERTs through, one host:port per --clickhouse-addr replica in the same order "+
		"(empty: each --clickhouse-addr host on port "+chstore.DefaultHTTPPort+"; "+NoHTTP+": INSERT over the native connection)")
	fs.StringVar(&f.HTTPCompression, "clickhouse-http-compression", string(chstore.HTTPUncompressed), "compression of the writer's HTTP INSERTs: none, or lz4 (ClickHouse's framing; for a server across a slow or metered link)")
}

// Schema is where the tables live.
func (f ClickHouseCluster) Schema(database string) chstore.Schema {
	return chstore.Schema{Database: database, Cluster: f.Cluster}
}

// Validate checks the cluster flags against --clickhouse-addr.
func (f ClickHouseCluster) Validate(addrs string) error {
	replicas := len(chstore.SplitAddrs(addrs))
	switch {
	case f.Quorum > replicas:
		return fmt.Errorf("--clickhouse-insert-quorum %d is more than the %d replicas in --clickhouse-addr", f.Quorum, replicas)
	case f.Quorum < -1:
		return fmt.Errorf("--clickhouse-insert-quorum %d: want -1 (default), 0 (off) or a number of replicas", f.Quorum)
	case f.Cluster == "" && replicas > 1:
		return fmt.Errorf("--clickhouse-addr lists %d servers: that needs --clickhouse-cluster (replicas of one cluster), or list one server", replicas)
	}
	return f.Schema("spendgate").Validate()
}

// ValidateInsert checks the flags of RegisterInsert against --clickhouse-addr.
func (f ClickHouseCluster) ValidateInsert(addrs string) error {
	if _, err := f.Inserter(addrs); err != nil {
		return fmt.Errorf("--clickhouse-http-addr, --clickhouse-http-compression: %w", err)
	}
	return nil
}

// Inserter is the HTTP inserter the flags ask for (nil: INSERT over the
// native connection).
func (f ClickHouseCluster) Inserter(addrs string) (*chstore.HTTPInserter, error) {
	if f.HTTPAddr == NoHTTP {
		return nil, nil
	}
	http, err := chstore.HTTPAddrs(chstore.SplitAddrs(addrs), f.HTTPAddr)
	if err != nil {
		return nil, err
	}
	return chstore.NewHTTPInserter(http, chstore.HTTPCompression(f.HTTPCompression))
}

// InsertQuorum is the insert quorum the flags ask for (0: off).
func (f ClickHouseCluster) InsertQuorum(addrs string) int {
	if f.Quorum >= 0 {
		return f.Quorum
	}
	if f.Cluster != "" {
		return chstore.DefaultQuorum(len(chstore.SplitAddrs(addrs)))
	}
	return 0
}
