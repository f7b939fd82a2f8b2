package pricing

import (
	"strings"

	"github.com/spendgate/spendgate/money"
)

// Unit says what one unit of a class is and whether its rate reads per
// million units (tokens) or per unit (characters of text-to-speech, seconds
// of speech-to-text, generated images, web searches). Rates are stored per
// million units for every class; per-unit classes are shown per unit, since
// "$15,000 per million images" helps nobody.
func Unit(c Class) (unit string, perMillion bool) {
	switch c {
	case WebSearches:
		return "search", false
	case Characters:
		return "character", false
	case Seconds:
		return "second", false
	case Images:
		return "image", false
	}
	return "token", true
}

// PerUnitUSD writes a rate (nano-USD per million units) exactly as USD per
// single unit: the decimal point moves six places, nothing is rounded
// ("15" per million characters is "0.000015" per character).
func PerUnitUSD(nanoPerMillion int64) string {
	return shiftDecimal(money.FormatNano(nanoPerMillion), 6)
}

// shiftDecimal divides a decimal string by 10^n exactly.
func shiftDecimal(s string, n int) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	for len(intPart) <= n {
		intPart = "0" + intPart
	}
	out := intPart[:len(intPart)-n] + "." + intPart[len(intPart)-n:] + frac
	out = strings.TrimRight(out, "0")
	out = strings.TrimSuffix(out, ".")
	if out == "" || out == "0" {
		return "0"
	}
	if neg {
		out = "-" + out
	}
	return out
}

// Display is how a diff change reads: the unit its values are in ("1M
// tokens", "character", "request", "" for counts and names) and the old and
// new values in that unit.
func (ch Change) Display() (unit, old, new string) {
	field := ch.Field
	if strings.HasPrefix(field, "request_fee") {
		return "request", ch.Old, ch.New
	}
	class := field[strings.LastIndexByte(field, '.')+1:]
	c, ok := ClassByName(class)
	if !ok {
		return "", ch.Old, ch.New
	}
	u, perMillion := Unit(c)
	if perMillion {
		return "1M " + u + "s", ch.Old, ch.New
	}
	conv := func(v string) string {
		if v == "" {
			return ""
		}
		return shiftDecimal(v, 6)
	}
	return u, conv(ch.Old), conv(ch.New)
}
