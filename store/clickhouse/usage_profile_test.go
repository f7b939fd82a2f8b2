package clickhouse

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// The savings rules' queries, pinned: raw events of one tenant in the
// window, every token class apart (the rollups sum input classes together).
func TestUsageProfileSQL(t *testing.T) {
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(30 * 24 * time.Hour)
	q := UsageProfileSQL("db", "t1", from, to)
	want := `SELECT key_id, provider, if(model_served != '', model_served, model_requested) AS model, service_tier,
	toUInt64(count()) AS events, toUInt64(countIf(streaming = 1)) AS streamed,
	sum(input), sum(cached_input), sum(cache_write_5m), sum(cache_write_1h), sum(output), sum(reasoning),
	sum(audio_input), sum(audio_output), sum(image_input), sum(image_output), sum(web_searches),
	sum(characters), sum(seconds), sum(images)
	FROM db.usage_events WHERE tenant_id = ? AND time >= ? AND time < ?
	GROUP BY key_id, provider, model, service_tier ORDER BY key_id, provider, model, service_tier`
	if q.SQL != want {
		t.Errorf("usage profile SQL:\n%s\nwant\n%s", q.SQL, want)
	}
	if !reflect.DeepEqual(q.Args, []any{"t1", from, to}) || q.Source() != "raw" {
		t.Errorf("args %v, source %s", q.Args, q.Source())
	}

	k := KeysWithTrafficSQL("db", "t1", from, to)
	if !strings.Contains(k.SQL, "FROM db.usage_events WHERE tenant_id = ?") || !strings.Contains(k.SQL, "FROM db.denial_events WHERE tenant_id = ?") ||
		!reflect.DeepEqual(k.Args, []any{"t1", from, to, "t1", from, to}) {
		t.Errorf("keys with traffic: %s %v", k.SQL, k.Args)
	}
}
