// Package scalar holds spendgate's custom GraphQL scalars.
package scalar

import (
	"fmt"
	"io"
	"strconv"

	"github.com/spendgate/spendgate/money"
)

// Money is an exact amount in nano-USD, exchanged as a decimal USD string.
type Money int64

// MarshalGQL writes the amount as an exact decimal string.
func (m Money) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(money.FormatNano(int64(m))))
}

// UnmarshalGQL accepts a decimal string with at most 9 fractional digits.
// Floats are refused: JSON numbers lose precision.
func (m *Money) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("Money must be a decimal string such as \"12.50\", not %T", v)
	}
	if !plainDecimal(s) {
		return fmt.Errorf("Money %q: want a plain decimal such as \"12.50\" (digits, optional point and up to 9 decimals; no sign, exponent or spaces)", s)
	}
	n, err := money.ParseUSD(s)
	if err != nil {
		return fmt.Errorf("Money %q: %w (at most 9 decimal places, no sign or exponent)", s, err)
	}
	*m = Money(n)
	return nil
}

// plainDecimal reports whether s is digits with an optional fractional part:
// money.ParseUSD also takes exponents, a plus sign and JSON quotes (catalogue
// files use them), which the API does not.
func plainDecimal(s string) bool {
	if len(s) > 40 {
		return false
	}
	digits, point := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !point && digits > 0 && i < len(s)-1:
			point = true
		default:
			return false
		}
	}
	return digits > 0
}
