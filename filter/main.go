// Command filter is spendgate's proxy-wasm HTTP filter for Envoy, built
// with TinyGo (make filter). Everything is in filter/wasmplugin; see there.
package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/spendgate/spendgate/filter/wasmplugin"
)

func main() {
	proxywasm.SetVMContext(wasmplugin.NewVMContext())
}
