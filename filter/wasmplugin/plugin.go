// Package wasmplugin is spendgate's proxy-wasm HTTP filter for Envoy, built
// with TinyGo (make filter; filter/main.go only registers it). Every
// decision — admission order, denials, events, delivery — is the data-plane
// core's (package dataplane, which the embedded gateway drives too); this
// package only does the proxy-wasm I/O: it reads headers and bodies, answers
// the core's questions from the proxy's shared data or with DispatchHttpCall
// (policy, priced, reservation endpoints), forwards or answers locally, and
// posts the core's event batches to ingest from the plugin's tick.
//
// Time comes from the host only: the VM context's clock, which under TinyGo
// reads WASI's clock_time_get, served by the proxy (Envoy's time source).
// TinyGo-safe: no encoding/json, no net/http, no goroutines (filter's
// TestFilterStaysTinyGoSafe keeps it so).
package wasmplugin

import (
	"crypto/rand"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/spendgate/spendgate/dataplane"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/meter"
)

// Metric names exported to Envoy's stats.
const (
	MetricEventsSent          = "spendgate_events_sent"
	MetricEventsDropped       = "spendgate_events_dropped"
	MetricEventsRejected      = "spendgate_events_rejected"
	MetricIngestFailures      = "spendgate_ingest_failures"
	MetricDenials             = "spendgate_denials"
	MetricAuthFailures        = "spendgate_auth_unavailable"
	MetricFailOpen            = "spendgate_fail_open_requests"
	MetricRateConflicts       = "spendgate_rate_limit_conflicts"
	MetricRateFailures        = "spendgate_rate_limit_unavailable"
	MetricPricedFailures      = "spendgate_priced_unavailable"
	MetricReservationFailures = "spendgate_reservation_unavailable"
	MetricReleaseFailures     = "spendgate_release_failures"
	// MetricGuestHeap is the VM's heap in use (bytes), updated every second:
	// a filter whose memory grows with traffic shows here first.
	MetricGuestHeap = "spendgate_guest_heap_bytes"
	// MetricGuestAllocations counts the VM's heap allocations, updated
	// every second: under TinyGo each one costs a scan of the heap's
	// bitmap and brings the next collection closer, so its rate per
	// request is the filter's cost driver.
	MetricGuestAllocations = "spendgate_guest_allocations"
)

// vmContext makes the plugin contexts. shared and now default to the host's
// shared data and clock; the package's tests replace them to play other
// workers and to move time on.
type vmContext struct {
	types.DefaultVMContext
	shared sharedData
	now    func() time.Time
}

// NewVMContext is the filter's VM context, for proxywasm.SetVMContext.
func NewVMContext() types.VMContext { return &vmContext{} }

func (v *vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	p := &pluginContext{shared: v.shared, now: v.now}
	if p.shared == nil {
		p.shared = hostSharedData{}
	}
	if p.now == nil {
		p.now = hostClock
	}
	return p
}

// hostClock is the proxy's clock: under TinyGo, time.Now reads WASI's
// clock_time_get, which the proxy-wasm host implements with its own time
// source. The only place the plugin asks for the time.
func hostClock() time.Time { return time.Now() }

