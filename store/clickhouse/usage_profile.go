package clickhouse

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/spendgate/spendgate/recommend"
)

// UsageProfileSQL sums a tenant's usage in [from, to) per key, provider,
// model (served, else requested) and service tier, every token class apart
// and the streamed calls counted: what the savings rules re-price. Raw
// events: the rollups sum input classes together.
func UsageProfileSQL(database, tenant string, from, to time.Time) Query {
	return Query{SQL: `SELECT key_id, provider, ` + rawModel + ` AS model, service_tier,
	toUInt64(count()) AS events, toUInt64(countIf(streaming = 1)) AS streamed,
	sum(input), sum(cached_input), sum(cache_write_5m), sum(cache_write_1h), sum(output), sum(reasoning),
	sum(audio_input), sum(audio_output), sum(image_input), sum(image_output), sum(web_searches),
	sum(characters), sum(seconds), sum(images)
	FROM ` + database + `.usage_events WHERE tenant_id = ? AND time >= ? AND time < ?
	GROUP BY key_id, provider, model, service_tier ORDER BY key_id, provider, model, service_tier`,
		Args: []any{tenant, from.UTC(), to.UTC()}, Tables: []string{UsageTable}}
}

// UsageProfile runs UsageProfileSQL.
func (a Analytics) UsageProfile(ctx context.Context, tenant string, from, to time.Time) ([]recommend.Usage, error) {
	var out []recommend.Usage
	err := a.scan(ctx, UsageProfileSQL(a.Database, tenant, from, to), "usage profile", func(r driver.Rows) error {
		var u recommend.Usage
		t := &u.Tokens
		if err := r.Scan(&u.KeyID, &u.Provider, &u.Model, &u.ServiceTier, &u.Events, &u.StreamingEvents,
			&t.Input, &t.CachedInput, &t.CacheWrite5m, &t.CacheWrite1h, &t.Output, &t.Reasoning,
			&t.AudioInput, &t.AudioOutput, &t.ImageInput, &t.ImageOutput, &t.WebSearches, &t.Characters, &t.Seconds, &t.Images); err != nil {
			return err
		}
		out = append(out, u)
		return nil
	})
	return out, err
}

// KeysWithTrafficSQL lists the keys of a tenant with any usage or denial
// in [from, to).
func KeysWithTrafficSQL(database, tenant string, from, to time.Time) Query {
	return Query{SQL: `SELECT DISTINCT key_id FROM (
	SELECT key_id FROM ` + database + `.usage_events WHERE tenant_id = ? AND time >= ? AND time < ?
	UNION ALL
	SELECT key_id FROM ` + database + `.denial_events WHERE tenant_id = ? AND time >= ? AND time < ?) ORDER BY key_id`,
		Args: []any{tenant, from.UTC(), to.UTC(), tenant, from.UTC(), to.UTC()}}
}

// KeysWithTraffic runs KeysWithTrafficSQL.
func (a Analytics) KeysWithTraffic(ctx context.Context, tenant string, from, to time.Time) (map[string]bool, error) {
	out := map[string]bool{}
	err := a.scan(ctx, KeysWithTrafficSQL(a.Database, tenant, from, to), "keys with traffic", func(r driver.Rows) error {
		var k string
		if err := r.Scan(&k); err != nil {
			return err
		}
		out[k] = true
		return nil
	})
	return out, err
}
