package wasmplugin

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/spendgate/spendgate/policy"
)

// proxyHost is what the benchmarks and the lean host comparison drive: the
// part of proxytest.HostEmulator they use, which both the SDK's emulator
// and leanHost implement.
type proxyHost interface {
	StartPlugin() types.OnPluginStartStatus
	InitializeHttpContext() uint32
	CallOnRequestHeaders(id uint32, headers [][2]string, endOfStream bool) types.Action
	CallOnRequestBody(id uint32, body []byte, endOfStream bool) types.Action
	CallOnResponseHeaders(id uint32, headers [][2]string, endOfStream bool) types.Action
	CallOnResponseBody(id uint32, body []byte, endOfStream bool) types.Action
	CompleteHttpContext(id uint32)
	GetCurrentHttpStreamAction(id uint32) types.Action
	GetCurrentRequestHeaders(id uint32) [][2]string
	GetCurrentResponseHeaders(id uint32) [][2]string
	GetSentLocalResponse(id uint32) *proxytest.LocalHttpResponse
	GetCalloutAttributesFromContext(id uint32) []proxytest.HttpCalloutAttribute
	CallOnHttpCallResponse(calloutID uint32, headers, trailers [][2]string, body []byte)
	Tick()
	GetCounterMetric(name string) (uint64, error)
	GetGaugeMetric(name string) (uint64, error)
}

// leanHost runs a compiled proxy-wasm module (ABI 0.2.1, as the Go SDK
// builds it) the way a production host does, so that a benchmark measures
// the module rather than a test emulator: wazero in its compiler mode, the
// "env" host functions registered as api.GoModuleFunc (no reflection per
// call), every guest export resolved once and called with a reused stack
// (proxy_on_memory_allocate too: the SDK's emulator looks it up, and so
// builds a new call engine, for every buffer it hands over), and plain Go
// state: header maps and bodies per stream, shared data with CAS, HTTP
// callouts kept until answered, metrics. WASI is wazero's
// wasi_snapshot_preview1 with the host's clocks and random source (the
// emulator's wazero defaults are a fake clock and a deterministic source).
//
// It implements exactly the host functions leanHostFuncs lists: the ones
// filter.wasm and the pass-through import. A module importing any other
// fails at newLeanHost, by name. Semantics follow Envoy's C++ host
// (proxy-wasm-cpp-host) where they differ from the SDK's emulator: a header
// removal removes every value of the name, a replacement replaces every
// value, an empty buffer reads as OK with nothing written, a CAS of 0 sets
// shared data unconditionally, a stream is ended with proxy_on_log,
// proxy_on_done and proxy_on_delete. As in both, a body the guest paused
// on is buffered and handed over whole with the next chunk.
//
// Not safe for concurrent use: one stream's callback at a time, as in one
// Envoy worker.
type leanHost struct {
	ctx    context.Context
	rt     wazero.Runtime
	mod    api.Module
	mem    api.Memory
	stack  []uint64 // for guest calls; a host function's own stack is wazero's
	malloc api.Function
	on     map[string]api.Function // the guest's proxy_on_* exports

	config     []byte
	rootID     uint32
	nextID     uint32
	streams    map[uint32]*leanStream
	free       []*leanStream // ended streams, reused
	active     uint32        // the context the guest's calls act on
	tickPeriod uint32

	nextCallout uint32
	callouts    map[uint32][]proxytest.HttpCalloutAttribute // by the context that dispatched them
	pending     map[uint32]leanPending                      // by callout id
	answer      *leanAnswer                                 // the callout being answered

	shared    map[string]*leanShared
	metricIDs map[string]uint32
	metrics   []leanMetric
	logs      []string
	scratch   []byte // serialized header maps
}

type leanStream struct {
	dir    [2]leanDirection // leanRequest, leanResponse
	action types.Action
	local  *proxytest.LocalHttpResponse
}

type leanDirection struct {
	headers  [][2]string
	body     []byte
	buffered []byte // the body so far while the guest pauses, as Envoy buffers it
}

const (
	leanRequest  = 0
	leanResponse = 1
)

// leanPending is where a callout awaiting its answer is listed.
type leanPending struct {
	ctx   uint32
	index int
}

type leanAnswer struct {
	headers, trailers [][2]string
	body              []byte
}

type leanShared struct {
	data []byte
	cas  uint32
}

type leanMetric struct {
	name  string
	typ   uint32 // 0 counter, 1 gauge, 2 histogram
	value uint64
}

// The ABI's enumerations this host serves.
const (
	leanOK          = 0
	leanNotFound    = 1
	leanBadArgument = 2
	leanCasMismatch = 8

	leanMapRequestHeaders  = 0
	leanMapResponseHeaders = 2
	leanMapCallHeaders     = 6
	leanMapCallTrailers    = 7

	leanBufRequestBody  = 0
	leanBufResponseBody = 1
	leanBufCallBody     = 4
	leanBufVMConfig     = 6
	leanBufPluginConfig = 7
)

