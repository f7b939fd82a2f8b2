package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/jackc/pgx/v5"

	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/recordapi"
)

// server is a real `spendgate serve` (Postgres, embedded JetStream,
// ClickHouse, the ingest consumer and the budget engine) with the OpenAPI
// document every request and answer of these tests is checked against.
type server struct {
	*testenv.Serve
	token, tenantID string
	router          routers.Router
}

func startServer(t *testing.T) *server {
	t.Helper()
	s := testenv.StartServe(t, "--batch-wait", "100ms")
	token, tenant := s.SignInDemo(t)
	doc, err := openapi3.NewLoader().LoadFromData(recordapi.OpenAPI())
	testenv.Must(t, err, "load the OpenAPI document")
	doc.Servers = openapi3.Servers{{URL: s.APIURL}}
	router, err := legacy.NewRouter(doc)
	testenv.Must(t, err, "OpenAPI router")
	return &server{Serve: s, token: token, tenantID: tenant, router: router}
}

// answer is one HTTP answer of the API.
type answer struct {
	Status int
	Header http.Header
	Body   []byte
}

func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.Body, v); err != nil {
		t.Fatalf("undecodable answer %s: %v", a.Body, err)
	}
}

func (a answer) errorBody(t *testing.T) recordapi.Error {
	t.Helper()
	var e recordapi.ErrorBody
	a.decode(t, &e)
	return e.Error
}

// post sends body to path with key (Authorization: Bearer). When checkRequest
// is set the request must fit the OpenAPI document; the answer always must.
func (s *server) post(t *testing.T, path, key, body string, checkRequest bool, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.APIURL+path, strings.NewReader(body))
	testenv.Must(t, err, "request")
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	route, params, err := s.router.FindRoute(req)
	testenv.Must(t, err, "OpenAPI route of "+path)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if checkRequest {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Fatalf("request to %s does not fit the OpenAPI document: %v\n%s", path, err, body)
		}
		req.Body = io.NopCloser(strings.NewReader(body))
	}
	res, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, "POST "+path)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	testenv.Must(t, err, "read answer")
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode, Header: res.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	out.SetBodyBytes(raw)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Fatalf("answer %d of %s does not fit the OpenAPI document: %v\n%s", res.StatusCode, path, err, raw)
	}
	return answer{res.StatusCode, res.Header, raw}
}

// createKey makes an API key with a policy (GraphQL KeyPolicyInput) and
// returns its secret and id.
func (s *server) createKey(t *testing.T, name string, policy map[string]any) (secret, id string) {
	t.Helper()
	var out struct {
		CreateAPIKey struct {
			Secret string
			Key    struct{ ID string }
		}
	}
	testenv.MustGraphQL(t, s.APIURL+"/query", s.token, `mutation($t:ID!,$n:String!,$p:KeyPolicyInput){createAPIKey(tenantId:$t,name:$n,policy:$p){secret key{id}}}`,
		map[string]any{"t": s.tenantID, "n": name, "p": policy}, &out)
	return out.CreateAPIKey.Secret, out.CreateAPIKey.Key.ID
}

// keyBudget makes a monthly budget of key keyID and returns its id.
func (s *server) keyBudget(t *testing.T, keyID, amountUSD string, hard bool) string {
	t.Helper()
	var out struct{ CreateBudget struct{ ID string } }
	testenv.MustGraphQL(t, s.APIURL+"/query", s.token, `mutation($t:ID!,$in:BudgetInput!){createBudget(tenantId:$t,input:$in){id}}`,
		map[string]any{"t": s.tenantID, "in": map[string]any{"name": "key " + keyID[:8], "scope": "KEY", "keyId": keyID, "period": "MONTH",
			"amount": amountUSD, "hard": hard}}, &out)
	return out.CreateBudget.ID
}

// counter reads a budget's spent and reserved nano-USD this month.
func (s *server) counter(t *testing.T, budgetID string) (spent, reserved int64) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), s.PostgresDSN)
	testenv.Must(t, err, "postgres")
	defer conn.Close(context.Background())
	err = conn.QueryRow(context.Background(), `SELECT spent_nano_usd, reserved_nano_usd FROM budget_spend WHERE budget_id = $1
		AND period_start = date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`, budgetID).Scan(&spent, &reserved)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0
	}
	testenv.Must(t, err, "budget counter")
	return spent, reserved
}

