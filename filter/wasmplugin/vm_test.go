package wasmplugin

import (
	"os"
	"sync"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// wasmPath is the filter as TinyGo builds it (make filter).
const wasmPath = "../filter.wasm"

// vmTest runs a test twice, as coraza-proxy-wasm's main_test.go does:
// "go" drives this package natively, "wasm" drives the compiled filter
// through the SDK's wazero-backed proxytest.NewWasmVMContext, so what ships
// is what is tested. Without filter.wasm the wasm run is skipped, unless
// SPENDGATE_FILTER_WASM=required (make test builds it first and sets that).
//
// Tests that inject the clock or the shared data (rate limit windows moving
// from minute to minute, workers racing) cannot reach into the compiled
// module: they run natively only (newHostVM).
func vmTest(t *testing.T, f func(t *testing.T, vm types.VMContext)) {
	t.Run("go", func(t *testing.T) { f(t, NewVMContext()) })
	t.Run("wasm", func(t *testing.T) { f(t, wasmVM(t)) })
}

var (
	wasmOnce sync.Once
	wasmCtx  proxytest.WasmVMContext
	wasmErr  error
)

// wasmVM is the compiled filter, instantiated once per test binary: wazero
// compiles the module in about a second, and every test starts its own
// plugin context in it (the emulator's contexts replace the last test's).
func wasmVM(t *testing.T) types.VMContext {
	t.Helper()
	wasmOnce.Do(func() {
		var wasm []byte
		if wasm, wasmErr = os.ReadFile(wasmPath); wasmErr == nil {
			wasmCtx, wasmErr = proxytest.NewWasmVMContext(wasm)
		}
	})
	if wasmErr != nil {
		if os.Getenv("SPENDGATE_FILTER_WASM") == "required" {
			t.Fatalf("the compiled filter is needed (make filter): %v", wasmErr)
		}
		t.Skipf("no compiled filter (make filter builds %s): %v", wasmPath, wasmErr)
	}
	return wasmCtx
}