var leanModules int

// newLeanHost compiles and instantiates the module at path with the plugin
// configuration cfg; StartPlugin configures it.
func newLeanHost(tb testing.TB, path string, cfg []byte) *leanHost {
	tb.Helper()
	wasm, err := os.ReadFile(path)
	if err != nil {
		tb.Skipf("no compiled module (make filter filter-passthrough): %v", err)
	}
	ctx := context.Background()
	h := &leanHost{ctx: ctx, config: cfg, rootID: 1, nextID: 2, streams: map[uint32]*leanStream{},
		callouts: map[uint32][]proxytest.HttpCalloutAttribute{}, pending: map[uint32]leanPending{},
		shared: map[string]*leanShared{}, metricIDs: map[string]uint32{}, on: map[string]api.Function{},
		stack: make([]uint64, 8)}
	h.rt = leanRuntime(tb)
	compiled, err := h.rt.CompileModule(ctx, wasm)
	if err != nil {
		tb.Fatal(err)
	}
	if missing := leanMissing(compiled); len(missing) > 0 {
		tb.Fatalf("%s imports %s, which the lean host does not implement", path, strings.Join(missing, ", "))
	}
	leanModules++
	cfgMod := wazero.NewModuleConfig().WithName(fmt.Sprintf("guest-%d", leanModules)).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().WithRandSource(rand.Reader).
		WithStdout(os.Stderr).WithStderr(os.Stderr)
	h.mod, err = h.rt.InstantiateModule(ctx, compiled, cfgMod) // runs _start: the SDK's main
	if err != nil {
		tb.Fatal(err)
	}
	h.mem = h.mod.Memory()
	for _, name := range []string{"proxy_on_memory_allocate", "proxy_on_vm_start", "proxy_on_context_create", "proxy_on_configure",
		"proxy_on_request_headers", "proxy_on_request_body", "proxy_on_response_headers", "proxy_on_response_body",
		"proxy_on_done", "proxy_on_log", "proxy_on_delete", "proxy_on_tick", "proxy_on_http_call_response"} {
		fn := h.mod.ExportedFunction(name)
		if fn == nil {
			tb.Fatalf("%s exports no %s", path, name)
		}
		h.on[name] = fn
	}
	h.malloc = h.on["proxy_on_memory_allocate"]
	leanHosts[h.mod] = h
	tb.Cleanup(func() {
		delete(leanHosts, h.mod)
		h.mod.Close(ctx)
	})
	return h
}

// leanMissing lists the module's "env" imports the lean host does not
// implement.
func leanMissing(compiled wazero.CompiledModule) []string {
	var missing []string
	for _, f := range compiled.ImportedFunctions() {
		mod, name, _ := f.Import()
		if _, ok := leanHostFuncs[name]; mod == "env" && !ok {
			missing = append(missing, "env."+name)
		}
	}
	return missing
}

// leanHosts maps a guest module to its host: the host functions are
// registered once per runtime and find their host by the calling module.
var leanHosts = map[api.Module]*leanHost{}

var leanRT wazero.Runtime

// leanRuntime is one wazero runtime (compiler mode, the default on amd64
// and arm64) with WASI and the lean host's "env" module, shared by every
// lean host of the test binary.
func leanRuntime(tb testing.TB) wazero.Runtime {
	if leanRT != nil {
		return leanRT
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		tb.Fatal(err)
	}
	env := rt.NewHostModuleBuilder("env")
	for name, f := range leanHostFuncs {
		params := make([]api.ValueType, f.params)
		for i := range params {
			params[i] = api.ValueTypeI32
		}
		if name == "proxy_increment_metric" {
			params[1] = api.ValueTypeI64
		}
		fn := f.fn
		env.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
			h := leanHosts[mod]
			if h == nil {
				panic("lean host: a call from an unknown module")
			}
			stack[0] = uint64(fn(h, stack))
		}), params, []api.ValueType{api.ValueTypeI32}).Export(name)
	}
	if _, err := env.Instantiate(ctx); err != nil {
		tb.Fatal(err)
	}
	leanRT = rt
	return rt
}

type leanFunc struct {
	params int
	fn     func(h *leanHost, s []uint64) uint32
}

