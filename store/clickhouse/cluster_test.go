package clickhouse

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/spend"
)

// A two-replica cluster (ZooKeeper and two ClickHouse servers of this
// machine, on loopback) takes the schema ON CLUSTER and keeps every event
// exactly once while the writer goes on through a kill -9 of either
// replica: writes fail while the quorum is short, the batch is retried as
// the consumer would, and each replica ends with every event once in the
// raw table and in every rollup.
func TestClusterKeepsEventsOnceThroughReplicaKills(t *testing.T) {
	testenv.Require(t, "ZooKeeper", "clickhouse-server")
	c := startCluster(t)
	ctx := context.Background()
	s := Schema{Database: testenv.UniqueName("cl"), Cluster: clusterTestName}
	conn, err := OpenSchema(ctx, []string{c.servers[0].tcpAddr(), c.servers[1].tcpAddr()}, s)
	testenv.Must(t, err, "open the cluster")
	defer conn.Close()
	testenv.Must(t, MigrateSchema(ctx, conn, s), "migrate ON CLUSTER")
	testenv.Must(t, MigrateSchema(ctx, conn, s), "migrate again (nothing to do)")
	for _, srv := range c.servers {
		engines := srv.query(t, s.Database, "SELECT name, engine FROM system.tables WHERE database = '"+s.Database+"' ORDER BY name")
		if len(engines) < 4 {
			t.Fatalf("%s: tables %v", srv.name, engines)
		}
		for _, row := range engines {
			if !strings.HasPrefix(row[1], "Replicated") && row[1] != "MaterializedView" {
				t.Errorf("%s: %s is %s, not replicated", srv.name, row[0], row[1])
			}
		}
	}

	// INSERTs go over HTTP (the default of spendgate's commands), to
	// whichever replica accepts a connection; lookups over the native
	// connection.
	w := NewWriter(conn, s.Database)
	w.Quorum(DefaultQuorum(2))
	h, err := NewHTTPInserter([]string{c.servers[0].httpAddr(), c.servers[1].httpAddr()}, HTTPUncompressed)
	testenv.Must(t, err, "HTTP inserter")
	defer h.Close()
	w.InsertOverHTTP(h)
	const batches, perBatch = 24, 150
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	batch := func(b int) []spend.PricedEvent {
		evs := make([]spend.PricedEvent, perBatch)
		for i := range evs {
			evs[i] = priced(fmt.Sprintf("e-%03d-%03d", b, i), fmt.Sprintf("k%d", i%5), "gpt-4o", "t", start.Add(time.Duration(b*perBatch+i)*time.Second), true, int64(1000+i))
		}
		return evs
	}
	var failures int
	write := func(b int) {
		evs := batch(b)
		deadline := time.Now().Add(3 * time.Minute)
		for {
			// A redelivery of the batch before this one must store nothing.
			if b > 0 {
				if n, err := w.Write(ctx, batch(b-1)); err == nil && n != 0 {
					t.Fatalf("batch %d redelivered stored %d events again", b-1, n)
				}
			}
			_, err := w.Write(ctx, evs)
			if err == nil {
				return
			}
			failures++
			t.Logf("batch %d: %v", b, err)
			if time.Now().After(deadline) {
				t.Fatalf("batch %d never written: %v", b, err)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	for b := range batches {
		switch b {
		case 6:
			// A follower dies. Once its ZooKeeper session ends (4 s here),
			// the replica left refuses quorum INSERTs at once: nothing is
			// acknowledged that only one replica holds.
			c.servers[1].kill(t)
			time.Sleep(6 * time.Second)
			if _, err := w.Write(ctx, batch(b)); err == nil {
				t.Fatal("a write with one replica of two alive succeeded: the quorum was not asked for")
			} else {
				t.Logf("write with a replica down: %v", err)
			}
			c.servers[1].start(t)
		case 14:
			// The replica the writer is connected to dies and comes back
			// two seconds later; the writer reconnects to the other one
			// and its INSERTs wait for the quorum or fail and are retried.
			c.servers[0].kill(t)
			go func() { time.Sleep(2 * time.Second); c.servers[0].start(t) }()
		}
		began := time.Now()
		write(b)
		if d := time.Since(began); d > 2*time.Second {
			t.Logf("batch %d took %s", b, d.Round(100*time.Millisecond))
		}
	}
	t.Logf("%d write attempts failed and were retried", failures)

	want := batches * perBatch
	var wantCost int64
	for b := range batches {
		for _, e := range batch(b) {
			wantCost += e.Cost.ListNanoUSD
		}
	}
	for _, srv := range c.servers {
		srv.query(t, s.Database, "SYSTEM SYNC REPLICA "+s.Database+".usage_events")
		for _, r := range Rollups {
			srv.query(t, s.Database, "SYSTEM SYNC REPLICA "+s.Database+"."+r.Name)
		}
		raw := srv.query(t, s.Database, "SELECT toString(count()), toString(uniqExact(event_id)), toString(sum(list_cost_nano_usd)) FROM "+s.Database+".usage_events")[0]
		if raw[0] != fmt.Sprint(want) || raw[1] != fmt.Sprint(want) || raw[2] != fmt.Sprint(wantCost) {
			t.Errorf("%s raw events: count, distinct ids, cost = %v, want %d, %d, %d", srv.name, raw, want, want, wantCost)
		}
		for _, r := range Rollups {
			got := srv.query(t, s.Database, "SELECT toString(sum(events)), toString(sum(list_cost_nano_usd)) FROM "+s.Database+"."+r.Name+" WHERE "+r.EveryEvent())[0]
			if got[0] != fmt.Sprint(want) || got[1] != fmt.Sprint(wantCost) {
				t.Errorf("%s rollup %s: events, cost = %v, want %d, %d", srv.name, r.Name, got, want, wantCost)
			}
		}
	}
}

const clusterTestName = "spendgate_test"

type localCluster struct {
	dir     string
	zkPort  int
	servers []*replicaServer
}

type replicaServer struct {
	name, dir              string
	tcp, http, interserver int
	mu                     sync.Mutex
	cmd                    *exec.Cmd
}

func (r *replicaServer) tcpAddr() string  { return fmt.Sprintf("127.0.0.1:%d", r.tcp) }
func (r *replicaServer) httpAddr() string { return fmt.Sprintf("127.0.0.1:%d", r.http) }

// startCluster runs ZooKeeper and two ClickHouse servers (one shard, two
// replicas) in a temporary folder; the recipe is in
// /work/shared/notes/local-clusters.md.
func startCluster(t *testing.T) *localCluster {
	t.Helper()
	for _, need := range []string{"java", "clickhouse-server"} {
		if _, err := exec.LookPath(need); err != nil {
			t.Fatalf("%s is needed for the cluster test (apt-get install zookeeper clickhouse-server): %v", need, err)
		}
	}
	jars := []string{"zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-log4j12.jar", "log4j-1.2.jar"}
	for i, j := range jars {
		jars[i] = "/usr/share/java/" + j
		if _, err := os.Stat(jars[i]); err != nil {
			t.Fatalf("ZooKeeper is needed for the cluster test (apt-get install zookeeper): %v", err)
		}
	}
	c := &localCluster{dir: t.TempDir(), zkPort: freePort(t)}
	zkDir := filepath.Join(c.dir, "zk")
	testenv.Must(t, os.MkdirAll(filepath.Join(zkDir, "data"), 0o755), "zk dir")
	writeFile(t, filepath.Join(zkDir, "zoo.cfg"), fmt.Sprintf("tickTime=1000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"admin.enableServer=false\n4lw.commands.whitelist=ruok\n", filepath.Join(zkDir, "data"), c.zkPort))
	writeFile(t, filepath.Join(zkDir, "log4j.properties"), "log4j.rootLogger=WARN, F\nlog4j.appender.F=org.apache.log4j.FileAppender\n"+
		"log4j.appender.F.File="+filepath.Join(zkDir, "zk.log")+"\nlog4j.appender.F.layout=org.apache.log4j.PatternLayout\n")
	zk := exec.Command("java", "-Xmx256m", "-cp", zkDir+":"+strings.Join(jars, ":"),
		"org.apache.zookeeper.server.ZooKeeperServerMain", filepath.Join(zkDir, "zoo.cfg"))
	zk.Stdout, zk.Stderr = nil, nil
	testenv.Must(t, zk.Start(), "start ZooKeeper")
	t.Cleanup(func() { _ = zk.Process.Kill(); _ = zk.Wait() })
	testenv.WaitFor(t, 60*time.Second, "ZooKeeper answers ruok", func() bool { return zkOK(c.zkPort) })

	for _, name := range []string{"a", "b"} {
		c.servers = append(c.servers, &replicaServer{name: name, dir: filepath.Join(c.dir, name),
			tcp: freePort(t), http: freePort(t), interserver: freePort(t)})
	}
	for _, r := range c.servers {
		writeFile(t, filepath.Join(r.dir, "config.xml"), r.config(c))
		r.start(t)
		t.Cleanup(func() { r.stop() })
	}
	return c
}

func (r *replicaServer) config(c *localCluster) string {
	var replicas strings.Builder
	for _, s := range c.servers {
		fmt.Fprintf(&replicas, "<replica><host>127.0.0.1</host><port>%d</port></replica>", s.tcp)
	}
	d := r.dir
	return `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>` + d + `/server.log</log><errorlog>` + d + `/server.err.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>` + fmt.Sprint(r.http) + `</http_port>
  <tcp_port>` + fmt.Sprint(r.tcp) + `</tcp_port>
  <interserver_http_port>` + fmt.Sprint(r.interserver) + `</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>` + d + `/data/</path>
  <tmp_path>` + d + `/tmp/</tmp_path>
  <user_files_path>` + d + `/user_files/</user_files_path>
  <format_schema_path>` + d + `/format_schemas/</format_schema_path>
  <users_config>/etc/clickhouse-server/users.xml</users_config>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <timezone>UTC</timezone>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <remote_servers><` + clusterTestName + `><shard><internal_replication>true</internal_replication>` + replicas.String() +
		`</shard></` + clusterTestName + `></remote_servers>
  <zookeeper><node><host>127.0.0.1</host><port>` + fmt.Sprint(c.zkPort) + `</port></node><session_timeout_ms>4000</session_timeout_ms></zookeeper>
  <macros><shard>01</shard><replica>` + r.name + `</replica></macros>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
</yandex>
`
}

func (r *replicaServer) start(t *testing.T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cmd := exec.Command("clickhouse-server", "--config-file="+filepath.Join(r.dir, "config.xml"))
	if err := cmd.Start(); err != nil {
		t.Errorf("start ClickHouse %s: %v", r.name, err)
		return
	}
	r.cmd = cmd
	go func() { _ = cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if conn, err := net.DialTimeout("tcp", r.tcpAddr(), time.Second); err == nil {
			_ = conn.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("ClickHouse %s did not listen on %s; see %s/server.err.log", r.name, r.tcpAddr(), r.dir)
}

// kill ends the server with SIGKILL, as a crash would.
func (r *replicaServer) kill(t *testing.T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		testenv.Must(t, r.cmd.Process.Signal(syscall.SIGKILL), "kill "+r.name)
		r.cmd = nil
	}
}

func (r *replicaServer) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		_ = r.cmd.Process.Kill()
		r.cmd = nil
	}
}

// query runs sql on this replica alone and returns its rows as text.
func (r *replicaServer) query(t *testing.T, database, sql string) [][]string {
	t.Helper()
	conn, err := chgo.Open(&chgo.Options{Addr: []string{r.tcpAddr()}, DialTimeout: 5 * time.Second, Auth: chgo.Auth{Database: "default"}})
	testenv.Must(t, err, "connect to "+r.name)
	defer conn.Close()
	ctx := context.Background()
	if strings.HasPrefix(sql, "SYSTEM") {
		testenv.Must(t, conn.Exec(ctx, sql), sql)
		return nil
	}
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		t.Fatalf("%s on %s: %v", sql, r.name, err)
	}
	return textRows(t, rows)
}

// textRows reads rows of String columns (the queries say toString).
func textRows(t *testing.T, rows driver.Rows) [][]string {
	t.Helper()
	defer rows.Close()
	var out [][]string
	n := len(rows.ColumnTypes())
	for rows.Next() {
		row := make([]string, n)
		ptrs := make([]any, n)
		for i := range row {
			ptrs[i] = &row[i]
		}
		testenv.Must(t, rows.Scan(ptrs...), "scan")
		out = append(out, row)
	}
	testenv.Must(t, rows.Err(), "rows")
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	testenv.Must(t, err, "free port")
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	testenv.Must(t, os.MkdirAll(filepath.Dir(path), 0o755), "mkdir")
	testenv.Must(t, os.WriteFile(path, []byte(content), 0o644), "write "+path)
}

func zkOK(port int) bool {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("ruok")); err != nil {
		return false
	}
	line, _ := bufio.NewReader(conn).ReadString('\n')
	return strings.HasPrefix(line, "imok")
}
