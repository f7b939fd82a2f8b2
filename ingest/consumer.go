package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/org"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/usage"
)

// EventWriter stores priced events, skipping ids it already has. Calls are
// sequential: a call returns before the next starts.
type EventWriter interface {
	Write(ctx context.Context, events []spend.PricedEvent) (int, error)
}

// PricedEvent is an event with its cost (zero Cost for denials).
type PricedEvent = spend.PricedEvent

// SpendSink receives priced events after they are stored and before they are
// acked (budgets). It must be idempotent by event_id: an error, or a crash
// before the ack, makes JetStream deliver the events again.
type SpendSink interface {
	ApplySpend(ctx context.Context, events []PricedEvent) error
}

// DLQ headers: why an event was dead-lettered and where it came from.
const (
	HeaderDLQReason       = "Spendgate-Dlq-Reason"
	HeaderOriginalSubject = "Spendgate-Original-Subject"
	HeaderOriginalSeq     = "Spendgate-Original-Sequence"
	HeaderDeliveries      = "Spendgate-Deliveries"
	// HeaderOriginalIndex is the event's place in its batch message
	// (message.go); absent for a one-event message.
	HeaderOriginalIndex = "Spendgate-Original-Index"
)

// Consumer moves events from JetStream into ClickHouse, priced, and then
// into budgets. It is a pipeline of three stages so that pricing the next
// batch, writing this one and applying the previous one to budgets overlap:
//
//	fetch → decode, validate, price (poison → DLQ) → write ClickHouse → apply budgets → ack
//
// A store that fails is retried with backoff while the batch is held and
// its ack deadline extended (InProgress): events wait in JetStream, are not
// redelivered, and do not use up MaxDeliver, however long the outage.
type Consumer struct {
	cfg       Config
	ccfg      ConsumerConfig
	js        jetstream.JetStream
	writer    EventWriter
	catalogue pricing.Source
	overrides OverrideSource
	trees     TreeSource
	sink      SpendSink
	log       *slog.Logger
	// beforeAck, when set, runs after the events were stored and applied
	// and before the ack; an error skips the ack (tests simulate a crash).
	beforeAck func(*batch) error
	// observer learns what the consumer does (metrics); nil: nobody.
	observer ConsumerObserver

	nextPartition int // fill's round-robin position (fetch stage only)
	eventsPerMsg  int // the largest message (in events) of the last batch (fetch stage only)

	unknownMu sync.Mutex
	unknown   map[string]bool // provider/model already reported unpriced

	// batches holds *batch whose events were stored and acked, for fill to
	// reuse: a batch's slices (its events alone are hundreds of bytes each)
	// were the consumer's largest allocation, made anew for every fetch. A
	// free list, not a sync.Pool: a pool is emptied by every other garbage
	// collection, which came every batch or two, and a batch's megabytes
	// made anew are page faults (the profile's memclr under price).
	batches freeList[batch]
}

// freeList keeps up to cap(items) objects for reuse; the pipeline has at
// most a few batches in flight (fetching, storing, settling).
type freeList[T any] struct{ items chan *T }

func newFreeList[T any](n int) freeList[T] { return freeList[T]{items: make(chan *T, n)} }

// get returns a kept object, or nil.
func (f freeList[T]) get() *T {
	select {
	case x := <-f.items:
		return x
	default:
		return nil
	}
}

// put keeps x unless the list is full.
func (f freeList[T]) put(x *T) {
	select {
	case f.items <- x:
	default:
	}
}

// NewConsumer builds a consumer. overrides may be nil (list prices only);
// it is cached for ccfg.OverridesTTL unless it already is a *CachedOverrides.
func NewConsumer(cfg Config, ccfg ConsumerConfig, js jetstream.JetStream, writer EventWriter, cat pricing.Source, overrides OverrideSource, log *slog.Logger) *Consumer {
	if _, cached := overrides.(*CachedOverrides); !cached && overrides != nil {
		overrides = NewCachedOverrides(overrides, ccfg.OverridesTTL)
	}
	return &Consumer{cfg: cfg, ccfg: ccfg, js: js, writer: writer, catalogue: cat, overrides: overrides, log: log,
		unknown: map[string]bool{}, batches: newFreeList[batch](4), eventsPerMsg: maxMessageEvents}
}

