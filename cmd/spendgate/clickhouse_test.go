package main

import (
	"testing"

	"github.com/spendgate/spendgate/config"
)

// The writer gets the insert quorum the flags ask for (config owns the rule).
func TestClickHouseWriterQuorum(t *testing.T) {
	for addrs, want := range map[string]int{"127.0.0.1:9000": 0, "a:9000,b:9000,c:9000": 2} {
		f := config.ClickHouseCluster{Quorum: -1}
		if addrs != "127.0.0.1:9000" {
			f.Cluster = "c"
		}
		if got := clickhouseWriter(f, nil, addrs, "db").QuorumSize(); got != want {
			t.Errorf("%s: quorum %d, want %d", addrs, got, want)
		}
	}
}
