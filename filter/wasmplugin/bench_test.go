package wasmplugin

import (
	"context"
	"io"
	"log"
	"os"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/tetratelabs/wazero/api"
)

// Package-level benchmark of the filter (labelled as such: the emulator
// stands in for Envoy, and its own host-side work is in every figure).
//
//	go test -run '^$' -bench BenchmarkFilter -benchtime 20000x ./filter/wasmplugin/
//
// "wasm" is the module make filter builds, run by wazero in its compiler
// mode (proxytest.NewWasmVMContext; the compiler is wazero's default on
// amd64 and arm64); "go" is the same plugin compiled natively, the
// baseline each wasm figure is divided by (x-native). Every request is a
// whole call with a warm policy cache: request headers, body, response
// headers, the body (one JSON chunk, or a real SSE capture in 37-byte
// chunks), stream end; every 100 requests a tick flushes the events and
// ingest answers 200. Figures: ns/req for the whole request and ns/<callback>
// for each callback, averaged per request (wall time), and ns/cpu, the
// process's CPU time per request (what a loaded machine does not inflate;
// it includes the emulator's and the Go runtime's share).
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
		{"non-streaming", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`,
			[][]byte{[]byte(`{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}`)},
			"application/json"},
		{"streaming", `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`, split(sse, 37), "text/event-stream"},
	}
	for _, k := range kinds {
		native := map[string]float64{}
		for _, mode := range []string{"go", "wasm"} {
			b.Run(k.name+"/"+mode, func(b *testing.B) {
				vm := types.VMContext(NewVMContext())
				var g *guest
				if mode == "wasm" {
					vm = benchWasmVM(b)
					g = guestOf(b, vm)
				}
				per := runRequests(b, vm, g, k.body, k.ctype, k.chunks, b.N)
				for name, ns := range per {
					b.ReportMetric(ns, "ns/"+name)
					if mode == "go" {
						native[name] = ns
					} else if native[name] > 0 {
						b.ReportMetric(ns/native[name], "x-native/"+name)
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
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	answer := [][]byte{[]byte(`{"model":"gpt-4o-mini","usage":{"prompt_tokens":9,"completion_tokens":2}}`)}
	for i := 0; i < b.N; i++ {
		vm := benchWasmVM(b)
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

func heapGauge(b *testing.B, host proxytest.HostEmulator) uint64 {
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

var benchVM proxytest.WasmVMContext

func benchWasmVM(b *testing.B) types.VMContext {
	if benchVM == nil {
		wasm, err := os.ReadFile(wasmPath)
		if err != nil {
			b.Skipf("no compiled filter (make filter): %v", err)
		}
		if benchVM, err = proxytest.NewWasmVMContext(wasm); err != nil {
			b.Fatal(err)
		}
	}
	return benchVM
}

func benchHost(b *testing.B, vm types.VMContext) proxytest.HostEmulator {
	opt := proxytest.NewEmulatorOption().WithVMContext(vm).WithPluginConfiguration([]byte(`{"service_token":"svc-token","flush_interval_ms":100,"batch_max_events":100,"max_buffered_events":10000}`))
	host, reset := proxytest.NewHostEmulator(opt)
	b.Cleanup(reset)
	if st := host.StartPlugin(); st != types.OnPluginStartStatusOK {
		b.Fatalf("plugin did not start: %v", st)
	}
	return host
}

// runRequests times n requests on a fresh host (after one warming the
// policy cache) and returns ns per request: "req" and each callback.
func runRequests(b *testing.B, vm types.VMContext, g *guest, body, ctype string, chunks [][]byte, n int) map[string]float64 {
	host := benchHost(b, vm)
	runOn(b, host, g, body, ctype, chunks, 1)
	b.ResetTimer()
	cpu0 := processCPU()
	t := runOn(b, host, g, body, ctype, chunks, n)
	cpu := processCPU() - cpu0
	b.StopTimer()
	out := map[string]float64{"cpu": float64(cpu.Nanoseconds()) / float64(n)}
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
func runOn(b *testing.B, host proxytest.HostEmulator, g *guest, body, ctype string, chunks [][]byte, n int) map[string]time.Duration {
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
var ingestAnswered = map[proxytest.HostEmulator]int{}

func answerIngest(host proxytest.HostEmulator) {
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
