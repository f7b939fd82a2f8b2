package enginetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/chdb-io/chdb-go/chdb"

	"github.com/spendgate/spendgate/store/clickhouse"
)

// engine runs bound SQL and answers in TabSeparated text.
type engine interface {
	run(ctx context.Context, sql string) (string, error)
}

// chdbEngine is ClickHouse 26.x in this process. chDB keeps one session per
// process; queries are serialized.
type chdbEngine struct {
	mu sync.Mutex
	s  *chdb.Session
}

func (e *chdbEngine) run(_ context.Context, sql string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, err := e.s.Query(sql, "TabSeparated")
	if err != nil {
		return "", err
	}
	if r == nil {
		return "", nil
	}
	defer r.Free()
	if err := r.Error(); err != nil {
		return "", err
	}
	return r.String(), nil
}

// serverEngine is the ClickHouse server, over its HTTP interface so both
// engines answer in the same text format.
type serverEngine struct{ url string }

func (e serverEngine) run(ctx context.Context, sql string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/?default_format=TabSeparated", strings.NewReader(sql))
	if err != nil {
		return "", err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", errors.New(strings.TrimSpace(string(body)))
	}
	return string(body), nil
}

// conn lets clickhouse.Migrate drive an engine: arguments are bound into
// the SQL, one-row answers are parsed from text.
type conn struct{ e engine }

var _ clickhouse.Conn = conn{}

func (c conn) Exec(ctx context.Context, query string, args ...any) error {
	sql, err := clickhouse.Bind(clickhouse.Query{SQL: query, Args: args})
	if err != nil {
		return err
	}
	_, err = c.e.run(ctx, sql)
	return err
}

func (c conn) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	sql, err := clickhouse.Bind(clickhouse.Query{SQL: query, Args: args})
	if err != nil {
		return row{err: err}
	}
	out, err := c.e.run(ctx, sql)
	if err != nil {
		return row{err: err}
	}
	line, _, _ := strings.Cut(out, "\n")
	return row{fields: strings.Split(line, "\t"), empty: out == ""}
}

type row struct {
	fields []string
	empty  bool
	err    error
}

func (r row) Err() error { return r.err }

func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	if r.empty {
		return fmt.Errorf("no rows")
	}
	if len(dest) != len(r.fields) {
		return fmt.Errorf("%d columns, %d destinations", len(r.fields), len(dest))
	}
	for i, d := range dest {
		f := r.fields[i]
		var err error
		switch d := d.(type) {
		case *string:
			*d = f
		case *uint64:
			*d, err = strconv.ParseUint(f, 10, 64)
		case *uint32:
			var n uint64
			n, err = strconv.ParseUint(f, 10, 32)
			*d = uint32(n)
		case *int64:
			*d, err = strconv.ParseInt(f, 10, 64)
		default:
			err = fmt.Errorf("cannot scan into %T", d)
		}
		if err != nil {
			return fmt.Errorf("column %d: %w", i+1, err)
		}
	}
	return nil
}

func (r row) ScanStruct(any) error { return errors.New("not supported") }

func chdbPath() string {
	if p := os.Getenv("CHDB_LIB_PATH"); p != "" {
		return p
	}
	return "/usr/local/lib/libchdb.so"
}
