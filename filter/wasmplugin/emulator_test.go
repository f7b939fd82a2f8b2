package wasmplugin

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// calloutCopies wraps the SDK's host emulator so that tests read the
// calls the plugin dispatched (DispatchHttpCall) as the host received them.
//
// The emulator (v0.24, proxytest/root.go ProxyHttpCall) keeps a dispatched
// call's upstream and headers as views of the caller's memory. Natively
// that is a Go buffer the views keep alive. Against the compiled module it
// is the guest's linear memory, where the SDK serialized the headers into a
// buffer that is garbage once DispatchHttpCall returns: after the guest's
// next collection its allocations overwrite them, and a test reading the
// headers later reads whatever lives there now
// (TestDispatchedHeadersOutliveGuestGarbage). So every callback into the
// guest is followed by copying the callouts it made, while their memory is
// still as the guest left it; GetCalloutAttributesFromContext answers from
// the copies. (The body, which the emulator copies itself, is unaffected.)
type calloutCopies struct {
	proxytest.HostEmulator
	contexts []uint32
	copies   map[uint32][]proxytest.HttpCalloutAttribute
}

func copyCallouts(h proxytest.HostEmulator) *calloutCopies {
	return &calloutCopies{HostEmulator: h, contexts: []uint32{proxytest.PluginContextID}, copies: map[uint32][]proxytest.HttpCalloutAttribute{}}
}

// take copies the callouts the given contexts (none: every context) made
// since the last take.
func (c *calloutCopies) take(ids ...uint32) {
	if len(ids) == 0 {
		ids = c.contexts
	}
	for _, id := range ids {
		seen := c.copies[id]
		for _, co := range c.HostEmulator.GetCalloutAttributesFromContext(id)[len(seen):] {
			co.Upstream = strings.Clone(co.Upstream)
			co.Headers = cloneHeaders(co.Headers)
			co.Trailers = cloneHeaders(co.Trailers)
			seen = append(seen, co)
		}
		c.copies[id] = seen
	}
}

func cloneHeaders(h [][2]string) [][2]string {
	if h == nil {
		return nil
	}
	out := make([][2]string, len(h))
	for i, kv := range h {
		out[i] = [2]string{strings.Clone(kv[0]), strings.Clone(kv[1])}
	}
	return out
}

func (c *calloutCopies) GetCalloutAttributesFromContext(contextID uint32) []proxytest.HttpCalloutAttribute {
	c.take(contextID)
	return c.copies[contextID]
}

// Every emulator call that runs guest code is followed by take.

func (c *calloutCopies) StartPlugin() types.OnPluginStartStatus {
	defer c.take(proxytest.PluginContextID)
	return c.HostEmulator.StartPlugin()
}

func (c *calloutCopies) InitializeHttpContext() uint32 {
	id := c.HostEmulator.InitializeHttpContext()
	c.contexts = append(c.contexts, id)
	c.take(id, proxytest.PluginContextID)
	return id
}

func (c *calloutCopies) CallOnRequestHeaders(id uint32, headers [][2]string, endOfStream bool) types.Action {
	defer c.take(id, proxytest.PluginContextID)
	return c.HostEmulator.CallOnRequestHeaders(id, headers, endOfStream)
}

func (c *calloutCopies) CallOnRequestBody(id uint32, body []byte, endOfStream bool) types.Action {
	defer c.take(id, proxytest.PluginContextID)
	return c.HostEmulator.CallOnRequestBody(id, body, endOfStream)
}

func (c *calloutCopies) CallOnRequestTrailers(id uint32, trailers [][2]string) types.Action {
	defer c.take(id, proxytest.PluginContextID)
	return c.HostEmulator.CallOnRequestTrailers(id, trailers)
}

func (c *calloutCopies) CallOnResponseHeaders(id uint32, headers [][2]string, endOfStream bool) types.Action {
	defer c.take(id, proxytest.PluginContextID)
	return c.HostEmulator.CallOnResponseHeaders(id, headers, endOfStream)
}

