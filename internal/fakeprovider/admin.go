package fakeprovider

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spendgate/spendgate/money"
)

// The providers' admin report endpoints, in their real shapes:
//
//	OpenAI    GET /v1/organization/usage/completions, GET /v1/organization/costs
//	          (Authorization: Bearer <admin key>; start_time/end_time Unix
//	          seconds, bucket_width, group_by, limit, page)
//	Anthropic GET /v1/organizations/usage_report/messages, GET /v1/organizations/cost_report
//	          (x-api-key: <admin key>, anthropic-version; starting_at/ending_at
//	          RFC 3339, group_by[], limit, page)
//
// Both page by has_more/next_page (an opaque token). The fake answers at most
// AdminPageBuckets day buckets per page, whatever limit asks, so short
// windows still take several pages. Its usage is what SetAdminUsage set (a
// later call revises buckets, as providers do), plus what it served itself
// when TallyServed is on. RateLimitAdmin makes the next n admin requests
// answer 429 with a retry-after.

// AdminUsage is one day × model of a provider's usage report.
type AdminUsage struct {
	Day          time.Time // UTC midnight
	Model        string
	InputTokens  int64 // all input, cached included
	CachedTokens int64 // of which read from cache
	OutputTokens int64
	Requests     int64
	CostNanoUSD  int64
}

type admin struct {
	mu          sync.Mutex
	keys        map[string]string // provider → required admin key ("" accepts any non-empty)
	usage       map[string][]AdminUsage
	served      map[string]map[string]*AdminUsage // provider → day|model → tallied
	tally       bool
	price       func(provider, model string, in, out int64) int64
	pageBuckets int
	limited     int
	retryAfter  string
	adminServed int
	rateLimited int
}

// SetAdminKey makes the provider's admin endpoints require key (401
// otherwise).
func (s *Server) SetAdminKey(provider, key string) {
	a := s.adm()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keys[provider] = key
}

// SetAdminUsage replaces the provider's ("openai", "anthropic") reported
// usage: a second call with other numbers for the same days is a revision.
func (s *Server) SetAdminUsage(provider string, rows []AdminUsage) {
	a := s.adm()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.usage[provider] = append([]AdminUsage(nil), rows...)
}

// TallyServed makes the admin endpoints also report the calls this fake
// answered (tokens per UTC day × model), priced by price (nil: no cost):
// what `make run` shows.
func (s *Server) TallyServed(price func(provider, model string, in, out int64) int64) {
	a := s.adm()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tally, a.price = true, price
}

// AdminPageBuckets sets how many day buckets one page holds (default 2).
func (s *Server) AdminPageBuckets(n int) {
	a := s.adm()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pageBuckets = max(n, 1)
}

// RateLimitAdmin makes the next n admin requests answer 429 with
// Retry-After: retryAfter.
func (s *Server) RateLimitAdmin(n int, retryAfter string) {
	a := s.adm()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.limited, a.retryAfter = n, retryAfter
}

// AdminStats says how many admin requests were answered with a page and
// how many were rate limited.
func (s *Server) AdminStats() (pages, rateLimited int) {
	a := s.adm()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.adminServed, a.rateLimited
}

func (s *Server) adm() *admin {
	s.adminOnce.Do(func() {
		s.admin = &admin{keys: map[string]string{}, usage: map[string][]AdminUsage{}, served: map[string]map[string]*AdminUsage{}, pageBuckets: 2}
	})
	return s.admin
}

// tallyServed counts a call the fake answered.
func (s *Server) tallyServed(provider, model string, in, cached, out int) {
	a := s.adm()
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.tally || model == "" {
		return
	}
	day := time.Now().UTC().Truncate(24 * time.Hour)
	m := a.served[provider]
	if m == nil {
		m = map[string]*AdminUsage{}
		a.served[provider] = m
	}
	k := day.Format(time.DateOnly) + "|" + model
	u := m[k]
	if u == nil {
		u = &AdminUsage{Day: day, Model: model}
		m[k] = u
	}
	u.InputTokens += int64(in)
	u.CachedTokens += int64(cached)
	u.OutputTokens += int64(out)
	u.Requests++
	if a.price != nil {
		u.CostNanoUSD += a.price(provider, model, int64(in), int64(out))
	}
}