// leanHostFuncs are the ABI's host functions the filter and the
// pass-through import, each taking its i32 (and one i64) arguments from the
// stack and returning the ABI status.
var leanHostFuncs = map[string]leanFunc{
	"proxy_log": {3, func(h *leanHost, s []uint64) uint32 {
		h.logs = append(h.logs, string(h.read(s[1], s[2])))
		return leanOK
	}},
	"proxy_set_tick_period_milliseconds": {1, func(h *leanHost, s []uint64) uint32 {
		h.tickPeriod = uint32(s[0])
		return leanOK
	}},
	"proxy_set_effective_context": {1, func(h *leanHost, s []uint64) uint32 {
		id := uint32(s[0])
		if _, ok := h.streams[id]; !ok && id != h.rootID {
			return leanBadArgument
		}
		h.active = id
		return leanOK
	}},
	"proxy_continue_stream": {1, func(h *leanHost, s []uint64) uint32 {
		st := h.streams[h.active]
		if st == nil {
			return leanBadArgument
		}
		st.action = types.ActionContinue
		return leanOK
	}},
	"proxy_send_local_response": {8, func(h *leanHost, s []uint64) uint32 {
		st := h.streams[h.active]
		if st == nil {
			return leanBadArgument
		}
		st.local = &proxytest.LocalHttpResponse{StatusCode: uint32(s[0]), StatusCodeDetail: string(h.read(s[1], s[2])),
			Data: slices.Clone(h.read(s[3], s[4])), Headers: leanDecodeMap(h.read(s[5], s[6])), GRPCStatus: int32(uint32(s[7]))}
		return leanOK
	}},
	"proxy_get_header_map_pairs": {3, func(h *leanHost, s []uint64) uint32 {
		m, ok := h.headerMap(uint32(s[0]))
		if !ok {
			return leanBadArgument
		}
		h.scratch = leanEncodeMap(h.scratch[:0], *m)
		return h.give(h.scratch, s[1], s[2])
	}},
	"proxy_replace_header_map_value": {5, func(h *leanHost, s []uint64) uint32 {
		m, ok := h.headerMap(uint32(s[0]))
		if !ok {
			return leanBadArgument
		}
		key, value := strings.ToLower(string(h.read(s[1], s[2]))), string(h.read(s[3], s[4]))
		i := slices.IndexFunc(*m, func(kv [2]string) bool { return kv[0] == key })
		if i < 0 {
			*m = append(*m, [2]string{key, value})
			return leanOK
		}
		(*m)[i][1] = value
		*m = slices.DeleteFunc(*m, func(kv [2]string) bool { return kv[0] == key && kv[1] != value }) // one value left
		return leanOK
	}},
	"proxy_remove_header_map_value": {3, func(h *leanHost, s []uint64) uint32 {
		m, ok := h.headerMap(uint32(s[0]))
		if !ok {
			return leanBadArgument
		}
		key := strings.ToLower(string(h.read(s[1], s[2])))
		*m = slices.DeleteFunc(*m, func(kv [2]string) bool { return kv[0] == key })
		return leanOK
	}},
	"proxy_get_buffer_bytes": {5, func(h *leanHost, s []uint64) uint32 {
		buf, ok := h.buffer(uint32(s[0]))
		if !ok {
			return leanNotFound
		}
		start, n := uint32(s[1]), uint32(s[2])
		if start > uint32(len(*buf)) {
			return leanBadArgument
		}
		n = min(n, uint32(len(*buf))-start)
		if n == 0 {
			return leanOK // as Envoy: nothing written
		}
		return h.give((*buf)[start:start+n], s[3], s[4])
	}},
	"proxy_set_buffer_bytes": {5, func(h *leanHost, s []uint64) uint32 {
		buf, ok := h.buffer(uint32(s[0]))
		if !ok || s[0] > leanBufResponseBody {
			return leanBadArgument
		}
		start, n, data := uint32(s[1]), uint32(s[2]), h.read(s[3], s[4])
		switch { // Envoy's Buffer::copyFrom
		case start == 0:
			rest := (*buf)[min(int(n), len(*buf)):]
			*buf = append(slices.Clone(data), rest...)
		case start >= uint32(len(*buf)):
			*buf = append(*buf, data...)
		default:
			return leanBadArgument
		}
		return leanOK
	}},
	"proxy_get_shared_data": {5, func(h *leanHost, s []uint64) uint32 {
		v, ok := h.shared[string(h.read(s[0], s[1]))]
		if !ok {
			return leanNotFound
		}
		h.write32(s[4], v.cas)
		if len(v.data) == 0 {
			return leanOK
		}
		return h.give(v.data, s[2], s[3])
	}},
	"proxy_set_shared_data": {5, func(h *leanHost, s []uint64) uint32 {
		key, data, cas := string(h.read(s[0], s[1])), h.read(s[2], s[3]), uint32(s[4])
		v, ok := h.shared[key]
		if !ok {
			h.shared[key] = &leanShared{data: slices.Clone(data), cas: cas + 1} // as the emulator and Envoy: a new entry's CAS is not checked
			return leanOK
		}
		if cas != 0 && cas != v.cas {
			return leanCasMismatch
		}
		v.data = append(v.data[:0], data...)
		v.cas++
		return leanOK
	}},
	"proxy_http_call": {10, func(h *leanHost, s []uint64) uint32 {
		c := proxytest.HttpCalloutAttribute{CalloutID: h.nextCallout, Upstream: string(h.read(s[0], s[1])),
			Headers: leanDecodeMap(h.read(s[2], s[3])), Body: slices.Clone(h.read(s[4], s[5])), Trailers: leanDecodeMap(h.read(s[6], s[7]))}
		h.nextCallout++
		h.callouts[h.active] = append(h.callouts[h.active], c)
		h.pending[c.CalloutID] = leanPending{ctx: h.active, index: len(h.callouts[h.active]) - 1}
		h.write32(s[9], c.CalloutID)
		return leanOK
	}},
	"proxy_define_metric": {4, func(h *leanHost, s []uint64) uint32 {
		name := string(h.read(s[1], s[2]))
		id, ok := h.metricIDs[name]
		if !ok {
			id = uint32(len(h.metrics))
			h.metricIDs[name] = id
			h.metrics = append(h.metrics, leanMetric{name: name, typ: uint32(s[0])})
		}
		h.write32(s[3], id)
		return leanOK
	}},
	"proxy_increment_metric": {2, func(h *leanHost, s []uint64) uint32 {
		id := uint32(s[0]) // an i32's upper half is not defined
		if id >= uint32(len(h.metrics)) {
			return leanNotFound
		}
		h.metrics[id].value += s[1] // an i64 offset, two's complement
		return leanOK
	}},
}