// SpendSinks applies a batch to several sinks in order, stopping at the
// first error (the batch is then retried, and sinks are idempotent by event
// id).
type SpendSinks []SpendSink

// ApplySpend implements SpendSink.
func (ss SpendSinks) ApplySpend(ctx context.Context, events []PricedEvent) error {
	for _, s := range ss {
		if err := s.ApplySpend(ctx, events); err != nil {
			return err
		}
	}
	return nil
}

// SetSpendSink installs the budget hook (nil ⇒ none); call before Run.
func (c *Consumer) SetSpendSink(s SpendSink) { c.sink = s }

// ConsumerObserver learns what the consumer does with events, for metrics:
// each ClickHouse insert of a batch (its size, how long it took, its
// error) and each event moved to the DLQ. Calls come from the pipeline's
// stages, one at a time per stage.
type ConsumerObserver interface {
	BatchWritten(events int, took time.Duration, err error)
	DeadLettered()
}

// SetObserver installs the consumer's observer (nil: none); call before Run.
func (c *Consumer) SetObserver(o ConsumerObserver) { c.observer = o }

// batch is one fetch moving through the pipeline.
type batch struct {
	fetched []jetstream.Msg // every message of the fetch (kept alive until done)
	parts   []msgEvents     // fetched[i]'s events
	raws    [][]byte        // the events of every message, slices of their payloads
	good    []jetstream.Msg // messages with events in events, acked at the end
	events  []PricedEvent
}

// msgEvents are a fetched message's events: raws[from:to], validJSON as
// messageEvents says, or err when the message cannot be taken apart.
type msgEvents struct {
	from, to  int
	validJSON bool
	err       error
}

// add appends a fetched message and its events, and returns how many
// events it holds (1 when it cannot be taken apart).
func (b *batch) add(m jetstream.Msg) int {
	raws, validJSON, err := messageEvents(m.Data())
	from := len(b.raws)
	b.raws = append(b.raws, raws...)
	b.fetched = append(b.fetched, m)
	b.parts = append(b.parts, msgEvents{from: from, to: len(b.raws), validJSON: validJSON, err: err})
	return max(len(raws), 1)
}

// newBatch is an empty batch, reusing the slices of an acked one.
func (c *Consumer) newBatch() *batch {
	if b := c.batches.get(); b != nil {
		return b
	}
	return &batch{}
}

// recycle hands an acked batch, which no stage holds any more, to
// newBatch; its slices are emptied so that they keep no event alive.
func (c *Consumer) recycle(b *batch) {
	clear(b.fetched)
	clear(b.parts)
	clear(b.raws)
	clear(b.good)
	clear(b.events)
	b.fetched, b.parts, b.raws, b.good, b.events = b.fetched[:0], b.parts[:0], b.raws[:0], b.good[:0], b.events[:0]
	c.batches.put(b)
}

// Run consumes until ctx ends, then lets the batches in flight finish (at
// most DrainTimeout) and hands back to JetStream what did not.
func (c *Consumer) Run(ctx context.Context) error {
	cons, err := EnsureConsumers(ctx, c.js, c.cfg, c.ccfg)
	if err != nil {
		return err
	}
	// Stages after the fetch run on work, which outlives ctx by the drain.
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	hb := newHeartbeat(c.ccfg.backOff()[0] / 3)
	go hb.run(work)
	priced := make(chan *batch, 1)
	stored := make(chan *batch, 1)
	var wg sync.WaitGroup
	wg.Go(func() { c.storeStage(work, priced, stored, hb) })
	wg.Go(func() { c.settleStage(work, stored, hb) })

	c.fetchStage(ctx, cons, priced, hb)
	close(priced)
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(c.ccfg.DrainTimeout):
		c.log.Warn("ingest: drain timed out; batches in flight go back to JetStream")
		stopWork()
		<-drained
	}
	return nil
}

