package money

import (
	"errors"
	"testing"
)

func TestParseScaled(t *testing.T) {
	tests := []struct {
		in    string
		shift int
		want  int64
		err   error
	}{
		{"2.50", 9, 2_500_000_000, nil},
		{"3e-06", 15, 3_000_000_000, nil}, // USD per token → nano-USD per million tokens
		{"3.75e-06", 15, 3_750_000_000, nil},
		{"1.5E+2", 0, 150, nil},
		{"0.0000000005", 9, 1, nil},
		{"0.0000000004", 9, 0, nil},
		{"\"0.25\"", 9, 250_000_000, nil},
		{"0", 9, 0, nil},
		{"-1", 9, 0, ErrSyntax},
		{"1.2.3", 9, 0, ErrSyntax},
		{"", 9, 0, ErrSyntax},
		{"99999999999", 9, 0, ErrRange},
	}
	for _, tt := range tests {
		got, err := ParseScaled(tt.in, tt.shift)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("ParseScaled(%q,%d) = %d, %v; want %d, %v", tt.in, tt.shift, got, err, tt.want, tt.err)
		}
	}
}

func TestParseUSDIsExact(t *testing.T) {
	if n, err := ParseUSD("12.000000001"); err != nil || n != 12_000_000_001 {
		t.Fatalf("got %d %v", n, err)
	}
	if _, err := ParseUSD("0.0000000001"); !errors.Is(err, ErrPrecision) {
		t.Fatalf("want ErrPrecision, got %v", err)
	}
	if _, err := ParseUSD("1e-10"); !errors.Is(err, ErrPrecision) {
		t.Fatalf("want ErrPrecision for exponent form, got %v", err)
	}
	if _, err := ParseUSD("abc"); !errors.Is(err, ErrSyntax) {
		t.Fatalf("want ErrSyntax, got %v", err)
	}
}

func TestFormat(t *testing.T) {
	cases := map[int64]string{0: "0", 1: "0.000000001", 12_500_000_000: "12.5", -3_000_000_000: "-3", 1_234_567_891: "1.234567891"}
	for n, want := range cases {
		if got := FormatNano(n); got != want {
			t.Errorf("FormatNano(%d) = %q want %q", n, got, want)
		}
		back, err := ParseScaledExact(want, 9)
		if n >= 0 && (err != nil || back != n) {
			t.Errorf("round trip %d: %d %v", n, back, err)
		}
	}
	if got := FormatFixed(12_345_000_000, 2); got != "12.35" {
		t.Errorf("FormatFixed = %q", got)
	}
	if got := FormatFixed(4_000_000, 2); got != "0.00" {
		t.Errorf("FormatFixed small = %q", got)
	}
	if got := FormatFixed(-1_005_000_000, 2); got != "-1.01" {
		t.Errorf("FormatFixed negative = %q", got)
	}
}

func FuzzParseScaled(f *testing.F) {
	f.Add("3.75e-06", 15)
	f.Fuzz(func(t *testing.T, s string, shift int) {
		if shift < -20 || shift > 20 {
			return
		}
		if n, err := ParseScaled(s, shift); err == nil && n < 0 {
			t.Fatalf("negative %d for %q", n, s)
		}
	})
}
