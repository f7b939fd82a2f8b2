package clickhouse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/ch-go/compress"
	chgo "github.com/ClickHouse/clickhouse-go/v2"
)

// HTTPInserter sends the writer's INSERTs to ClickHouse's HTTP interface as
// one Native-format block each, encoded by the writer into a buffer it keeps
// from batch to batch. clickhouse-go builds new columns for every INSERT and
// grows them from empty (most of the consumer's CPU in the client was that
// and the page faults of the fresh memory); the native protocol's other
// client, ch-go, cannot talk to ClickHouse 18.16 (docs/ingest.md). Lookups
// and every other query stay on the native connection.
//
// Addresses are one per replica, in the order of the native ones: an INSERT
// goes to the first that accepts a connection, then sticks to it. Only a
// refused dial moves on to the next replica: a request that reached a
// server may have been stored there, so it fails back to the caller, whose
// retry looks the ids up again.
type HTTPInserter struct {
	urls     []string // http://host:port/
	client   *http.Client
	compress bool
	current  atomic.Int32 // index in urls of the replica last reached

	// lz4 holds idle LZ4 writers, one per lane compressing at a time (a
	// free list, as the writer's buffers: each keeps its output buffer).
	lz4 kept[compress.Writer]
}

// HTTPCompression says how an INSERT's body travels.
type HTTPCompression string

const (
	// HTTPUncompressed sends the block as it is (loopback, a LAN): the cheapest
	// in CPU for both sides.
	HTTPUncompressed HTTPCompression = "none"
	// HTTPLZ4 sends the block LZ4-compressed in ClickHouse's own framing
	// (decompress=1), as the native protocol does when compression is on:
	// for a server across a slow or metered link.
	HTTPLZ4 HTTPCompression = "lz4"
)

// DefaultHTTPPort is ClickHouse's HTTP port out of the box.
const DefaultHTTPPort = "8123"

// HTTPAddrs is the HTTP address of each native address: httpAddrs if it is
// set (then one per native address, in the same order), else each native
// host with ClickHouse's default HTTP port.
func HTTPAddrs(nativeAddrs []string, httpAddrs string) ([]string, error) {
	if httpAddrs != "" {
		out := SplitAddrs(httpAddrs)
		if len(out) != len(nativeAddrs) {
			return nil, fmt.Errorf("clickhouse: %d HTTP addresses for %d native ones: list one per replica, in the same order", len(out), len(nativeAddrs))
		}
		return out, nil
	}
	out := make([]string, len(nativeAddrs))
	for i, a := range nativeAddrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return nil, fmt.Errorf("clickhouse: native address %q: %w", a, err)
		}
		out[i] = net.JoinHostPort(host, DefaultHTTPPort)
	}
	return out, nil
}

// NewHTTPInserter returns an inserter for the servers at addrs (host:port
// of their HTTP interface, one per replica).
func NewHTTPInserter(addrs []string, c HTTPCompression) (*HTTPInserter, error) {
	if len(addrs) == 0 {
		return nil, errors.New("clickhouse: no HTTP address")
	}
	h := &HTTPInserter{client: &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 8,
		// ClickHouse closes idle HTTP connections after 3 s (keep_alive_timeout);
		// dropping them first spares a request sent on a closing one.
		IdleConnTimeout:    2 * time.Second,
		DisableCompression: true,
		// As clickhouse-go's ReadTimeout: a server that took the request but
		// never answers fails the INSERT (the consumer retries it).
		ResponseHeaderTimeout: 5 * time.Minute,
	}}}
	switch c {
	case HTTPUncompressed, "":
	case HTTPLZ4:
		h.compress = true
	default:
		return nil, fmt.Errorf("clickhouse: HTTP compression %q: want %q or %q", c, HTTPUncompressed, HTTPLZ4)
	}
	for _, a := range addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("clickhouse: HTTP address %q: %w", a, err)
		}
		h.urls = append(h.urls, "http://"+a+"/")
	}
	return h, nil
}

// Ping checks that one of the servers answers on its HTTP interface.
func (h *HTTPInserter) Ping(ctx context.Context) error {
	return h.each(ctx, func(base string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"ping", nil)
		if err != nil {
			return err
		}
		resp, err := h.client.Do(req)
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("clickhouse: %s: HTTP %s", base+"ping", resp.Status)
		}
		return nil
	})
}

// URLs are the servers' HTTP base URLs, in failover order.
func (h *HTTPInserter) URLs() []string { return h.urls }

// Close drops the idle connections.
func (h *HTTPInserter) Close() { h.client.CloseIdleConnections() }

// insert runs query (an INSERT … FORMAT Native) with block as its data and
// settings as query settings.
func (h *HTTPInserter) insert(ctx context.Context, query string, settings map[string]int, block []byte) error {
	params := url.Values{"query": {query}}
	for k, v := range settings {
		params.Set(k, strconv.Itoa(v))
	}
	body := block
	if h.compress {
		params.Set("decompress", "1")
		lz := h.takeLZ4()
		defer h.putLZ4(lz)
		if err := lz.Compress(block); err != nil {
			return fmt.Errorf("clickhouse: compress insert: %w", err)
		}
		body = lz.Data
	}
	q := params.Encode()
	return h.each(ctx, func(base string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"?"+q, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := h.client.Do(req)
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return httpException(resp.StatusCode, answer)
		}
		return nil
	})
}

func (h *HTTPInserter) takeLZ4() *compress.Writer {
	return h.lz4.take(func() *compress.Writer { return compress.NewWriter(compress.LevelZero, compress.LZ4) })
}

func (h *HTTPInserter) putLZ4(w *compress.Writer) { h.lz4.put(w) }

// each runs do against the replica last reached, moving on to the next only
// while the dial is refused or times out (nothing was sent).
func (h *HTTPInserter) each(ctx context.Context, do func(base string) error) error {
	first := int(h.current.Load())
	var errs []error
	for i := range h.urls {
		at := (first + i) % len(h.urls)
		err := do(h.urls[at])
		if err == nil {
			h.current.Store(int32(at))
			return nil
		}
		errs = append(errs, err)
		if !dialFailed(err) || ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

// dialFailed reports whether err is a failure to connect, before anything
// was sent.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

var exceptionCode = regexp.MustCompile(`^Code: (\d+)`)

// httpException is ClickHouse's error answer as the native client reports
// it (a *clickhouse.Exception, which Unavailable tells from a server that
// did not answer); an answer that is not ClickHouse's (a proxy's 502) is
// errHTTPStatus.
func httpException(status int, body []byte) error {
	msg := strings.TrimSpace(string(body))
	if m := exceptionCode.FindStringSubmatch(msg); m != nil {
		code, _ := strconv.Atoi(m[1])
		return &chgo.Exception{Code: int32(code), Name: "DB::Exception", Message: msg}
	}
	return &httpStatusError{Status: status, Body: msg}
}

// httpStatusError is an HTTP error answer without a ClickHouse exception in
// it: something between the writer and ClickHouse answered.
type httpStatusError struct {
	Status int
	Body   string
}

func (e *httpStatusError) Error() string {
	return fmt.Sprintf("clickhouse: HTTP %d: %s", e.Status, e.Body)
}
