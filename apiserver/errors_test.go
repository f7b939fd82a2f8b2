package apiserver

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/spendgate/spendgate/analytics"
	"github.com/spendgate/spendgate/budget/pgstore"
	"github.com/spendgate/spendgate/internal/testenv"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
)

// Malformed times and text Postgres cannot store are the client's mistake:
// INVALID_ARGUMENT with a message that says what to send, never INTERNAL.
func TestMalformedArgumentsAreInvalid(t *testing.T) {
	h := buildHarness(t, false, withoutClickHouse)
	tok, tenant := h.owner("alice@example.com", "acme")
	tv := map[string]any{"t": tenant}
	for name, c := range map[string]struct {
		query string
		vars  map[string]any
		want  string
	}{
		"a word for a time":      {`query($t:ID!){spendSummary(tenantId:$t,from:"yesterday",to:"2026-01-01T00:00:00Z"){requests}}`, tv, `Time "yesterday" is not an RFC 3339 time`},
		"a month out of range":   {`query($t:ID!){spendSummary(tenantId:$t,from:"2026-13-01T00:00:00Z",to:"2026-01-01T00:00:00Z"){requests}}`, tv, "is not an RFC 3339 time"},
		"a date without time":    {`query($t:ID!){usageEvents(tenantId:$t,from:"2026-01-01",to:"2026-01-02T00:00:00Z"){edges{cursor}}}`, tv, "is not an RFC 3339 time"},
		"a number for a time":    {`query($t:ID!){spendSummary(tenantId:$t,from:1700000000,to:"2026-01-01T00:00:00Z"){requests}}`, tv, "Time must be an RFC 3339 string"},
		"a time variable":        {`query($t:ID!,$f:Time!){spendSummary(tenantId:$t,from:$f,to:"2026-01-01T00:00:00Z"){requests}}`, map[string]any{"t": tenant, "f": "1/1/2026"}, "is not an RFC 3339 time"},
		"a mutation's time":      {`mutation($t:ID!){createAPIKey(tenantId:$t,name:"k",expiresAt:"next week"){secret}}`, tv, "is not an RFC 3339 time"},
		"NUL in a key name":      {`mutation($t:ID!){createAPIKey(tenantId:$t,name:"a\u0000b"){secret}}`, tv, "name must be UTF-8 text without control characters"},
		"NUL in a variable name": {`mutation($n:String!){createTenant(name:$n,slug:"nul"){id}}`, map[string]any{"n": "x\x00y"}, "without control characters"},
		"NUL in a budget name":   {`mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b\u0000",scope:TENANT,period:DAY,amount:"1"}){id}}`, tv, "without control characters"},
		// Not checked by a service: Postgres refuses it, still the client's mistake.
		"NUL in an override note": {`mutation($t:ID!){createPricingOverride(tenantId:$t,input:{model:"m",effectiveFrom:"2026-01-01T00:00:00Z",percentAdjustment:"5",note:"a\u0000b"}){id}}`, tv,
			"text arguments must be valid UTF-8 without NUL characters"},
	} {
		r := h.gql(tok, c.query, c.vars)
		if r.code() != "INVALID_ARGUMENT" || !strings.Contains(r.Errors[0].Message, c.want) {
			t.Errorf("%s: %+v, want INVALID_ARGUMENT %q", name, r.Errors, c.want)
		}
	}
}

// With ClickHouse unreachable, analytics answer UNAVAILABLE (retry later),
// GraphQL and the CSV export alike, and the cause is logged.
func TestAnalyticsUnavailable(t *testing.T) {
	h := buildHarness(t, false, func(h *harness, cfg *Config) {
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{"127.0.0.1:1"}, DialTimeout: time.Second})
		testenv.Must(t, err, "open")
		cfg.Analytics = analytics.New(h.cp, &chstore.Analytics{Conn: conn, Database: "nowhere"}, pgstore.New(h.pool), analytics.DefaultLimits())
	})
	tok, tenant := h.owner("alice@example.com", "acme")
	tv := map[string]any{"t": tenant}
	for _, q := range []string{
		`query($t:ID!){spendSummary(tenantId:$t,from:"2026-01-01T00:00:00Z",to:"2026-02-01T00:00:00Z"){requests}}`,
		`query($t:ID!){spendBreakdown(tenantId:$t,from:"2026-01-01T00:00:00Z",to:"2026-02-01T00:00:00Z",groupBy:[{field:MODEL}]){groups{keys}}}`,
		`query($t:ID!){usageEvents(tenantId:$t,from:"2026-01-01T00:00:00Z",to:"2026-02-01T00:00:00Z"){edges{cursor}}}`,
		`query($t:ID!){usageEvent(tenantId:$t,id:"e1"){id}}`,
	} {
		r := h.gql(tok, q, tv)
		if r.code() != "UNAVAILABLE" || !strings.Contains(r.Errors[0].Message, "retry") || strings.Contains(r.Errors[0].Message, "127.0.0.1") {
			t.Fatalf("%s: %+v", q, r.Errors)
		}
	}
	if !strings.Contains(h.logs.String(), "127.0.0.1:1") {
		t.Errorf("the cause is not logged: %s", h.logs.String())
	}
	req, _ := http.NewRequest("GET", h.srv.URL+"/export/spend.csv?tenantId="+tenant+"&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&groupBy=model", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, "export")
	defer resp.Body.Close()
	var body struct {
		Error struct{ Code, Message string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusServiceUnavailable || body.Error.Code != "UNAVAILABLE" {
		t.Fatalf("export: %d %+v", resp.StatusCode, body)
	}
}
