// Package money converts between exact decimal strings and integer amounts.
// spendgate keeps money as int64 nano-USD (1 USD = 1e9) end to end; decimal
// strings appear only at the edges (catalogue files, GraphQL, CSV, provider
// reported costs). Nothing here goes through float64. TinyGo-safe.
package money

import (
	"errors"
	"strconv"
)

// NanoPerUSD is the number of nano-USD in one US dollar.
const NanoPerUSD = 1_000_000_000

// ErrSyntax reports a string that is not a plain non-negative decimal number.
var ErrSyntax = errors.New("not a non-negative decimal number")

// ErrRange reports a number too large for int64 after scaling.
var ErrRange = errors.New("number out of range")

// ErrPrecision reports more fractional digits than the target unit holds.
var ErrPrecision = errors.New("too many fractional digits")

// ParseScaled returns round_half_up(value × 10^shift) for a non-negative decimal
// string such as "2.50", "3e-06", "1.5E+2" (optionally JSON-quoted).
func ParseScaled(s string, shift int) (int64, error) {
	return parseScaled(s, shift, false)
}

// ParseScaledExact is ParseScaled but refuses values that would need rounding.
func ParseScaledExact(s string, shift int) (int64, error) {
	return parseScaled(s, shift, true)
}

func parseScaled(s string, shift int, exact bool) (int64, error) {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if s == "" || s[0] == '-' {
		return 0, ErrSyntax
	}
	if s[0] == '+' {
		s = s[1:]
	}
	mant, exp := s, 0
	for i := 0; i < len(s); i++ {
		if s[i] == 'e' || s[i] == 'E' {
			e, err := strconv.Atoi(s[i+1:])
			if err != nil {
				return 0, ErrSyntax
			}
			if e > 40 || e < -60 {
				return 0, ErrRange
			}
			mant, exp = s[:i], e
			break
		}
	}
	intPart, frac := mant, ""
	for i := 0; i < len(mant); i++ {
		if mant[i] == '.' {
			intPart, frac = mant[:i], mant[i+1:]
			break
		}
	}
	if intPart == "" && frac == "" {
		return 0, ErrSyntax
	}
	digits := intPart + frac
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, ErrSyntax
		}
	}
	for len(digits) > 1 && digits[0] == '0' {
		digits = digits[1:]
	}
	pow := exp - len(frac) + shift
	if pow >= 0 {
		if digits == "0" {
			return 0, nil
		}
		if len(digits)+pow > 18 {
			return 0, ErrRange
		}
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			return 0, ErrRange
		}
		for ; pow > 0; pow-- {
			n *= 10
		}
		return n, nil
	}
	drop := -pow
	var keep, rest string
	if drop >= len(digits) {
		rest = digits
		for i := len(digits); i < drop; i++ {
			rest = "0" + rest
		}
	} else {
		keep, rest = digits[:len(digits)-drop], digits[len(digits)-drop:]
	}
	if exact {
		for i := 0; i < len(rest); i++ {
			if rest[i] != '0' {
				return 0, ErrPrecision
			}
		}
	}
	var n int64
	if keep != "" {
		if len(keep) > 18 {
			return 0, ErrRange
		}
		v, err := strconv.ParseInt(keep, 10, 64)
		if err != nil {
			return 0, ErrRange
		}
		n = v
	}
	if rest[0] >= '5' {
		n++
	}
	return n, nil
}

// ParseUSD parses an exact decimal USD amount ("12.5", "0.000000001") into
// nano-USD. More than nine fractional digits is an error, not a rounding.
func ParseUSD(s string) (int64, error) {
	return ParseScaledExact(s, 9)
}

// FormatNano formats nano-USD as a decimal USD string with no trailing zeros
// beyond what is needed ("12.5", "0.000000001", "-3"), exact.
func FormatNano(n int64) string {
	return string(AppendNano(nil, n))
}

// AppendNano appends FormatNano(n) to dst.
func AppendNano(dst []byte, n int64) []byte {
	neg := n < 0
	u := uint64(n)
	if neg {
		u = uint64(-n)
		dst = append(dst, '-')
	}
	dst = strconv.AppendUint(dst, u/NanoPerUSD, 10)
	frac := u % NanoPerUSD
	if frac == 0 {
		return dst
	}
	var buf [9]byte
	for i := 8; i >= 0; i-- {
		buf[i] = byte('0' + frac%10)
		frac /= 10
	}
	end := 9
	for end > 0 && buf[end-1] == '0' {
		end--
	}
	dst = append(dst, '.')
	return append(dst, buf[:end]...)
}

// FormatFixed formats nano-USD with exactly digits fractional digits (0..9),
// rounding half away from zero: for display, e.g. FormatFixed(n, 2) = "12.35".
func FormatFixed(n int64, digits int) string {
	if digits < 0 {
		digits = 0
	}
	if digits > 9 {
		digits = 9
	}
	div := int64(1)
	for i := 0; i < 9-digits; i++ {
		div *= 10
	}
	neg := n < 0
	u := n
	if neg {
		u = -n
	}
	q := u / div
	if r := u % div; r*2 >= div {
		q++
	}
	s := strconv.FormatInt(q, 10)
	if digits > 0 {
		for len(s) <= digits {
			s = "0" + s
		}
		s = s[:len(s)-digits] + "." + s[len(s)-digits:]
	}
	if neg && q != 0 {
		s = "-" + s
	}
	return s
}
