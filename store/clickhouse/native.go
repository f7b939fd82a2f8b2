package clickhouse

import (
	"encoding/binary"
	"fmt"
	"time"
)

// The Native format, as ClickHouse reads it from an HTTP INSERT (no block
// info: that is the native protocol's, not the format's): a block is the
// number of columns and of rows as uvarints, then each column's name, type
// and values. Values are little-endian for numbers (DateTime is UInt32
// seconds), a uvarint length and the bytes for a String, and for an Array
// the rows' cumulative end offsets (UInt64) followed by every element.
// Unlike RowBinary the block names each column's type, so a type this
// writer got wrong is refused by the server rather than read as other
// columns' bytes.

// nativeBlock appends the Native block of rows for cols to dst.
func nativeBlock(dst []byte, cols []eventColumn, rows []eventRow, now time.Time) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(cols)))
	dst = binary.AppendUvarint(dst, uint64(len(rows)))
	for _, c := range cols {
		dst = nativeStr(dst, c.name)
		dst = nativeStr(dst, c.chType)
		dst = c.encode(dst, rows, now)
	}
	return dst
}

func nativeStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// nativeOf returns T's ClickHouse type and Native encoder of n values.
func nativeOf[T any]() (chType string, encode func(dst []byte, n int, at func(int) T) []byte) {
	var enc any
	switch any((*T)(nil)).(type) {
	case *string:
		chType, enc = "String", nativeString
	case *[]string:
		chType, enc = "Array(String)", nativeStringArray
	case *time.Time:
		chType, enc = "DateTime", nativeDateTime
	case *uint8:
		chType, enc = "UInt8", nativeUInt8
	case *uint16:
		chType, enc = "UInt16", nativeUInt16
	case *uint32:
		chType, enc = "UInt32", nativeUInt32
	case *int64:
		chType, enc = "Int64", nativeInt64
	default: // a column of a new type: add its encoder above
		panic(fmt.Sprintf("clickhouse: no Native encoding for %T", *new(T)))
	}
	return chType, enc.(func([]byte, int, func(int) T) []byte)
}

func nativeString(dst []byte, n int, at func(int) string) []byte {
	for i := range n {
		dst = nativeStr(dst, at(i))
	}
	return dst
}

func nativeStringArray(dst []byte, n int, at func(int) []string) []byte {
	end := uint64(0)
	for i := range n {
		end += uint64(len(at(i)))
		dst = binary.LittleEndian.AppendUint64(dst, end)
	}
	for i := range n {
		for _, s := range at(i) {
			dst = nativeStr(dst, s)
		}
	}
	return dst
}

// nativeDateTime writes seconds since 1970 as UInt32, as ClickHouse stores
// DateTime (times before 1970 or after 2106 are not representable there
// either).
func nativeDateTime(dst []byte, n int, at func(int) time.Time) []byte {
	for i := range n {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(at(i).Unix()))
	}
	return dst
}

func nativeUInt8(dst []byte, n int, at func(int) uint8) []byte {
	for i := range n {
		dst = append(dst, at(i))
	}
	return dst
}

func nativeUInt16(dst []byte, n int, at func(int) uint16) []byte {
	for i := range n {
		dst = binary.LittleEndian.AppendUint16(dst, at(i))
	}
	return dst
}

func nativeUInt32(dst []byte, n int, at func(int) uint32) []byte {
	for i := range n {
		dst = binary.LittleEndian.AppendUint32(dst, at(i))
	}
	return dst
}

func nativeInt64(dst []byte, n int, at func(int) int64) []byte {
	for i := range n {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(at(i)))
	}
	return dst
}
