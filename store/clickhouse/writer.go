package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/pricing"
)

// PricedEvent is an event with its cost (zero Cost for denials).
type PricedEvent struct {
	Event event.Event
	Cost  pricing.Cost
}

// Writer inserts priced events, skipping ids already stored.
type Writer struct {
	conn     driver.Conn
	database string
}

// NewWriter returns a writer for database.
func NewWriter(conn driver.Conn, database string) *Writer {
	return &Writer{conn: conn, database: database}
}

// Write stores events and reports how many were new. Events whose id is
// already stored are skipped, which makes redelivery harmless.
func (w *Writer) Write(ctx context.Context, events []PricedEvent) (written int, err error) {
	var usage, denials []PricedEvent
	for _, e := range events {
		if e.Event.Type == event.TypeDenial {
			denials = append(denials, e)
		} else {
			usage = append(usage, e)
		}
	}
	n1, err := w.writeTable(ctx, "usage_events", usage)
	if err != nil {
		return 0, err
	}
	n2, err := w.writeTable(ctx, "denial_events", denials)
	return n1 + n2, err
}

func (w *Writer) existing(ctx context.Context, table string, events []PricedEvent) (map[string]bool, error) {
	ids := make([]string, 0, len(events))
	minT, maxT := events[0].Event.Time, events[0].Event.Time
	for _, e := range events {
		ids = append(ids, e.Event.EventID)
		if e.Event.Time.Before(minT) {
			minT = e.Event.Time
		}
		if e.Event.Time.After(maxT) {
			maxT = e.Event.Time
		}
	}
	// The time range lets ClickHouse prune partitions and granules.
	rows, err := w.conn.Query(ctx, "SELECT event_id FROM "+w.database+"."+table+
		" WHERE time >= ? AND time <= ? AND has(?, event_id)", minT.Truncate(time.Second), maxT.Add(time.Second), ids)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: look up stored ids: %w", err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		seen[id] = true
	}
	return seen, rows.Err()
}

func dims(m map[string]string) (names, values []string) {
	names = make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	values = make([]string, len(names))
	for i, k := range names {
		values[i] = m[k]
	}
	return names, values
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func (w *Writer) writeTable(ctx context.Context, table string, events []PricedEvent) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	stored, err := w.existing(ctx, table, events)
	if err != nil {
		return 0, err
	}
	var cols string
	if table == "usage_events" {
		cols = `event_id, time, tenant_id, key_id, source, provider, operation, model_requested, model_served, catalogue_model,
			streaming, service_tier, complete, status_code, latency_ms, ttfb_ms, request_id,
			input, cached_input, cache_write_5m, cache_write_1h, output, reasoning, audio_input, audio_output, image_input, image_output,
			web_searches, characters, seconds, images, priced, list_cost_nano_usd, tenant_cost_nano_usd, provider_reported_nano_usd,
			has_provider_reported, override_id, pricing_tier, cost_lines, dim_names, dim_values, raw_usage, reservation_id, ingested_at`
	} else {
		cols = `event_id, time, tenant_id, key_id, source, provider, operation, model_requested, denial_reason, denial_message,
			dim_names, dim_values, ingested_at`
	}
	batch, err := w.conn.PrepareBatch(ctx, "INSERT INTO "+w.database+"."+table+" ("+cols+")")
	if err != nil {
		return 0, fmt.Errorf("clickhouse: prepare %s insert: %w", table, err)
	}
	now := time.Now().UTC()
	written := 0
	inBatch := map[string]bool{}
	for _, pe := range events {
		e := &pe.Event
		if stored[e.EventID] || inBatch[e.EventID] {
			continue
		}
		inBatch[e.EventID] = true
		names, values := dims(e.Dimensions)
		if table == "usage_events" {
			c := &pe.Cost
			lines, _ := json.Marshal(c.Lines)
			u := &e.Usage
			err = batch.Append(e.EventID, e.Time.UTC(), e.TenantID, e.KeyID, e.Source, e.Provider, e.Operation, e.ModelRequested, e.ModelServed, c.Model,
				b2u(e.Streaming), e.ServiceTier, b2u(e.Complete), uint16(e.StatusCode), uint32(max(e.LatencyMs, 0)), uint32(max(e.TTFBMs, 0)), e.RequestID,
				u.Input, u.CachedInput, u.CacheWrite5m, u.CacheWrite1h, u.Output, u.Reasoning, u.AudioInput, u.AudioOutput, u.ImageInput, u.ImageOutput,
				u.WebSearches, u.Characters, u.Seconds, u.Images, b2u(c.Priced), c.ListNanoUSD, c.TenantNanoUSD, c.ProviderReportedNanoUSD,
				b2u(c.HasProviderReported), c.OverrideID, c.Tier, string(lines), names, values, e.RawUsage, e.ReservationID, now)
		} else {
			err = batch.Append(e.EventID, e.Time.UTC(), e.TenantID, e.KeyID, e.Source, e.Provider, e.Operation, e.ModelRequested,
				e.DenialReason, e.DenialMessage, names, values, now)
		}
		if err != nil {
			_ = batch.Abort()
			return 0, fmt.Errorf("clickhouse: append to %s: %w", table, err)
		}
		written++
	}
	if written == 0 {
		_ = batch.Abort()
		return 0, nil
	}
	if err := batch.Send(); err != nil {
		return 0, fmt.Errorf("clickhouse: insert into %s: %w", table, err)
	}
	return written, nil
}

// Totals are exact sums over a tenant's usage in a time range.
type Totals struct {
	Events, UnpricedEvents     uint64
	ListNanoUSD, TenantNanoUSD int64
	InputTokens, OutputTokens  int64
}

// TenantTotals sums a tenant's usage in [from, to).
func (w *Writer) TenantTotals(ctx context.Context, tenantID string, from, to time.Time) (Totals, error) {
	var t Totals
	err := w.conn.QueryRow(ctx, `SELECT count(), toUInt64(countIf(priced = 0)), sum(list_cost_nano_usd), sum(tenant_cost_nano_usd),
		sum(input + cached_input + cache_write_5m + cache_write_1h + audio_input + image_input), sum(output + reasoning + audio_output + image_output)
		FROM `+w.database+`.usage_events WHERE tenant_id = ? AND time >= ? AND time < ?`, tenantID, from.UTC(), to.UTC()).
		Scan(&t.Events, &t.UnpricedEvents, &t.ListNanoUSD, &t.TenantNanoUSD, &t.InputTokens, &t.OutputTokens)
	return t, err
}

// Database is the database the writer stores into.
func (w *Writer) Database() string { return w.database }
