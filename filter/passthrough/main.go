//go:build tinygo

// Command passthrough is a benchmark fixture, not a product: a proxy-wasm
// plugin built with the same TinyGo, SDK and flags as the filter (make
// filter-passthrough) that makes the host calls the filter makes per
// non-streaming request in BenchmarkFilter — the same kinds, counts and
// data sizes, as BenchmarkFilterHostCalls counts them — and does nothing
// else. Run as the baseline module (SPENDGATE_FILTER_BASELINE_WASM), its CPU
// per request is what the host boundary costs in that harness: the SDK
// emulator's Go implementation of the ABI, wazero's calls in and out of the
// guest, the guest's buffers for what the host hands over. The filter's
// figure minus this one is what spendgate's own code costs.
package main

import (
	"time"
	"unsafe"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// Sizes the filter moves in BenchmarkFilter (measured there): a policy
// cache entry of the bench key, and one usage event in an ingest batch.
const (
	policyEntryBytes = 371
	eventBytes       = 836
	entryName        = "spendgate.passthrough.policy"
	tickPeriodMs     = 100
)

func main() { proxywasm.SetVMContext(&vm{}) }

type vm struct{ types.DefaultVMContext }

func (*vm) NewPluginContext(uint32) types.PluginContext { return &plugin{} }

type plugin struct {
	types.DefaultPluginContext
	ended int // requests ended since the last batch
	body  []byte
	sent  proxywasm.MetricCounter
	at    time.Time
}

func (p *plugin) OnPluginStart(int) types.OnPluginStartStatus {
	p.sent = proxywasm.DefineCounterMetric("passthrough_events_sent")
	if err := proxywasm.SetSharedData(entryName, make([]byte, policyEntryBytes), 0); err != nil {
		return types.OnPluginStartStatusFailed
	}
	if err := proxywasm.SetTickPeriodMilliSeconds(tickPeriodMs); err != nil {
		return types.OnPluginStartStatusFailed
	}
	return types.OnPluginStartStatusOK
}

func (p *plugin) NewHttpContext(uint32) types.HttpContext { return &stream{p: p} }

// OnTick posts one batch of the ended requests' size, as the filter's
// outbox does, and reads ingest's answer as the filter does.
func (p *plugin) OnTick() {
	if p.ended == 0 {
		return
	}
	if cap(p.body) < p.ended*eventBytes {
		p.body = make([]byte, p.ended*eventBytes)
	}
	body := p.body[:p.ended*eventBytes]
	p.ended = 0
	headers := [][2]string{{":method", "POST"}, {":path", "/internal/v1/events"}, {":authority", "spendgate-ingest"},
		{"authorization", "Bearer svc-token"}, {"content-type", "application/json"}}
	_, _ = proxywasm.DispatchHttpCall("spendgate_ingest", headers, body, nil, 2000, func(_, bodySize, _ int) {
		_, _ = proxywasm.GetHttpCallResponseHeaders()
		_, _ = proxywasm.GetHttpCallResponseBody(0, min(bodySize, 4096))
		p.sent.Increment(1)
	})
}

type stream struct {
	types.DefaultHttpContext
	p *plugin
}

func (s *stream) OnHttpRequestHeaders(int, bool) types.Action {
	s.p.at = time.Now()
	headerMap(mapRequestHeaders)
	_ = proxywasm.RemoveHttpRequestHeader("x-spendgate-key")
	return types.ActionPause // the filter holds the headers for the body
}

func (s *stream) OnHttpRequestBody(bodySize int, endOfStream bool) types.Action {
	if !endOfStream {
		return types.ActionPause
	}
	s.p.at = time.Now()
	buffer(bufferRequestBody, bodySize)
	sharedData(entryName)
	return types.ActionContinue
}

func (s *stream) OnHttpResponseHeaders(int, bool) types.Action {
	s.p.at = time.Now()
	headerMap(mapResponseHeaders)
	return types.ActionContinue
}

func (s *stream) OnHttpResponseBody(bodySize int, _ bool) types.Action {
	buffer(bufferResponseBody, bodySize)
	return types.ActionContinue
}

func (s *stream) OnHttpStreamDone() {
	s.p.at = time.Now()
	s.p.ended++
}

// The host calls the filter makes without the SDK's wrappers
// (filter/wasmplugin/hostio_tinygo.go has why), declared the same way.
var (
	hostData *byte
	hostSize int
	hostCas  uint32
)

//export proxy_get_buffer_bytes
func proxyGetBufferBytes(bufferType uint32, start int, maxSize int, returnData **byte, returnSize *int) uint32

//export proxy_get_header_map_pairs
func proxyGetHeaderMapPairs(mapType uint32, returnData **byte, returnSize *int) uint32

//export proxy_get_shared_data
func proxyGetSharedData(keyData *byte, keySize int, returnData **byte, returnSize *int, returnCas *uint32) uint32

const (
	bufferRequestBody  = 0
	bufferResponseBody = 1
	mapRequestHeaders  = 0
	mapResponseHeaders = 2
)

func buffer(kind uint32, size int) { proxyGetBufferBytes(kind, 0, size, &hostData, &hostSize) }
func headerMap(kind uint32)        { proxyGetHeaderMapPairs(kind, &hostData, &hostSize) }
func sharedData(name string) {
	proxyGetSharedData(unsafe.StringData(name), len(name), &hostData, &hostSize, &hostCas)
}