// read is a view of the guest's memory (no copy; valid until the guest runs).
func (h *leanHost) read(ptr, size uint64) []byte {
	if size == 0 {
		return nil
	}
	b, ok := h.mem.Read(uint32(ptr), uint32(size))
	if !ok {
		panic(fmt.Sprintf("lean host: guest memory [%d, +%d) out of range", ptr, size))
	}
	return b
}

func (h *leanHost) write32(ptr uint64, v uint32) {
	if !h.mem.WriteUint32Le(uint32(ptr), v) {
		panic(fmt.Sprintf("lean host: guest address %d out of range", ptr))
	}
}

// give copies data into a buffer the guest allocates (its
// proxy_on_memory_allocate, resolved once) and writes its address and size
// where the guest asked: what every host call that returns data does.
func (h *leanHost) give(data []byte, ptrPtr, sizePtr uint64) uint32 {
	stack := [1]uint64{uint64(len(data))}
	if err := h.malloc.CallWithStack(h.ctx, stack[:]); err != nil {
		panic(err)
	}
	ptr := uint32(stack[0])
	if !h.mem.Write(ptr, data) {
		panic("lean host: proxy_on_memory_allocate returned memory out of range")
	}
	h.write32(ptrPtr, ptr)
	h.write32(sizePtr, uint32(len(data)))
	return leanOK
}

func (h *leanHost) headerMap(t uint32) (*[][2]string, bool) {
	switch t {
	case leanMapCallHeaders, leanMapCallTrailers:
		if h.answer == nil {
			return nil, false
		}
		if t == leanMapCallHeaders {
			return &h.answer.headers, true
		}
		return &h.answer.trailers, true
	}
	if d := h.direction(t, leanMapRequestHeaders, leanMapResponseHeaders); d != nil {
		return &d.headers, true
	}
	return nil, false
}

// direction is the active stream's request side when t is req, its
// response side when t is resp, else nil.
func (h *leanHost) direction(t, req, resp uint32) *leanDirection {
	st := h.streams[h.active]
	switch {
	case st == nil:
		return nil
	case t == req:
		return &st.dir[leanRequest]
	case t == resp:
		return &st.dir[leanResponse]
	}
	return nil
}

func (h *leanHost) buffer(t uint32) (*[]byte, bool) {
	switch t {
	case leanBufPluginConfig:
		return &h.config, true
	case leanBufVMConfig:
		var none []byte
		return &none, true
	case leanBufCallBody:
		if h.answer == nil {
			return nil, false
		}
		return &h.answer.body, true
	}
	if d := h.direction(t, leanBufRequestBody, leanBufResponseBody); d != nil {
		return &d.body, true
	}
	return nil, false
}

// leanEncodeMap appends the ABI's serialization of a header map: the
// number of pairs, each pair's key and value sizes, then each key and
// value NUL-terminated (all sizes u32 little-endian).
func leanEncodeMap(dst []byte, m [][2]string) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(m)))
	for _, kv := range m {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(kv[0])))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(kv[1])))
	}
	for _, kv := range m {
		dst = append(append(append(append(dst, kv[0]...), 0), kv[1]...), 0)
	}
	return dst
}

// leanDecodeMap reads a serialized header map (copying its strings).
func leanDecodeMap(b []byte) [][2]string {
	if len(b) < 4 {
		return nil
	}
	n := int(binary.LittleEndian.Uint32(b))
	sizes, data := b[4:], b[4+8*n:]
	out := make([][2]string, n)
	for i := range out {
		k, v := binary.LittleEndian.Uint32(sizes[8*i:]), binary.LittleEndian.Uint32(sizes[8*i+4:])
		out[i] = [2]string{string(data[:k]), string(data[k+1 : k+1+v])}
		data = data[k+1+v+1:]
	}
	return out
}

