package recordapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Decode reads a JSON request body into v (a pointer to one of this
// package's request types) strictly: unknown fields, wrong types and
// malformed values are each reported with the JSON pointer of the field,
// so a caller learns every problem of the body at once, not the first one
// encoding/json stops at.
func Decode(body []byte, v any) []FieldError {
	return DecodeAt(body, v, "")
}

// DecodeAt is Decode for a value at JSON pointer prefix of a larger body
// (a batch's "/records/3").
func DecodeAt(body []byte, v any, prefix string) []FieldError {
	var errs []FieldError
	decodeInto(bytes.TrimSpace(body), reflect.ValueOf(v).Elem(), prefix, &errs)
	return errs
}

var timeType = reflect.TypeFor[time.Time]()

func decodeInto(raw []byte, v reflect.Value, path string, errs *[]FieldError) {
	if len(raw) == 0 {
		*errs = append(*errs, FieldError{Path: path, Message: "a JSON value is required"})
		return
	}
	if string(raw) == "null" {
		return // absent
	}
	t := v.Type()
	switch {
	case t == timeType:
		var s string
		if json.Unmarshal(raw, &s) != nil {
			*errs = append(*errs, FieldError{Path: path, Message: "must be an RFC 3339 time string, e.g. 2026-12-04T21:30:00Z"})
			return
		}
		at, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			*errs = append(*errs, FieldError{Path: path, Message: "must be an RFC 3339 time with a time zone, e.g. 2026-12-04T21:30:00Z"})
			return
		}
		v.Set(reflect.ValueOf(at.UTC()))
	case t.Kind() == reflect.Pointer:
		elem := reflect.New(t.Elem())
		before := len(*errs)
		decodeInto(raw, elem.Elem(), path, errs)
		if len(*errs) == before {
			v.Set(elem)
		}
	case t.Kind() == reflect.Struct:
		var fields map[string]json.RawMessage
		if raw[0] != '{' || json.Unmarshal(raw, &fields) != nil {
			*errs = append(*errs, FieldError{Path: path, Message: "must be a JSON object"})
			return
		}
		byName := structFields(t)
		for _, name := range sortedKeys(fields) {
			i, ok := byName[name]
			if !ok {
				*errs = append(*errs, FieldError{Path: path + "/" + escapePointer(name), Message: "unknown field"})
				continue
			}
			decodeInto(fields[name], v.Field(i), path+"/"+escapePointer(name), errs)
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		var items []json.RawMessage
		if raw[0] != '[' || json.Unmarshal(raw, &items) != nil {
			*errs = append(*errs, FieldError{Path: path, Message: "must be a JSON array"})
			return
		}
		s := reflect.MakeSlice(t, len(items), len(items))
		for i, item := range items {
			decodeInto(item, s.Index(i), path+"/"+strconv.Itoa(i), errs)
		}
		v.Set(s)
	case t.Kind() == reflect.Map:
		var m map[string]json.RawMessage
		if raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
			*errs = append(*errs, FieldError{Path: path, Message: "must be a JSON object of strings"})
			return
		}
		out := reflect.MakeMapWithSize(t, len(m))
		for _, k := range sortedKeys(m) {
			var s string
			if json.Unmarshal(m[k], &s) != nil {
				*errs = append(*errs, FieldError{Path: path + "/" + escapePointer(k), Message: "must be a string"})
				continue
			}
			out.SetMapIndex(reflect.ValueOf(k), reflect.ValueOf(s))
		}
		v.Set(out)
	default:
		if json.Unmarshal(raw, v.Addr().Interface()) != nil {
			*errs = append(*errs, FieldError{Path: path, Message: scalarMessage(t.Kind())})
		}
	}
}

func scalarMessage(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "must be a string"
	case reflect.Int, reflect.Int64:
		return "must be a whole number"
	case reflect.Bool:
		return "must be true or false"
	}
	return "has the wrong type"
}

// structFields maps a struct's JSON names to field indexes.
func structFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = i
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// escapePointer escapes one JSON pointer token (RFC 6901).
func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// Merge lists decoding problems, then validation problems of the fields that
// decoded (a field that could not be decoded is left zero, and "is
// required" would only repeat its problem).
func Merge(decoding, validation []FieldError) []FieldError {
	out := decoding
	for _, v := range validation {
		if !slices.ContainsFunc(decoding, func(d FieldError) bool { return d.Path == v.Path }) {
			out = append(out, v)
		}
	}
	return out
}
