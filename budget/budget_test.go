package budget

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestBounds(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		p          Period
		at         string
		start, end string
	}{
		{Day, "2026-11-24T10:00:00Z", "2026-11-24T00:00:00Z", "2026-11-25T00:00:00Z"},
		{Day, "2026-12-31T23:59:59Z", "2026-12-31T00:00:00Z", "2027-01-01T00:00:00Z"},
		{Day, "2026-11-24T00:30:00+02:00", "2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z"}, // UTC, not local
		{Week, "2026-11-24T10:00:00Z", "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z"},     // Tuesday
		{Week, "2026-11-23T00:00:00Z", "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z"},     // Monday midnight
		{Week, "2026-11-29T23:59:59Z", "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z"},     // Sunday
		{Week, "2027-01-01T12:00:00Z", "2026-12-28T00:00:00Z", "2027-01-04T00:00:00Z"},     // across years
		{Month, "2026-11-24T10:00:00Z", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"},
		{Month, "2026-12-31T23:59:59.999Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{Month, "2024-02-29T12:00:00Z", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"}, // leap year
		{Month, "2025-02-28T12:00:00Z", "2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"},
		{Month, "2026-01-31T12:00:00Z", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"}, // no AddDate overflow
		{Week, "2024-02-29T12:00:00Z", "2024-02-26T00:00:00Z", "2024-03-04T00:00:00Z"},
		{Quarter, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z"},
		{Quarter, "2026-05-31T23:59:59Z", "2026-04-01T00:00:00Z", "2026-07-01T00:00:00Z"},
		{Quarter, "2026-09-30T12:00:00Z", "2026-07-01T00:00:00Z", "2026-10-01T00:00:00Z"},
		{Quarter, "2026-12-31T23:59:59Z", "2026-10-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{Year, "2024-02-29T12:00:00Z", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"},
		{Year, "2026-12-31T23:59:59Z", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
	} {
		s, e, err := Bounds(c.p, ts(c.at))
		if err != nil {
			t.Fatal(err)
		}
		if !s.Equal(ts(c.start)) || !e.Equal(ts(c.end)) || s.Location() != time.UTC {
			t.Errorf("%s %s: got [%s, %s), want [%s, %s)", c.p, c.at, s, e, c.start, c.end)
		}
	}
	if _, _, err := Bounds("fortnight", time.Now()); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown period: %v", err)
	}
	if _, err := ParsePeriod("fortnight"); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParsePeriod: %v", err)
	}
}

func TestReached(t *testing.T) {
	t.Parallel()
	th := []int{100, 50, 80}
	for _, c := range []struct {
		amount, after int64
		reached       []int
	}{
		{1000, 499, nil},
		{1000, 500, []int{50}},
		{1000, 799, []int{50}},
		{1000, 800, []int{50, 80}},
		{1000, 5000, []int{50, 80, 100}},
		{3, 1, nil},                // 50 % of 3 is 1.5
		{3, 2, []int{50}},          // 2 >= 1.5
		{3, 3, []int{50, 80, 100}}, // exact at 100 %
		{9_000_000_000_000_000_000, 8_999_999_999_999_999_999, []int{50, 80}}, // no overflow
	} {
		if got := Reached(th, c.amount, c.after); !slices.Equal(got, c.reached) {
			t.Errorf("Reached(%d, %d) = %v, want %v", c.amount, c.after, got, c.reached)
		}
	}
}

func TestFitsAndExhausted(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		amount, spent, reserved, x int64
		fits, exhausted            bool
	}{
		{100, 0, 0, 100, true, false},
		{100, 0, 0, 101, false, false},
		{100, 50, 40, 10, true, false},
		{100, 50, 40, 11, false, false},
		{100, 50, 50, 0, true, true},
		{100, 120, 0, 0, false, true},
		{100, 0, 0, -1, false, false},
		{9_000_000_000_000_000_000, 9_000_000_000_000_000_000, 0, 9_000_000_000_000_000_000, false, true},
	} {
		if got := Fits(c.amount, c.spent, c.reserved, c.x); got != c.fits {
			t.Errorf("Fits%v = %v", c, got)
		}
		if got := Exhausted(c.amount, c.spent, c.reserved); got != c.exhausted {
			t.Errorf("Exhausted%v = %v", c, got)
		}
	}
}

