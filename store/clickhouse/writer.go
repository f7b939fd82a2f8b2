package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/spend"
)

// Writer inserts priced events, skipping ids already stored.
//
// Exactly once relies on one Write at a time per database: each Write looks
// up the ids it was given and inserts the missing ones, and nothing else
// may insert those ids in between. Inside one Write, events are split into
// lanes by event id and the lanes run concurrently: an id always falls in
// the same lane, so lanes never race on an id. Lanes overlap ClickHouse's
// fixed cost per INSERT when it has idle cores; each lane also makes a new
// part per table and rollup for ClickHouse to merge, so on a machine where
// ClickHouse shares few cores one lane costs it least (bench ingest prints
// its CPU per event).
type Writer struct {
	conn     driver.Conn
	database string
	quorum   int           // see Quorum
	http     *HTTPInserter // see InsertOverHTTP
	// Lanes is how many inserts into usage_events one Write runs at once
	// (a Write of fewer than 2·MinLaneEvents events uses one).
	Lanes   int
	buffers kept[columnBuffers] // one per lane writing
}

// MinLaneEvents is the smallest lane worth its own INSERT.
const MinLaneEvents = 1000

// NewWriter returns a writer for database with one lane.
func NewWriter(conn driver.Conn, database string) *Writer {
	return &Writer{conn: conn, database: database, Lanes: 1}
}

// Write stores events and reports how many were new. Events whose id is
// already stored are skipped, which makes redelivery harmless. Calls must
// not overlap (see Writer).
func (w *Writer) Write(ctx context.Context, events []spend.PricedEvent) (written int, err error) {
	type part struct {
		table  string
		events []*spend.PricedEvent
	}
	lanes := max(1, min(w.Lanes, len(events)/MinLaneEvents))
	parts := make([]part, lanes+1)
	for i := range lanes {
		parts[i].table = "usage_events"
	}
	parts[lanes].table = "denial_events"
	for i := range parts {
		parts[i].events = make([]*spend.PricedEvent, 0, len(events)/lanes+1)
	}
	for i := range events {
		e := &events[i]
		switch {
		case e.Event.Type == event.TypeDenial:
			parts[lanes].events = append(parts[lanes].events, e)
		case lanes == 1:
			parts[0].events = append(parts[0].events, e)
		default:
			lane := laneOf(e.Event.EventID, lanes)
			parts[lane].events = append(parts[lane].events, e)
		}
	}
	var wg sync.WaitGroup
	counts := make([]int, len(parts))
	errs := make([]error, len(parts))
	for i, p := range parts {
		if len(p.events) == 0 {
			continue
		}
		wg.Go(func() { counts[i], errs[i] = w.writeTable(ctx, p.table, p.events) })
	}
	wg.Wait()
	for _, n := range counts {
		written += n
	}
	// A lane that failed is retried by the caller; lanes that succeeded are
	// then skipped as stored.
	return written, errors.Join(errs...)
}

// laneOf spreads event ids over lanes (FNV-1a).
func laneOf(id string, lanes int) int {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return int(h % uint32(lanes))
}

// lookupChunk bounds the ids named in one lookup query: ClickHouse refuses
// queries longer than max_query_size (256 KiB by default), and 1,000 UUIDs
// make about 40 KiB.
const lookupChunk = 1000

// existing returns the ids of events already stored in table. The tenant and
// time range let ClickHouse prune partitions and granules through the sort
// key (tenant_id, time, event_id); IN builds a hash set (has() over an array
// literal would compare every scanned row with every id).
func (w *Writer) existing(ctx context.Context, table string, events []*spend.PricedEvent, buf *columnBuffers) (map[string]bool, error) {
	minT, maxT := events[0].Event.Time, events[0].Event.Time
	var tenants []any
	seenTenant := map[string]bool{}
	for _, e := range events {
		if e.Event.Time.Before(minT) {
			minT = e.Event.Time
		}
		if e.Event.Time.After(maxT) {
			maxT = e.Event.Time
		}
		if !seenTenant[e.Event.TenantID] {
			seenTenant[e.Event.TenantID] = true
			tenants = append(tenants, e.Event.TenantID)
		}
	}
	if buf.seen == nil {
		buf.seen = map[string]bool{}
	}
	seen := buf.seen
	for start := 0; start < len(events); start += lookupChunk {
		chunk := events[start:min(start+lookupChunk, len(events))]
		if cap(buf.ids) < len(chunk) {
			buf.ids = make([]any, len(chunk))
		}
		ids := buf.ids[:len(chunk)]
		for i := range chunk {
			ids[i] = chunk[i].Event.EventID
		}
		if err := w.lookup(ctx, table, "event_id", tenants, minT, maxT, ids, seen); err != nil {
			return nil, err
		}
	}
	return seen, nil
}

// LookupSQL finds which of ids table already stores (idCol: event_id or
// correction_id) for tenants in [minT, maxT].
func LookupSQL(database, table, idCol string, tenants []any, minT, maxT time.Time, ids []any) Query {
	return Query{SQL: "SELECT " + idCol + " FROM " + database + "." + table +
		" WHERE tenant_id IN ? AND time >= ? AND time <= ? AND " + idCol + " IN ?",
		Args: []any{chgo.GroupSet{Value: tenants}, minT.UTC().Truncate(time.Second), maxT.UTC().Add(time.Second), chgo.GroupSet{Value: ids}}}
}

