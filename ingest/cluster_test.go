package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/store/clickhouse"
)

// natsNodeEnv makes the test binary run one node of a NATS cluster (the
// nats-server library spendgate embeds) instead of the tests, so a test can
// kill -9 a node: a node in the test's own process could not die alone.
const natsNodeEnv = "SPENDGATE_TEST_NATS_NODE"

type natsNode struct {
	Name        string
	Port        int
	ClusterPort int
	Routes      []string
	Dir         string
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(natsNodeEnv); spec != "" {
		os.Exit(runNATSNode(spec))
	}
	os.Exit(m.Run())
}

func runNATSNode(spec string) int {
	var n natsNode
	if err := json.Unmarshal([]byte(spec), &n); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	routes := server.RoutesFromStr(strings.Join(n.Routes, ","))
	s, err := server.NewServer(&server.Options{ServerName: n.Name, Host: "127.0.0.1", Port: n.Port, JetStream: true,
		StoreDir: n.Dir, NoSigs: true, NoLog: true,
		Cluster: server.ClusterOpts{Name: "spendgate-test", Host: "127.0.0.1", Port: n.ClusterPort}, Routes: routes})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go s.Start()
	if !s.ReadyForConnections(20 * time.Second) {
		fmt.Fprintln(os.Stderr, "node not ready")
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	<-ctx.Done()
	s.Shutdown()
	return 0
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testenv.Must(t, err, "free port")
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// natsCluster starts three JetStream nodes as OS processes and returns
// their client URLs and a kill -9 for each, by server name.
func natsCluster(t *testing.T) (urls []string, kill map[string]func()) {
	t.Helper()
	nodes := make([]natsNode, 3)
	var routes []string
	for i := range nodes {
		nodes[i] = natsNode{Name: "n" + strconv.Itoa(i+1), Port: freePort(t), ClusterPort: freePort(t), Dir: t.TempDir()}
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", nodes[i].ClusterPort))
	}
	kill = map[string]func(){}
	for _, n := range nodes {
		n.Routes = routes
		spec, _ := json.Marshal(n)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), natsNodeEnv+"="+string(spec), "GOMAXPROCS=1")
		cmd.Stderr = os.Stderr
		testenv.Must(t, cmd.Start(), "start NATS node")
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		kill[n.Name] = func() { _ = cmd.Process.Kill(); <-done }
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
			}
		})
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", n.Port))
	}
	return urls, kill
}

// A three-node JetStream cluster on loopback holds the streams with three
// replicas; the stream leader is killed with SIGKILL while the receiver
// publishes and the consumer writes. The receiver publishes again what the
// dead leader did not acknowledge (same Nats-Msg-Id), the consumer carries
// on with the new leader: every event is stored once, and no batch was
// refused.
func TestR3StreamSurvivesKilledLeaderUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS cluster")
	}
	t.Parallel()
	ctx := context.Background()
	addr, db := testenv.ClickHouse(t) // first: the unit tier skips here, before starting a cluster
	urls, kill := natsCluster(t)
	connect := func() (*nats.Conn, jetstream.JetStream) {
		var nc *nats.Conn
		testenv.WaitFor(t, 30*time.Second, "the cluster to accept connections", func() bool {
			var err error
			nc, err = nats.Connect(strings.Join(urls, ","), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
			return err == nil
		})
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		testenv.Must(t, err, "jetstream")
		return nc, js
	}
	_, js := connect()
	cfg := DefaultConfig()
	cfg.Prefix, cfg.Replicas = "SGR3", 3
	testenv.WaitFor(t, 30*time.Second, "the cluster to create R3 streams", func() bool { return EnsureStreams(ctx, js, cfg) == nil })

	conn, err := clickhouse.Open(ctx, addr, db)
	testenv.Must(t, err, "clickhouse")
	t.Cleanup(func() { conn.Close() })
	testenv.Must(t, clickhouse.Migrate(ctx, conn, db), "migrate")
	ccfg := DefaultConsumerConfig()
	ccfg.MaxWait, ccfg.AckWait, ccfg.RetryDelay, ccfg.MaxRetryDelay = 100*time.Millisecond, 2*time.Second, 50*time.Millisecond, 500*time.Millisecond
	_, cjs := connect()
	cons := NewConsumer(cfg, ccfg, cjs, clickhouse.NewWriter(conn, db), pricing.Default(), nil, testLog(t))
	cctx, stop := context.WithCancel(ctx)
	consumed := make(chan struct{})
	go func() { defer close(consumed); _ = cons.Run(cctx) }()
	t.Cleanup(func() { stop(); <-consumed })

	recv := NewReceiver(cfg, js, testLog(t))
	recv.PublishTimeout = 15 * time.Second // as docs/ingest.md advises on a cluster: longer than a leader election
	const batches, perBatch = 150, 40
	var published, refused atomic.Int64
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := range batches {
			res, err := recv.Publish(ctx, usageEvents(perBatch, 10_000+i*perBatch))
			if err != nil {
				refused.Add(1)
				t.Errorf("batch %d refused: %v", i, err)
				continue
			}
			published.Add(int64(res.Accepted + res.Duplicates))
			time.Sleep(20 * time.Millisecond)
		}
	}()
	testenv.WaitFor(t, 30*time.Second, "events to flow", func() bool { return published.Load() >= 1000 })
	stream, err := js.Stream(ctx, cfg.eventsStream())
	testenv.Must(t, err, "stream")
	info, err := stream.Info(ctx)
	testenv.Must(t, err, "stream info")
	if info.Cluster == nil || len(info.Cluster.Replicas) != 2 || kill[info.Cluster.Leader] == nil {
		t.Fatalf("stream cluster %+v", info.Cluster)
	}
	leader := info.Cluster.Leader
	kill[leader]()
	killedAt := published.Load()
	<-sent
	if killedAt >= batches*perBatch {
		t.Fatal("everything was published before the kill: not under load")
	}
	testenv.WaitFor(t, 60*time.Second, "a new stream leader", func() bool {
		info, err := stream.Info(ctx)
		return err == nil && info.Cluster != nil && info.Cluster.Leader != "" && info.Cluster.Leader != leader
	})
	testenv.WaitFor(t, 60*time.Second, "the consumer to ack everything", func() bool {
		c, err := js.Consumer(ctx, cfg.eventsStream(), ccfg.Durable)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	want := uint64(batches * perBatch)
	var rows, ids uint64
	testenv.Must(t, conn.QueryRow(ctx, "SELECT count(), uniqExact(event_id) FROM "+db+".usage_events").Scan(&rows, &ids), "rows")
	if rows != want || ids != want {
		t.Fatalf("%d rows, %d distinct ids; want %d (leader %s killed after %d published)", rows, ids, want, leader, killedAt)
	}
	t.Logf("leader %s killed after %d events published; %d stored once each", leader, killedAt, rows)
}