// call runs a guest export with the given arguments and returns its first
// result (0 for none) on the host's reused stack.
func (h *leanHost) call(name string, args ...uint64) uint64 {
	copy(h.stack, args)
	if err := h.on[name].CallWithStack(h.ctx, h.stack); err != nil {
		panic(fmt.Sprintf("lean host: %s: %v", name, err))
	}
	return h.stack[0]
}

// StartPlugin starts the VM and the plugin (root) context as Envoy does:
// proxy_on_vm_start, proxy_on_context_create, proxy_on_configure.
func (h *leanHost) StartPlugin() types.OnPluginStartStatus {
	h.active = h.rootID
	if h.call("proxy_on_vm_start", uint64(h.rootID), 0) != 1 {
		return types.OnPluginStartStatusFailed
	}
	h.call("proxy_on_context_create", uint64(h.rootID), 0)
	return h.call("proxy_on_configure", uint64(h.rootID), uint64(len(h.config))) == 1
}

func (h *leanHost) InitializeHttpContext() uint32 {
	id := h.nextID
	h.nextID++
	st := &leanStream{}
	if n := len(h.free); n > 0 {
		st, h.free = h.free[n-1], h.free[:n-1]
	}
	for d := range st.dir {
		st.dir[d].headers, st.dir[d].body, st.dir[d].buffered = st.dir[d].headers[:0], st.dir[d].body[:0], st.dir[d].buffered[:0]
	}
	st.action, st.local = types.ActionContinue, nil
	h.streams[id] = st
	h.active = id
	h.call("proxy_on_context_create", uint64(id), uint64(h.rootID))
	return id
}

func (h *leanHost) stream(id uint32) *leanStream {
	st := h.streams[id]
	if st == nil {
		panic(fmt.Sprintf("lean host: no stream %d", id))
	}
	h.active = id
	return st
}

// lowerKeys copies headers into dst with lower-case names, as Envoy's
// header maps hold them.
func lowerKeys(dst, headers [][2]string) [][2]string {
	dst = dst[:0]
	for _, kv := range headers {
		dst = append(dst, [2]string{strings.ToLower(kv[0]), kv[1]})
	}
	return dst
}

func (h *leanHost) CallOnRequestHeaders(id uint32, headers [][2]string, endOfStream bool) types.Action {
	return h.onHeaders(id, leanRequest, "proxy_on_request_headers", headers, endOfStream)
}

func (h *leanHost) CallOnResponseHeaders(id uint32, headers [][2]string, endOfStream bool) types.Action {
	return h.onHeaders(id, leanResponse, "proxy_on_response_headers", headers, endOfStream)
}

func (h *leanHost) onHeaders(id uint32, d int, export string, headers [][2]string, endOfStream bool) types.Action {
	st := h.stream(id)
	st.dir[d].headers = lowerKeys(st.dir[d].headers, headers)
	st.action = types.Action(h.call(export, uint64(id), uint64(len(headers)), leanBool(endOfStream)))
	return st.action
}

func (h *leanHost) CallOnRequestBody(id uint32, body []byte, endOfStream bool) types.Action {
	return h.onBody(id, leanRequest, "proxy_on_request_body", body, endOfStream)
}

func (h *leanHost) CallOnResponseBody(id uint32, body []byte, endOfStream bool) types.Action {
	return h.onBody(id, leanResponse, "proxy_on_response_body", body, endOfStream)
}

// onBody hands the guest the body so far: a chunk after a chunk it paused
// on is appended, as Envoy buffers on StopIterationAndBuffer.
func (h *leanHost) onBody(id uint32, d int, export string, chunk []byte, endOfStream bool) types.Action {
	st := h.stream(id)
	dir := &st.dir[d]
	dir.body = append(append(dir.body[:0], dir.buffered...), chunk...)
	st.action = types.Action(h.call(export, uint64(id), uint64(len(dir.body)), leanBool(endOfStream)))
	dir.buffered = dir.buffered[:0]
	if st.action == types.ActionPause {
		dir.buffered = append(dir.buffered, dir.body...)
	}
	return st.action
}

// CompleteHttpContext ends a stream with the three calls Envoy makes for
// it: proxy_on_log, proxy_on_done, proxy_on_delete (the SDK's emulator
// makes only the first); the host forgets it.
func (h *leanHost) CompleteHttpContext(id uint32) {
	h.stream(id)
	h.call("proxy_on_log", uint64(id))
	h.call("proxy_on_done", uint64(id))
	h.call("proxy_on_delete", uint64(id))
	h.free = append(h.free, h.streams[id]) // its buffers serve the next stream
	delete(h.streams, id)
	delete(h.callouts, id)
}

