package main

import "testing"

func TestGCTraceCPU(t *testing.T) {
	for line, want := range map[string]int64{
		"gc 7 @1.200s 3%: 0.011+1.1+0.020 ms clock, 0.045+0.30/1.2/2.1+0.080 ms cpu, 4->4->1 MB, 5 MB goal, 0 MB stacks, 0 MB globals, 2 P": 1625,
		"gc 1 @0.012s 1%: 0.010+0.50+0.003 ms clock, 0.021+0/0.41/0.20+0.007 ms cpu, 3->3->0 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P": 438,
	} {
		if got, ok := gcTraceCPU(line); !ok || got != want {
			t.Errorf("%q: %d %v, want %d", line, got, ok, want)
		}
	}
	for _, line := range []string{"level=INFO msg=hello", "gc 1 @0.1s 1%: garbage ms cpu", "gc 3 @0.1s: 1+2 ms cpu"} {
		if _, ok := gcTraceCPU(line); ok {
			t.Errorf("%q read as a gctrace line", line)
		}
	}
}
