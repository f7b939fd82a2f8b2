package controlplane

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Page asks for a page of a list: First items after the cursor After.
type Page struct {
	First int
	After string
}

// MaxPage is the largest page any list of the API answers (management lists,
// usage events, alerts, dead letters, the catalogue): the portal asks for at
// most 200, and a bounded page keeps one request's work and answer small
// with gqlgen's stock execution. Larger pages are INVALID_ARGUMENT.
const MaxPage = 250

const defaultPage = 50

func (p Page) limit() (int, error) {
	if p.First == 0 {
		return defaultPage, nil
	}
	if p.First < 0 || p.First > MaxPage {
		return 0, invalid("first must be between 1 and %d", MaxPage)
	}
	return p.First, nil
}

// cursor encodes a position in a list ordered by (created_at DESC, id DESC).
func cursor(t time.Time, id string) string {
	// Built in a stack buffer: a page of 250 items makes 250 cursors.
	var buf [128]byte
	b := t.UTC().AppendFormat(buf[:0], time.RFC3339Nano)
	b = append(append(b, '|'), id...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(c string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", invalid("malformed cursor")
	}
	ts, id, ok := strings.Cut(string(b), "|")
	t, err := time.Parse(time.RFC3339Nano, ts)
	if !ok || err != nil {
		return time.Time{}, "", invalid("malformed cursor")
	}
	return t, id, nil
}

// keysetCols names the columns a list is ordered by, newest first, and how a
// cursor's id becomes a query argument of the id column's type.
type keysetCols struct {
	created, id string
	cursorID    func(string) (any, error)
}

// byCreated orders rows with a created_at and a uuid id, as most lists are.
var byCreated = keysetCols{created: "created_at", id: "id", cursorID: func(s string) (any, error) {
	if !isUUID(s) {
		return nil, invalid("malformed cursor")
	}
	return s, nil
}}

// bySerial orders rows with a created_at and a bigint id (the audit log).
var bySerial = keysetCols{created: "created_at", id: "id", cursorID: func(s string) (any, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, invalid("malformed cursor")
	}
	return n, nil
}}

// keyset returns the WHERE fragment and args continuing after a cursor.
func (k keysetCols) keyset(p Page, argN int) (string, []any, error) {
	if p.After == "" {
		return "", nil, nil
	}
	t, rawID, err := decodeCursor(p.After)
	if err != nil {
		return "", nil, err
	}
	id, err := k.cursorID(rawID)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf(" AND (%s, %s) < ($%d, $%d)", k.created, k.id, argN, argN+1), []any{t, id}, nil
}

// Connection is one page of a list.
type Connection[T any] struct {
	Items       []T
	Cursors     []string
	HasNextPage bool
}

// listPage runs one keyset page of a query whose rows are ordered by cols,
// newest first. query holds the SELECT and its WHERE clause with
// placeholders $1..$len(args); the page's cursor condition, order and limit
// are added here. created gives an item's position for its cursor.
func listPage[T any](ctx context.Context, db *pgxpool.Pool, page Page, cols keysetCols, query string, args []any,
	scan func(pgx.Row) (T, error), created func(T) (time.Time, string)) (Connection[T], error) {
	limit, err := page.limit()
	if err != nil {
		return Connection[T]{}, err
	}
	where, more, err := cols.keyset(page, len(args)+1)
	if err != nil {
		return Connection[T]{}, err
	}
	rows, err := db.Query(ctx, query+where+` ORDER BY `+cols.created+` DESC, `+cols.id+` DESC LIMIT `+strconv.Itoa(limit+1),
		append(args, more...)...)
	if err != nil {
		return Connection[T]{}, err
	}
	items, err := pgx.AppendRows(make([]T, 0, limit+1), rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	if err != nil {
		return Connection[T]{}, err
	}
	return paginate(items, limit, created), nil
}

func paginate[T any](items []T, limit int, created func(T) (time.Time, string)) Connection[T] {
	c := Connection[T]{}
	if len(items) > limit {
		c.HasNextPage = true
		items = items[:limit]
	}
	c.Items = items
	for _, it := range items {
		t, id := created(it)
		c.Cursors = append(c.Cursors, cursor(t, id))
	}
	return c
}
