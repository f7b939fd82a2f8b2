package config

import (
	"errors"
	"flag"
	"fmt"
	"time"

	budgetservice "github.com/spendgate/spendgate/budget/service"
	"github.com/spendgate/spendgate/ingest"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
)

// MaxPartitions bounds --partitions: each partition is a durable consumer
// that its owner polls while idle.
const MaxPartitions = 256

// Pipeline configures the event pipeline (receiver → JetStream → pricing →
// ClickHouse → budgets), shared by `serve` and `ingest`.
type Pipeline struct {
	NATSURL, DataDir, Prefix string
	CHAddr, CHDB             string
	CHCluster                ClickHouseCluster
	MaxBody                  int64
	Batch, Lanes             int
	Partitions, Replicas     int
	Consume, StreamMaxBytes  string
	DedupWindow, StreamAge   time.Duration
	MemLimit                 MemoryLimit
	BatchWait                time.Duration
	Budgets, FailOpen        bool
	ReservationTTL           time.Duration
	PublishTimeout           time.Duration
	WebhookAllow             WebhookAllow
	Pricing                  Pricing

	// NATSDefault and DataDirDefault are the defaults of --nats-url and
	// --data-dir, which differ between serve (embedded NATS) and ingest.
	NATSDefault, DataDirDefault string
}

func (f *Pipeline) Register(fs *flag.FlagSet) {
	def, defC := ingest.DefaultConfig(), ingest.DefaultConsumerConfig()
	fs.StringVar(&f.NATSURL, "nats-url", f.NATSDefault, "NATS server with JetStream, or a cluster's servers separated by commas (empty: run one embedded, storing under --data-dir)")
	fs.StringVar(&f.DataDir, "data-dir", f.DataDirDefault, "where the embedded NATS (and serve's demo files) live")
	fs.StringVar(&f.Prefix, "stream-prefix", def.Prefix, "JetStream stream and subject prefix (several installations can share one NATS)")
	fs.StringVar(&f.CHAddr, "clickhouse-addr", "127.0.0.1:9000", "ClickHouse native address (start it with: make clickhouse)")
	fs.StringVar(&f.CHDB, "clickhouse-database", "spendgate", "ClickHouse database (created when missing)")
	f.CHCluster.Register(fs)
	f.CHCluster.RegisterInsert(fs)
	fs.Int64Var(&f.MaxBody, "max-body-bytes", def.MaxBodyBytes, "largest event batch accepted (413 beyond)")
	fs.IntVar(&f.Partitions, "partitions", def.Partitions, "partitions event ids are spread over, so that several ingest processes can consume at once; the same in every process of an installation (docs/ingest.md)")
	fs.StringVar(&f.Consume, "consume-partitions", "all", `partitions this process consumes: "all", "none" (receiver only) or a list such as 0,2-3; each partition must be consumed by one process at a time`)
	fs.IntVar(&f.Replicas, "stream-replicas", def.Replicas, "JetStream servers holding each stream: 3 on a NATS cluster, so a server can die without losing events")
	fs.DurationVar(&f.DedupWindow, "dedup-window", def.DedupWindow, "how long JetStream drops a re-published event id; its memory is rate × window × ~125 B (older copies are skipped by the ClickHouse writer)")
	fs.DurationVar(&f.StreamAge, "stream-max-age", def.MaxAge, "how long the events stream keeps events: the longest ClickHouse or Postgres outage ridden out without loss")
	fs.StringVar(&f.StreamMaxBytes, "stream-max-bytes", "", "disk cap of the events stream, e.g. 20GiB (empty: none); when full, events are refused (503) rather than dropped: size it at least event rate × 1 KB × --stream-max-age")
	fs.Var(&f.MemLimit, "memory-limit", "Go heap soft limit, e.g. 512MiB (empty: GOMEMLIMIT, else 90% of the container's memory, else none)")
	fs.IntVar(&f.Batch, "batch-size", defC.BatchSize, "most events per fetch and ClickHouse insert")
	fs.DurationVar(&f.BatchWait, "batch-wait", defC.MaxWait, "longest a fetch waits to fill a batch")
	fs.IntVar(&f.Lanes, "clickhouse-lanes", 1, "concurrent INSERTs a large batch is split into (by event id); more help when ClickHouse has idle cores")
	fs.BoolVar(&f.Budgets, "budgets", true, "apply spend to budgets, deliver their alerts and serve reservations (POST /internal/v1/reservations)")
	fs.BoolVar(&f.FailOpen, "budget-fail-open", false, "when the budget store is unreachable, let calls under hard budgets through unchecked (default: refuse them)")
	fs.DurationVar(&f.PublishTimeout, "publish-timeout", ingest.DefaultPublishTimeout, "longest the event receiver waits for JetStream to acknowledge a batch before answering 503 (retry); unacknowledged publishes are repeated meanwhile — on a NATS cluster use 10s or more to ride out a leader election (~5 s)")
	fs.Var(&f.WebhookAllow, "webhook-allow", webhookAllowUsage)
	fs.DurationVar(&f.ReservationTTL, "reservation-ttl", budgetservice.DefaultConfig("").ReservationTTL, "how long an unsettled reservation holds budget before it expires")
	f.Pricing.Register(fs)
}