func (c *calloutCopies) CallOnResponseBody(id uint32, body []byte, endOfStream bool) types.Action {
	defer c.take(id, proxytest.PluginContextID)
	return c.HostEmulator.CallOnResponseBody(id, body, endOfStream)
}

func (c *calloutCopies) CallOnResponseTrailers(id uint32, trailers [][2]string) types.Action {
	defer c.take(id, proxytest.PluginContextID)
	return c.HostEmulator.CallOnResponseTrailers(id, trailers)
}

func (c *calloutCopies) CompleteHttpContext(id uint32) {
	defer c.take(id, proxytest.PluginContextID)
	c.HostEmulator.CompleteHttpContext(id)
}

func (c *calloutCopies) Tick() {
	defer c.take(proxytest.PluginContextID)
	c.HostEmulator.Tick()
}

func (c *calloutCopies) CallOnHttpCallResponse(calloutID uint32, headers, trailers [][2]string, body []byte) {
	defer c.take()
	c.HostEmulator.CallOnHttpCallResponse(calloutID, headers, trailers, body)
}

// TestDispatchedHeadersOutliveGuestGarbage: the headers of every batch sent
// to ingest read, after a couple of thousand calls have churned the guest's
// heap, as they did when it was sent: the helpers read the copies
// calloutCopies took as the guest handed back control. Read from the
// emulator's own record instead, the compiled module's run finds other bytes
// there by then (logged; without calloutCopies this test fails on them).
func TestDispatchedHeadersOutliveGuestGarbage(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := newHost(t, vm, testConfig)
		r := req{path: "/v1/openai/chat/completions", key: "sg_live_churn", body: `{"model":"gpt-4o-mini","messages":[]}`}
		// Calls as Envoy makes them, each context deleted when done, so
		// their memory is garbage the guest's collector hands out again.
		var g *guest
		if _, compiled := vm.(proxytest.WasmVMContext); compiled {
			g = guestOf(t, vm)
		}
		var sent []proxytest.HttpCalloutAttribute // as read right after each tick
		for i := 0; i < 2000; i++ {
			id, _ := send(t, host, r, "200", answerJSON(allowAll()))
			respond(host, id, "application/json", `{"model":"gpt-4o-mini","usage":{"prompt_tokens":3,"completion_tokens":1}}`)
			if g != nil {
				if _, err := g.onDelete.Call(context.Background(), uint64(id)); err != nil {
					t.Fatal(err)
				}
			}
			if i%20 == 19 {
				host.Tick()
				cs := host.GetCalloutAttributesFromContext(proxytest.PluginContextID)
				for _, c := range cs[len(sent):] {
					sent = append(sent, proxytest.HttpCalloutAttribute{Upstream: c.Upstream, Headers: cloneHeaders(c.Headers)})
					host.CallOnHttpCallResponse(c.CalloutID, [][2]string{{":status", "200"}}, nil, []byte(`{"accepted":20,"duplicates":0,"rejected":[]}`))
				}
			}
		}
		if len(sent) < 50 {
			t.Fatalf("%d batches sent", len(sent))
		}
		var emulated []proxytest.HttpCalloutAttribute
		if c, ok := host.(*calloutCopies); ok {
			emulated = c.HostEmulator.GetCalloutAttributesFromContext(proxytest.PluginContextID)
		}
		overwritten := 0
		for i, c := range host.GetCalloutAttributesFromContext(proxytest.PluginContextID) {
			if c.Upstream != "spendgate_ingest" || !slices.Equal(c.Headers, sent[i].Headers) || hv(c.Headers, "authorization") != "Bearer svc-token" ||
				hv(c.Headers, ":path") != "/internal/v1/events" || hv(c.Headers, ":method") != "POST" {
				t.Fatalf("batch %d: headers %q after the guest ran on, sent as %q", i, c.Headers, sent[i].Headers)
			}
			if i < len(emulated) && !slices.Equal(emulated[i].Headers, c.Headers) {
				overwritten++
			}
		}
		if overwritten > 0 {
			t.Logf("the emulator's own record of %d of %d batches' headers reads other bytes by now, e.g. %q", overwritten, len(sent), emulated[0].Headers)
		}
	})
}
