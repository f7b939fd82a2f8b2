package clickhouse

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	chgo "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/spendgate/spendgate/internal/testenv"
)

// An INSERT moves to the next replica only when the connection is refused;
// a replica that answered (here with ClickHouse's quorum error) is not
// asked again, and its error is the native client's Exception, which
// Unavailable tells from a server that did not answer. A proxy's 503 is
// unavailable.
func TestHTTPInserterFailover(t *testing.T) {
	ctx := context.Background()
	closed := freePort(t) // nothing listens there: the dial is refused
	var answer atomic.Value
	answer.Store("")
	replica := func(got *atomic.Int32) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got.Add(1)
			body, _ := io.ReadAll(r.Body)
			if r.URL.Query().Get("insert_quorum") != "2" || !strings.HasPrefix(r.URL.Query().Get("query"), "INSERT INTO db.t") || string(body) != "block" {
				http.Error(w, "unexpected request "+r.URL.String(), http.StatusBadRequest)
				return
			}
			switch a := answer.Load().(string); a {
			case "":
			case "503":
				http.Error(w, "no healthy upstream", http.StatusServiceUnavailable)
			default:
				http.Error(w, a, http.StatusInternalServerError)
			}
		}))
	}
	var gotA, gotB atomic.Int32
	a, b := replica(&gotA), replica(&gotB)
	defer a.Close()
	defer b.Close()
	h, err := NewHTTPInserter([]string{"127.0.0.1:" + strconv.Itoa(closed), strings.TrimPrefix(a.URL, "http://"), strings.TrimPrefix(b.URL, "http://")}, HTTPUncompressed)
	testenv.Must(t, err, "inserter")
	defer h.Close()
	settings := map[string]int{"insert_quorum": 2}

	testenv.Must(t, h.insert(ctx, "INSERT INTO db.t FORMAT Native", settings, []byte("block")), "insert past a refused replica")
	if gotA.Load() != 1 || h.current.Load() != 1 {
		t.Fatalf("requests %d, current replica %d; want 1 and 1", gotA.Load(), h.current.Load())
	}

	answer.Store("Code: 285, e.displayText() = DB::Exception: Number of alive replicas (1) is less than requested quorum (2).")
	err = h.insert(ctx, "INSERT INTO db.t FORMAT Native", settings, []byte("block"))
	var ex *chgo.Exception
	if !errors.As(err, &ex) || ex.Code != 285 || Unavailable(err) {
		t.Fatalf("quorum error: %v (%T); want a ClickHouse exception 285, not unavailable", err, err)
	}

	answer.Store("503")
	if err = h.insert(ctx, "INSERT INTO db.t FORMAT Native", settings, []byte("block")); err == nil || !Unavailable(err) {
		t.Fatalf("a proxy's 503: %v; want unavailable", err)
	}
	if gotA.Load() != 3 || gotB.Load() != 0 {
		t.Fatalf("requests %d and %d, want 3 and 0 (a request a replica answered is never sent to another)", gotA.Load(), gotB.Load())
	}
}
