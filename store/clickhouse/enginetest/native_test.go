package enginetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/store/clickhouse"
	"github.com/spendgate/spendgate/usage"
)

// The event writer's Native blocks (its HTTP INSERTs) are read alike by the
// ClickHouse server and by chDB (ClickHouse 26.x): every block the writer
// sends to the server is also inserted into chDB, and every table — raw
// events and each rollup its views feed — holds the same rows on both.
func TestWriterBlocksStoreTheSameOnBothEngines(t *testing.T) {
	ctx := context.Background()
	addr, db := testenv.ClickHouse(t)
	server := serverEngine{url: "http://" + testenv.ClickHouseHTTPAddr()}
	_, err := current.run(ctx, "CREATE DATABASE "+db)
	testenv.Must(t, err, "chdb: create database")
	t.Cleanup(func() { _, _ = current.run(context.Background(), "DROP DATABASE IF EXISTS "+db) })
	for name, e := range map[string]engine{"server": server, "chdb": current} {
		testenv.Must(t, clickhouse.Migrate(ctx, conn{e}, db), name+" migrate")
	}

	tee := &blockTee{server: server.url, dir: t.TempDir()}
	proxy := httptest.NewServer(tee)
	t.Cleanup(proxy.Close)
	native, err := clickhouse.Open(ctx, addr, db)
	testenv.Must(t, err, "open")
	t.Cleanup(func() { _ = native.Close() })
	h, err := clickhouse.NewHTTPInserter([]string{strings.TrimPrefix(proxy.URL, "http://")}, clickhouse.HTTPUncompressed)
	testenv.Must(t, err, "HTTP inserter")
	t.Cleanup(h.Close)
	w := clickhouse.NewWriter(native, db)
	w.InsertOverHTTP(h)

	events := variedEvents(400)
	for lo := 0; lo < len(events); lo += 150 { // several INSERTs, the writer's buffers reused
		n, err := w.Write(ctx, events[lo:min(lo+150, len(events))])
		if err != nil {
			t.Fatalf("write: %v", err)
		}
		if n != min(150, len(events)-lo) {
			t.Fatalf("write from %d: %d new", lo, n)
		}
	}
	if tee.blocks < 2 {
		t.Fatalf("%d Native blocks went through the tee: the test compares nothing", tee.blocks)
	}
	if tee.err != nil {
		t.Fatalf("chDB refused a block the server took: %v", tee.err)
	}

	tables, err := server.run(ctx, "SELECT name FROM system.tables WHERE database = '"+db+"' AND engine LIKE '%MergeTree' AND name != 'schema_versions' ORDER BY name")
	testenv.Must(t, err, "tables")
	compared := 0
	for _, table := range strings.Fields(tables) {
		answers := map[string][]string{}
		for name, e := range map[string]engine{"server": server, "chdb": current} {
			out, err := e.run(ctx, "SELECT * FROM "+db+"."+table+" FINAL")
			testenv.Must(t, err, name+" "+table)
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			slices.Sort(lines)
			answers[name] = lines
		}
		if !slices.Equal(answers["server"], answers["chdb"]) {
			t.Errorf("%s differs\nserver:\n%s\nchdb:\n%s", table, clip(strings.Join(answers["server"], "\n")), clip(strings.Join(answers["chdb"], "\n")))
		}
		if len(answers["server"]) > 0 && answers["server"][0] != "" {
			compared++
		}
	}
	t.Logf("%d blocks, %d tables with rows", tee.blocks, compared)
	if compared < 5 {
		t.Fatalf("only %d tables hold rows: the events reach too few rollups to compare", compared)
	}
}

// blockTee passes the writer's requests to the ClickHouse server and, for
// each Native INSERT the server took, inserts the same bytes into chDB
// (which has no HTTP interface) from a file.
type blockTee struct {
	server, dir string
	mu          sync.Mutex
	blocks      int
	err         error
}

func (b *blockTee) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, b.server+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	req.Header = r.Header.Clone()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(res.Body)
	query := r.URL.Query().Get("query")
	if res.StatusCode == http.StatusOK && strings.HasSuffix(query, " FORMAT Native") {
		b.mu.Lock()
		b.blocks++
		file := filepath.Join(b.dir, fmt.Sprintf("block-%d.native", b.blocks))
		if err := os.WriteFile(file, body, 0o600); err != nil && b.err == nil {
			b.err = err
		}
		insert := strings.TrimSuffix(query, " FORMAT Native") + " SELECT * FROM file('" + file + "', 'Native')"
		if _, err := current.run(r.Context(), insert); err != nil && b.err == nil {
			b.err = fmt.Errorf("%s: %w", clip(insert), err)
		}
		b.mu.Unlock()
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(answer)
}

// variedEvents are usage and denial events over two tenants and a few days,
// with what a Native block must carry exactly: dimensions (none, several,
// non-ASCII), escapes and multi-byte text in strings, empty strings, zero
// and large numbers, priced and unpriced costs with lines.
func variedEvents(n int) []spend.PricedEvent {
	at := time.Date(2026, 3, 30, 22, 0, 0, 0, time.UTC)
	tenants := []string{tenantA, tenantB}
	teams := []string{"", "search", "ads", "Zürich – 東京"}
	out := make([]spend.PricedEvent, 0, n)
	for i := range n {
		e := event.Event{SchemaVersion: 1, Type: event.TypeUsage, EventID: uuid.NewString(), Time: at.Add(time.Duration(i) * 17 * time.Minute),
			Source: event.SourceGateway, TenantID: tenants[i%2], KeyID: fmt.Sprintf("key-%d", i%7), Provider: []string{"openai", "anthropic", "gemini"}[i%3],
			Operation: "chat.completions", ModelRequested: fmt.Sprintf("model-%d", i%5), StatusCode: []int{200, 429, 500}[i%3],
			LatencyMs: int64(i * 31), TTFBMs: int64(i), Complete: i%9 != 0, Streaming: i%2 == 0,
			Usage:    usage.Tokens{Input: int64(i * 1000), CachedInput: int64(i), Output: int64(i * 7), Reasoning: int64(i % 3), WebSearches: int64(i % 2)},
			RawUsage: fmt.Sprintf(`{"prompt_tokens":%d,"note":"tab\there \"quoted\" ✓"}`, i*1000)}
		if i%4 != 0 {
			e.ModelServed = e.ModelRequested + "-2026"
		}
		if t := teams[i%len(teams)]; t != "" {
			e.Dimensions = map[string]string{"team": t, "app": fmt.Sprintf("app-%d", i%3)}
			if i%5 == 0 {
				e.Dimensions["env"] = "prod"
			}
		}
		if i%11 == 0 {
			e.Type, e.DenialReason, e.DenialMessage = event.TypeDenial, "budget_exceeded", "over the cap\nby 3 ¢"
			e.Usage, e.RawUsage, e.StatusCode = usage.Tokens{}, "", 0
		}
		c := pricing.Cost{}
		if i%6 != 0 {
			c = pricing.Cost{Priced: true, Model: e.ModelRequested, MatchedBy: "exact", Tier: "standard", ListNanoUSD: int64(i) * 123_456_789,
				TenantNanoUSD: int64(i) * 100_000_000, Lines: []pricing.Line{{Class: "input", Quantity: e.Usage.Input, RateNanoUSD: 2_500_000_000, AmountNanoUSD: int64(i) * 2_500}}}
		}
		out = append(out, spend.PricedEvent{Event: e, Cost: c})
	}
	return out
}
