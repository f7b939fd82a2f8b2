package wasmplugin

import (
	"encoding/binary"
	"unsafe"
)

// decodeHeaders appends the pairs of a proxy-wasm serialized header map to
// dst: a little-endian u32 count, then a u32 name size and a u32 value
// size per pair, then each name and value followed by a NUL. The strings
// are views of data, not copies. A malformed map ends the decoding where
// it stops making sense (the host writes it; this is not untrusted input,
// but a short buffer must not panic the VM).
func decodeHeaders(dst [][2]string, data []byte) [][2]string {
	if len(data) < 4 {
		return dst
	}
	n := int(binary.LittleEndian.Uint32(data))
	sizes := 4
	next := 4 + 8*n
	if n < 0 || next > len(data) {
		return dst
	}
	for i := 0; i < n; i++ {
		ks := int(binary.LittleEndian.Uint32(data[sizes:]))
		vs := int(binary.LittleEndian.Uint32(data[sizes+4:]))
		sizes += 8
		if ks < 0 || vs < 0 || next+ks+1+vs+1 > len(data) {
			return dst
		}
		k := data[next : next+ks]
		next += ks + 1
		v := data[next : next+vs]
		next += vs + 1
		dst = append(dst, [2]string{unsafe.String(unsafe.SliceData(k), len(k)), unsafe.String(unsafe.SliceData(v), len(v))})
	}
	return dst
}
