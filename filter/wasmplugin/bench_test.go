package wasmplugin

import (
	"context"
	"io"
	"log"
	"os"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/tetratelabs/wazero/api"
)

// The non-streaming call the benchmarks send and the provider's answer to it.
const (
	benchJSONRequest = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	benchJSONAnswer  = `{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}`
)

// Package-level benchmark of the filter (labelled as such: a test host
// stands in for Envoy).
//
//	go test -run '^$' -bench BenchmarkFilter -benchtime 20000x ./filter/wasmplugin/
//
// "wasm" is the module make filter builds, run by wazero in its compiler
// mode on the SDK's emulator (proxytest.NewWasmVMContext; the compiler is
// wazero's default on amd64 and arm64), whose own host-side work is in
// every figure; "lean" is the same module on the lean host
// (leanhost_test.go: wazero's compiler too, a production host's ABI work
// and no more), its figures also divided by the emulator's (x-emulator);
// "go" is the same plugin compiled natively, the baseline each wasm figure
// is divided by (x-native). Every request is a
// whole call with a warm policy cache: request headers, body, response
// headers, the body (one JSON chunk, or a real SSE capture in 37-byte
// chunks), stream end; every 100 requests a tick flushes the events and
// ingest answers 200. Figures: ns/req for the whole request and ns/<callback>
// for each callback, averaged per request (wall time), and ns/cpu, the
// process's CPU time per request (what a loaded machine does not inflate;
// it includes the emulator's and the Go runtime's share), and for the
// compiled module allocs/req, the guest's heap allocations per request
// (the spendgate_guest_allocations counter; deterministic).
//
// With SPENDGATE_FILTER_BASELINE_WASM naming another build of the filter
// (main's, another TinyGo flag) or the pass-through (make
// filter-passthrough), "baseline" and "lean-baseline" run it in the same
// process on each host, and the module's figures on each host are also
// divided by it (x-baseline): a change measured against what it changes,
// under the same load.
func BenchmarkFilter(b *testing.B) {
	log.SetOutput(io.Discard) // the emulator logs every callout
	b.Cleanup(func() { log.SetOutput(os.Stderr) })
	sse, err := os.ReadFile("../../meter/testdata/openai/chat_stream.sse")
	if err != nil {
		b.Fatal(err)
	}
	kinds := []struct {
		name, body string
		chunks     [][]byte
		ctype      string
	}{
		{"non-streaming", benchJSONRequest,
			[][]byte{[]byte(benchJSONAnswer)},
			"application/json"},
		{"streaming", `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`, split(sse, 37), "text/event-stream"},
	}
	modes := []string{"go", "wasm", "lean"}
	baselinePath := os.Getenv("SPENDGATE_FILTER_BASELINE_WASM")
	if baselinePath != "" {
		modes = []string{"go", "baseline", "wasm", "lean-baseline", "lean"}
	}
	for _, k := range kinds {
		per := map[string]map[string]float64{} // mode -> figure -> value
		for _, mode := range modes {
			b.Run(k.name+"/"+mode, func(b *testing.B) {
				var host proxyHost
				var g *guest
				switch mode {
				case "go":
					host = benchHost(b, NewVMContext())
				case "wasm", "baseline":
					path := map[string]string{"wasm": wasmPath, "baseline": baselinePath}[mode]
					vm := benchWasmVM(b, path)
					g = guestOf(b, vm)
					host = benchHost(b, vm)
				case "lean", "lean-baseline":
					path := map[string]string{"lean": wasmPath, "lean-baseline": baselinePath}[mode]
					host = newLeanHost(b, path, []byte(benchConfig))
					if st := host.StartPlugin(); st != types.OnPluginStartStatusOK {
						b.Fatalf("plugin did not start: %v", st)
					}
				}
				figures := runRequests(b, host, g, mode != "go", k.body, k.ctype, k.chunks, b.N)
				per[mode] = figures
				for name, v := range figures {
					unit := "ns/" + name
					if name == "allocs" {
						unit = "allocs/req"
					}
					b.ReportMetric(v, unit)
					ratio := func(label, of string) {
						if d := per[of][name]; d > 0 && name != "allocs" {
							b.ReportMetric(v/d, label+"/"+name)
						}
					}
					if mode != "go" {
						ratio("x-native", "go")
					}
					switch mode {
					case "wasm":
						ratio("x-baseline", "baseline")
					case "lean":
						ratio("x-baseline", "lean-baseline")
						ratio("x-emulator", "wasm")
					case "lean-baseline":
						ratio("x-emulator", "baseline")
					}
				}
			})
		}
	}
}