func (h *leanHost) GetCurrentHttpStreamAction(id uint32) types.Action { return h.streams[id].action }
func (h *leanHost) GetCurrentRequestHeaders(id uint32) [][2]string {
	return h.streams[id].dir[leanRequest].headers
}
func (h *leanHost) GetCurrentResponseHeaders(id uint32) [][2]string {
	return h.streams[id].dir[leanResponse].headers
}
func (h *leanHost) GetSentLocalResponse(id uint32) *proxytest.LocalHttpResponse {
	return h.streams[id].local
}

// GetCalloutAttributesFromContext lists the callouts the context made (a
// completed stream's are forgotten with it, and an answered callout's body:
// read it before answering).
func (h *leanHost) GetCalloutAttributesFromContext(id uint32) []proxytest.HttpCalloutAttribute {
	return h.callouts[id]
}

// CallOnHttpCallResponse answers a pending callout (it panics on any
// other): proxy_on_http_call_response on the plugin context, the answer
// readable through the call-response map and buffer types meanwhile.
func (h *leanHost) CallOnHttpCallResponse(calloutID uint32, headers, trailers [][2]string, body []byte) {
	p, ok := h.pending[calloutID]
	if !ok {
		panic(fmt.Sprintf("lean host: callout %d is not pending", calloutID))
	}
	delete(h.pending, calloutID)
	if cs := h.callouts[p.ctx]; p.index < len(cs) {
		cs[p.index].Body = nil // answered: a host lets the request go (the list keeps growing)
	}
	h.answer = &leanAnswer{headers: lowerKeys(nil, headers), trailers: lowerKeys(nil, trailers), body: body}
	h.active = h.rootID
	h.call("proxy_on_http_call_response", uint64(h.rootID), uint64(calloutID), uint64(len(headers)), uint64(len(body)), uint64(len(trailers)))
	h.answer = nil
}

func (h *leanHost) Tick() {
	h.active = h.rootID
	h.call("proxy_on_tick", uint64(h.rootID))
}

func (h *leanHost) metric(name string, typ uint32) (uint64, error) {
	id, ok := h.metricIDs[name]
	if !ok {
		return 0, fmt.Errorf("%s not found", name)
	}
	if m := h.metrics[id]; m.typ != typ {
		return 0, fmt.Errorf("%s is of type %d, not %d", name, m.typ, typ)
	}
	return h.metrics[id].value, nil
}

func (h *leanHost) GetCounterMetric(name string) (uint64, error) { return h.metric(name, 0) }
func (h *leanHost) GetGaugeMetric(name string) (uint64, error)   { return h.metric(name, 1) }

func leanBool(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// TestLeanHostMatchesEmulator runs the same calls through the compiled
// filter on the lean host and on the SDK's emulator (a fresh instance of
// the module each, so that the guest's own counters start alike) and wants
// the same transcript: every callback's action, the request and response
// headers forwarded, local responses, every callout (upstream, headers,
// body; the usage events compared without their ids and times, which come
// from the host's clock and random source, checked for form instead) and
// every metric. The calls: a non-streaming request with a cold policy
// cache (the lookup is a callout answered with the policy), the same key
// warm, a streamed answer (warm, then another key cold), a denied key, and
// the ticks that send the events to ingest, answered 200.
func TestLeanHostMatchesEmulator(t *testing.T) {
	wasm, err := os.ReadFile(wasmPath)
	if err != nil {
		if os.Getenv("SPENDGATE_FILTER_WASM") == "required" {
			t.Fatalf("the compiled filter is needed (make filter): %v", err)
		}
		t.Skipf("no compiled filter (make filter builds %s): %v", wasmPath, err)
	}
	log.SetOutput(io.Discard) // the emulator logs every callout
	t.Cleanup(func() { log.SetOutput(os.Stderr) })

	lean := newLeanHost(t, wasmPath, []byte(testConfig))
	if !lean.StartPlugin() {
		t.Fatal("the plugin did not start on the lean host")
	}
	leanRun := transcript(t, lean, nil)

	emulator, g := freshEmulator(t, wasm, testConfig)
	if !emulator.StartPlugin() {
		t.Fatal("the plugin did not start on the emulator")
	}
	emulated := transcript(t, emulator, g)

	if len(leanRun) != len(emulated) {
		t.Errorf("%d lines on the lean host, %d on the emulator", len(leanRun), len(emulated))
	}
	for i := range min(len(leanRun), len(emulated)) {
		if leanRun[i] != emulated[i] {
			t.Errorf("line %d:\nlean host: %s\nemulator:  %s", i, leanRun[i], emulated[i])
		}
	}
	// Not an empty agreement: the calls did what they are for.
	all := strings.Join(leanRun, "\n")
	for _, want := range []string{
		"callout spendgate_api GET /internal/v1/policy key=sg_lean_a",
		"callout spendgate_api GET /internal/v1/policy key=sg_lean_b",
		"local response 401",
		"callout spendgate_ingest POST /internal/v1/events",
		`"model_served":"gpt-4o-mini-2024-07-18"`,
		"metric spendgate_events_sent=4",
		"metric spendgate_denials=1",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the transcript has no %q:\n%s", want, all)
		}
	}
	if strings.Count(all, "callout spendgate_api ") != 3 {
		t.Errorf("want 3 policy lookups (two cold keys and the denied one), transcript:\n%s", all)
	}
	if t.Failed() {
		t.Logf("lean host transcript:\n%s", all)
	}
}

