package config

import (
	"flag"
	"fmt"

	chstore "github.com/spendgate/spendgate/store/clickhouse"
)

// ClickHouseCluster says whether ClickHouse is one server or a replicated
// cluster (docs/clickhouse.md, "Cluster mode").
type ClickHouseCluster struct {
	Cluster string
	Quorum  int
}

func (f *ClickHouseCluster) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Cluster, "clickhouse-cluster", "", "ClickHouse cluster (a <remote_servers> name of one shard and its replicas) to create replicated tables ON; "+
		"list every replica in --clickhouse-addr, separated by commas (empty: one server)")
	fs.IntVar(&f.Quorum, "clickhouse-insert-quorum", -1, "replicas that must hold an insert before it counts as stored (-1: a majority of the replicas in --clickhouse-addr with --clickhouse-cluster, else off)")
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