func TestMatches(t *testing.T) {
	t.Parallel()
	dims := map[string]string{"team": "ml"}
	for _, c := range []struct {
		b    Budget
		want bool
	}{
		{Budget{TenantID: "t", Scope: ScopeTenant}, true},
		{Budget{TenantID: "u", Scope: ScopeTenant}, false},
		{Budget{TenantID: "t", Scope: ScopeKey, KeyID: "k"}, true},
		{Budget{TenantID: "t", Scope: ScopeKey, KeyID: "k2"}, false},
		{Budget{TenantID: "t", Scope: ScopeDimension, DimensionName: "team", DimensionValue: "ml"}, true},
		{Budget{TenantID: "t", Scope: ScopeDimension, DimensionName: "team", DimensionValue: "web"}, false},
		{Budget{TenantID: "t", Scope: ScopeDimension, DimensionName: "app", DimensionValue: ""}, false},
	} {
		if got := c.b.Matches(&Subject{TenantID: "t", KeyID: "k", Dimensions: dims}); got != c.want {
			t.Errorf("%+v: %v", c.b, got)
		}
	}
}

func TestUSDAndText(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "$0.00", 1: "$0.000000001", 1_500_000_000: "$1.50", 12_340_000_000: "$12.34", -2_000_000_000: "$-2.00"} {
		if got := USD(n); got != want {
			t.Errorf("USD(%d) = %s, want %s", n, got, want)
		}
	}
	a := Alert{BudgetName: "prod", Threshold: 80, SpentNanoUSD: 8_000_000_000, AmountNanoUSD: 10_000_000_000,
		PeriodStart: ts("2026-11-01T00:00:00Z"), PeriodEnd: ts("2026-12-01T00:00:00Z")}
	if got, want := a.Text(), `spendgate: budget "prod" reached 80% ($8.00 of $10.00 USD) for 2026-11-01 – 2026-12-01 UTC`; got != want {
		t.Errorf("Text = %s", got)
	}
	if b := Coalesce([]Alert{a, a}); len(b.Alerts) != 2 || b.Text != a.Text()+"\n"+a.Text() {
		t.Errorf("Coalesce = %+v", b)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if got := Backoff(time.Second, 10*time.Second, i+1); got != w {
			t.Errorf("Backoff(%d) = %s, want %s", i+1, got, w)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	if got, err := NormalizeThresholds([]int{100, 50, 80}); err != nil || !slices.Equal(got, []int{50, 80, 100}) {
		t.Error(got, err)
	}
	if got, err := NormalizeThresholds(nil); err != nil || !slices.Equal(got, DefaultThresholds) {
		t.Error(got, err)
	}
	for _, bad := range [][]int{{0}, {50, 50}, {1001}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}} {
		if _, err := NormalizeThresholds(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%v: %v", bad, err)
		}
	}
	now := time.Now()
	tn := Subject{TenantID: "t"}
	for _, s := range []Spend{{Subject: tn, Time: now}, {EventID: "e", Time: now}, {EventID: "e", Subject: tn},
		{EventID: "e", Subject: tn, Time: now, CostNanoUSD: -1}} {
		if err := s.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", s, err)
		}
	}
	const tenant, key = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	if r := (ReserveRequest{TenantID: tenant, KeyID: key, MaxTokens: 10}); r.Validate() != nil {
		t.Errorf("valid request refused: %v", r.Validate())
	}
	for _, r := range []ReserveRequest{{}, {TenantID: "t"}, {TenantID: tenant, KeyID: "k"}, {TenantID: tenant, MaxTokens: -1},
		{TenantID: tenant, InputTokensEstimate: 1e9}} {
		if err := r.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", r, err)
		}
	}
}

func BenchmarkReached(b *testing.B) {
	b.ReportAllocs()
	th := []int{50, 80, 100}
	for i := 0; b.Loop(); i++ {
		_ = Reached(th, 1_000_000_000, int64(i%1_000_000_000)+1)
	}
}

// FuzzBounds checks the period invariants for any instant: start <= t < end,
// both in UTC at midnight, weeks start on Monday, the next period starts at end.
func FuzzBounds(f *testing.F) {
	f.Add(int64(1732443600), uint8(0))
	f.Add(int64(951782400), uint8(2)) // 2000-02-29
	f.Fuzz(func(t *testing.T, sec int64, which uint8) {
		sec %= 1 << 36 // within years ±2100
		p := Periods[int(which)%len(Periods)]
		at := time.Unix(sec, 0)
		s, e, err := Bounds(p, at)
		if err != nil {
			t.Fatal(err)
		}
		if at.Before(s) || !at.Before(e) || s.Location() != time.UTC || s.Hour()+s.Minute()+s.Second() != 0 {
			t.Fatalf("%s %s: [%s, %s)", p, at.UTC(), s, e)
		}
		if p == Week && s.Weekday() != time.Monday {
			t.Fatalf("week starts %s", s.Weekday())
		}
		if p == Month && s.Day() != 1 {
			t.Fatalf("month starts on day %d", s.Day())
		}
		if s2, _, _ := Bounds(p, e); !s2.Equal(e) {
			t.Fatalf("next period starts %s, not %s", s2, e)
		}
	})
}