// freshEmulator is the SDK's emulator on a new instance of the module,
// its VM started (proxy_on_vm_start, as the lean host does) and its
// dispatched headers kept as sent (calloutCopies); and the guest, whose
// proxy_on_delete the emulator does not call.
func freshEmulator(t *testing.T, wasm []byte, cfg string) (proxyHost, *guest) {
	vm, err := proxytest.NewWasmVMContext(wasm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vm.Close() })
	emulator, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithVMContext(vm).WithPluginConfiguration([]byte(cfg)))
	t.Cleanup(reset)
	if !emulator.StartVM() {
		t.Fatal("the VM did not start on the emulator")
	}
	return copyCallouts(emulator), guestOf(t, vm)
}

// transcript drives host through the comparison's calls and writes down
// what a proxy would see, one line each. g, when given, is the emulator's
// guest, whose proxy_on_delete the emulator does not call.
func transcript(t *testing.T, host proxyHost, g *guest) []string {
	t.Helper()
	var out []string
	say := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	sse, err := os.ReadFile("../../meter/testdata/openai/chat_stream.sse")
	if err != nil {
		t.Fatal(err)
	}
	denied := answerJSON(policy.Answer{Valid: false, Reason: "unknown_key"})
	streamBody := `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	calls := []struct {
		name, key, body, ctype string
		answer                 []byte
		chunks                 [][]byte
	}{
		{"cold", "sg_lean_a", benchJSONRequest, "application/json", answerJSON(allowAll()), [][]byte{[]byte(benchJSONAnswer)}},
		{"warm", "sg_lean_a", benchJSONRequest, "application/json", nil, [][]byte{[]byte(benchJSONAnswer)}},
		{"streaming warm", "sg_lean_a", streamBody, "text/event-stream", nil, split(sse, 37)},
		{"streaming cold", "sg_lean_b", streamBody, "text/event-stream", answerJSON(allowAll()), split(sse, 37)},
		{"denied", "sg_lean_c", benchJSONRequest, "application/json", denied, nil},
	}
	calloutLine := func(c proxytest.HttpCalloutAttribute) string {
		return fmt.Sprintf("callout %s %s %s key=%s headers=%q trailers=%q body=%s", c.Upstream, hv(c.Headers, ":method"), hv(c.Headers, ":path"),
			hv(c.Headers, "x-spendgate-key"), c.Headers, c.Trailers, eventsWithoutIDs(t, c.Body))
	}
	answered := 0
	for _, c := range calls {
		say("== %s", c.name)
		id := host.InitializeHttpContext()
		headers := slices.Clone(reqHeaders)
		headers[5][1] = c.key // x-spendgate-key
		say("request headers: %v", host.CallOnRequestHeaders(id, headers, false))
		say("request body: %v", host.CallOnRequestBody(id, []byte(c.body), true))
		for _, co := range host.GetCalloutAttributesFromContext(id) {
			say("%s", calloutLine(co))
			if c.answer == nil {
				t.Fatalf("%s: a callout on a warm cache: %s", c.name, calloutLine(co))
			}
			host.CallOnHttpCallResponse(co.CalloutID, [][2]string{{":status", "200"}}, nil, c.answer)
		}
		say("action: %v", host.GetCurrentHttpStreamAction(id))
		say("forwarded request headers: %q", host.GetCurrentRequestHeaders(id))
		if lr := host.GetSentLocalResponse(id); lr != nil {
			say("local response %d %q headers=%q body=%s grpc=%d", lr.StatusCode, lr.StatusCodeDetail, lr.Headers, lr.Data, lr.GRPCStatus)
		} else {
			say("response headers: %v", host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"content-type", c.ctype}, {"x-request-id", "req_lean"}}, false))
			say("forwarded response headers: %q", host.GetCurrentResponseHeaders(id))
			for j, chunk := range c.chunks {
				if a := host.CallOnResponseBody(id, chunk, j == len(c.chunks)-1); a != types.ActionContinue {
					say("response body chunk %d: %v", j, a)
				}
			}
		}
		host.CompleteHttpContext(id)
		if g != nil {
			if _, err := g.onDelete.Call(context.Background(), uint64(id)); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 3; i++ { // flush: ticks send the batch, ingest answers 200
			host.Tick()
			cs := host.GetCalloutAttributesFromContext(proxytest.PluginContextID)
			for _, co := range cs[answered:] {
				say("%s", calloutLine(co))
				host.CallOnHttpCallResponse(co.CalloutID, [][2]string{{":status", "200"}}, nil, []byte(`{"accepted":1,"duplicates":0,"rejected":[]}`))
			}
			answered = len(cs)
		}
	}
	for _, name := range []string{MetricEventsSent, MetricEventsDropped, MetricEventsRejected, MetricIngestFailures, MetricDenials,
		MetricAuthFailures, MetricFailOpen, MetricRateConflicts, MetricRateFailures, MetricPricedFailures, MetricReservationFailures,
		MetricReleaseFailures, MetricGuestAllocations} {
		v, err := host.GetCounterMetric(name)
		say("metric %s=%d %v", name, v, err)
	}
	v, err := host.GetGaugeMetric(MetricGuestHeap)
	say("metric %s=%d %v", MetricGuestHeap, v, err)
	return out
}

// eventsWithoutIDs is a callout body with each usage event's id and times
// removed (a body that is not an event batch, as it is), after checking
// that they are there and well formed.
func eventsWithoutIDs(t *testing.T, body []byte) string {
	var batch struct {
		Events []map[string]any `json:"events"`
	}
	if json.Unmarshal(body, &batch) != nil || len(batch.Events) == 0 {
		return string(body)
	}
	for _, e := range batch.Events {
		if id, _ := e["event_id"].(string); len(id) != 36 || id[14] != '7' {
			t.Errorf("event id %q is not a UUIDv7", e["event_id"])
		}
		if ts, _ := e["time"].(string); ts == "" {
			t.Errorf("event without a time: %v", e)
		} else if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Errorf("event time: %v", err)
		}
		for _, k := range []string{"event_id", "time", "latency_ms", "ttfb_ms"} {
			delete(e, k)
		}
	}
	b, err := json.Marshal(batch)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLeanHostRunsPassThrough: the pass-through fixture (make
// filter-passthrough), 250 non-streaming requests on each host, sends the
// same batches (upstream, headers) and counts the same answers.
func TestLeanHostRunsPassThrough(t *testing.T) {
	const path = "../passthrough/passthrough.wasm"
	wasm, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("no pass-through module (make filter-passthrough): %v", err)
	}
	log.SetOutput(io.Discard)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	chunks := [][]byte{[]byte(benchJSONAnswer)}
	run := func(host proxyHost, g *guest) string {
		if !host.StartPlugin() {
			t.Fatal("the pass-through did not start")
		}
		runOn(t, host, g, benchJSONRequest, "application/json", chunks, 250)
		var out []string
		for _, c := range host.GetCalloutAttributesFromContext(proxytest.PluginContextID) {
			out = append(out, fmt.Sprintf("%s %q", c.Upstream, c.Headers)) // answered: the lean host has let the body go
		}
		n, err := host.GetCounterMetric("passthrough_events_sent")
		return fmt.Sprintf("%s\nsent %d %v", strings.Join(out, "\n"), n, err)
	}
	lean := run(newLeanHost(t, path, []byte(benchConfig)), nil)
	emulated := run(freshEmulator(t, wasm, benchConfig))
	if lean != emulated {
		t.Errorf("lean host:\n%s\nemulator:\n%s", lean, emulated)
	}
	if strings.Count(lean, "\n") < 2 || strings.HasSuffix(lean, "sent 0 <nil>") {
		t.Errorf("the pass-through sent nothing:\n%s", lean)
	}
}

// TestLeanHostRefusesOtherImports: a module importing a host function the
// lean host does not implement (here proxy_get_property, in a module of
// nothing else) is refused by name; the filter and the pass-through are not.
func TestLeanHostRefusesOtherImports(t *testing.T) {
	module := []byte("\x00asm\x01\x00\x00\x00" +
		"\x01\x09\x01\x60\x04\x7f\x7f\x7f\x7f\x01\x7f" + // type (i32 i32 i32 i32) -> i32
		"\x02\x1a\x01\x03env\x12proxy_get_property\x00\x00") // import env.proxy_get_property
	ctx := context.Background()
	compiled, err := leanRuntime(t).CompileModule(ctx, module)
	if err != nil {
		t.Fatal(err)
	}
	if got := leanMissing(compiled); !slices.Equal(got, []string{"env.proxy_get_property"}) {
		t.Errorf("missing %q", got)
	}
	for _, path := range []string{wasmPath, "../passthrough/passthrough.wasm"} {
		wasm, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		compiled, err := leanRuntime(t).CompileModule(ctx, wasm)
		if err != nil {
			t.Fatal(err)
		}
		if got := leanMissing(compiled); len(got) > 0 {
			t.Errorf("%s: missing %q", path, got)
		}
	}
}