// fetchStage fetches batches, prices them and hands them on until ctx ends.
func (c *Consumer) fetchStage(ctx context.Context, cons []jetstream.Consumer, out chan<- *batch, hb *heartbeat) {
	for ctx.Err() == nil {
		b, err := c.fill(ctx, cons)
		if err != nil && ctx.Err() == nil {
			c.log.Warn("ingest: fetch failed", "err", err)
		}
		if len(b.fetched) == 0 {
			if err != nil {
				sleep(ctx, c.ccfg.RetryDelay)
			}
			continue
		}
		hb.add(b)
		if err := c.price(ctx, b); err != nil {
			c.handBack(b, hb)
			continue
		}
		if len(b.good) == 0 {
			hb.remove(b)
			continue
		}
		select {
		case out <- b:
		case <-ctx.Done():
			c.handBack(b, hb)
		}
	}
}

// Filling a batch: the owned partitions are asked in turn with no-wait
// pull requests, polling every fillPoll while they have nothing, until the
// batch holds BatchSize events or MaxWait has passed since its first event.
// A message holds one event or up to maxMessageEvents (message.go): a
// request asks for as many whole messages as the remaining events hold at
// the largest message seen (of this batch, else of the previous one), and
// the batch is full once not one more fits, so a batch overshoots
// BatchSize only when messages grew since then (the writer still gets at
// most BatchSize events per Write, a remainder as its own INSERT). No request
// waits on the server: nats-server ends a waiting pull request that is not
// full only at its next sweep after the expiry, which under load held
// events up to 1.5 s beyond MaxWait, and a request waiting on one
// partition would hold up the others. Only fetched events are held by the
// consumer (nothing is prefetched), so a stalled pipeline leaves the rest
// waiting in JetStream, their deliveries unused.
const (
	fillPoll     = 20 * time.Millisecond  // pause between no-wait requests once the partitions are drained
	fillIdlePoll = 100 * time.Millisecond // longest pause while no event came at all (the first one waits at most this)
	fillMaxChunk = 1_000                  // messages one no-wait request asks for at most
)

// fill collects one batch from the partitions' consumers; on error it
// returns what it had (the caller processes it: its events are already
// delivered to this consumer). An empty batch without error means ctx ended.
func (c *Consumer) fill(ctx context.Context, cons []jetstream.Consumer) (*batch, error) {
	b := c.newBatch()
	largest := 0 // events of the largest message fetched so far
	defer func() {
		if largest > 0 {
			c.eventsPerMsg = largest // the next batch's first request sizes itself on it
		}
	}()
	var deadline time.Time
	var idle time.Duration
	for ctx.Err() == nil {
		drained, full := true, false
		// Start each round at the next partition, so a backlog in one does
		// not keep the others waiting.
		for range cons {
			left := c.ccfg.BatchSize - len(b.raws)
			if left <= 0 {
				break
			}
			perMsg := c.eventsPerMsg
			if largest > 0 {
				perMsg = largest
			}
			// Whole messages that fit: a batch past BatchSize is written as
			// a second, small INSERT, and every INSERT costs ClickHouse a
			// part in each table its views feed (docs/ingest.md, Both together).
			want := left / perMsg
			if want == 0 {
				if len(b.raws) > 0 {
					full = true
					break
				}
				want = 1
			}
			want = min(want, fillMaxChunk)
			c.nextPartition = (c.nextPartition + 1) % len(cons)
			more, err := cons[c.nextPartition].FetchNoWait(want)
			if err != nil {
				return b, err
			}
			got := 0
			for m := range more.Messages() {
				largest = max(largest, b.add(m))
				got++
			}
			if got == want {
				drained = false
			}
		}
		if full || len(b.raws) >= c.ccfg.BatchSize {
			break
		}
		if len(b.fetched) > 0 && deadline.IsZero() {
			deadline = time.Now().Add(c.ccfg.MaxWait)
		}
		wait := fillPoll
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			wait = min(wait, left)
		} else if drained {
			// Nothing at all: poll less and less often, up to fillIdlePoll,
			// so an idle consumer of many partitions costs NATS little.
			idle = min(max(2*idle, fillPoll), fillIdlePoll)
			wait = idle
		}
		if drained {
			sleep(ctx, wait)
		}
	}
	return b, nil
}

