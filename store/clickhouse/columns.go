package clickhouse

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
)

// The events tables are written column by column: each column's values for
// the whole batch go to the driver as one typed slice. Appending rows of 44
// values boxed in interfaces cost the consumer more CPU than pricing.

// eventRow is an event ready to be written, with what several columns share.
type eventRow struct {
	pe                  *spend.PricedEvent
	dimNames, dimValues []string
}

// eventColumn is one column of an events table: its name and its values for
// a batch of rows, as a slice of buf's (see columnBuffers).
type eventColumn struct {
	name   string
	values func(rows []eventRow, now time.Time, buf *columnBuffers) any
	// chType is the column's ClickHouse type; encode appends its values
	// for rows to dst in the Native format (an HTTP insert's body).
	chType string
	encode func(dst []byte, rows []eventRow, now time.Time) []byte
}

// columnBuffers holds one slice per Go type of the events tables' columns,
// reused column after column and batch after batch: the driver copies each
// column's values when it is appended, so a slice is free again as soon as
// Append returns. A slice per column per batch (47 of them, 160 KB each for
// a string column of 10,000 rows) was the consumer's largest allocation.
type columnBuffers struct {
	rows    []eventRow // the rows of one INSERT
	block   []byte     // their Native block (HTTPInserter)
	dims    []string   // the rows' dimension arrays (rowDims)
	inBatch map[string]bool
	seen    map[string]bool // ids already stored
	ids     []any           // one lookup's ids
	strs    []string
	arrs    [][]string
	times   []time.Time
	u8s     []uint8
	u16s    []uint16
	u32s    []uint32
	i64s    []int64
}

// reset empties b for the next INSERT and drops the references it holds
// (the batch's events and ids), so that a kept buffer does not keep them
// alive.
func (b *columnBuffers) reset() {
	clear(b.strs[:cap(b.strs)])
	clear(b.arrs[:cap(b.arrs)])
	clear(b.rows)
	b.rows = b.rows[:0]
	clear(b.dims)
	b.dims = b.dims[:0]
	clear(b.ids[:cap(b.ids)])
	clear(b.inBatch)
	clear(b.seen)
}

// bufferOf returns b's slice for T with length n.
func bufferOf[T any](b *columnBuffers, n int) []T {
	var p any
	switch any((*T)(nil)).(type) {
	case *string:
		p = &b.strs
	case *[]string:
		p = &b.arrs
	case *time.Time:
		p = &b.times
	case *uint8:
		p = &b.u8s
	case *uint16:
		p = &b.u16s
	case *uint32:
		p = &b.u32s
	case *int64:
		p = &b.i64s
	default: // a column of a new type: add its slice above
		return make([]T, n)
	}
	s := p.(*[]T)
	if cap(*s) < n {
		*s = make([]T, n)
	}
	return (*s)[:n]
}

func columnOf[T any](name string, value func(r *eventRow) T) eventColumn {
	chType, enc := nativeOf[T]()
	return eventColumn{name: name,
		values: func(rows []eventRow, _ time.Time, buf *columnBuffers) any {
			out := bufferOf[T](buf, len(rows))
			for i := range rows {
				out[i] = value(&rows[i])
			}
			return out
		},
		chType: chType,
		encode: func(dst []byte, rows []eventRow, _ time.Time) []byte {
			return enc(dst, len(rows), func(i int) T { return value(&rows[i]) })
		}}
}

// ingestedAt is the write time, the ReplacingMergeTree version.
var ingestedAt = eventColumn{name: "ingested_at",
	values: func(rows []eventRow, now time.Time, buf *columnBuffers) any {
		out := bufferOf[time.Time](buf, len(rows))
		for i := range out {
			out[i] = now
		}
		return out
	},
	chType: "DateTime",
	encode: func(dst []byte, rows []eventRow, now time.Time) []byte {
		return nativeDateTime(dst, len(rows), func(int) time.Time { return now })
	}}

// Columns both events tables have, in table order up to model_requested.
var commonColumns = []eventColumn{
	columnOf("event_id", func(r *eventRow) string { return r.pe.Event.EventID }),
	columnOf("time", func(r *eventRow) time.Time { return r.pe.Event.Time.UTC() }),
	columnOf("tenant_id", func(r *eventRow) string { return r.pe.Event.TenantID }),
	columnOf("key_id", func(r *eventRow) string { return r.pe.Event.KeyID }),
	columnOf("source", func(r *eventRow) string { return r.pe.Event.Source }),
	columnOf("provider", func(r *eventRow) string { return r.pe.Event.Provider }),
	columnOf("operation", func(r *eventRow) string { return r.pe.Event.Operation }),
	columnOf("model_requested", func(r *eventRow) string { return r.pe.Event.ModelRequested }),
}

var dimColumns = []eventColumn{
	columnOf("dim_names", func(r *eventRow) []string { return r.dimNames }),
	columnOf("dim_values", func(r *eventRow) []string { return r.dimValues }),
}

