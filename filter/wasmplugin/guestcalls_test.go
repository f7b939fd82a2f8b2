package wasmplugin

import (
	"context"
	"io"
	"log"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// BenchmarkFilterGuestCalls counts the compiled module's own function calls
// per non-streaming request (calls/<function>, the most called ones, and
// calls/req in all; deterministic), through wazero's function listener:
// where the guest's time goes when no profiler can see inside it. Inlined
// functions are not counted. The listener makes every call far slower, so
// this attributes work and times nothing.
//
//	go test -run '^$' -bench BenchmarkFilterGuestCalls -benchtime 3000x ./filter/wasmplugin/
func BenchmarkFilterGuestCalls(b *testing.B) {
	log.SetOutput(io.Discard)
	b.Cleanup(func() { log.SetOutput(os.Stderr) })
	vm := listenedWasmVM(b, wasmPath, guestCalls)
	g := guestOf(b, vm)
	host := benchHost(b, vm)
	body := benchJSONRequest
	chunks := [][]byte{[]byte(benchJSONAnswer)}
	runOn(b, host, g, body, "application/json", chunks, 200) // caches and buffers warm, the heap grown
	for _, n := range guestCalls.n {
		*n = 0
	}
	b.ResetTimer()
	runOn(b, host, g, body, "application/json", chunks, b.N)
	b.StopTimer()
	type count struct {
		name string
		n    uint64
	}
	var all []count
	var total uint64
	for name, n := range guestCalls.n {
		all = append(all, count{name, *n})
		total += *n
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n })
	for _, c := range all[:min(15, len(all))] {
		b.ReportMetric(float64(c.n)/float64(b.N), "calls/"+strings.Join(strings.Fields(c.name), ""))
	}
	b.ReportMetric(float64(total)/float64(b.N), "calls/req")
}

// guestCalls counts calls by function name. One for the test binary:
// wazero caches a compiled module with the listeners of its first
// compilation, so the counters must outlive a benchmark run.
var guestCalls = &callCounter{n: map[string]*uint64{}}

type callCounter struct{ n map[string]*uint64 }

func (c *callCounter) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	n, ok := c.n[def.DebugName()]
	if !ok {
		n = new(uint64)
		c.n[def.DebugName()] = n
	}
	return callCount{n}
}

type callCount struct{ n *uint64 }

func (c callCount) Before(context.Context, api.Module, api.FunctionDefinition, []uint64, experimental.StackIterator) {
	*c.n++
}
func (callCount) After(context.Context, api.Module, api.FunctionDefinition, []uint64) {}
func (callCount) Abort(context.Context, api.Module, api.FunctionDefinition, error)    {}

var listenedModules int

// listenedWasmVM is the module at path compiled with listeners of factory,
// instantiated beside proxytest's (in the same runtime, so the same host
// functions serve it), behind a copy of proxytest's VM context that calls
// into it. Like guestOf, this reaches into proxytest's internals and fails
// loudly when they change; proxytest compiles with a context of its own,
// where no listener can be put.
func listenedWasmVM(b *testing.B, path string, factory experimental.FunctionListenerFactory) types.VMContext {
	base := benchWasmVM(b, path)
	field := func(v reflect.Value, name string) reflect.Value {
		f := v.FieldByName(name)
		if !f.IsValid() {
			b.Fatalf("proxytest internals changed: no field %s", name)
		}
		return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
	}
	rt := field(reflect.ValueOf(base).Elem(), "runtime").Interface().(wazero.Runtime)
	wasm, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	ctx := experimental.WithFunctionListenerFactory(context.Background(), factory)
	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		b.Fatal(err)
	}
	listenedModules++
	mod, err := rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("listened-"+strconv.Itoa(listenedModules)).WithStdout(os.Stderr).WithStderr(os.Stderr))
	if err != nil {
		b.Fatal(err)
	}
	vm := reflect.New(reflect.TypeOf(base).Elem())
	field(vm.Elem(), "runtime").Set(field(reflect.ValueOf(base).Elem(), "runtime"))
	field(vm.Elem(), "ctx").Set(reflect.ValueOf(context.Background()))
	abi := field(vm.Elem(), "abi")
	for i := 0; i < abi.NumField(); i++ {
		// proxyOnRequestHeaders -> proxy_on_request_headers
		var export strings.Builder
		for _, r := range strings.Replace(abi.Type().Field(i).Name, "VM", "Vm", 1) {
			if r >= 'A' && r <= 'Z' {
				export.WriteByte('_')
				r += 'a' - 'A'
			}
			export.WriteRune(r)
		}
		fn := mod.ExportedFunction(export.String())
		if fn == nil {
			b.Fatalf("the module exports no %s", export.String())
		}
		field(abi, abi.Type().Field(i).Name).Set(reflect.ValueOf(fn))
	}
	return vm.Interface().(types.VMContext)
}