// storeStage writes batches to ClickHouse, retrying until it succeeds.
func (c *Consumer) storeStage(work context.Context, in <-chan *batch, out chan<- *batch, hb *heartbeat) {
	defer close(out)
	for b := range in {
		if work.Err() == nil {
			var err error
			for chunk := range slices.Chunk(b.events, max(c.ccfg.BatchSize, 1)) {
				err = c.retry(work, "writing to ClickHouse", len(chunk), func(ctx context.Context) error {
					start := time.Now()
					_, err := c.writer.Write(ctx, chunk)
					if c.observer != nil && (err == nil || ctx.Err() == nil) {
						c.observer.BatchWritten(len(chunk), time.Since(start), err)
					}
					return err
				})
				if err != nil {
					break
				}
			}
			if err == nil {
				out <- b
				continue
			}
			// The drain ended while a Write may have been in flight: its
			// INSERT, cancelled here, can still commit in ClickHouse. A Nak
			// would hand the events to the partition's next owner within a
			// second, whose id look-up could miss that commit; unacked, they
			// come back after AckWait, when it has long landed or failed.
			hb.remove(b)
			continue
		}
		c.handBack(b, hb)
	}
}

// settleStage applies stored batches to budgets and acks them.
func (c *Consumer) settleStage(work context.Context, in <-chan *batch, hb *heartbeat) {
	for b := range in {
		if work.Err() != nil {
			c.handBack(b, hb)
			continue
		}
		if c.sink != nil {
			err := c.retry(work, "applying spend to budgets", len(b.events), func(ctx context.Context) error {
				return c.sink.ApplySpend(ctx, b.events)
			})
			if err != nil {
				c.handBack(b, hb)
				continue
			}
		}
		if c.beforeAck != nil && c.beforeAck(b) != nil {
			hb.remove(b) // simulated crash: no ack; JetStream redelivers after AckWait
			continue
		}
		for i, m := range b.good {
			yieldEvery(i)
			if err := m.Ack(); err != nil {
				c.log.Warn("ingest: ack failed; the event will be redelivered and skipped as stored", "err", err)
			}
		}
		hb.remove(b)
		c.log.Debug("ingest: stored events", "events", len(b.events))
		c.recycle(b)
	}
}

// handBack returns a batch's events to JetStream (shutdown) for redelivery
// to the next consumer. The delay outlasts this consumer's last pull
// request: redelivered into it, an event would use up a delivery for
// nothing. Dead-lettered events are terminated already: their Nak is
// ignored.
func (c *Consumer) handBack(b *batch, hb *heartbeat) {
	hb.remove(b)
	delay := max(time.Second, 2*c.ccfg.MaxWait)
	for _, m := range b.fetched {
		_ = m.NakWithDelay(delay)
	}
}

