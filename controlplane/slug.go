package controlplane

import (
	"crypto/rand"
	"encoding/hex"
)

// SlugFor derives a tenant slug from its name, for callers that are given
// no slug (`spendgate users create-owner` without --tenant-slug): lower-case
// letters and digits kept, every other run of characters one '-', at most
// 63 characters, so the result always passes the slug rule (cleanSlug). A name
// with nothing usable gets a random "t-xxxxxxxx".
func SlugFor(name string) string {
	out := make([]byte, 0, len(name))
	for _, c := range []byte(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			out = append(out, c)
		case c >= 'A' && c <= 'Z':
			out = append(out, c+32)
		case len(out) > 0 && out[len(out)-1] != '-':
			out = append(out, '-')
		}
	}
	for len(out) > 0 && out[len(out)-1] == '-' {
		out = out[:len(out)-1]
	}
	if len(out) == 0 {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		return "t-" + hex.EncodeToString(b)
	}
	return string(out[:min(len(out), 63)])
}
