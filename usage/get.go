package usage

import "github.com/tidwall/gjson"

// Get is obj.Get(path) for the plain dotted paths the parsers use ("a",
// "a.b"), found by one scan of obj's members instead of gjson's Get, which
// allocates a parse context per call (TinyGo puts it on the heap: two dozen
// per usage object on the Envoy filter's hot path, where allocations are
// what its collector pays for). Any other path, a key written with an
// escape, or JSON the scan does not expect is left to gjson, so the answer
// is always gjson's (FuzzGetMatchesGJSON).
func Get(obj gjson.Result, path string) gjson.Result {
	if !plainPath(path) {
		return obj.Get(path)
	}
	cur := obj
	for rest := path; ; {
		seg := rest
		next := ""
		for i := 0; i < len(rest); i++ {
			if rest[i] == '.' {
				seg, next = rest[:i], rest[i+1:]
				break
			}
		}
		if cur.Type != gjson.JSON || len(cur.Raw) == 0 || cur.Raw[0] != '{' {
			return obj.Get(path) // arrays and scalars: gjson's rules
		}
		v, ok := member(cur.Raw, seg)
		if !ok {
			return obj.Get(path)
		}
		if next == "" || !v.Exists() {
			return v
		}
		cur, rest = v, next
	}
}

// plainPath reports a path of names made of [A-Za-z0-9_] joined by dots.
func plainPath(p string) bool {
	if p == "" || p[0] == '.' || p[len(p)-1] == '.' {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '.':
			if p[i-1] == '.' {
				return false
			}
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			return false
		}
	}
	return true
}

// member finds the first member named key of the JSON object raw (which
// starts with '{'). ok is false when the scan met something it does not
// handle (an escaped key, JSON it does not expect): the caller asks gjson.
func member(raw, key string) (v gjson.Result, ok bool) {
	i := skipSpace(raw, 1)
	if i < len(raw) && raw[i] == '}' {
		return gjson.Result{}, true
	}
	for i < len(raw) {
		if raw[i] != '"' {
			return gjson.Result{}, false
		}
		end := i + 1
		for end < len(raw) && raw[end] != '"' {
			if raw[end] == '\\' {
				return gjson.Result{}, false
			}
			end++
		}
		if end >= len(raw) {
			return gjson.Result{}, false
		}
		name := raw[i+1 : end]
		i = skipSpace(raw, end+1)
		if i >= len(raw) || raw[i] != ':' {
			return gjson.Result{}, false
		}
		start := skipSpace(raw, i+1)
		stop := skipValue(raw, start)
		if stop < 0 {
			return gjson.Result{}, false
		}
		if name == key {
			return gjson.Parse(raw[start:stop]), true
		}
		i = skipSpace(raw, stop)
		switch {
		case i < len(raw) && raw[i] == ',':
			i = skipSpace(raw, i+1)
		case i < len(raw) && raw[i] == '}':
			return gjson.Result{}, true
		default:
			return gjson.Result{}, false
		}
	}
	return gjson.Result{}, false
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value starting at i, or -1.
func skipValue(s string, i int) int {
	if i >= len(s) {
		return -1
	}
	switch s[i] {
	case '"':
		return skipString(s, i)
	case '{', '[':
		depth := 0
		for i < len(s) {
			switch s[i] {
			case '"':
				if i = skipString(s, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	start := i
	for i < len(s) {
		switch s[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if i == start {
				return -1
			}
			return i
		}
		i++
	}
	return -1
}

// skipString returns the index just past the string starting at i, or -1.
func skipString(s string, i int) int {
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}
