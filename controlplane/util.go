package controlplane

import (
	"strconv"
	"strings"
)

func itoa(n int) string     { return strconv.Itoa(n) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// replaceCols adapts the keyset fragment to a query's column expressions.
func replaceCols(where, createdCol, idCol string) string {
	if where == "" {
		return ""
	}
	return strings.Replace(where, "(created_at, id::text)", "("+createdCol+", "+idCol+")", 1)
}

func padID(s string) string {
	for len(s) < 20 {
		s = "0" + s
	}
	return s
}