// retry runs f until it succeeds or work ends, waiting RetryDelay doubling
// up to MaxRetryDelay between attempts.
func (c *Consumer) retry(work context.Context, what string, events int, f func(context.Context) error) error {
	delay := c.ccfg.RetryDelay
	for attempt := 1; ; attempt++ {
		err := f(work)
		if err == nil {
			if attempt > 1 {
				c.log.Info("ingest: "+what+" succeeded again", "attempts", attempt, "events", events)
			}
			return nil
		}
		if work.Err() != nil {
			return work.Err()
		}
		c.log.Warn("ingest: "+what+" failed; events stay in JetStream and are retried", "attempt", attempt,
			"retry_in", delay, "events", events, "err", err)
		sleep(work, delay)
		delay = min(delay*2, max(c.ccfg.MaxRetryDelay, c.ccfg.RetryDelay))
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// price decodes, validates and prices the events of every fetched message.
// A poison event goes to the DLQ alone, an event on another partition's
// subject to its partition (move); the message is acked once its other
// events are stored (settleStage), at once when it has none. It fails only
// when ctx ends while the overrides or the DLQ are unreachable.
func (c *Consumer) price(ctx context.Context, b *batch) error {
	b.good = slices.Grow(b.good[:0], len(b.fetched))
	b.events = slices.Grow(b.events[:0], len(b.raws))
	priced := 0
	for i, m := range b.fetched {
		part := b.parts[i]
		if part.err != nil {
			if err := c.deadLetter(ctx, m, -1, m.Data(), "undecodable batch message: "+part.err.Error()); err != nil {
				return err
			}
			c.settleEarly(m, true)
			continue
		}
		inBatch := isBatchMessage(m.Data())
		stored, dead := 0, 0
		var moves map[string][][]byte // subject → events found on this message's subject
		for j := part.from; j < part.to; j++ {
			yieldEvery(priced)
			priced++
			// Priced in place: an event is hundreds of bytes, not copied twice.
			b.events = append(b.events, PricedEvent{})
			pe := &b.events[len(b.events)-1]
			reason := c.priceOne(ctx, m.Subject(), b.raws[j], part.validJSON, pe)
			if reason == "" {
				stored++
				continue
			}
			ev := pe.Event
			*pe = PricedEvent{}
			b.events = b.events[:len(b.events)-1]
			switch reason {
			case errRetry:
				return ctx.Err()
			case errMisplaced:
				if moves == nil {
					moves = map[string][][]byte{}
				}
				to := c.cfg.subject(ev.EventID, ev.TenantID)
				moves[to] = append(moves[to], b.raws[j])
			default:
				index := j - part.from
				if !inBatch {
					index = -1
				}
				if err := c.deadLetter(ctx, m, index, b.raws[j], reason); err != nil {
					return err
				}
				dead++
			}
		}
		if err := c.move(ctx, m, moves); err != nil {
			return err
		}
		if stored > 0 {
			b.good = append(b.good, m)
			continue
		}
		c.settleEarly(m, dead > 0 && len(moves) == 0)
	}
	return nil
}

// settleEarly acks a message none of whose events is left to store (all
// dead-lettered or moved), or terminates it when all were dead-lettered.
func (c *Consumer) settleEarly(m jetstream.Msg, poison bool) {
	if poison {
		if err := m.Term(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			c.log.Warn("ingest: terminating a dead-lettered message failed; a redelivery is deduplicated in the DLQ", "err", err)
		}
		return
	}
	if err := m.Ack(); err != nil {
		c.log.Warn("ingest: ack of a moved message failed; it is moved again and deduplicated", "err", err)
	}
}

// A batch is priced and acked in slices of backgroundSlice events with a
// yield of the processor between them. Under `spendgate serve` the gateway's
// requests share two or so processors with the consumer, and Go has no
// goroutine priorities: a goroutine that does not block keeps its processor
// until the runtime preempts it after 10 ms, so a request that became ready
// meanwhile can wait that long behind a batch being priced — the size of
// serve's added p99 (5–14 ms). A slice is well under a millisecond;
// yielding puts the consumer behind the requests waiting to run, and costs
// it nothing measurable when none are (docs/ingest.md, Pacing).
const backgroundSlice = 64

// yieldEvery yields the processor after every backgroundSlice-th item of a
// loop over i.
func yieldEvery(i int) {
	if i%backgroundSlice == backgroundSlice-1 {
		runtime.Gosched()
	}
}

// priceOne's reasons that are not poison: ctx ended while it waited; the
// event is on another partition's subject than its id's.
const (
	errRetry     = "\x00retry"
	errMisplaced = "\x00misplaced"
)

// priceOne prices the event in data into pe, or returns the reason it is
// poison. A panic while pricing (a bug tripped by one event) dead-letters
// that event instead of killing the process in a redelivery loop.
func (c *Consumer) priceOne(ctx context.Context, subject string, data []byte, validJSON bool, pe *PricedEvent) (reason string) {
	defer func() {
		if p := recover(); p != nil {
			reason = fmt.Sprintf("pricing panicked: %v", p)
		}
	}()
	if err := decodeEventInto(data, false, validJSON, &pe.Event); err != nil {
		return "undecodable event: " + err.Error()
	}
	e := &pe.Event
	if err := Validate(e, time.Now()); err != nil {
		return "invalid event: " + err.Error()
	}
	if p, _ := c.cfg.partitionOfSubject(subject); p != c.cfg.PartitionOf(e.EventID) {
		return errMisplaced
	}
	e.WorkspaceID, e.TeamID, e.ProjectID = "", "", ""
	if c.trees != nil {
		var tree *org.Tree
		err := c.retry(ctx, "reading the tenant's tree", 1, func(ctx context.Context) error {
			var err error
			tree, err = c.trees.TenantTree(ctx, e.TenantID)
			return err
		})
		if err != nil {
			return errRetry
		}
		Attribute(e, tree)
	}
	if e.Type != event.TypeUsage {
		return ""
	}
	var ovs []pricing.Override
	if c.overrides != nil {
		// Pricing without the tenant's overrides would store a wrong tenant
		// cost: wait for the control plane instead.
		err := c.retry(ctx, "reading pricing overrides", 1, func(ctx context.Context) error {
			var err error
			ovs, err = c.overrides.TenantOverrides(ctx, e.TenantID)
			return err
		})
		if err != nil {
			return errRetry
		}
	}
	req := CostRequest(e)
	pe.Cost = c.catalogue.CatalogueAt(req.Time).Cost(req, e.Usage, ovs)
	if !pe.Cost.Priced {
		c.reportUnpriced(e)
	}
	return ""
}

// reportUnpriced logs the first unpriced event of each provider/model: it is
// stored with priced = 0 (unknown_model = 1) and zero costs until an admin
// adds a price or an override.
func (c *Consumer) reportUnpriced(e *event.Event) {
	k := e.Provider + "/" + pricingModel(e)
	c.unknownMu.Lock()
	seen := c.unknown[k]
	c.unknown[k] = true
	c.unknownMu.Unlock()
	if !seen {
		c.log.Warn("ingest: no price for model; events stored unpriced (unknown_model = 1)", "provider", e.Provider,
			"model", pricingModel(e), "tenant", e.TenantID)
	}
}

// pricingModel prefers the model the provider says it served (a dated
// snapshot prices exactly) and falls back to the requested one.
func pricingModel(e *event.Event) string {
	if e.ModelServed != "" {
		return e.ModelServed
	}
	return e.ModelRequested
}

// CostRequest is what prices an event: its provider, the model served (else
// requested), its time, and the price selectors the provider reported in its
// usage object (Anthropic's service_tier, Perplexity's search_context_size),
// which the event's own service tier (from the request) yields to.
func CostRequest(e *event.Event) pricing.Request {
	h := usage.ParseHints([]byte(e.RawUsage))
	tier := e.ServiceTier
	if h.ServiceTier != "" {
		tier = h.ServiceTier
	}
	return pricing.Request{Provider: e.Provider, Model: pricingModel(e), Time: e.Time, ServiceTier: tier,
		SearchContextSize: h.SearchContextSize}
}

// deadLetter copies an event of m (data; index is its place in a batch
// message, -1 for a one-event message or a whole undecodable one) to the
// DLQ with the reason. The copy is deduplicated by the original sequence
// (and index), so a redelivery after a lost ack or Term does not list the
// event twice. It retries until ctx ends; the caller settles m.
func (c *Consumer) deadLetter(ctx context.Context, m jetstream.Msg, index int, data []byte, reason string) error {
	meta, err := m.Metadata()
	if err != nil {
		return fmt.Errorf("ingest: dead letter without metadata: %w", err)
	}
	seq := strconv.FormatUint(meta.Sequence.Stream, 10)
	msg := &nats.Msg{Subject: c.cfg.dlqSubject(c.cfg.tenantOfSubject(m.Subject())), Data: data, Header: nats.Header{}}
	msg.Header.Set(HeaderDLQReason, reason)
	msg.Header.Set(HeaderOriginalSubject, m.Subject())
	msg.Header.Set(HeaderOriginalSeq, seq)
	msg.Header.Set(HeaderDeliveries, strconv.FormatUint(meta.NumDelivered, 10))
	id := "dlq-" + seq
	if index >= 0 {
		msg.Header.Set(HeaderOriginalIndex, strconv.Itoa(index))
		id += "-" + strconv.Itoa(index)
	}
	msg.Header.Set(nats.MsgIdHdr, id)
	if err := c.retry(ctx, "dead-lettering", 1, func(ctx context.Context) error {
		_, err := c.js.PublishMsg(ctx, msg)
		return err
	}); err != nil {
		return err
	}
	c.log.Warn("ingest: event dead-lettered", "subject", m.Subject(), "sequence", meta.Sequence.Stream, "index", index, "reason", reason)
	if c.observer != nil {
		c.observer.DeadLettered()
	}
	return nil
}

// move republishes the events of m found on another partition's subject
// than their ids' (published with another partition count) to their own
// partitions, one message per subject; m is acked once its other events are
// stored. Only the owner of an id's partition ever writes it, so copies of
// one id never meet in two consumers' concurrent Writes. A copy's message
// id is derived from m's stream sequence (and the subject), so a move
// repeated after a lost ack is dropped by JetStream's dedup (and, past its
// window, skipped as stored by the owner, whose Writes are sequential).
func (c *Consumer) move(ctx context.Context, m jetstream.Msg, moves map[string][][]byte) error {
	if len(moves) == 0 {
		return nil
	}
	meta, err := m.Metadata()
	if err != nil {
		return fmt.Errorf("ingest: moving events without metadata: %w", err)
	}
	id := "move-" + strconv.FormatUint(meta.Sequence.Stream, 10)
	for _, subject := range slices.Sorted(maps.Keys(moves)) {
		raws := moves[subject]
		msg := &nats.Msg{Subject: subject, Data: raws[0], Header: nats.Header{}}
		msg.Header.Set(nats.MsgIdHdr, id)
		if isBatchMessage(m.Data()) {
			msg.Data = appendBatchMessage(nil, raws)
			msg.Header.Set(nats.MsgIdHdr, id+"-"+subject)
		}
		if err := c.retry(ctx, "moving events to their partition", len(raws), func(ctx context.Context) error {
			_, err := c.js.PublishMsg(ctx, msg)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// heartbeat tells JetStream that held messages are still being worked on
// (InProgress), so a slow or failing store does not trigger redeliveries.
type heartbeat struct {
	every time.Duration
	mu    sync.Mutex
	held  map[*batch]struct{}
}

func newHeartbeat(every time.Duration) *heartbeat {
	return &heartbeat{every: max(every, 10*time.Millisecond), held: map[*batch]struct{}{}}
}

func (h *heartbeat) add(b *batch) {
	h.mu.Lock()
	h.held[b] = struct{}{}
	h.mu.Unlock()
}

func (h *heartbeat) remove(b *batch) {
	h.mu.Lock()
	delete(h.held, b)
	h.mu.Unlock()
}

func (h *heartbeat) run(ctx context.Context) {
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		held := make([]*batch, 0, len(h.held))
		for b := range h.held {
			held = append(held, b)
		}
		h.mu.Unlock()
		for _, b := range held {
			for _, m := range b.fetched {
				_ = m.InProgress()
			}
		}
	}
}
