package pdfdoc

import "testing"

func TestUSD(t *testing.T) {
	cases := map[string]struct {
		nano int64
		want string
	}{
		"zero":                         {0, "$0.00"},
		"half a cent rounds away":      {5_000_000, "$0.01"},
		"just under half a cent":       {4_999_999, "$0.00"},
		"thousands are grouped":        {1_234_567_890_000, "$1,234.57"},
		"millions are grouped":         {1_000_000_000_000_000, "$1,000,000.00"},
		"negative keeps sign in front": {-50_000_000, "-$0.05"},
		"negative thousands":           {-1_234_000_000_000, "-$1,234.00"},
		"exactly three digits":         {999_000_000_000, "$999.00"},
	}
	for name, c := range cases {
		if got := USD(c.nano); got != c.want {
			t.Errorf("%s: USD(%d) = %q, want %q", name, c.nano, got, c.want)
		}
	}
}

func TestAmountAndCount(t *testing.T) {
	if got := Amount(1_234_567_890_123, 9); got != "1,234.567890123" {
		t.Errorf("Amount 9 digits = %q", got)
	}
	if got := Amount(1_234_567_890_123, 0); got != "1,235" {
		t.Errorf("Amount 0 digits = %q", got)
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
