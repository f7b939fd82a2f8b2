//go:build tinygo

package wasmplugin

import (
	"unsafe"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
)

// The host calls of every request, made without the SDK's wrappers: those
// pass the addresses of local variables to the host, and a local whose
// address leaves the guest is a heap object under TinyGo (two or three per
// call, on every header map, body chunk and cache read). Here the host
// writes into package variables instead: the VM runs one callback at a
// time, and each result is taken out before the next call. The ABI is the
// SDK's own (proxywasm/internal/abi_hostcalls.go, declared the same way);
// on any status but OK the SDK's wrapper is called again for its error,
// so callers see exactly what the SDK would give them. Native builds (the
// package's tests) use the SDK directly (hostio_other.go).

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

// The proxy-wasm ABI's buffer and map types.
const (
	bufferRequestBody  = 0
	bufferResponseBody = 1
	mapRequestHeaders  = 0
	mapResponseHeaders = 2
	statusOK           = 0
)

func requestBody(size int) ([]byte, error) {
	if proxyGetBufferBytes(bufferRequestBody, 0, size, &hostData, &hostSize) != statusOK || hostData == nil {
		return proxywasm.GetHttpRequestBody(0, size)
	}
	return unsafe.Slice(hostData, hostSize), nil
}

func responseBody(size int) ([]byte, error) {
	if proxyGetBufferBytes(bufferResponseBody, 0, size, &hostData, &hostSize) != statusOK || hostData == nil {
		return proxywasm.GetHttpResponseBody(0, size)
	}
	return unsafe.Slice(hostData, hostSize), nil
}

// requestHeaders and responseHeaders decode into dst[:0] (a buffer the
// caller reuses); the strings are views of the host's copy.
func requestHeaders(dst [][2]string) ([][2]string, error) {
	if proxyGetHeaderMapPairs(mapRequestHeaders, &hostData, &hostSize) != statusOK || hostData == nil {
		return proxywasm.GetHttpRequestHeaders()
	}
	return decodeHeaders(dst[:0], unsafe.Slice(hostData, hostSize)), nil
}

func responseHeaders(dst [][2]string) ([][2]string, error) {
	if proxyGetHeaderMapPairs(mapResponseHeaders, &hostData, &hostSize) != statusOK || hostData == nil {
		return proxywasm.GetHttpResponseHeaders()
	}
	return decodeHeaders(dst[:0], unsafe.Slice(hostData, hostSize)), nil
}

func sharedDataGet(name string) ([]byte, uint32, error) {
	if proxyGetSharedData(unsafe.StringData(name), len(name), &hostData, &hostSize, &hostCas) != statusOK {
		return proxywasm.GetSharedData(name)
	}
	return unsafe.Slice(hostData, hostSize), hostCas, nil
}