// rows answers the provider's usage of day.
func (a *admin) rows(provider string, day time.Time) []AdminUsage {
	var out []AdminUsage
	for _, u := range a.usage[provider] {
		if u.Day.Equal(day) {
			out = append(out, u)
		}
	}
	for _, u := range a.served[provider] {
		if u.Day.Equal(day) {
			out = append(out, *u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Model < out[j].Model })
	return out
}

// serveAdmin answers the admin report endpoints; false: not one of them.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) bool {
	var provider, report string
	switch r.URL.Path {
	case "/v1/organization/usage/completions":
		provider, report = "openai", "usage"
	case "/v1/organization/costs":
		provider, report = "openai", "costs"
	case "/v1/organizations/usage_report/messages":
		provider, report = "anthropic", "usage"
	case "/v1/organizations/cost_report":
		provider, report = "anthropic", "costs"
	default:
		return false
	}
	a := s.adm()
	a.mu.Lock()
	defer a.mu.Unlock()
	fail := func(status int, typ, msg string) {
		if provider == "anthropic" {
			writeJSON(w, status, map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}})
			return
		}
		writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "code": nil, "param": nil}})
	}
	key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if provider == "anthropic" {
		key = r.Header.Get("x-api-key")
		if r.Header.Get("anthropic-version") == "" {
			fail(400, "invalid_request_error", "anthropic-version: header is required")
			return true
		}
	}
	if key == "" || (a.keys[provider] != "" && key != a.keys[provider]) {
		fail(401, "authentication_error", "invalid admin API key")
		return true
	}
	if a.limited > 0 {
		a.limited--
		a.rateLimited++
		w.Header().Set("Retry-After", a.retryAfter)
		fail(429, "rate_limit_error", "rate limited: slow down")
		return true
	}
	q := r.URL.Query()
	var from, to time.Time
	if provider == "openai" {
		st, err1 := strconv.ParseInt(q.Get("start_time"), 10, 64)
		if err1 != nil {
			fail(400, "invalid_request_error", "start_time is required (Unix seconds)")
			return true
		}
		from, to = time.Unix(st, 0).UTC(), time.Now().UTC()
		if et, err := strconv.ParseInt(q.Get("end_time"), 10, 64); err == nil {
			to = time.Unix(et, 0).UTC()
		}
	} else {
		var err error
		if from, err = time.Parse(time.RFC3339, q.Get("starting_at")); err != nil {
			fail(400, "invalid_request_error", "starting_at is required (RFC 3339)")
			return true
		}
		to = time.Now().UTC()
		if e, err := time.Parse(time.RFC3339, q.Get("ending_at")); err == nil {
			to = e
		}
	}
	if bw := q.Get("bucket_width"); bw != "" && bw != "1d" {
		fail(400, "invalid_request_error", "the fake answers bucket_width=1d only")
		return true
	}
	// Buckets: the days from from (snapped to its UTC day) up to to.
	var days []time.Time
	for d := from.Truncate(24 * time.Hour); d.Before(to); d = d.AddDate(0, 0, 1) {
		days = append(days, d)
	}
	start := 0
	if p := q.Get("page"); p != "" {
		b, err := base64.RawURLEncoding.DecodeString(p)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "page_"))
		if err != nil || err2 != nil || n < 0 || n > len(days) {
			fail(400, "invalid_request_error", "invalid page token")
			return true
		}
		start = n
	}
	end := min(start+a.pageBuckets, len(days))
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l > 0 {
		end = min(end, start+l)
	}
	var buckets []any
	for _, d := range days[start:end] {
		buckets = append(buckets, a.bucket(provider, report, d))
	}
	if buckets == nil {
		buckets = []any{}
	}
	more := end < len(days)
	var next any
	if more {
		next = base64.RawURLEncoding.EncodeToString([]byte("page_" + strconv.Itoa(end)))
	}
	a.adminServed++
	page := map[string]any{"data": buckets, "has_more": more, "next_page": next}
	if provider == "openai" {
		page["object"] = "page"
	}
	writeJSON(w, 200, page)
	return true
}

func (a *admin) bucket(provider, report string, d time.Time) map[string]any {
	rows := a.rows(provider, d)
	results := []any{}
	for _, u := range rows {
		switch provider + "/" + report {
		case "openai/usage":
			results = append(results, map[string]any{"object": "organization.usage.completions.result",
				"input_tokens": u.InputTokens, "output_tokens": u.OutputTokens, "input_cached_tokens": u.CachedTokens,
				"input_audio_tokens": 0, "output_audio_tokens": 0, "num_model_requests": u.Requests,
				"project_id": nil, "user_id": nil, "api_key_id": nil, "model": u.Model, "batch": nil})
		case "openai/costs":
			// Line items per model and direction, as OpenAI names them; the
			// two parts add up to the day's cost exactly.
			in := u.CostNanoUSD / 3
			for _, li := range []struct {
				item string
				nano int64
			}{{u.Model + ", input", in}, {u.Model + ", output", u.CostNanoUSD - in}} {
				results = append(results, map[string]any{"object": "organization.costs.result",
					"amount":    map[string]any{"value": json.RawMessage(money.FormatNano(li.nano)), "currency": "usd"},
					"line_item": li.item, "project_id": nil})
			}
		case "anthropic/usage":
			results = append(results, map[string]any{"uncached_input_tokens": u.InputTokens - u.CachedTokens,
				"cache_creation":          map[string]any{"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
				"cache_read_input_tokens": u.CachedTokens, "output_tokens": u.OutputTokens,
				"server_tool_use": map[string]any{"web_search_requests": 0}, "api_key_id": nil, "workspace_id": nil,
				"model": u.Model, "service_tier": nil, "context_window": nil})
		case "anthropic/costs":
			// amount: cents as a decimal string ("123.45" is $1.2345).
			results = append(results, map[string]any{"currency": "USD", "amount": money.FormatNano(u.CostNanoUSD * 100),
				"workspace_id": nil, "description": "Claude " + u.Model + " Usage - Input/Output Tokens", "cost_type": "tokens",
				"context_window": "0-200k", "model": u.Model, "service_tier": "standard", "token_type": nil})
		}
	}
	if provider == "openai" {
		return map[string]any{"object": "bucket", "start_time": d.Unix(), "end_time": d.AddDate(0, 0, 1).Unix(), "results": results}
	}
	return map[string]any{"starting_at": d.Format(time.RFC3339), "ending_at": d.AddDate(0, 0, 1).Format(time.RFC3339), "results": results}
}
