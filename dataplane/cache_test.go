package dataplane

import (
	"strconv"
	"testing"
)

// TestPolicyKeys: a memoized cache key is PolicyCacheKey's, the same
// object for every call of a key, and the memo stays bounded.
func TestPolicyKeys(t *testing.T) {
	var m PolicyKeys
	buf := []byte("sg_live_1")
	key := string(buf)
	first := m.For(key)
	if want := PolicyCacheKey("sg_live_1"); *first != want {
		t.Fatalf("For = %+v, PolicyCacheKey %+v", *first, want)
	}
	if again := m.For("sg_live_1"); again != first {
		t.Fatal("a second call of the key computed its cache key again")
	}
	if other := m.For("sg_live_2"); *other != PolicyCacheKey("sg_live_2") {
		t.Fatalf("another key: %+v", *other)
	}
	for i := 0; i < 3*MaxPolicyMemo; i++ {
		m.For("sg_" + strconv.Itoa(i))
	}
	if len(m.keys) > MaxPolicyMemo {
		t.Fatalf("%d keys kept, at most %d", len(m.keys), MaxPolicyMemo)
	}
}
