package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Backlog is what waits in JetStream for the partitions one consumer
// process owns: how far ingest lags behind the data plane.
type Backlog struct {
	// Pending is messages (each of one event or a batch of them:
	// message.go) not yet delivered to the consumer.
	Pending uint64
	// AckPending is messages delivered and not yet acknowledged (being
	// priced, written or applied, or held while a store is down).
	AckPending uint64
	// Oldest is when the oldest event not yet acknowledged was stored in
	// JetStream (zero when nothing waits). Acknowledgements may come out of
	// order, so it is the time of the first event past the consumers' ack
	// floor: an upper bound of the lag.
	Oldest time.Time
}

// ReadBacklog reads the backlog of the partitions ccfg owns (all when
// ccfg.Partitions is nil) from their durable consumers; a partition whose
// durable does not exist yet has none.
func ReadBacklog(ctx context.Context, js jetstream.JetStream, cfg Config, ccfg ConsumerConfig) (Backlog, error) {
	var b Backlog
	owned := ccfg.Partitions
	if owned == nil {
		owned, _ = ParsePartitions("all", cfg.partitions())
	}
	var stream jetstream.Stream
	for _, p := range owned {
		cons, err := js.Consumer(ctx, cfg.eventsStream(), ccfg.durableName(p))
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			continue
		}
		if err != nil {
			return Backlog{}, fmt.Errorf("ingest: consumer %s: %w", ccfg.durableName(p), err)
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return Backlog{}, fmt.Errorf("ingest: consumer %s: %w", ccfg.durableName(p), err)
		}
		b.Pending += info.NumPending
		b.AckPending += uint64(max(info.NumAckPending, 0))
		if info.NumPending == 0 && info.NumAckPending == 0 {
			continue
		}
		if stream == nil {
			if stream, err = js.Stream(ctx, cfg.eventsStream()); err != nil {
				return Backlog{}, fmt.Errorf("ingest: stream %s: %w", cfg.eventsStream(), err)
			}
		}
		var opts []jetstream.GetMsgOpt
		if f := cfg.partitionFilter(p); f != "" {
			opts = append(opts, jetstream.WithGetMsgSubject(f))
		}
		msg, err := stream.GetMsg(ctx, info.AckFloor.Stream+1, opts...)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // aged out meanwhile
		}
		if err != nil {
			return Backlog{}, fmt.Errorf("ingest: oldest unacknowledged event of partition %d: %w", p, err)
		}
		if b.Oldest.IsZero() || msg.Time.Before(b.Oldest) {
			b.Oldest = msg.Time
		}
	}
	return b, nil
}

// DeadLetterCount is how many messages the DLQ stream holds (dead letters
// and max-deliveries advisories, until DLQMaxAge removes them).
func DeadLetterCount(ctx context.Context, js jetstream.JetStream, cfg Config) (uint64, error) {
	s, err := js.Stream(ctx, cfg.dlqStream())
	if err != nil {
		return 0, fmt.Errorf("ingest: DLQ stream: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("ingest: DLQ stream: %w", err)
	}
	return info.State.Msgs, nil
}