// BenchmarkFilterGuestMemory runs 100k non-streaming requests through the
// compiled module and reports its heap in use (the spendgate_guest_heap_bytes
// gauge) after 10k and after 100k: flat means per-call state does not stay.
func BenchmarkFilterGuestMemory(b *testing.B) {
	log.SetOutput(io.Discard)
	b.Cleanup(func() { log.SetOutput(os.Stderr) })
	body := benchJSONRequest
	answer := [][]byte{[]byte(`{"model":"gpt-4o-mini","usage":{"prompt_tokens":9,"completion_tokens":2}}`)}
	for i := 0; i < b.N; i++ {
		vm := benchWasmVM(b, wasmPath)
		g := guestOf(b, vm)
		host := benchHost(b, vm)
		runOn(b, host, g, body, "application/json", answer, 10_000)
		at10k, mem10k := heapGauge(b, host), g.memory.Size()
		runOn(b, host, g, body, "application/json", answer, 90_000)
		at100k, mem100k := heapGauge(b, host), g.memory.Size()
		b.ReportMetric(float64(at10k)/(1<<20), "heap-MiB@10k")
		b.ReportMetric(float64(at100k)/(1<<20), "heap-MiB@100k")
		b.ReportMetric(float64(mem10k)/(1<<20), "linear-memory-MiB@10k")
		b.ReportMetric(float64(mem100k)/(1<<20), "linear-memory-MiB@100k")
	}
}

