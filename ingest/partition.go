package ingest

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Partitions split the events stream so that several consumer processes can
// write to ClickHouse at once without giving up exactly once.
//
// The writer's dedup (look up the batch's ids, insert the missing ones) is
// exact only while no two Writes that could hold the same event id run at
// once. An event id can be in the stream more than once: republished after
// JetStream's dedup window, replayed from the DLQ, or redelivered. So the
// partition is a function of the event id alone: every copy of an id lands
// in the same partition, one consumer process owns a partition, and its
// Writes are sequential — the single-writer argument of one consumer holds
// per partition. (A partition by tenant would keep copies together too, and
// order a tenant's events, but nothing downstream needs that order — sums
// and budget counters commute — while one large tenant would load one
// partition with most of the traffic.)
//
// Subjects: partition 0 is <prefix>.events.<tenant>, the subject of an
// installation from before partitions, so one-partition installations and
// their durable consumer are unchanged; partition p > 0 is
// <prefix>.events.p<p>.<tenant> (a tenant is a UUID, never "p<n>", and the
// extra token keeps the filters apart: <prefix>.events.* matches only
// partition 0).

// PartitionOf returns the partition of an event id: xxHash64 of the id
// modulo the partition count. The ClickHouse writer's lanes hash ids with
// FNV-1a; a different hash keeps lanes even inside one partition.
func (c Config) PartitionOf(eventID string) int {
	if c.Partitions <= 1 {
		return 0
	}
	return int(xxhash.Sum64String(eventID) % uint64(c.Partitions))
}

// partitions returns the partition count, at least 1.
func (c Config) partitions() int { return max(1, c.Partitions) }

// partitionSubjectPrefix is the subject of partition p up to the tenant.
func (c Config) partitionSubjectPrefix(p int) string {
	if p == 0 {
		return c.eventsSubjectPrefix()
	}
	return c.eventsSubjectPrefix() + "p" + strconv.Itoa(p) + "."
}

// subject is where an event is published: its partition and tenant.
func (c Config) subject(eventID, tenant string) string {
	return c.partitionSubjectPrefix(c.PartitionOf(eventID)) + tenant
}

// partitionFilter is the subject filter of partition p's durable consumer.
// With one partition there is none: the consumer reads the whole stream
// and moves whatever it finds on another partition's subject (left by a
// larger partition count) to partition 0.
func (c Config) partitionFilter(p int) string {
	if c.partitions() == 1 {
		return ""
	}
	return c.partitionSubjectPrefix(p) + "*"
}

// partitionOfSubject returns the partition of an events subject (false for
// any other subject).
func (c Config) partitionOfSubject(subject string) (int, bool) {
	rest, ok := strings.CutPrefix(subject, c.eventsSubjectPrefix())
	if !ok {
		return 0, false
	}
	head, _, more := strings.Cut(rest, ".")
	if !more {
		return 0, true
	}
	p, err := strconv.Atoi(strings.TrimPrefix(head, "p"))
	if err != nil || !strings.HasPrefix(head, "p") || p <= 0 {
		return 0, false
	}
	return p, true
}

// tenantOfSubject returns the tenant of an events subject (what follows
// <prefix>.events. and the partition token), or "" for any other subject.
func (c Config) tenantOfSubject(subject string) string {
	rest, ok := strings.CutPrefix(subject, c.eventsSubjectPrefix())
	if !ok {
		return ""
	}
	if head, tenant, more := strings.Cut(rest, "."); more && strings.HasPrefix(head, "p") {
		return tenant
	}
	return rest
}

// durableName is partition p's durable consumer: partition 0 keeps the
// configured name (the durable of an unpartitioned installation), others
// add -p<p>.
func (c ConsumerConfig) durableName(p int) string {
	if p == 0 {
		return c.Durable
	}
	return c.Durable + "-p" + strconv.Itoa(p)
}

// ParsePartitions reads a partition list such as "0,2,4-5" ("" or "all":
// every partition) for a stream of n partitions.
func ParsePartitions(s string, n int) ([]int, error) {
	if n < 1 {
		return nil, fmt.Errorf("ingest: %d partitions: there must be at least one", n)
	}
	if s == "" || s == "all" {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out, nil
	}
	seen := map[int]bool{}
	var out []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a {
			return nil, fmt.Errorf("ingest: partition list %q: %q is not a partition or a range lo-hi", s, part)
		}
		if b >= n {
			return nil, fmt.Errorf("ingest: partition list %q: partitions are 0..%d", s, n-1)
		}
		for p := a; p <= b; p++ {
			if seen[p] {
				return nil, fmt.Errorf("ingest: partition list %q names %d twice", s, p)
			}
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}
