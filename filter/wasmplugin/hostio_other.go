//go:build !tinygo

package wasmplugin

import "github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

// Natively (the package's tests against the SDK's emulator) the hot host
// calls are the SDK's; hostio_tinygo.go has why the module differs.

func requestBody(size int) ([]byte, error)  { return proxywasm.GetHttpRequestBody(0, size) }
func responseBody(size int) ([]byte, error) { return proxywasm.GetHttpResponseBody(0, size) }

func requestHeaders(dst [][2]string) ([][2]string, error) {
	return proxywasm.GetHttpRequestHeaders()
}

func responseHeaders(dst [][2]string) ([][2]string, error) {
	return proxywasm.GetHttpResponseHeaders()
}

func sharedDataGet(name string) ([]byte, uint32, error) { return proxywasm.GetSharedData(name) }
