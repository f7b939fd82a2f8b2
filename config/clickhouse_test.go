package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestClickHouseCluster(t *testing.T) {
	bad := map[string]struct {
		f     ClickHouseCluster
		addrs string
		want  string
	}{
		"two servers without a cluster": {ClickHouseCluster{Quorum: -1}, "a:9000,b:9000", "needs --clickhouse-cluster"},
		"quorum above the replicas":     {ClickHouseCluster{Cluster: "c", Quorum: 3}, "a:9000,b:9000", "more than the 2 replicas"},
		"negative quorum":               {ClickHouseCluster{Cluster: "c", Quorum: -2}, "a:9000", "want -1"},
		"cluster name with a quote":     {ClickHouseCluster{Cluster: "c'x", Quorum: -1}, "a:9000", "not a plain identifier"},
	}
	for name, c := range bad {
		err := c.f.Validate(c.addrs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.want)
		}
	}
	for name, c := range map[string]struct {
		f      ClickHouseCluster
		addrs  string
		quorum int
	}{
		"one server":                {ClickHouseCluster{Quorum: -1}, "127.0.0.1:9000", 0},
		"two replicas: both":        {ClickHouseCluster{Cluster: "c", Quorum: -1}, "a:9000, b:9000", 2},
		"three replicas: majority":  {ClickHouseCluster{Cluster: "c", Quorum: -1}, "a:9000,b:9000,c:9000", 2},
		"quorum turned off by hand": {ClickHouseCluster{Cluster: "c", Quorum: 0}, "a:9000,b:9000", 0},
	} {
		if err := c.f.Validate(c.addrs); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if got := c.f.InsertQuorum(c.addrs); got != c.quorum {
			t.Errorf("%s: quorum %d, want %d", name, got, c.quorum)
		}
	}
}

// The writer's HTTP addresses: derived from the native ones (port 8123),
// listed by hand, or none; and what is refused.
func TestClickHouseInserter(t *testing.T) {
	for name, c := range map[string]struct {
		f     ClickHouseCluster
		addrs string
		want  string
	}{
		"an HTTP address short":        {ClickHouseCluster{Cluster: "c", HTTPAddr: "a:8123"}, "a:9000,b:9000", "1 HTTP addresses for 2 native ones"},
		"an HTTP address without port": {ClickHouseCluster{HTTPAddr: "a"}, "a:9000", "missing port"},
		"unknown compression":          {ClickHouseCluster{HTTPCompression: "zip"}, "a:9000", `compression "zip"`},
	} {
		err := c.f.ValidateInsert(c.addrs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.want)
		}
	}
	for name, c := range map[string]struct {
		f     ClickHouseCluster
		addrs string
		want  string
	}{
		"derived":         {ClickHouseCluster{}, "ch1:9000, [::1]:9440", "[http://ch1:8123/ http://[::1]:8123/]"},
		"listed":          {ClickHouseCluster{HTTPAddr: "ch1:18123,ch2:28123"}, "ch1:9000,ch2:9000", "[http://ch1:18123/ http://ch2:28123/]"},
		"native inserts":  {ClickHouseCluster{HTTPAddr: NoHTTP}, "ch1:9000", "<nil>"},
		"lz4 compression": {ClickHouseCluster{HTTPCompression: "lz4"}, "ch1:9000", "[http://ch1:8123/]"},
	} {
		h, err := c.f.Inserter(c.addrs)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := "<nil>"
		if h != nil {
			got = fmt.Sprint(h.URLs())
		}
		if got != c.want {
			t.Errorf("%s: %s, want %s", name, got, c.want)
		}
	}
}
