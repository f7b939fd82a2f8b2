package pdfdoc

import "github.com/spendgate/spendgate/money"

// USD formats nano-USD as dollars rounded to cents with thousands separators,
// "$1,234.57" or "-$0.05". Rounding is half away from zero (money.FormatFixed);
// callers that print totals of rounded lines should round once themselves and
// pass the result, so that the printed lines add up.
func USD(nano int64) string {
	s := Amount(nano, 2)
	if s[0] == '-' {
		return "-$" + s[1:]
	}
	return "$" + s
}

// Amount formats nano-USD with digits fractional digits (0..9) and thousands
// separators, without a currency sign: "1,234.567890" for digits = 6. It is
// exact for digits = 9.
func Amount(nano int64, digits int) string {
	return groupThousands(money.FormatFixed(nano, digits))
}

// Count formats an integer quantity (tokens, requests) with thousands
// separators.
func Count(n int64) string {
	if n < 0 {
		return "-" + groupThousands(uitoa(uint64(-n)))
	}
	return groupThousands(uitoa(uint64(n)))
}

func uitoa(u uint64) string {
	if u == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	for u > 0 {
		i--
		buf[i] = byte('0' + u%10)
		u /= 10
	}
	return string(buf[i:])
}

// groupThousands inserts commas into the integer part of a plain decimal
// string such as "-1234567.5".
func groupThousands(s string) string {
	sign := ""
	if s != "" && s[0] == '-' {
		sign, s = "-", s[1:]
	}
	intPart, frac := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			intPart, frac = s[:i], s[i:]
			break
		}
	}
	if len(intPart) <= 3 {
		return sign + intPart + frac
	}
	out := make([]byte, 0, len(intPart)+len(intPart)/3)
	lead := len(intPart) % 3
	if lead > 0 {
		out = append(out, intPart[:lead]...)
	}
	for i := lead; i < len(intPart); i += 3 {
		if len(out) > 0 {
			out = append(out, ',')
		}
		out = append(out, intPart[i:i+3]...)
	}
	return sign + string(out) + frac
}
