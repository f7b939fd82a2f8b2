package ingest

import (
	"slices"
	"strings"
	"testing"
)

func TestPartitionSubjectsRoundTrip(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Prefix = "SG"
	for _, n := range []int{1, 3, 12} {
		cfg.Partitions = n
		counts := make([]int, n)
		for i := range 30_000 {
			id := idN(i)
			p := cfg.PartitionOf(id)
			if p < 0 || p >= n {
				t.Fatalf("%d partitions: %s in %d", n, id, p)
			}
			counts[p]++
			subject := cfg.subject(id, tenant)
			if got, ok := cfg.partitionOfSubject(subject); !ok || got != p {
				t.Fatalf("%s: partition %d %v, want %d", subject, got, ok, p)
			}
			if got := cfg.tenantOfSubject(subject); got != tenant {
				t.Fatalf("%s: tenant %q", subject, got)
			}
		}
		// Sequential ids (UUIDv7 differ in their last digits) spread evenly.
		for p, c := range counts {
			if want := 30_000 / n; c < want*9/10 || c > want*11/10 {
				t.Fatalf("%d partitions: %d ids in partition %d, want about %d (%v)", n, c, p, want, counts)
			}
		}
	}
	cfg.Partitions = 3
	if got := cfg.subject(idN(1), tenant); !strings.HasPrefix(got, "sg.events.") {
		t.Fatalf("subject %s", got)
	}
	// Partition 0 keeps the unpartitioned subject, and its filter matches
	// only that shape.
	if got := cfg.partitionSubjectPrefix(0) + tenant; got != "sg.events."+tenant {
		t.Fatalf("partition 0 subject %s", got)
	}
	if got := cfg.partitionSubjectPrefix(2) + tenant; got != "sg.events.p2."+tenant {
		t.Fatalf("partition 2 subject %s", got)
	}
	if f := cfg.partitionFilter(0); f != "sg.events.*" {
		t.Fatalf("partition 0 filter %s", f)
	}
	cfg.Partitions = 1
	if f := cfg.partitionFilter(0); f != "" {
		t.Fatalf("one partition: filter %q, want none", f)
	}
	for subject, want := range map[string]bool{"sg.events.p0." + tenant: false, "sg.events.px." + tenant: false,
		"sg.events.7." + tenant: false, "sg.dlq.events." + tenant: false, "sg.events.p12." + tenant: true} {
		if _, ok := cfg.partitionOfSubject(subject); ok != want {
			t.Errorf("partitionOfSubject(%s) ok = %v", subject, ok)
		}
	}
}

func TestParsePartitions(t *testing.T) {
	for name, tc := range map[string]struct {
		in   string
		n    int
		want []int
		err  string
	}{
		"empty is all":          {in: "", n: 3, want: []int{0, 1, 2}},
		"all":                   {in: "all", n: 2, want: []int{0, 1}},
		"list and range":        {in: "0, 2-4,6", n: 8, want: []int{0, 2, 3, 4, 6}},
		"one":                   {in: "1", n: 2, want: []int{1}},
		"beyond the count":      {in: "3", n: 3, err: "partitions are 0..2"},
		"twice":                 {in: "1,0-1", n: 3, err: "names 1 twice"},
		"backwards range":       {in: "2-1", n: 3, err: "not a partition or a range"},
		"negative":              {in: "-1", n: 3, err: "not a partition or a range"},
		"words":                 {in: "first", n: 3, err: "not a partition or a range"},
		"no partitions at all":  {in: "", n: 0, err: "at least one"},
		"trailing comma":        {in: "0,", n: 3, err: "not a partition or a range"},
		"range end not numeric": {in: "0-x", n: 3, err: "not a partition or a range"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ParsePartitions(tc.in, tc.n)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v %v, want %v", got, err, tc.want)
			}
		})
	}
}