func (w *Writer) lookup(ctx context.Context, table, idCol string, tenants []any, minT, maxT time.Time, ids []any, seen map[string]bool) error {
	q := LookupSQL(w.database, table, idCol, tenants, minT, maxT, ids)
	rows, err := w.conn.Query(w.lookupContext(ctx), q.SQL, q.Args...)
	if err != nil {
		return fmt.Errorf("clickhouse: look up stored ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("clickhouse: look up stored ids: %w", err)
		}
		seen[id] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("clickhouse: look up stored ids: %w", err)
	}
	return nil
}

// rowDims is an event's dimension arrays as the tables store them:
// sorted by name, then withAttribution(…), cut from *arena so that a batch's arrays
// share one allocation (the arena is grown by dimsRoom(e) when short).
func rowDims(arena *[]string, e *event.Event) (names, values []string) {
	m := e.Dimensions
	n := dimsRoom(e) / 2 // dimensions and attribution pairs
	a := *arena
	start := len(a)
	a = slices.Grow(a, 2*n)[:start+2*n]
	names, values = a[start:start:start+n], a[start+n:start+n:start+2*n]
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		values = append(values, m[k])
	}
	// Appends within the room left: the arena is not copied.
	names, values = withAttribution(names, values, e.WorkspaceID, e.TeamID, e.ProjectID)
	*arena = a
	return names, values
}

// dimsRoom is the room rowDims takes for e.
func dimsRoom(e *event.Event) int {
	n := len(e.Dimensions)
	for _, v := range [...]string{e.WorkspaceID, e.TeamID, e.ProjectID} {
		if v != "" {
			n++
		}
	}
	return 2 * n
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func (w *Writer) writeTable(ctx context.Context, table string, events []*spend.PricedEvent) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	// One INSERT's scratch, kept for the next: the maps and slices of a
	// batch of 10,000 events made anew were most of the writer's garbage.
	buf := w.takeBuffers()
	defer w.putBuffers(buf)
	defer buf.reset()
	stored, err := w.existing(ctx, table, events, buf)
	if err != nil {
		return 0, err
	}
	cols := denialColumns
	if table == "usage_events" {
		cols = usageColumns
	}
	room := 0
	for _, pe := range events {
		room += dimsRoom(&pe.Event)
	}
	if cap(buf.dims) < room {
		buf.dims = make([]string, 0, room)
	}
	if buf.inBatch == nil {
		buf.inBatch = make(map[string]bool, len(events))
	}
	rows, inBatch := buf.rows[:0], buf.inBatch
	for _, pe := range events {
		id := pe.Event.EventID
		if stored[id] || inBatch[id] {
			continue
		}
		inBatch[id] = true
		names, values := rowDims(&buf.dims, &pe.Event)
		rows = append(rows, eventRow{pe: pe, dimNames: names, dimValues: values})
	}
	buf.rows = rows
	if len(rows) == 0 {
		return 0, nil
	}
	now := time.Now().UTC()
	if w.http != nil {
		buf.block = nativeBlock(buf.block[:0], cols, rows, now)
		q := "INSERT INTO " + w.database + "." + table + " (" + columnList(cols) + ") FORMAT Native"
		if err := w.http.insert(ctx, q, w.insertSettings(), buf.block); err != nil {
			return 0, fmt.Errorf("clickhouse: insert into %s: %w", table, err)
		}
		return len(rows), nil
	}
	batch, err := w.conn.PrepareBatch(w.insertContext(ctx), "INSERT INTO "+w.database+"."+table+" ("+columnList(cols)+")")
	if err != nil {
		return 0, fmt.Errorf("clickhouse: prepare %s insert: %w", table, err)
	}
	for i, c := range cols {
		if err := batch.Column(i).Append(c.values(rows, now, buf)); err != nil {
			_ = batch.Abort()
			return 0, fmt.Errorf("clickhouse: append %s.%s: %w", table, c.name, err)
		}
	}
	if err := batch.Send(); err != nil {
		return 0, fmt.Errorf("clickhouse: insert into %s: %w", table, err)
	}
	return len(rows), nil
}

// InsertOverHTTP makes the writer send its INSERTs through h (see
// HTTPInserter) instead of the native connection, which keeps the id
// lookups.
func (w *Writer) InsertOverHTTP(h *HTTPInserter) { w.http = h }

func (w *Writer) takeBuffers() *columnBuffers {
	return w.buffers.take(func() *columnBuffers { return &columnBuffers{} })
}

func (w *Writer) putBuffers(b *columnBuffers) { w.buffers.put(b) }

// TenantTotalsSQL sums a tenant's raw usage events in [from, to).
func TenantTotalsSQL(database, tenantID string, from, to time.Time) Query {
	return Query{SQL: `SELECT count(), toUInt64(countIf(priced = 0)), sum(list_cost_nano_usd), sum(tenant_cost_nano_usd),
	sum(input + cached_input + cache_write_5m + cache_write_1h + audio_input + image_input), sum(output + reasoning + audio_output + image_output)
FROM ` + database + `.usage_events WHERE tenant_id = ? AND time >= ? AND time < ?`, Args: []any{tenantID, from.UTC(), to.UTC()}}
}

// TenantTotals sums a tenant's usage in [from, to).
func (w *Writer) TenantTotals(ctx context.Context, tenantID string, from, to time.Time) (spend.Totals, error) {
	var t spend.Totals
	q := TenantTotalsSQL(w.database, tenantID, from, to)
	err := w.conn.QueryRow(ctx, q.SQL, q.Args...).
		Scan(&t.Events, &t.UnpricedEvents, &t.ListNanoUSD, &t.TenantNanoUSD, &t.InputTokens, &t.OutputTokens)
	return t, err
}

// Database is the database the writer stores into.
func (w *Writer) Database() string { return w.database }
