package ingest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Config names the streams and limits.
type Config struct {
	// Prefix names streams and subjects: stream <PREFIX>_EVENTS on subjects
	// <prefix>.events.[p<partition>.]<tenant>, dead letters in <PREFIX>_DLQ
	// on <prefix>.dlq.events.<tenant>.
	Prefix string
	// Partitions is how many partitions event ids are spread over (see
	// partition.go); every process of an installation uses the same count.
	Partitions int
	// ServiceToken authenticates the data plane.
	ServiceToken string
	// MaxBodyBytes caps one batch (413 beyond); MaxEvents caps its events.
	MaxBodyBytes int64
	MaxEvents    int
	// DedupWindow is how long JetStream remembers message ids (an event id,
	// or a batch message's hash of its event ids: message.go): a data
	// plane's retry of a batch inside it is dropped at the stream. JetStream
	// keeps every id of the window in memory (~125 bytes each, measured), so
	// the window bounds its memory: message rate × window ids, the message
	// rate being the event rate over the events per message. Copies outside
	// it, or in a message composed differently, are skipped by the writer's
	// event-id dedup (docs/ingest.md, Exactly once).
	DedupWindow time.Duration
	// MaxAge is how long the events stream keeps events (acked or not); it
	// is the longest store outage the pipeline rides out without loss.
	MaxAge time.Duration
	// MaxBytes caps the events stream's disk use (0: no cap; a message of
	// many events counts its bytes, the stream has no message count or
	// message size limit of its own: NATS's max_payload bounds a message,
	// far above message.go's bound). When full,
	// publishes are refused (the receiver answers 503 and the data plane
	// retries) rather than unconsumed events dropped: size it from the event
	// rate, at least rate × ~1 KB × MaxAge.
	MaxBytes int64
	// Replicas is how many JetStream servers hold each stream (1, or 3 on a
	// cluster: a node can then die without losing or stopping events).
	Replicas int
	// DLQMaxAge is how long dead letters are kept.
	DLQMaxAge time.Duration
}

// DefaultConfig returns production defaults.
func DefaultConfig() Config {
	return Config{Prefix: "SPENDGATE", Partitions: 1, MaxBodyBytes: 8 << 20, MaxEvents: 10_000, DedupWindow: 2 * time.Minute,
		MaxAge: 7 * 24 * time.Hour, DLQMaxAge: 90 * 24 * time.Hour, Replicas: 1}
}

func (c Config) eventsStream() string        { return strings.ToUpper(c.Prefix) + "_EVENTS" }
func (c Config) dlqStream() string           { return strings.ToUpper(c.Prefix) + "_DLQ" }
func (c Config) eventsSubjectPrefix() string { return strings.ToLower(c.Prefix) + ".events." }

// dlqSubject is where dead letters of one tenant go; tenant is the rest of
// the original subject after <prefix>.events. (not trusted to be a UUID).
func (c Config) dlqSubject(tenant string) string {
	return strings.ToLower(c.Prefix) + ".dlq.events." + tenant
}

// maxDeliveriesSubject is the advisory JetStream publishes when a consumer
// of the events stream gives up on a message after MaxDeliver deliveries.
// The DLQ stream captures it, so such an event is listed like any other dead
// letter even if no process was listening at that moment.
func (c Config) maxDeliveriesSubject() string {
	return "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + c.eventsStream() + ".*"
}

// EnsureStreams creates or updates the event and dead-letter streams; safe to
// call at every start-up.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: cfg.eventsStream(), Description: "spendgate usage and denial events, deduplicated by event id",
		Subjects: []string{strings.ToLower(cfg.Prefix) + ".events.>"},
		Storage:  jetstream.FileStorage, Retention: jetstream.LimitsPolicy, Duplicates: cfg.DedupWindow,
		MaxAge: cfg.MaxAge, MaxBytes: maxBytes(cfg.MaxBytes), Discard: discard(cfg.MaxBytes), Replicas: max(1, cfg.Replicas),
	})
	if err != nil {
		return fmt.Errorf("ingest: stream %s: %w", cfg.eventsStream(), err)
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: cfg.dlqStream(), Description: "spendgate events the consumer could not store, with the reason",
		Subjects: []string{strings.ToLower(cfg.Prefix) + ".dlq.>", cfg.maxDeliveriesSubject()},
		Storage:  jetstream.FileStorage, Retention: jetstream.LimitsPolicy, Duplicates: cfg.DedupWindow,
		MaxAge: cfg.DLQMaxAge, Discard: jetstream.DiscardOld, Replicas: max(1, cfg.Replicas),
	})
	if err != nil {
		return fmt.Errorf("ingest: stream %s: %w", cfg.dlqStream(), err)
	}
	return nil
}

// checkFilterChange refuses to change the subject filter of an existing
// durable (raising the partition count filters partition 0's) on a server
// older than 2.10: nats-server 2.9 moves such a consumer past the events
// waiting for it, which would lose them. On 2.10 and later the waiting
// events are delivered under the new filter.
func checkFilterChange(ctx context.Context, js jetstream.JetStream, cfg Config, durable, filter string) error {
	cons, err := js.Consumer(ctx, cfg.eventsStream(), durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ingest: consumer %s on %s: %w", durable, cfg.eventsStream(), err)
	}
	if cons.CachedInfo().Config.FilterSubject == filter {
		return nil
	}
	if v := js.Conn().ConnectedServerVersion(); versionBelow(v, 2, 10) {
		return fmt.Errorf("ingest: changing --partitions needs nats-server 2.10 or later (this one is %s, which would skip the events "+
			"waiting for consumer %s): stop the receivers, let the consumers drain, delete the durable and start again", v, durable)
	}
	return nil
}