type pluginContext struct {
	types.DefaultPluginContext
	cfg    Config
	core   dataplane.Config
	outbox *dataplane.Outbox
	// answers memoizes decoded policy cache entries; meters are response
	// meters of ended calls, reused (with their buffers) by the next ones;
	// batchBody is the buffer batches are encoded into (the host copies a
	// dispatched body). Per-call garbage is what TinyGo's collector pays
	// for, so the hot path reuses instead of allocating.
	answers dataplane.PolicyMemo
	// policyKeys memoizes the keys' cache keys (digest and entry names).
	policyKeys dataplane.PolicyKeys
	meters     []*meter.ResponseMeter
	calls      []*dataplane.Call
	batchBody  []byte
	// headers is the buffer request and response header maps are decoded
	// into (hostio_tinygo.go); random the buffer event ids' random bits
	// are read into: a local passed to the host would be a heap object.
	headers [][2]string
	random  [10]byte
	// releases are reservations of calls that failed before any usage,
	// given back from the next tick (from the plugin context, whose calls
	// outlive any stream).
	releases []string

	shared sharedData
	now    func() time.Time
	// at is the time of the callback being run, read once as it starts
	// (clock): the VM runs one callback at a time, and every read of the
	// host's clock is a call into the host.
	at time.Time
	// ticks is the outbox's clock: the host calls OnTick every tickPeriod,
	// so tick counts measure flush intervals and back-offs as the proxy
	// keeps them (and tests that tick the emulator move it exactly).
	ticks      time.Time
	tickPeriod time.Duration

	sent, dropped, rejected, ingestFailures, denials, authFailures, failOpen proxywasm.MetricCounter
	rateConflicts, rateUnavailable, pricedUnavailable, reserveUnavailable    proxywasm.MetricCounter
	releaseFailures                                                          proxywasm.MetricCounter
	heap                                                                     proxywasm.MetricGauge
	heapReported                                                             int64
	allocations                                                              proxywasm.MetricCounter
	allocationsReported                                                      uint64
	ticksSinceHeap                                                           int
}

// sizeCheckMs is how often the plugin looks for full batches between flush
// intervals.
const sizeCheckMs = 100

