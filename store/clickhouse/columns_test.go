package clickhouse

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/spendgate/spendgate/pricing"
)

func TestLinesJSONIsEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, lines := range [][]pricing.Line{
		nil, {},
		{{Class: "input", Quantity: 1200, RateNanoUSD: 2_500_000_000, AmountNanoUSD: 3_000_000, TenantRateNanoUSD: 2_250_000_000}},
		{{Class: "cached_input", Quantity: -1}, {Class: "web_searches", Quantity: math.MaxInt64, AmountNanoUSD: math.MinInt64}},
		{{Class: `quote"d`}, {Class: "tag<b>&"}, {Class: "tab\tnewline\n"}, {Class: "ünïcode"}, {Class: "\u2028"}, {Class: ""}},
	} {
		want, _ := json.Marshal(lines)
		if got := linesJSON(lines); got != string(want) {
			t.Errorf("%+v:\n got  %s\n want %s", lines, got, want)
		}
	}
}

func FuzzLinesJSONIsEncodingJSON(f *testing.F) {
	f.Add("input", int64(1), int64(2), int64(3), int64(4))
	f.Add("a\"<>&\x00é", int64(-1), int64(0), int64(math.MaxInt64), int64(math.MinInt64))
	f.Fuzz(func(t *testing.T, class string, q, rate, amount, tenantRate int64) {
		lines := []pricing.Line{{Class: class, Quantity: q, RateNanoUSD: rate, AmountNanoUSD: amount, TenantRateNanoUSD: tenantRate}, {Class: "output"}}
		want, _ := json.Marshal(lines)
		if got := linesJSON(lines); got != string(want) {
			t.Fatalf("got %s want %s", got, want)
		}
	})
}