func (s *server) reservationStatus(t *testing.T, id string) string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), s.PostgresDSN)
	testenv.Must(t, err, "postgres")
	defer conn.Close(context.Background())
	var status string
	testenv.Must(t, conn.QueryRow(context.Background(), `SELECT status FROM budget_reservations WHERE id = $1`, id).Scan(&status), "reservation")
	return status
}

// storedRow is one usage_events row of a key.
type storedRow struct {
	EventID, Provider, Model, Source, CatalogueModel string
	Characters, Seconds, Images                      int64
	Priced, HasReported, HasCatalogue                uint8
	List, Tenant, Reported, Catalogue                int64
}

// stored reads every usage event of key keyID from serve's ClickHouse.
func (s *server) stored(t *testing.T, keyID string) []storedRow {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{testenv.ClickHouseAddr()}})
	testenv.Must(t, err, "clickhouse")
	defer conn.Close()
	rows, err := conn.Query(context.Background(), `SELECT event_id, provider, model_requested, source, catalogue_model, characters, seconds, images,
		priced, has_provider_reported, has_catalogue_cost, list_cost_nano_usd, tenant_cost_nano_usd, provider_reported_nano_usd, catalogue_cost_nano_usd
		FROM `+s.ClickHouseDatabase+`.usage_events WHERE key_id = ? ORDER BY model_requested, event_id`, keyID)
	testenv.Must(t, err, "select usage events")
	defer rows.Close()
	var out []storedRow
	for rows.Next() {
		var r storedRow
		testenv.Must(t, rows.Scan(&r.EventID, &r.Provider, &r.Model, &r.Source, &r.CatalogueModel, &r.Characters, &r.Seconds, &r.Images,
			&r.Priced, &r.HasReported, &r.HasCatalogue, &r.List, &r.Tenant, &r.Reported, &r.Catalogue), "scan")
		out = append(out, r)
	}
	return out
}

// waitRows waits for want rows of keyID, then checks that no more arrive.
func (s *server) waitRows(t *testing.T, keyID string, want int) []storedRow {
	t.Helper()
	testenv.WaitFor(t, 60*time.Second, fmt.Sprintf("%d stored events", want), func() bool { return len(s.stored(t, keyID)) >= want })
	time.Sleep(1500 * time.Millisecond) // a doubled event would land by now
	rows := s.stored(t, keyID)
	if len(rows) != want {
		t.Fatalf("%d events stored, want %d: %+v", len(rows), want, rows)
	}
	return rows
}

