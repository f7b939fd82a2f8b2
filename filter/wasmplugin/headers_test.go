package wasmplugin

import (
	"encoding/binary"
	"slices"
	"testing"
)

// serializeHeaders is the proxy-wasm header map encoding (as the host
// writes it, and as the SDK's internal.SerializeMap does).
func serializeHeaders(hs [][2]string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(hs)))
	for _, h := range hs {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(h[0])))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(h[1])))
	}
	for _, h := range hs {
		b = append(append(b, h[0]...), 0)
		b = append(append(b, h[1]...), 0)
	}
	return b
}

func TestDecodeHeaders(t *testing.T) {
	for name, hs := range map[string][][2]string{
		"none":         {},
		"request":      reqHeaders,
		"empty values": {{"x-a", ""}, {"", ""}, {"x-b", "v"}},
	} {
		got := decodeHeaders(make([][2]string, 3), serializeHeaders(hs))[3:]
		if !slices.Equal(got, hs) {
			t.Errorf("%s: %q, want %q", name, got, hs)
		}
	}
	whole := serializeHeaders(reqHeaders)
	for n := 0; n < len(whole); n++ { // a short map must not panic
		if got := decodeHeaders(nil, whole[:n]); len(got) >= len(reqHeaders) {
			t.Errorf("%d bytes of %d decoded to every header", n, len(whole))
		}
	}
}