func (p *pluginContext) OnPluginStart(size int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil && size > 0 {
		proxywasm.LogCriticalf("spendgate: reading plugin configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	cfg, err := Parse(data)
	if err != nil {
		proxywasm.LogCritical(err.Error())
		return types.OnPluginStartStatusFailed
	}
	p.cfg = cfg
	p.core = dataplane.Config{MaxRequestBodyBytes: int64(cfg.MaxRequestBodyBytes), FailOpen: cfg.FailOpen, InjectStreamUsage: cfg.InjectStreamUsage,
		CheckPriced: true, Reserve: cfg.Reserve, ReserveFailOpen: cfg.ReservationFailOpen, Source: event.SourceEnvoy, EventID: p.newEventID}
	p.outbox = dataplane.NewOutbox(dataplane.OutboxConfig{BatchMaxEvents: cfg.BatchMaxEvents, MaxBufferedEvents: cfg.MaxBufferedEvents,
		FlushInterval: time.Duration(cfg.FlushIntervalMs) * time.Millisecond, MaxRetryInterval: time.Duration(cfg.MaxRetryIntervalMs) * time.Millisecond}, p.ticks)
	p.sent = proxywasm.DefineCounterMetric(MetricEventsSent)
	p.dropped = proxywasm.DefineCounterMetric(MetricEventsDropped)
	p.rejected = proxywasm.DefineCounterMetric(MetricEventsRejected)
	p.ingestFailures = proxywasm.DefineCounterMetric(MetricIngestFailures)
	p.denials = proxywasm.DefineCounterMetric(MetricDenials)
	p.authFailures = proxywasm.DefineCounterMetric(MetricAuthFailures)
	p.failOpen = proxywasm.DefineCounterMetric(MetricFailOpen)
	p.rateConflicts = proxywasm.DefineCounterMetric(MetricRateConflicts)
	p.rateUnavailable = proxywasm.DefineCounterMetric(MetricRateFailures)
	p.pricedUnavailable = proxywasm.DefineCounterMetric(MetricPricedFailures)
	p.reserveUnavailable = proxywasm.DefineCounterMetric(MetricReservationFailures)
	p.releaseFailures = proxywasm.DefineCounterMetric(MetricReleaseFailures)
	p.heap = proxywasm.DefineGaugeMetric(MetricGuestHeap)
	p.allocations = proxywasm.DefineCounterMetric(MetricGuestAllocations)
	p.tickPeriod = time.Duration(min(cfg.FlushIntervalMs, sizeCheckMs)) * time.Millisecond
	if err := proxywasm.SetTickPeriodMilliSeconds(uint32(p.tickPeriod / time.Millisecond)); err != nil {
		proxywasm.LogCriticalf("spendgate: set tick period: %v", err)
		return types.OnPluginStartStatusFailed
	}
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{plugin: p}
}

// OnTick gives back the reservations of failed calls and sends the batches
// the outbox says are due.
//
// Batches are only ever dispatched from the plugin (root) context: the SDK
// drops the answer to a call whose calling HTTP context has ended, so a
// batch sent from a stream's last callback would never learn whether ingest
// took it (its events could neither be counted nor retried).
func (p *pluginContext) OnTick() {
	p.ticks = p.ticks.Add(p.tickPeriod)
	p.sendReleases()
	p.sendDue()
	if p.ticksSinceHeap++; time.Duration(p.ticksSinceHeap)*p.tickPeriod >= time.Second {
		p.ticksSinceHeap = 0
		p.reportHeap()
	}
}

// reportHeap sets the heap gauge (gauges only add: by the difference) and
// counts the allocations made since the last report.
func (p *pluginContext) reportHeap() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	inUse := int64(m.HeapInuse)
	p.heap.Add(inUse - p.heapReported)
	p.heapReported = inUse
	if m.Mallocs > p.allocationsReported {
		p.allocations.Increment(m.Mallocs - p.allocationsReported)
		p.allocationsReported = m.Mallocs
	}
}

func (p *pluginContext) sendDue() {
	for b := p.outbox.Next(p.ticks); b != nil; b = p.outbox.Next(p.ticks) {
		if !p.deliver(b) {
			return
		}
	}
}

// deliver dispatches one batch; false when the dispatch itself failed.
func (p *pluginContext) deliver(b *dataplane.Batch) bool {
	headers := [][2]string{
		{":method", "POST"}, {":path", p.cfg.IngestPath}, {":authority", p.cfg.IngestAuthority},
		{"authorization", "Bearer " + p.cfg.ServiceToken}, {"content-type", "application/json"},
	}
	p.batchBody = b.AppendBody(p.batchBody[:0])
	body := p.batchBody
	_, err := proxywasm.DispatchHttpCall(p.cfg.IngestCluster, headers, body, nil, uint32(p.cfg.TimeoutMs),
		func(numHeaders, bodySize, numTrailers int) {
			status := callStatus()
			body := callBody(bodySize)
			if p.settle(b, status, body) {
				p.sendDue() // ingest took it: what waited behind it may go
			}
		})
	if err != nil {
		proxywasm.LogWarnf("spendgate: dispatch to ingest cluster %s failed: %v", p.cfg.IngestCluster, err)
		p.settle(b, 0, nil)
		return false
	}
	return true
}

// settle reports ingest's answer to the outbox and counts what it decided;
// true when the batch was delivered.
func (p *pluginContext) settle(b *dataplane.Batch, status int, body []byte) bool {
	n := len(b.Events)
	out := p.outbox.Settle(b, status, body, p.ticks)
	if len(out.Dropped) > 0 {
		p.dropped.Increment(uint64(len(out.Dropped)))
	}
	switch {
	case out.Delivered:
		p.sent.Increment(uint64(n - out.Rejected))
		if out.Rejected > 0 {
			p.rejected.Increment(uint64(out.Rejected))
			proxywasm.LogErrorf("spendgate: ingest rejected %d of %d events: %s", out.Rejected, n, body)
		}
		return true
	case out.Retry:
		p.ingestFailures.Increment(1)
		proxywasm.LogWarnf("spendgate: ingest answered %d; %d events will be retried", status, n-len(out.Dropped))
	default:
		p.ingestFailures.Increment(1)
		proxywasm.LogErrorf("spendgate: ingest answered %d; %d events dropped: %s", status, n, body)
	}
	return false
}

// enqueue buffers one event; a full buffer drops it and counts the drop
// rather than slowing user traffic.
func (p *pluginContext) enqueue(e *event.Event) {
	if !p.outbox.Add(e) {
		p.dropped.Increment(1)
	}
}

// sendReleases gives back the reservations of calls that failed before any
// usage. A release that fails is counted and logged: the reservation then
// lapses at its expiry.
func (p *pluginContext) sendReleases() {
	for _, id := range p.releases {
		headers := [][2]string{{":method", "POST"}, {":path", p.cfg.ReservationPath + "/" + id + "/release"},
			{":authority", p.cfg.ReservationAuthority}, {"authorization", "Bearer " + p.cfg.ServiceToken}}
		id := id
		_, err := proxywasm.DispatchHttpCall(p.cfg.ReservationCluster, headers, nil, nil, uint32(p.cfg.TimeoutMs),
			func(numHeaders, bodySize, numTrailers int) {
				if status := callStatus(); status != 204 && status != 404 {
					p.releaseFailures.Increment(1)
					proxywasm.LogWarnf("spendgate: releasing reservation %s: answered %d: %s", id, status, callBody(bodySize))
				}
			})
		if err != nil {
			p.releaseFailures.Increment(1)
			proxywasm.LogWarnf("spendgate: releasing reservation %s: %v", id, err)
		}
	}
	p.releases = p.releases[:0]
}

// maxIdleMeters bounds the response meters and calls kept for reuse.
const maxIdleMeters = 64

// newCall starts a call at now in an ended call's memory when one is idle:
// a fresh one is the largest allocation of a request, and under TinyGo the
// allocator walks the heap block by block for a free run that long (a
// third of the guest's block visits per request, BenchmarkFilterGuestCalls
// shows).
func (p *pluginContext) newCall(now time.Time) *dataplane.Call {
	if n := len(p.calls); n > 0 {
		c := p.calls[n-1]
		p.calls[n-1] = nil
		p.calls = p.calls[:n-1]
		c.Reset(&p.core, now)
		return c
	}
	return dataplane.NewCall(&p.core, now)
}

// callDone takes back a call whose stream has ended: nothing refers to it
// any more (answers arriving late find their context's call gone).
func (p *pluginContext) callDone(c *dataplane.Call) {
	if c != nil && len(p.calls) < maxIdleMeters {
		p.calls = append(p.calls, c)
	}
}

// meter returns a response meter for a call on rt, reused when one is idle.
func (p *pluginContext) meter(rt *meter.Route, sse bool) *meter.ResponseMeter {
	if n := len(p.meters); n > 0 {
		m := p.meters[n-1]
		p.meters[n-1] = nil
		p.meters = p.meters[:n-1]
		m.Reset(rt, sse)
		return m
	}
	return meter.NewResponseMeter(rt, sse)
}

// meterDone takes back a meter whose call has ended.
func (p *pluginContext) meterDone(m *meter.ResponseMeter) {
	if m != nil && len(p.meters) < maxIdleMeters {
		p.meters = append(p.meters, m)
	}
}

// clock reads the host's clock for the callback starting now: every
// callback that decides, caches or records something calls it first, and
// the code it runs reads p.at.
func (p *pluginContext) clock() time.Time {
	p.at = p.now()
	return p.at
}

// newEventID mints a UUIDv7 event id (ingest deduplicates on it) at the
// callback's time. crypto/rand is TinyGo's arc4random_buf on WASI: a
// ChaCha20 generator in the guest, seeded and reseeded from the host's
// random_get, so an id costs no host call.
func (p *pluginContext) newEventID() string {
	_, _ = rand.Read(p.random[:])
	return meter.NewEventID(p.at, p.random)
}

// callBody returns at most 4 KiB of the current HTTP call's response body.
func callBody(size int) []byte {
	if size <= 0 {
		return nil
	}
	b, err := proxywasm.GetHttpCallResponseBody(0, min(size, 4096))
	if err != nil {
		return nil
	}
	return b
}

// callStatus is the current HTTP call's status; 0 when there is none (the
// call failed or timed out).
func callStatus() int {
	hs, err := proxywasm.GetHttpCallResponseHeaders()
	if err != nil {
		return 0
	}
	for _, h := range hs {
		if h[0] == ":status" {
			n, _ := strconv.Atoi(h[1])
			return n
		}
	}
	return 0
}

// fullCallBody returns the current HTTP call's whole response body.
func fullCallBody(size int) []byte {
	if size <= 0 {
		return nil
	}
	b, err := proxywasm.GetHttpCallResponseBody(0, size)
	if err != nil {
		return nil
	}
	return b
}

func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
