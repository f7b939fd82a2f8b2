package anomaly

import (
	"strings"
	"testing"
	"time"
)

// flat is a series of weeks of one constant hourly spend, events 100 an hour.
func flat(weeks int, nano int64) *Series {
	s := &Series{Start: evalStart, Hours: make([]Hour, weeks*7*24)}
	for i := range s.Hours {
		s.Hours[i] = Hour{SpendNanoUSD: nano, Events: 100}
	}
	return s
}

func TestDetect(t *testing.T) {
	c := DefaultConfig()
	last := evalStart.Add(5*7*24*time.Hour - time.Hour)
	cases := map[string]struct {
		series    *Series
		set       Hour
		anomalous bool
		warming   bool
		guard     string
		severity  Severity
	}{
		"steady hour is normal":                 {flat(5, 10e9), Hour{10e9, 100}, false, false, "", ""},
		"ten times the baseline is critical":    {flat(5, 10e9), Hour{100e9, 100}, true, false, "", SeverityCritical},
		"four times is major":                   {flat(5, 10e9), Hour{40e9, 100}, true, false, "", SeverityMajor},
		"twice is minor":                        {flat(5, 10e9), Hour{20e9, 100}, true, false, "", SeverityMinor},
		"cents: below the spend guard":          {flat(5, 1e7), Hour{5e8, 100}, false, false, "min_spend", ""},
		"few calls: below the events guard":     {flat(5, 10e9), Hour{100e9, 2}, false, false, "min_events", ""},
		"small excess: below the excess guard":  {flat(5, 1e9), Hour{1.8e9, 100}, false, false, "min_excess", ""},
		"one week of history is warming up":     {flat(1, 10e9), Hour{100e9, 100}, false, true, "", ""},
		"a series that never had traffic waits": {&Series{Start: evalStart, Hours: make([]Hour, 5*7*24)}, Hour{100e9, 100}, false, true, "", ""},
	}
	for name, tc := range cases {
		s := tc.series
		at := s.Start.Add(time.Duration(len(s.Hours)-1) * time.Hour)
		s.Hours[len(s.Hours)-1] = tc.set
		v, err := c.Detect(s, at)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if v.Anomalous != tc.anomalous || v.WarmingUp != tc.warming || v.Guard != tc.guard || v.Severity != tc.severity {
			t.Errorf("%s: got anomalous=%v warming=%v guard=%q severity=%q (score %.1f), want %v %v %q %q",
				name, v.Anomalous, v.WarmingUp, v.Guard, v.Severity, v.Score, tc.anomalous, tc.warming, tc.guard, tc.severity)
		}
	}
	if _, err := c.Detect(flat(1, 1), last); err == nil || !strings.Contains(err.Error(), "does not hold hour") {
		t.Errorf("an hour outside the series: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	bad := Config{}
	err := bad.Validate()
	for _, want := range []string{"weeks must be at least 1", "min samples must be at least 3", "threshold must be positive", "close after"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("zero config: %v, want it to say %q", err, want)
		}
	}
}

func TestTrackOneEpisodePerRunaway(t *testing.T) {
	c := DefaultConfig()
	key := SeriesKey{Dimension: DimKey, Value: "k1"}
	h0 := evalStart
	hit := func(i int, score float64, sev Severity) *Verdict {
		return &Verdict{Hour: h0.Add(time.Duration(i) * time.Hour), Anomalous: true, Score: score, Severity: sev,
			Observed: Hour{SpendNanoUSD: 30e9}, ExpectedNanoUSD: 10e9}
	}
	quiet := func(i int) *Verdict { return &Verdict{Hour: h0.Add(time.Duration(i) * time.Hour)} }
	var open *Episode
	steps := []struct {
		v    *Verdict
		want Step
	}{
		{quiet(0), StepNone},
		{hit(1, 6, SeverityMinor), StepOpened},
		{hit(2, 9, SeverityCritical), StepExtended},
		{quiet(3), StepNone}, // inside the grace: still open
		{hit(4, 7, SeverityMajor), StepExtended},
		{quiet(5), StepNone},
		{quiet(6), StepNone},
		{quiet(7), StepClosed}, // three normal hours after hour 4
		{quiet(8), StepNone},
		{hit(9, 6, SeverityMinor), StepOpened}, // a new runaway: a new alert
	}
	opened := 0
	var closed *Episode
	for i, st := range steps {
		e, step := c.Track(open, "t1", key, st.v, st.v.Hour.Add(time.Hour))
		if step != st.want {
			t.Fatalf("step %d: %v, want %v", i, step, st.want)
		}
		switch step {
		case StepOpened:
			opened++
			open = e
		case StepExtended:
			open = e
		case StepClosed:
			closed, open = e, nil
		}
	}
	if opened != 2 {
		t.Errorf("%d episodes opened, want 2", opened)
	}
	if closed == nil || closed.AnomalousHours != 3 || closed.Severity != SeverityCritical || !closed.PeakHour.Equal(h0.Add(2*time.Hour)) ||
		!closed.EndedAt.Equal(h0.Add(5*time.Hour)) || closed.ExcessNanoUSD != 60e9 || !closed.DetectedAt.Equal(h0.Add(2*time.Hour)) {
		t.Errorf("closed episode %+v", closed)
	}
}