// Validate returns every problem with the pipeline's values.
func (f *Pipeline) Validate() error {
	var errs []error
	if f.Batch <= 0 || f.BatchWait <= 0 || f.Lanes <= 0 || f.MaxBody <= 0 {
		errs = append(errs, errors.New("--batch-size, --batch-wait, --clickhouse-lanes and --max-body-bytes must be positive"))
	}
	if f.PublishTimeout <= 0 {
		errs = append(errs, errors.New("--publish-timeout must be positive"))
	}
	if f.DedupWindow < time.Second || f.StreamAge < time.Hour || f.DedupWindow > f.StreamAge {
		errs = append(errs, errors.New("--dedup-window must be at least 1s, --stream-max-age at least 1h, and the window shorter than the age"))
	}
	if f.Replicas != 1 && f.Replicas != 3 && f.Replicas != 5 {
		errs = append(errs, errors.New("--stream-replicas must be 1, 3 or 5"))
	}
	if f.Replicas > 1 && f.NATSURL == "" {
		errs = append(errs, errors.New("--stream-replicas above 1 needs a NATS cluster (--nats-url): the embedded NATS is one server"))
	}
	partitionsOK := f.Partitions >= 1 && f.Partitions <= MaxPartitions
	if !partitionsOK {
		errs = append(errs, fmt.Errorf("--partitions must be between 1 and %d", MaxPartitions))
	}
	if f.ReservationTTL < time.Minute {
		errs = append(errs, errors.New("--reservation-ttl must be at least a minute (longer than a call plus the ingest lag)"))
	}
	if f.CHAddr == "" || f.CHDB == "" {
		errs = append(errs, errors.New("--clickhouse-addr and --clickhouse-database must be set: the pipeline stores events there"))
	}
	if f.NATSURL == "" && f.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must be set when NATS is embedded (--nats-url empty)"))
	}
	if err := f.CHCluster.Validate(f.CHAddr); err != nil {
		errs = append(errs, err)
	} else if err := f.CHCluster.ValidateInsert(f.CHAddr); err != nil {
		errs = append(errs, err)
	}
	if _, err := ParseBytes(f.StreamMaxBytes); err != nil {
		errs = append(errs, fmt.Errorf("--stream-max-bytes: %w", err))
	}
	if f.Consume != "none" && partitionsOK {
		if _, err := ingest.ParsePartitions(f.Consume, f.Partitions); err != nil {
			errs = append(errs, fmt.Errorf("--consume-partitions: %w", err))
		}
	}
	if err := f.Pricing.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Owned is the partitions this process consumes (nil: none).
func (f *Pipeline) Owned() []int {
	if f.Consume == "none" {
		return nil
	}
	parts, _ := ingest.ParsePartitions(f.Consume, f.Partitions) // validated
	return parts
}

// StreamMaxBytesValue is --stream-max-bytes in bytes (0: no cap).
func (f *Pipeline) StreamMaxBytesValue() int64 {
	n, _ := ParseBytes(f.StreamMaxBytes) // validated
	return n
}

// Endpoints are the NATS (unless embedded) and ClickHouse the pipeline
// uses, ClickHouse's HTTP interface included: the consumer's writer INSERTs
// there, and the command refuses to start when it does not answer.
func (f *Pipeline) Endpoints() []Endpoint {
	var eps []Endpoint
	if f.NATSURL != "" {
		eps = append(eps, Endpoint{Kind: NATS, Flag: "nats-url", Address: f.NATSURL})
	}
	eps = append(eps, clickhouseEndpoints(f.CHAddr, f.CHDB)...)
	if f.CHCluster.HTTPAddr == NoHTTP {
		return eps
	}
	http, err := chstore.HTTPAddrs(chstore.SplitAddrs(f.CHAddr), f.CHCluster.HTTPAddr)
	if err != nil { // refused by Validate first
		return eps
	}
	for _, a := range http {
		eps = append(eps, Endpoint{Kind: HTTP, Flag: "clickhouse-http-addr", Address: "http://" + a + "/ping"})
	}
	return eps
}

// clickhouseEndpoints is one endpoint per server listed in --clickhouse-addr:
// in cluster mode every replica must answer while migrations run.
func clickhouseEndpoints(addrs, database string) []Endpoint {
	var eps []Endpoint
	for _, a := range chstore.SplitAddrs(addrs) {
		eps = append(eps, Endpoint{Kind: ClickHouse, Flag: "clickhouse-addr", Address: a, Database: database})
	}
	return eps
}