func TestRecordAPI(t *testing.T) {
	s := startServer(t)
	// A tenant pricing override may name a record-only vendor (ElevenLabs):
	// a 20 % discount on one model, checked by a subtest below.
	testenv.MustGraphQL(t, s.APIURL+"/query", s.token, `mutation($t:ID!,$in:PricingOverrideInput!){createPricingOverride(tenantId:$t,input:$in){id}}`,
		map[string]any{"t": s.tenantID, "in": map[string]any{"provider": "elevenlabs", "model": "eleven_turbo_v2", "effectiveFrom": "2024-01-01T00:00:00Z",
			"percentAdjustment": "-20"}}, nil)

	t.Run("the OpenAPI document is served", func(t *testing.T) {
		res, err := http.Get(s.APIURL + recordapi.OpenAPIPath)
		testenv.Must(t, err, "GET openapi.json")
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || !bytes.Equal(raw, recordapi.OpenAPI()) {
			t.Fatalf("HTTP %d, %d bytes", res.StatusCode, len(raw))
		}
	})

	t.Run("every non-LLM unit priced exactly into ClickHouse", func(t *testing.T) {
		key, keyID := s.createKey(t, "units", nil)
		// Expected costs from the catalogue's rates (USD per million units),
		// worked out by hand: rate × 1000 nano-USD per unit.
		type want struct {
			list, catalogue, reported int64
			hasCatalogue, hasReported bool
		}
		cases := []struct {
			name, body string
			want       want
		}{
			{"characters, tts-1 ($15/M)", `{"provider":"openai","model":"tts-1","usage":{"characters":1234}}`, want{18_510_000, 18_510_000, 0, true, false}},
			{"characters, groq playai-tts ($50/M)", `{"provider":"groq","model":"playai-tts","usage":{"characters":777}}`, want{38_850_000, 38_850_000, 0, true, false}},
			{"seconds, whisper-1 ($0.006/min)", `{"provider":"openai","model":"whisper-1","usage":{"seconds":61}}`, want{6_100_000, 6_100_000, 0, true, false}},
			// 7 × 11,111.111111 = 77,777.777777 nano-USD, rounded half up once.
			{"seconds, whisper-large-v3-turbo ($0.04/h)", `{"provider":"groq","model":"whisper-large-v3-turbo","usage":{"seconds":7}}`, want{77_778, 77_778, 0, true, false}},
			{"images, dall-e-3 ($0.04)", `{"provider":"openai","model":"dall-e-3","usage":{"images":3}}`, want{120_000_000, 120_000_000, 0, true, false}},
			{"requests, perplexity search ($0.005 a request)", `{"provider":"perplexity","model":"search","usage":{}}`, want{5_000_000, 5_000_000, 0, true, false}},
			{"a reported cost beside the catalogue's", `{"provider":"openai","model":"tts-1","usage":{"characters":1000},"reported_cost_usd":"0.016"}`, want{16_000_000, 15_000_000, 16_000_000, true, true}},
			{"a record-only vendor's reported cost beside the catalogue's (ElevenLabs)", `{"provider":"elevenlabs","model":"eleven_v3","usage":{"characters":1000},"reported_cost_usd":"0.18"}`, want{180_000_000, 100_000_000, 180_000_000, true, true}},
			// Record-only vendors (meter.RecordOnlyProviders), priced from the catalogue.
			{"characters, google_tts standard ($4/M)", `{"provider":"google_tts","model":"standard","usage":{"characters":1000}}`, want{4_000_000, 4_000_000, 0, true, false}},
			{"characters, google_tts wavenet ($16/M)", `{"provider":"google_tts","model":"wavenet","usage":{"characters":1234}}`, want{19_744_000, 19_744_000, 0, true, false}},
			{"characters, google_tts neural2 ($16/M)", `{"provider":"google_tts","model":"neural2","usage":{"characters":500}}`, want{8_000_000, 8_000_000, 0, true, false}},
			{"characters, google_tts studio ($160/M)", `{"provider":"google_tts","model":"studio","usage":{"characters":250}}`, want{40_000_000, 40_000_000, 0, true, false}},
			{"characters, google_tts chirp3-hd ($30/M)", `{"provider":"google_tts","model":"chirp3-hd","usage":{"characters":1234}}`, want{37_020_000, 37_020_000, 0, true, false}},
			// 90 × 266,666.666667 = 24,000,000.00003 nano-USD, rounded half up.
			{"seconds, google_stt chirp_3 ($0.016/min)", `{"provider":"google_stt","model":"chirp_3","usage":{"seconds":90}}`, want{24_000_000, 24_000_000, 0, true, false}},
			// 7 × 266,666.666667 = 1,866,666.666669 nano-USD, rounded half up.
			{"seconds, google_stt telephony ($0.016/min)", `{"provider":"google_stt","model":"telephony","usage":{"seconds":7}}`, want{1_866_667, 1_866_667, 0, true, false}},
			{"characters, elevenlabs multilingual v2 ($0.10/1K)", `{"provider":"elevenlabs","model":"eleven_multilingual_v2","usage":{"characters":1000}}`, want{100_000_000, 100_000_000, 0, true, false}},
			{"characters, elevenlabs flash v2.5 ($0.05/1K)", `{"provider":"elevenlabs","model":"eleven_flash_v2_5","usage":{"characters":777}}`, want{38_850_000, 38_850_000, 0, true, false}},
			// 3600 × 61,111.111111 = 219,999,999.9996 nano-USD, rounded half up.
			{"seconds, elevenlabs scribe_v1 ($0.22/h)", `{"provider":"elevenlabs","model":"scribe_v1","usage":{"seconds":3600}}`, want{220_000_000, 220_000_000, 0, true, false}},
			// 61 × 71,666.666667 = 4,371,666.666687 nano-USD, rounded half up.
			{"seconds, deepgram nova-3 ($0.0043/min)", `{"provider":"deepgram","model":"nova-3","usage":{"seconds":61}}`, want{4_371_667, 4_371_667, 0, true, false}},
		}
		byModel := map[string]want{}
		for i, c := range cases {
			body := strings.Replace(c.body, "{", fmt.Sprintf(`{"idempotency_key":"unit-%d",`, i), 1)
			a := s.post(t, recordapi.UsagePath, key, body, true)
			if a.Status != http.StatusAccepted {
				t.Fatalf("%s: HTTP %d %s", c.name, a.Status, a.Body)
			}
			var res recordapi.UsageResult
			a.decode(t, &res)
			if res.Cost == nil || !res.Cost.Priced || *res.Cost.ListNanoUSD != c.want.list || *res.Cost.TenantNanoUSD != c.want.list ||
				(res.Cost.CatalogueNanoUSD != nil) != c.want.hasCatalogue || (res.Cost.ReportedNanoUSD != nil) != c.want.hasReported {
				t.Errorf("%s: answered cost %s", c.name, a.Body)
			}
			var m struct{ Model string }
			_ = json.Unmarshal([]byte(c.body), &m)
			if c.want.hasReported && m.Model == "tts-1" {
				m.Model = "tts-1 reported"
			}
			byModel[m.Model] = c.want
		}
		rows := s.waitRows(t, keyID, len(cases))
		for _, r := range rows {
			name := r.Model
			if name == "tts-1" && r.HasReported == 1 {
				name = "tts-1 reported"
			}
			w, ok := byModel[name]
			if !ok {
				t.Errorf("unexpected row %+v", r)
				continue
			}
			if r.Source != "api" || r.Priced != 1 || r.List != w.list || r.Tenant != w.list || r.Catalogue != w.catalogue || r.Reported != w.reported ||
				(r.HasCatalogue == 1) != w.hasCatalogue || (r.HasReported == 1) != w.hasReported {
				t.Errorf("%s stored %+v, want %+v", name, r, w)
			}
		}
	})

	t.Run("a preflight reserves, the record settles it", func(t *testing.T) {
		key, keyID := s.createKey(t, "preflight", nil)
		budget := s.keyBudget(t, keyID, "1.00", true)
		a := s.post(t, recordapi.PreflightPath, key, `{"provider":"openai","model":"tts-1","usage":{"characters":10000}}`, true)
		if a.Status != 200 {
			t.Fatalf("preflight: HTTP %d %s", a.Status, a.Body)
		}
		var pf recordapi.Preflight
		a.decode(t, &pf)
		if pf.AmountNanoUSD != 150_000_000 || pf.AmountUSD != "0.15" || len(pf.BudgetIDs) != 1 || pf.BudgetIDs[0] != budget || pf.ReservationID == "" ||
			time.Until(pf.ExpiresAt) < 5*time.Minute {
			t.Fatalf("preflight %s", a.Body)
		}
		if spent, reserved := s.counter(t, budget); spent != 0 || reserved != 150_000_000 {
			t.Fatalf("after the preflight: spent %d, reserved %d", spent, reserved)
		}
		a = s.post(t, recordapi.UsagePath, key, `{"provider":"openai","model":"tts-1","usage":{"characters":4000},"reservation_id":"`+pf.ReservationID+`"}`,
			true, "Idempotency-Key", "settle-1")
		if a.Status != http.StatusAccepted {
			t.Fatalf("record: HTTP %d %s", a.Status, a.Body)
		}
		testenv.WaitFor(t, 60*time.Second, "the reservation settled", func() bool {
			spent, reserved := s.counter(t, budget)
			return spent == 60_000_000 && reserved == 0
		})
		if st := s.reservationStatus(t, pf.ReservationID); st != "settled" {
			t.Errorf("reservation %s", st)
		}
		// A caller's own worst case is reserved as stated.
		a = s.post(t, recordapi.PreflightPath, key, `{"provider":"elevenlabs","model":"eleven_v3","max_cost_usd":"0.25"}`, true)
		a.decode(t, &pf)
		if a.Status != 200 || pf.AmountNanoUSD != 250_000_000 {
			t.Errorf("preflight with max_cost_usd: HTTP %d %s", a.Status, a.Body)
		}
	})

	t.Run("a reservation given back frees its room; only its tenant's keys can", func(t *testing.T) {
		key, keyID := s.createKey(t, "release", nil)
		budget := s.keyBudget(t, keyID, "1.00", true)
		var pf recordapi.Preflight
		s.post(t, recordapi.PreflightPath, key, `{"provider":"openai","model":"tts-1","usage":{"characters":10000}}`, true).decode(t, &pf)
		if _, reserved := s.counter(t, budget); reserved != 150_000_000 {
			t.Fatalf("reserved %d", reserved)
		}
		// A key of another tenant cannot touch it.
		var other struct{ CreateTenant struct{ ID string } }
		testenv.MustGraphQL(t, s.APIURL+"/query", s.token, `mutation{createTenant(name:"Other",slug:"other-co"){id}}`, nil, &other)
		var created struct{ CreateAPIKey struct{ Secret string } }
		testenv.MustGraphQL(t, s.APIURL+"/query", s.token, `mutation($t:ID!){createAPIKey(tenantId:$t,name:"other"){secret}}`,
			map[string]any{"t": other.CreateTenant.ID}, &created)
		for name, c := range map[string]struct{ key, id string }{
			"another tenant's key": {created.CreateAPIKey.Secret, pf.ReservationID},
			"an unknown id":        {key, "0193a1c2-7b3e-7c4d-8e9f-0a1b2c3d4e5f"},
			"not an id":            {key, "r1"},
		} {
			if a := s.post(t, recordapi.ReleasePath(c.id), c.key, ``, false); a.Status != 404 || a.errorBody(t).Code != recordapi.CodeNotFound {
				t.Errorf("%s: HTTP %d %s", name, a.Status, a.Body)
			}
		}
		if _, reserved := s.counter(t, budget); reserved != 150_000_000 {
			t.Fatalf("a refused release changed the hold: %d", reserved)
		}
		for range 2 { // twice: the second changes nothing
			if a := s.post(t, recordapi.ReleasePath(pf.ReservationID), key, ``, true); a.Status != http.StatusNoContent {
				t.Fatalf("release: HTTP %d %s", a.Status, a.Body)
			}
		}
		if spent, reserved := s.counter(t, budget); spent != 0 || reserved != 0 || s.reservationStatus(t, pf.ReservationID) != "released" {
			t.Errorf("after release: spent %d, reserved %d, %s", spent, reserved, s.reservationStatus(t, pf.ReservationID))
		}
	})

	t.Run("a preflight over budget is refused, naming the budget", func(t *testing.T) {
		key, keyID := s.createKey(t, "tight", nil)
		budget := s.keyBudget(t, keyID, "0.10", true)
		for _, c := range []struct {
			chars                 int
			left, held, requested int64
		}{
			{10000, 100_000_000, 0, 150_000_000}, // more than the whole cap
			{6000, 0, 90_000_000, 0},             // fits
			{1000, 10_000_000, 90_000_000, 15_000_000},
			{10000, 10_000_000, 90_000_000, 150_000_000}, // more than the cap: what is left is still told
		} {
			a := s.post(t, recordapi.PreflightPath, key, fmt.Sprintf(`{"provider":"openai","model":"tts-1","usage":{"characters":%d}}`, c.chars), true)
			if c.requested == 0 {
				if a.Status != 200 {
					t.Fatalf("%d characters: HTTP %d %s", c.chars, a.Status, a.Body)
				}
			} else if e := a.errorBody(t); a.Status != http.StatusTooManyRequests || e.Code != recordapi.CodeBudgetExceeded || e.Budget == nil ||
				e.Budget.ID != budget || e.Budget.LeftNanoUSD != c.left || e.Budget.RequestedNanoUSD != c.requested || e.Budget.AmountNanoUSD != 100_000_000 {
				t.Fatalf("%d characters: HTTP %d %s", c.chars, a.Status, a.Body)
			}
			if spent, reserved := s.counter(t, budget); spent != 0 || reserved != c.held {
				t.Fatalf("after %d characters: held %d, want %d", c.chars, reserved, c.held)
			}
		}
	})

	t.Run("the key's policy applies to preflights", func(t *testing.T) {
		key, _ := s.createKey(t, "policy", map[string]any{"allowedProviders": []string{"openai"}, "requiredDimensions": []string{"team"}})
		a := s.post(t, recordapi.PreflightPath, key, `{"provider":"groq","model":"whisper-large-v3","dimensions":{"team":"a"}}`, true)
		if e := a.errorBody(t); a.Status != 403 || e.Code != "provider_not_allowed" {
			t.Errorf("provider not allowed: HTTP %d %s", a.Status, a.Body)
		}
		a = s.post(t, recordapi.PreflightPath, key, `{"provider":"openai","model":"tts-1"}`, true)
		if e := a.errorBody(t); a.Status != 403 || e.Code != "missing_dimension" || len(e.Fields) != 1 || e.Fields[0].Path != "/dimensions/team" {
			t.Errorf("missing dimension: HTTP %d %s", a.Status, a.Body)
		}
		if a := s.post(t, recordapi.PreflightPath, key, `{"provider":"openai","model":"tts-1","dimensions":{"team":"voice"}}`, true); a.Status != 200 {
			t.Errorf("allowed: HTTP %d %s", a.Status, a.Body)
		}
	})

	t.Run("tenants name record-only vendors: allow-lists, provider budgets, overrides", func(t *testing.T) {
		key, keyID := s.createKey(t, "tts vendor", map[string]any{"allowedProviders": []string{"elevenlabs"}})
		if a := s.post(t, recordapi.PreflightPath, key, `{"provider":"elevenlabs","model":"eleven_v3","usage":{"characters":100}}`, true); a.Status != 200 {
			t.Errorf("allowed vendor: HTTP %d %s", a.Status, a.Body)
		}
		a := s.post(t, recordapi.PreflightPath, key, `{"provider":"google_tts","model":"standard","usage":{"characters":100}}`, true)
		if e := a.errorBody(t); a.Status != 403 || e.Code != "provider_not_allowed" {
			t.Errorf("another vendor: HTTP %d %s", a.Status, a.Body)
		}
		// A name no list knows is still refused, with the known ones listed.
		errs := testenv.GraphQL(t, s.APIURL+"/query", s.token, `mutation($t:ID!,$n:String!,$p:KeyPolicyInput){createAPIKey(tenantId:$t,name:$n,policy:$p){secret}}`,
			map[string]any{"t": s.tenantID, "n": "bad vendor", "p": map[string]any{"allowedProviders": []string{"speechmatics"}}}, nil)
		if len(errs) != 1 || !strings.Contains(errs[0].Message, `unknown provider "speechmatics"`) || !strings.Contains(errs[0].Message, "deepgram") {
			t.Errorf("unknown vendor in an allow-list: %+v", errs)
		}
		var budget struct{ CreateBudget struct{ ID string } }
		testenv.MustGraphQL(t, s.APIURL+"/query", s.token, `mutation($t:ID!,$in:BudgetInput!){createBudget(tenantId:$t,input:$in){id}}`,
			map[string]any{"t": s.tenantID, "in": map[string]any{"name": "speech-to-text", "scope": "PROVIDER", "provider": "deepgram", "period": "MONTH",
				"amount": "50", "hard": false}}, &budget)
		if budget.CreateBudget.ID == "" {
			t.Error("provider budget for deepgram not created")
		}
		// The tenant's override of a record-only vendor (made before the first
		// record, as services cache a tenant's overrides): 1000 × $50/M =
		// 50,000,000 nano-USD list, 40,000,000 for the tenant.
		a = s.post(t, recordapi.UsagePath, key, `{"idempotency_key":"turbo-1","provider":"elevenlabs","model":"eleven_turbo_v2","usage":{"characters":1000}}`, true)
		var res recordapi.UsageResult
		a.decode(t, &res)
		if a.Status != http.StatusAccepted || res.Cost == nil || !res.Cost.Priced || *res.Cost.ListNanoUSD != 50_000_000 || *res.Cost.TenantNanoUSD != 40_000_000 {
			t.Errorf("overridden vendor price: HTTP %d %s", a.Status, a.Body)
		}
		rows := s.waitRows(t, keyID, 1)
		if r := rows[0]; r.Provider != "elevenlabs" || r.List != 50_000_000 || r.Tenant != 40_000_000 {
			t.Errorf("stored %+v", r)
		}
	})

	t.Run("retried and concurrent duplicates are counted once", func(t *testing.T) {
		key, keyID := s.createKey(t, "retries", nil)
		budget := s.keyBudget(t, keyID, "100", false)
		rec := `{"idempotency_key":"job-1","provider":"openai","model":"tts-1","usage":{"characters":1000}}`
		var first recordapi.UsageResult
		for i := range 3 {
			a := s.post(t, recordapi.UsagePath, key, rec, true)
			var r recordapi.UsageResult
			a.decode(t, &r)
			if a.Status != http.StatusAccepted || r.Duplicate != (i > 0) {
				t.Fatalf("attempt %d: HTTP %d %s", i, a.Status, a.Body)
			}
			if i == 0 {
				first = r
			} else if r.EventID != first.EventID || !r.Time.Equal(first.Time) {
				t.Fatalf("a retry became another event: %s", a.Body)
			}
		}
		// 24 concurrent sends of one new record, half alone, half in batches.
		rec2 := `{"idempotency_key":"job-2","provider":"openai","model":"tts-1","usage":{"characters":2000}}`
		var wg sync.WaitGroup
		var mu sync.Mutex
		fresh := 0
		for i := range 24 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var r recordapi.UsageResult
				if i%2 == 0 {
					a := s.post(t, recordapi.UsagePath, key, rec2, true)
					if a.Status != http.StatusAccepted {
						t.Errorf("HTTP %d %s", a.Status, a.Body)
						return
					}
					a.decode(t, &r)
				} else {
					a := s.post(t, recordapi.BatchPath, key, `{"records":[`+rec2+`]}`, true)
					var b recordapi.BatchResult
					a.decode(t, &b)
					if a.Status != 200 || len(b.Results) != 1 || b.Results[0].Status != http.StatusAccepted {
						t.Errorf("HTTP %d %s", a.Status, a.Body)
						return
					}
					r = b.Results[0]
				}
				if !r.Duplicate {
					mu.Lock()
					fresh++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if fresh != 1 {
			t.Errorf("%d of 24 concurrent sends were taken as new; want 1", fresh)
		}
		// The same key for another record is refused, not ignored.
		a := s.post(t, recordapi.UsagePath, key, strings.Replace(rec, "1000", "1001", 1), true)
		if e := a.errorBody(t); a.Status != http.StatusConflict || e.Code != recordapi.CodeIdempotencyConflict {
			t.Errorf("reused key: HTTP %d %s", a.Status, a.Body)
		}
		rows := s.waitRows(t, keyID, 2)
		if rows[0].EventID == rows[1].EventID || rows[0].List+rows[1].List != 45_000_000 {
			t.Errorf("stored %+v", rows)
		}
		testenv.WaitFor(t, 30*time.Second, "the budget counted both", func() bool { spent, _ := s.counter(t, budget); return spent >= 45_000_000 })
		time.Sleep(time.Second)
		if spent, _ := s.counter(t, budget); spent != 45_000_000 {
			t.Errorf("budget spent %d, want 45000000", spent)
		}
	})

	t.Run("a batch answers each record", func(t *testing.T) {
		key, keyID := s.createKey(t, "batch", nil)
		a := s.post(t, recordapi.BatchPath, key, `{"records":[
			{"idempotency_key":"b-0","provider":"openai","model":"whisper-1","usage":{"seconds":10}},
			{"idempotency_key":"b-1","provider":"openai","model":"whisper-1","usage":{"seconds":-10}},
			{"provider":"openai","model":"whisper-1","usage":{"seconds":"ten"},"colour":"red"},
			{"idempotency_key":"b-0","provider":"openai","model":"whisper-1","usage":{"seconds":10}}]}`, false)
		var b recordapi.BatchResult
		a.decode(t, &b)
		if a.Status != 200 || len(b.Results) != 4 {
			t.Fatalf("HTTP %d %s", a.Status, a.Body)
		}
		paths := func(r recordapi.UsageResult) string {
			if r.Error == nil {
				return ""
			}
			var p []string
			for _, f := range r.Error.Fields {
				p = append(p, f.Path)
			}
			return strings.Join(p, " ")
		}
		if r := b.Results; r[0].Status != 202 || r[0].Duplicate || r[1].Status != 400 || paths(r[1]) != "/records/1/usage/seconds" ||
			r[2].Status != 400 || paths(r[2]) != "/records/2/colour /records/2/usage/seconds /records/2/idempotency_key" || r[3].Status != 202 || !r[3].Duplicate ||
			r[3].EventID != r[0].EventID {
			t.Errorf("results %s", a.Body)
		}
		s.waitRows(t, keyID, 1)
		big := `{"records":[` + strings.Repeat(`{},`, recordapi.MaxBatchRecords) + `{}]}`
		if a := s.post(t, recordapi.BatchPath, key, big, false); a.Status != http.StatusRequestEntityTooLarge || a.errorBody(t).Code != recordapi.CodeTooLarge {
			t.Errorf("1001 records: HTTP %d %s", a.Status, a.Body)
		}
	})

	t.Run("bad input gets field-level errors", func(t *testing.T) {
		key, _ := s.createKey(t, "fields", nil)
		for name, c := range map[string]struct {
			path, body, header string
			wantPaths          string
		}{
			"a record with several bad fields": {recordapi.UsagePath, `{"provider":"Open AI","usage":{"characters":-1},"time":"soon","reported_cost_usd":"1.0000000001"}`, "",
				"/idempotency_key /model /provider /reported_cost_usd /time /usage/characters"},
			"header and body keys differ": {recordapi.UsagePath, `{"idempotency_key":"a","provider":"openai","model":"tts-1"}`, "b", "/idempotency_key"},
			"not JSON":                    {recordapi.UsagePath, `{"provider":`, "", ""},
			"a preflight with bad fields": {recordapi.PreflightPath, `{"provider":"openai","model":"","usage":{"images":1.5},"extra":1}`, "", "/extra /model /usage/images"},
			"a batch that is not one":     {recordapi.BatchPath, `{"records":{}}`, "", "/records"},
		} {
			t.Run(name, func(t *testing.T) {
				var hdr []string
				if c.header != "" {
					hdr = []string{"Idempotency-Key", c.header}
				}
				a := s.post(t, c.path, key, c.body, false, hdr...)
				e := a.errorBody(t)
				var got []string
				for _, f := range e.Fields {
					got = append(got, f.Path)
					if f.Message == "" {
						t.Errorf("no message for %s", f.Path)
					}
				}
				if a.Status != 400 || e.Code != recordapi.CodeInvalidRequest || (c.wantPaths != "" && strings.Join(sorted(got), " ") != c.wantPaths) {
					t.Errorf("HTTP %d %s", a.Status, a.Body)
				}
			})
		}
		big := `{"provider":"openai","model":"tts-1","request_id":"` + strings.Repeat("x", 70<<10) + `"}`
		if a := s.post(t, recordapi.UsagePath, key, big, false); a.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("a 70 KiB record: HTTP %d %s", a.Status, a.Body)
		}
	})

	t.Run("wrong, revoked and missing keys are refused", func(t *testing.T) {
		key, keyID := s.createKey(t, "to revoke", nil)
		body := `{"idempotency_key":"x","provider":"openai","model":"tts-1","usage":{"characters":1}}`
		if a := s.post(t, recordapi.UsagePath, key, body, true); a.Status != http.StatusAccepted {
			t.Fatalf("before revocation: HTTP %d %s", a.Status, a.Body)
		}
		testenv.MustGraphQL(t, s.APIURL+"/query", s.token, `mutation($t:ID!,$id:ID!){revokeAPIKey(tenantId:$t,id:$id){id}}`,
			map[string]any{"t": s.tenantID, "id": keyID}, nil)
		for name, c := range map[string]struct{ key, code string }{
			"revoked":                  {key, recordapi.CodeKeyRevoked},
			"unknown":                  {"sg_abcdefghij_" + strings.Repeat("A", 40), recordapi.CodeUnauthenticated},
			"malformed":                {"sg_nope", recordapi.CodeUnauthenticated},
			"missing":                  {"", recordapi.CodeUnauthenticated},
			"the internal service key": {"dev-service-token", recordapi.CodeUnauthenticated},
		} {
			for _, path := range []string{recordapi.UsagePath, recordapi.PreflightPath} {
				a := s.post(t, path, c.key, body, false)
				if e := a.errorBody(t); a.Status != 401 || e.Code != c.code {
					t.Errorf("%s key on %s: HTTP %d %s", name, path, a.Status, a.Body)
				}
			}
		}
	})
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