// versionBelow says whether a "major.minor.patch" version is below
// major.minor (an unreadable one is not).
func versionBelow(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma < major || ma == major && mi < minor
}

// maxBytes is JetStream's MaxBytes: -1 for no cap.
func maxBytes(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

// discard: with a cap, a full stream refuses new events (back-pressure the
// data plane retries) instead of dropping the oldest, which may not be
// consumed yet. Without one, only MaxAge removes events.
func discard(n int64) jetstream.DiscardPolicy {
	if n > 0 {
		return jetstream.DiscardNew
	}
	return jetstream.DiscardOld
}

// ConsumerConfig tunes the consumer.
type ConsumerConfig struct {
	// Durable names partition 0's durable consumer; partition p's is
	// Durable-p<p>.
	Durable string
	// Partitions are the partitions this consumer owns (nil: all). Each
	// partition must be owned by one running consumer at a time: its
	// Writes are what keeps an event id from being inserted twice.
	Partitions []int
	BatchSize  int           // events per consumer batch and per insert (a message holds one or many)
	MaxWait    time.Duration // longest wait to fill a batch
	// AckWait is how long JetStream waits for the ack of a first delivery
	// before it delivers the event again (the consumer was killed). The
	// consumer extends it while it works on an event (InProgress), so a slow
	// or unreachable store never causes a redelivery. Later redeliveries wait
	// longer: BackOff.
	AckWait time.Duration
	// BackOff is the redelivery schedule after unacknowledged deliveries;
	// nil means AckWait doubling up to 10 minutes.
	BackOff []time.Duration
	// MaxDeliver bounds deliveries of one message. Only deliveries that were
	// never acknowledged count (a consumer killed while holding it); a
	// message given up on is recorded in the DLQ by JetStream's advisory.
	MaxDeliver int
	// OverridesTTL is how long a tenant's pricing overrides are reused
	// before they are read again.
	OverridesTTL time.Duration
	// RetryDelay is the first wait after a store (ClickHouse, Postgres)
	// failure; it doubles up to MaxRetryDelay. Events are held, not
	// redelivered, while the consumer retries.
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration
	// DrainTimeout bounds how long batches in flight may take to finish at
	// shutdown; what is left is handed back to JetStream.
	DrainTimeout time.Duration
}

// DefaultConsumerConfig returns defaults for one machine.
func DefaultConsumerConfig() ConsumerConfig {
	return ConsumerConfig{Durable: "clickhouse-writer", BatchSize: 10_000, MaxWait: 500 * time.Millisecond, AckWait: 30 * time.Second,
		MaxDeliver: 20, OverridesTTL: 30 * time.Second, RetryDelay: time.Second, MaxRetryDelay: 30 * time.Second,
		DrainTimeout: 20 * time.Second}
}

// backOff returns the redelivery schedule.
func (c ConsumerConfig) backOff() []time.Duration {
	if len(c.BackOff) > 0 {
		return c.BackOff
	}
	var out []time.Duration
	for d := c.AckWait; ; d *= 2 {
		if d >= 10*time.Minute {
			return append(out, max(10*time.Minute, c.AckWait))
		}
		out = append(out, d)
	}
}

// inFlight is how many batches the consumer's pipeline holds at most: one
// being priced, one being written, one being applied to budgets, and one
// waiting between each stage.
const inFlight = 5

// EnsureConsumers creates or updates the durable pull consumers of the
// partitions ccfg owns (all when ccfg.Partitions is nil), in that order;
// safe to call at every start-up.
func EnsureConsumers(ctx context.Context, js jetstream.JetStream, cfg Config, ccfg ConsumerConfig) ([]jetstream.Consumer, error) {
	backOff := ccfg.backOff()
	if ccfg.MaxDeliver > 0 && ccfg.MaxDeliver <= len(backOff) {
		return nil, fmt.Errorf("ingest: MaxDeliver %d must exceed the %d back-off steps", ccfg.MaxDeliver, len(backOff))
	}
	owned := ccfg.Partitions
	if owned == nil {
		owned, _ = ParsePartitions("all", cfg.partitions())
	}
	out := make([]jetstream.Consumer, 0, len(owned))
	for _, p := range owned {
		if p < 0 || p >= cfg.partitions() {
			return nil, fmt.Errorf("ingest: partition %d of %d does not exist", p, cfg.partitions())
		}
		if err := checkFilterChange(ctx, js, cfg, ccfg.durableName(p), cfg.partitionFilter(p)); err != nil {
			return nil, err
		}
		cons, err := js.CreateOrUpdateConsumer(ctx, cfg.eventsStream(), jetstream.ConsumerConfig{
			Durable: ccfg.durableName(p), Description: fmt.Sprintf("prices events of partition %d of %d into ClickHouse and budgets", p, cfg.partitions()),
			FilterSubject: cfg.partitionFilter(p),
			AckPolicy:     jetstream.AckExplicitPolicy, AckWait: backOff[0], BackOff: backOff, MaxDeliver: ccfg.MaxDeliver,
			// In messages: one-event messages in the worst case. The
			// pipeline itself holds at most inFlight batches of BatchSize
			// events (and a request's overshoot: fill).
			MaxAckPending: ccfg.BatchSize * (inFlight + 1), DeliverPolicy: jetstream.DeliverAllPolicy,
		})
		if err != nil {
			return nil, fmt.Errorf("ingest: consumer %s on %s: %w", ccfg.durableName(p), cfg.eventsStream(), err)
		}
		out = append(out, cons)
	}
	return out, nil
}