func heapGauge(b *testing.B, host proxyHost) uint64 {
	for i := 0; i < 10; i++ { // a second of ticks: the gauge is refreshed
		host.Tick()
		answerIngest(host)
	}
	v, err := host.GetGaugeMetric(MetricGuestHeap)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

var benchVMs = map[string]proxytest.WasmVMContext{}

// benchWasmVM is the module at path, compiled once per benchmark binary.
func benchWasmVM(b *testing.B, path string) types.VMContext {
	if vm, ok := benchVMs[path]; ok {
		return vm
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		b.Skipf("no compiled filter (make filter): %v", err)
	}
	vm, err := proxytest.NewWasmVMContext(wasm)
	if err != nil {
		b.Fatal(err)
	}
	benchVMs[path] = vm
	return vm
}

// guestAllocations is the guest's allocation count so far, refreshed by a
// second of ticks; ok is false for a build without the counter.
func guestAllocations(host proxyHost) (n uint64, ok bool) {
	for i := 0; i < 10; i++ {
		host.Tick()
		answerIngest(host)
	}
	n, err := host.GetCounterMetric(MetricGuestAllocations)
	return n, err == nil
}

// benchConfig is the plugin configuration of every benchmark: a batch of
// 100 events, flushed by the tick.
const benchConfig = `{"service_token":"svc-token","flush_interval_ms":100,"batch_max_events":100,"max_buffered_events":10000}`

func benchHost(b *testing.B, vm types.VMContext) proxytest.HostEmulator {
	opt := proxytest.NewEmulatorOption().WithVMContext(vm).WithPluginConfiguration([]byte(benchConfig))
	host, reset := proxytest.NewHostEmulator(opt)
	b.Cleanup(reset)
	if st := host.StartPlugin(); st != types.OnPluginStartStatusOK {
		b.Fatalf("plugin did not start: %v", st)
	}
	return host
}

// runRequests times n requests on a fresh host (after one warming the
// policy cache) and returns ns per request: "req" and each callback.
func runRequests(b *testing.B, host proxyHost, g *guest, compiled bool, body, ctype string, chunks [][]byte, n int) map[string]float64 {
	runOn(b, host, g, body, ctype, chunks, 1)
	var allocs0 uint64
	if compiled {
		allocs0, _ = guestAllocations(host)
	}
	b.ResetTimer()
	cpu0 := processCPU()
	t := runOn(b, host, g, body, ctype, chunks, n)
	cpu := processCPU() - cpu0
	b.StopTimer()
	out := map[string]float64{"cpu": float64(cpu.Nanoseconds()) / float64(n)}
	if compiled {
		if allocs, ok := guestAllocations(host); ok {
			out["allocs"] = float64(allocs-allocs0) / float64(n)
		}
	}
	var total time.Duration
	for name, d := range t {
		out[name] = float64(d.Nanoseconds()) / float64(n)
		total += d
	}
	out["req"] = float64(total.Nanoseconds()) / float64(n)
	return out
}

var reqHeaders = [][2]string{{":method", "POST"}, {":path", "/v1/openai/chat/completions"}, {":authority", "gateway.local"},
	{"authorization", "Bearer sk-provider"}, {"content-type", "application/json"}, {"x-spendgate-key", "sg_bench"},
	{"x-spendgate-dim-team", "search"}}

// runOn sends n requests through host, answering the policy call when one
// is made, and returns the time spent in each callback.
func runOn(b testing.TB, host proxyHost, g *guest, body, ctype string, chunks [][]byte, n int) map[string]time.Duration {
	spent := map[string]time.Duration{}
	policyAnswer := answerJSON(allowAll())
	respHeaders := [][2]string{{":status", "200"}, {"content-type", ctype}, {"x-request-id", "req_1"}}
	reqBody := []byte(body)
	for i := 0; i < n; i++ {
		id := host.InitializeHttpContext()
		t0 := time.Now()
		host.CallOnRequestHeaders(id, reqHeaders, false)
		t1 := time.Now()
		host.CallOnRequestBody(id, reqBody, true)
		t2 := time.Now()
		if host.GetCurrentHttpStreamAction(id) != types.ActionContinue {
			for _, c := range host.GetCalloutAttributesFromContext(id) {
				host.CallOnHttpCallResponse(c.CalloutID, [][2]string{{":status", "200"}}, nil, policyAnswer)
			}
			if host.GetSentLocalResponse(id) != nil {
				b.Fatalf("denied: %s", host.GetSentLocalResponse(id).Data)
			}
			t2 = time.Now() // the policy round trip is not the filter's
		}
		host.CallOnResponseHeaders(id, respHeaders, false)
		t3 := time.Now()
		for j, c := range chunks {
			host.CallOnResponseBody(id, c, j == len(chunks)-1)
		}
		t4 := time.Now()
		host.CompleteHttpContext(id)
		if g != nil {
			if _, err := g.onDelete.Call(context.Background(), uint64(id)); err != nil {
				b.Fatal(err)
			}
		}
		t5 := time.Now()
		spent["request_headers"] += t1.Sub(t0)
		spent["request_body"] += t2.Sub(t1)
		spent["response_headers"] += t3.Sub(t2)
		spent["response_body"] += t4.Sub(t3)
		spent["stream_done"] += t5.Sub(t4)
		if i%100 == 99 {
			t6 := time.Now()
			host.Tick()
			answerIngest(host)
			spent["tick"] += time.Since(t6)
		}
	}
	return spent
}

// answerIngest answers the batches sent since the last call with 200.
var ingestAnswered = map[proxyHost]int{}

func answerIngest(host proxyHost) {
	cs := host.GetCalloutAttributesFromContext(proxytest.PluginContextID)
	for _, c := range cs[ingestAnswered[host]:] {
		host.CallOnHttpCallResponse(c.CalloutID, [][2]string{{":status", "200"}}, nil, []byte(`{"accepted":100,"duplicates":0,"rejected":[]}`))
	}
	ingestAnswered[host] = len(cs)
}

func split(b []byte, n int) [][]byte {
	var out [][]byte
	for i := 0; i < len(b); i += n {
		out = append(out, b[i:min(len(b), i+n)])
	}
	return out
}

// guest reaches the module inside a proxytest WasmVMContext, which does not
// export it: proxy_on_delete (the SDK's wrapper never calls it, so without
// this the guest would keep every context and its GC would scan them all,
// which Envoy never makes it do) and its linear memory.
type guest struct {
	onDelete api.Function
	memory   api.Memory
}

func guestOf(b testing.TB, vm types.VMContext) *guest {
	field := func(v reflect.Value, name string) reflect.Value {
		f := v.FieldByName(name)
		if !f.IsValid() {
			b.Fatalf("proxytest/wazero internals changed: no field %s", name)
		}
		return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
	}
	rt := field(reflect.ValueOf(vm).Elem(), "runtime").Elem().Elem() // wazero.Runtime -> *runtime -> runtime
	mod := field(field(rt, "store").Elem(), "moduleList")            // the newest module: the guest
	fn := mod.MethodByName("ExportedFunction").Call([]reflect.Value{reflect.ValueOf("proxy_on_delete")})[0].Interface()
	mem := mod.MethodByName("Memory").Call(nil)[0].Interface()
	g := &guest{onDelete: fn.(api.Function), memory: mem.(api.Memory)}
	if g.onDelete == nil {
		b.Fatal("the newest module is not the filter")
	}
	return g
}

// BenchmarkFilterInterleaved compares CPU per request of the compiled
// filter with the native plugin and, with SPENDGATE_FILTER_BASELINE_WASM,
// another build, in alternating blocks of 500 requests (b.N rounds; every
// other round in the reverse order, so that no mode always follows the
// same one), each on a fresh SDK emulator (it is one per process) after a
// collection of the Go heap, and the compiled modules also on the lean
// host (leanhost_test.go; one host per module, kept across rounds as the
// emulator modes keep their guest): on a shared machine whose load
// drifts, every mode sees the same drift, so the ratios hold where
// separate runs' figures do not. (The emulator's Go garbage of a block is
// mostly collected between blocks, outside the measurement: absolute
// figures, native ones above all, come out lower than BenchmarkFilter's.)
// Ratios: x-native, x-baseline (module / baseline on the same host) and
// x-emulator (lean host / emulator for the same module).
func BenchmarkFilterInterleaved(b *testing.B) {
	log.SetOutput(io.Discard)
	b.Cleanup(func() { log.SetOutput(os.Stderr) })
	sse, err := os.ReadFile("../../meter/testdata/openai/chat_stream.sse")
	if err != nil {
		b.Fatal(err)
	}
	type mode struct {
		name string
		vm   types.VMContext // on the SDK's emulator, a fresh one a block
		g    *guest
		lean *leanHost // or on the lean host, one for all blocks
		cpu  time.Duration
	}
	kinds := []struct {
		name, body string
		chunks     [][]byte
		ctype      string
	}{
		{"non-streaming", benchJSONRequest,
			[][]byte{[]byte(benchJSONAnswer)},
			"application/json"},
		{"streaming", `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`, split(sse, 37), "text/event-stream"},
	}
	const block = 500
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			modes := []*mode{{name: "native", vm: NewVMContext()}}
			baseline := os.Getenv("SPENDGATE_FILTER_BASELINE_WASM")
			if baseline != "" {
				modes = append(modes, &mode{name: "baseline", vm: benchWasmVM(b, baseline)})
			}
			modes = append(modes, &mode{name: "wasm", vm: benchWasmVM(b, wasmPath)})
			for _, m := range modes[1:] {
				m.g = guestOf(b, m.vm)
			}
			if baseline != "" {
				modes = append(modes, &mode{name: "lean-baseline", lean: newLeanHost(b, baseline, []byte(benchConfig))})
			}
			modes = append(modes, &mode{name: "lean", lean: newLeanHost(b, wasmPath, []byte(benchConfig))})
			for _, m := range modes {
				if m.lean != nil {
					if st := m.lean.StartPlugin(); st != types.OnPluginStartStatusOK {
						b.Fatalf("plugin did not start: %v", st)
					}
					runOn(b, m.lean, nil, k.body, k.ctype, k.chunks, 1) // the policy cache
				}
			}
			b.ResetTimer()
			reversed := slices.Clone(modes)
			slices.Reverse(reversed)
			for i := 0; i < b.N; i++ {
				order := modes
				if i%2 == 1 {
					order = reversed
				}
				for _, m := range order {
					var host proxyHost = m.lean
					reset := func() {}
					if m.lean == nil {
						opt := proxytest.NewEmulatorOption().WithVMContext(m.vm).WithPluginConfiguration([]byte(benchConfig))
						var emulator proxytest.HostEmulator
						emulator, reset = proxytest.NewHostEmulator(opt)
						if st := emulator.StartPlugin(); st != types.OnPluginStartStatusOK {
							b.Fatalf("plugin did not start: %v", st)
						}
						runOn(b, emulator, m.g, k.body, k.ctype, k.chunks, 1) // the policy cache
						host = emulator
					}
					runtime.GC()
					cpu0 := processCPU()
					runOn(b, host, m.g, k.body, k.ctype, k.chunks, block)
					m.cpu += processCPU() - cpu0
					reset()
				}
			}
			b.StopTimer()
			per := map[string]float64{}
			for _, m := range modes {
				per[m.name] = float64(m.cpu.Nanoseconds()) / float64(b.N*block)
				b.ReportMetric(per[m.name], "ns-cpu/"+m.name)
			}
			for _, m := range modes[1:] {
				b.ReportMetric(per[m.name]/per["native"], "x-native/"+m.name)
			}
			for _, r := range [][2]string{{"wasm", "baseline"}, {"lean", "lean-baseline"}} {
				if per[r[1]] > 0 {
					b.ReportMetric(per[r[0]]/per[r[1]], "x-baseline/"+r[0])
				}
			}
			for _, r := range [][2]string{{"lean", "wasm"}, {"lean-baseline", "baseline"}} {
				if per[r[1]] > 0 {
					b.ReportMetric(per[r[0]]/per[r[1]], "x-emulator/"+r[0])
				}
			}
		})
	}
}
