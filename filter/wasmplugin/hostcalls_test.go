package wasmplugin

import (
	"context"
	"encoding/binary"
	"io"
	"log"
	"os"
	"reflect"
	"sort"
	"testing"
	"unsafe"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/tetratelabs/wazero/api"
)

// BenchmarkFilterHostCalls counts the compiled module's calls into the host
// per request, by function (calls/<name>, deterministic): the proxy-wasm
// ABI ("env") and WASI. Every call leaves the guest's compiled code for Go,
// and each one that hands the guest data (header maps, bodies, shared data,
// HTTP call answers) calls back into the guest's proxy_on_memory_allocate
// for the buffer. With SPENDGATE_FILTER_BASELINE_WASM it counts that module
// too. The counting wraps wazero's host functions; their cost is not
// measured here (BenchmarkFilter and a CPU profile do that).
//
//	go test -run '^$' -bench BenchmarkFilterHostCalls -benchtime 1000x ./filter/wasmplugin/
func BenchmarkFilterHostCalls(b *testing.B) {
	log.SetOutput(io.Discard)
	b.Cleanup(func() { log.SetOutput(os.Stderr) })
	paths := map[string]string{"wasm": wasmPath}
	if p := os.Getenv("SPENDGATE_FILTER_BASELINE_WASM"); p != "" {
		paths["baseline"] = p
	}
	kinds := []struct {
		name, body, ctype string
		chunks            [][]byte
	}{
		{"non-streaming", benchJSONRequest, "application/json",
			[][]byte{[]byte(benchJSONAnswer)}},
	}
	for _, k := range kinds {
		for _, mode := range []string{"baseline", "wasm"} {
			path, ok := paths[mode]
			if !ok {
				continue
			}
			b.Run(k.name+"/"+mode, func(b *testing.B) {
				vm := benchWasmVM(b, path)
				g := guestOf(b, vm)
				counts := countHostCalls(b, vm)
				host := benchHost(b, vm)
				runOn(b, host, g, k.body, k.ctype, k.chunks, 1) // the policy cache
				for name := range counts {
					*counts[name] = 0
				}
				b.ResetTimer()
				runOn(b, host, g, k.body, k.ctype, k.chunks, b.N)
				b.StopTimer()
				var total uint64
				names := make([]string, 0, len(counts))
				for name, n := range counts {
					if *n > 0 {
						names = append(names, name)
						total += *n
					}
				}
				sort.Strings(names)
				for _, name := range names {
					b.ReportMetric(float64(*counts[name])/float64(b.N), "calls/"+name)
				}
				b.ReportMetric(float64(total)/float64(b.N), "calls/req")
			})
		}
	}
}

// countedModuleFn and countedFn count the calls of a host function.
type countedModuleFn struct {
	f api.GoModuleFunction
	n *uint64
}

func (c *countedModuleFn) Call(ctx context.Context, mod api.Module, stack []uint64) {
	*c.n++
	c.f.Call(ctx, mod, stack)
}

type countedFn struct {
	f api.GoFunction
	n *uint64
}

func (c *countedFn) Call(ctx context.Context, stack []uint64) {
	*c.n++
	c.f.Call(ctx, stack)
}

// countedFns keeps the wrappers alive: wazero holds them only as raw words.
var countedFns []any

// countHostCalls wraps every host function of the runtime behind vm (a
// proxytest WasmVMContext) with a counter, by name. wazero's compiler mode
// looks a host function up at each call in its module's opaque area
// (internal/engine/wazevo/hostmodule.go: the function's interface value at
// 32+16*index); the counters are swapped in there. This reaches into wazero
// 1.7's internals and fails loudly when they change; it is for counting,
// never for timing (the experimental FunctionListener would need the
// context proxytest compiles with, which it does not expose).
func countHostCalls(tb testing.TB, vm types.VMContext) map[string]*uint64 {
	field := func(v reflect.Value, name string) reflect.Value {
		f := v.FieldByName(name)
		if !f.IsValid() {
			tb.Fatalf("proxytest/wazero internals changed: no field %s", name)
		}
		return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
	}
	counts := map[string]*uint64{}
	rt := field(reflect.ValueOf(vm).Elem(), "runtime").Elem().Elem()
	for m := field(field(rt, "store").Elem(), "moduleList"); !m.IsNil(); m = field(m.Elem(), "next") {
		src := field(m.Elem(), "Source")
		if !field(src.Elem(), "IsHostModule").Bool() {
			continue
		}
		module := field(m.Elem(), "ModuleName").String()
		engine := field(m.Elem(), "Engine").Elem()
		opaque := field(engine.Elem(), "opaque").Bytes()
		code := field(src.Elem(), "CodeSection")
		for i := 0; i < code.Len(); i++ {
			def := src.MethodByName("FunctionDefinition").Call([]reflect.Value{reflect.ValueOf(uint32(i))})[0]
			name := def.MethodByName("Name").Call(nil)[0].String()
			if module != "env" {
				name = module + "." + name
			}
			slot := opaque[32+16*i : 48+16*i]
			words := [2]uint64{binary.LittleEndian.Uint64(slot), binary.LittleEndian.Uint64(slot[8:])}
			fn := *(*any)(unsafe.Pointer(&words))
			n := new(uint64)
			var wrapped any
			switch f := fn.(type) {
			case api.GoModuleFunction:
				wrapped = &countedModuleFn{f: f, n: n}
			case api.GoFunction:
				wrapped = &countedFn{f: f, n: n}
			default:
				tb.Fatalf("host function %s is a %T", name, fn)
			}
			countedFns = append(countedFns, wrapped)
			words = *(*[2]uint64)(unsafe.Pointer(&wrapped))
			binary.LittleEndian.PutUint64(slot, words[0])
			binary.LittleEndian.PutUint64(slot[8:], words[1])
			counts[name] = n
		}
	}
	if len(counts) == 0 {
		tb.Fatal("no host functions found")
	}
	return counts
}