var usageColumns = concat(commonColumns, []eventColumn{
	columnOf("model_served", func(r *eventRow) string { return r.pe.Event.ModelServed }),
	columnOf("catalogue_model", func(r *eventRow) string { return r.pe.Cost.Model }),
	columnOf("streaming", func(r *eventRow) uint8 { return b2u(r.pe.Event.Streaming) }),
	columnOf("service_tier", func(r *eventRow) string { return r.pe.Event.ServiceTier }),
	columnOf("complete", func(r *eventRow) uint8 { return b2u(r.pe.Event.Complete) }),
	columnOf("status_code", func(r *eventRow) uint16 { return uint16(r.pe.Event.StatusCode) }),
	columnOf("latency_ms", func(r *eventRow) uint32 { return uint32(max(r.pe.Event.LatencyMs, 0)) }),
	columnOf("ttfb_ms", func(r *eventRow) uint32 { return uint32(max(r.pe.Event.TTFBMs, 0)) }),
	columnOf("request_id", func(r *eventRow) string { return r.pe.Event.RequestID }),
	columnOf("input", func(r *eventRow) int64 { return r.pe.Event.Usage.Input }),
	columnOf("cached_input", func(r *eventRow) int64 { return r.pe.Event.Usage.CachedInput }),
	columnOf("cache_write_5m", func(r *eventRow) int64 { return r.pe.Event.Usage.CacheWrite5m }),
	columnOf("cache_write_1h", func(r *eventRow) int64 { return r.pe.Event.Usage.CacheWrite1h }),
	columnOf("output", func(r *eventRow) int64 { return r.pe.Event.Usage.Output }),
	columnOf("reasoning", func(r *eventRow) int64 { return r.pe.Event.Usage.Reasoning }),
	columnOf("audio_input", func(r *eventRow) int64 { return r.pe.Event.Usage.AudioInput }),
	columnOf("audio_output", func(r *eventRow) int64 { return r.pe.Event.Usage.AudioOutput }),
	columnOf("image_input", func(r *eventRow) int64 { return r.pe.Event.Usage.ImageInput }),
	columnOf("image_output", func(r *eventRow) int64 { return r.pe.Event.Usage.ImageOutput }),
	columnOf("web_searches", func(r *eventRow) int64 { return r.pe.Event.Usage.WebSearches }),
	columnOf("characters", func(r *eventRow) int64 { return r.pe.Event.Usage.Characters }),
	columnOf("seconds", func(r *eventRow) int64 { return r.pe.Event.Usage.Seconds }),
	columnOf("images", func(r *eventRow) int64 { return r.pe.Event.Usage.Images }),
	columnOf("priced", func(r *eventRow) uint8 { return b2u(r.pe.Cost.Priced) }),
	columnOf("list_cost_nano_usd", func(r *eventRow) int64 { return r.pe.Cost.ListNanoUSD }),
	columnOf("tenant_cost_nano_usd", func(r *eventRow) int64 { return r.pe.Cost.TenantNanoUSD }),
	columnOf("provider_reported_nano_usd", func(r *eventRow) int64 { return r.pe.Cost.ProviderReportedNanoUSD }),
	columnOf("has_provider_reported", func(r *eventRow) uint8 { return b2u(r.pe.Cost.HasProviderReported) }),
	columnOf("catalogue_cost_nano_usd", func(r *eventRow) int64 {
		if n, ok := r.pe.Cost.CatalogueNanoUSD(); ok {
			return n
		}
		return 0
	}),
	columnOf("has_catalogue_cost", func(r *eventRow) uint8 { _, ok := r.pe.Cost.CatalogueNanoUSD(); return b2u(ok) }),
	columnOf("override_id", func(r *eventRow) string { return r.pe.Cost.OverrideID }),
	columnOf("pricing_tier", func(r *eventRow) string { return r.pe.Cost.Tier }),
	columnOf("cost_lines", func(r *eventRow) string { return linesJSON(r.pe.Cost.Lines) }),
}, dimColumns, []eventColumn{
	columnOf("raw_usage", func(r *eventRow) string { return r.pe.Event.RawUsage }),
	columnOf("reservation_id", func(r *eventRow) string { return r.pe.Event.ReservationID }),
	ingestedAt,
})

var denialColumns = concat(commonColumns, []eventColumn{
	columnOf("denial_reason", func(r *eventRow) string { return r.pe.Event.DenialReason }),
	columnOf("denial_message", func(r *eventRow) string { return r.pe.Event.DenialMessage }),
}, dimColumns, []eventColumn{ingestedAt})

func concat(parts ...[]eventColumn) []eventColumn {
	var out []eventColumn
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// columnList is the INSERT's column list.
func columnList(cols []eventColumn) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// linesJSON is json.Marshal(lines), which it was (TestLinesJSONIsEncodingJSON):
// written by hand for the usual lines, whose class names need no escaping.
func linesJSON(lines []pricing.Line) string {
	if lines == nil {
		return "null"
	}
	b := make([]byte, 0, 16+110*len(lines))
	b = append(b, '[')
	for i, l := range lines {
		if !plainJSONString(l.Class) {
			enc, _ := json.Marshal(lines)
			return string(enc)
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"class":"`...)
		b = append(b, l.Class...)
		b = append(b, `","quantity":`...)
		b = strconv.AppendInt(b, l.Quantity, 10)
		b = append(b, `,"rate_nano_usd_per_million":`...)
		b = strconv.AppendInt(b, l.RateNanoUSD, 10)
		b = append(b, `,"amount_nano_usd":`...)
		b = strconv.AppendInt(b, l.AmountNanoUSD, 10)
		b = append(b, `,"tenant_rate_nano_usd_per_million":`...)
		b = strconv.AppendInt(b, l.TenantRateNanoUSD, 10)
		b = append(b, '}')
	}
	return string(append(b, ']'))
}

// plainJSONString reports whether encoding/json writes s as it is, quoted.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
