package main

import (
	"strings"
	"testing"
)

func TestClickHouseClusterFlags(t *testing.T) {
	bad := map[string]struct {
		f     clickhouseClusterFlags
		addrs string
		want  string
	}{
		"two servers without a cluster": {clickhouseClusterFlags{quorum: -1}, "a:9000,b:9000", "needs --clickhouse-cluster"},
		"quorum above the replicas":     {clickhouseClusterFlags{cluster: "c", quorum: 3}, "a:9000,b:9000", "more than the 2 replicas"},
		"negative quorum":               {clickhouseClusterFlags{cluster: "c", quorum: -2}, "a:9000", "want -1"},
		"cluster name with a quote":     {clickhouseClusterFlags{cluster: "c'x", quorum: -1}, "a:9000", "not a plain identifier"},
	}
	for name, c := range bad {
		err := c.f.validate(c.addrs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.want)
		}
	}
	for name, c := range map[string]struct {
		f      clickhouseClusterFlags
		addrs  string
		quorum int
	}{
		"one server":                {clickhouseClusterFlags{quorum: -1}, "127.0.0.1:9000", 0},
		"two replicas: both":        {clickhouseClusterFlags{cluster: "c", quorum: -1}, "a:9000, b:9000", 2},
		"three replicas: majority":  {clickhouseClusterFlags{cluster: "c", quorum: -1}, "a:9000,b:9000,c:9000", 2},
		"quorum turned off by hand": {clickhouseClusterFlags{cluster: "c", quorum: 0}, "a:9000,b:9000", 0},
	} {
		if err := c.f.validate(c.addrs); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if got := c.f.writer(nil, c.addrs, "db").QuorumSize(); got != c.quorum {
			t.Errorf("%s: quorum %d, want %d", name, got, c.quorum)
		}
	}
}
