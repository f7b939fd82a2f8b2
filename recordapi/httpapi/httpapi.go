// Package httpapi serves the public preflight and record API (package
// recordapi has the contract, docs/record-api.md the guide): requests are
// authenticated by a spendgate API key, checked against the key's policy,
// reserved through the budget engine's reservation path (the one the data
// plane uses, so every budget scope it knows applies), and recorded as usage
// events through ingest's receiver (the exactly-once path the data plane's
// events take).
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spendgate/spendgate/apikey"
	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/ingest"
	"github.com/spendgate/spendgate/money"
	"github.com/spendgate/spendgate/policy"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/recordapi"
	"github.com/spendgate/spendgate/recordapi/pgstore"
)

// Keys resolves a spendgate API key to its tenant, key id and policy
// (controlplane.Service.PolicyAnswer).
type Keys interface {
	PolicyAnswer(ctx context.Context, key string) (policy.Answer, error)
}

// Reserver holds a call's worst case against the hard budgets covering it,
// and gives it back (budget/service.Service).
type Reserver interface {
	Reserve(ctx context.Context, r budget.ReserveRequest) (budget.Reservation, error)
	Release(ctx context.Context, id string) error
}

// Reservations says whose a reservation is (recordapi/pgstore.Store).
type Reservations interface {
	ReservationTenant(ctx context.Context, id string) (tenantID string, found bool, err error)
}

// Publisher hands usage events to ingest (ingest.Receiver.Publish): valid
// events are on JetStream, deduplicated by event id, when it returns nil.
type Publisher interface {
	Publish(ctx context.Context, events []event.Event) (ingest.Result, error)
}

// Idempotency records idempotency keys (recordapi/pgstore.Store).
type Idempotency interface {
	Claim(ctx context.Context, claims []pgstore.Claim) ([]pgstore.Claimed, error)
}

// Overrides gives a tenant's pricing overrides (ingest.CachedOverrides).
type Overrides interface {
	TenantOverrides(ctx context.Context, tenantID string) ([]pricing.Override, error)
}

// Config wires the handler. Keys, Publisher, Idempotency and Catalogue are
// required; without Reserver, preflights answer 503.
type Config struct {
	Keys        Keys
	Reserver    Reserver
	Publisher   Publisher
	Idempotency Idempotency
	// Reservations is needed to give reservations back (without it the
	// release route answers 503).
	Reservations Reservations
	Catalogue    pricing.Source
	Overrides    Overrides // nil: list prices
	// RequestsPerMinute bounds requests per key to the whole API (a batch
	// counts once); 0 takes DefaultRequestsPerMinute.
	RequestsPerMinute int
	// MaxBodyBytes bounds a preflight or record body; MaxBatchBytes a batch.
	MaxBodyBytes, MaxBatchBytes int64
	// Timeout bounds one request's work.
	Timeout time.Duration
	Log     *slog.Logger
	Now     func() time.Time
}

// Defaults.
const (
	DefaultRequestsPerMinute = 6000
	DefaultMaxBodyBytes      = 64 << 10
	DefaultMaxBatchBytes     = 8 << 20
	DefaultTimeout           = 30 * time.Second
)

// Handler serves the API's routes under /v1/.
func Handler(cfg Config) http.Handler {
	if cfg.RequestsPerMinute == 0 {
		cfg.RequestsPerMinute = DefaultRequestsPerMinute
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxBatchBytes == 0 {
		cfg.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &handler{cfg: cfg, windows: policy.RateWindows{}}
	mux := http.NewServeMux()
	mux.Handle("POST "+recordapi.PreflightPath, h.authenticated(cfg.MaxBodyBytes, h.preflight))
	mux.Handle("POST "+recordapi.UsagePath, h.authenticated(cfg.MaxBodyBytes, h.record))
	mux.Handle("POST "+recordapi.BatchPath, h.authenticated(cfg.MaxBatchBytes, h.batch))
	mux.Handle("POST "+recordapi.ReleasePattern, h.authenticated(cfg.MaxBodyBytes, h.release))
	mux.HandleFunc("GET "+recordapi.OpenAPIPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(recordapi.OpenAPI())
	})
	notFound := func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, recordapi.Error{Code: recordapi.CodeNotFound,
			Message: r.Method + " " + r.URL.Path + " is not part of the API; see " + recordapi.OpenAPIPath})
	}
	mux.HandleFunc("GET /v1/", notFound)
	mux.HandleFunc("POST /v1/", notFound)
	return mux
}

// Routes are the patterns Handler serves, for mounting it on another mux
// (beside a portal's "GET /": the catch-alls name their methods so that
// the two do not conflict).
func Routes() []string {
	return []string{"POST " + recordapi.PreflightPath, "POST " + recordapi.UsagePath, "POST " + recordapi.BatchPath,
		"POST " + recordapi.ReleasePattern, "GET " + recordapi.OpenAPIPath, "GET /v1/", "POST /v1/"}
}

type handler struct {
	cfg Config

	mu        sync.Mutex
	windows   policy.RateWindows
	lastSweep time.Time
}

// caller is an authenticated request's key.
type caller struct {
	answer policy.Answer
	body   []byte
}

// authenticated reads the key, the rate limit and the body before next.
func (h *handler) authenticated(maxBody int64, next func(http.ResponseWriter, *http.Request, *caller)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
		defer cancel()
		r = r.WithContext(ctx)
		key := presentedKey(r)
		if key == "" {
			writeError(w, http.StatusUnauthorized, recordapi.Error{Code: recordapi.CodeUnauthenticated,
				Message: "a spendgate API key is required: Authorization: Bearer sg_… (or X-Spendgate-Key)"})
			return
		}
		if _, err := apikey.Parse(key); err != nil {
			writeError(w, http.StatusUnauthorized, recordapi.Error{Code: recordapi.CodeUnauthenticated,
				Message: "the spendgate API key is not valid"})
			return
		}
		a, err := h.cfg.Keys.PolicyAnswer(ctx, key)
		if err != nil {
			h.cfg.Log.Error("record api: key lookup failed", "key", apikey.Redact(key), "err", err)
			writeError(w, http.StatusServiceUnavailable, recordapi.Error{Code: recordapi.CodeUnavailable,
				Message: "the key could not be checked right now; retry", RetryAfterSeconds: 1})
			return
		}
		if !a.Valid {
			d := policy.Evaluate(&a, "", "", nil) // the invalid-key texts
			code := recordapi.CodeUnauthenticated
			if d.Reason == event.DenialKeyRevoked {
				code = recordapi.CodeKeyRevoked
			}
			writeError(w, http.StatusUnauthorized, recordapi.Error{Code: code, Message: d.Message})
			return
		}
		if d := h.admit(&a); !d.Allowed() {
			w.Header().Set("Retry-After", strconv.Itoa(d.RetryAfterSeconds))
			writeError(w, http.StatusTooManyRequests, recordapi.Error{Code: recordapi.CodeRateLimited,
				Message: fmt.Sprintf("more than %d requests a minute with this key; batch records (POST %s) or retry after the minute",
					h.cfg.RequestsPerMinute, recordapi.BatchPath), RetryAfterSeconds: d.RetryAfterSeconds})
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeError(w, http.StatusRequestEntityTooLarge, recordapi.Error{Code: recordapi.CodeTooLarge,
					Message: fmt.Sprintf("the body is larger than %d bytes", maxBody)})
				return
			}
			writeError(w, http.StatusBadRequest, recordapi.Error{Code: recordapi.CodeInvalidRequest, Message: "reading the body: " + err.Error()})
			return
		}
		next(w, r, &caller{answer: a, body: body})
	})
}

// presentedKey is the API key of a request: Authorization: Bearer, else
// X-Spendgate-Key.
func presentedKey(r *http.Request) string {
	if k, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(k)
	}
	return strings.TrimSpace(r.Header.Get("X-Spendgate-Key"))
}

// admit counts a request against its key's per-minute limit (the data
// plane's rate window rule, applied to this API's own limit).
func (h *handler) admit(a *policy.Answer) policy.Decision {
	now := h.cfg.Now()
	lim := policy.Answer{KeyID: a.KeyID, Policy: policy.Policy{RequestsPerMinute: h.cfg.RequestsPerMinute}}
	h.mu.Lock()
	defer h.mu.Unlock()
	if now.Sub(h.lastSweep) > time.Minute {
		h.windows.Sweep(now)
		h.lastSweep = now
	}
	return h.windows.Admit(&lim, now)
}

func (h *handler) preflight(w http.ResponseWriter, r *http.Request, c *caller) {
	var req recordapi.PreflightRequest
	errs := recordapi.Decode(c.body, &req)
	if len(errs) == 0 || errs[0].Path != "" { // the body is an object
		errs = recordapi.Merge(errs, req.Validate())
	}
	if len(errs) > 0 {
		writeInvalid(w, errs)
		return
	}
	a := c.answer
	dims := recordapi.Dimensions(a.Policy.DefaultDimensions, req.Dimensions)
	if missing := missingDimensions(&a.Policy, dims); len(missing) > 0 {
		writeError(w, http.StatusForbidden, recordapi.Error{Code: event.DenialMissingDimension,
			Message: "this key's policy requires the dimension(s) " + strings.Join(missingNames(missing), ", ") + `: set them in "dimensions"`,
			Fields:  missing})
		return
	}
	// A key blocked by an exhausted hard budget is refused by the
	// reservation below, which can say which budget.
	unblocked := a
	unblocked.Blocked = false
	if d := policy.Evaluate(&unblocked, req.Provider, req.Model, dims); !d.Allowed() {
		writeError(w, policy.DenialStatus(d.Reason), recordapi.Error{Code: d.Reason, Message: d.Message})
		return
	}
	ctx := r.Context()
	if a.Policy.RequirePricedModels && req.MaxCostUSD == "" {
		ovs, err := h.overrides(ctx, a.TenantID)
		if err != nil {
			h.unavailable(w, "reading the tenant's pricing overrides", err)
			return
		}
		now := h.cfg.Now()
		if !h.cfg.Catalogue.CatalogueAt(now).Priced(pricing.Request{Provider: req.Provider, Model: req.Model, Time: now}, ovs) {
			d := policy.UnpricedModel(req.Model)
			writeError(w, policy.DenialStatus(d.Reason), recordapi.Error{Code: d.Reason, Message: d.Message})
			return
		}
	}
	if h.cfg.Reserver == nil {
		writeError(w, http.StatusServiceUnavailable, recordapi.Error{Code: recordapi.CodeBudgetUnavailable,
			Message: "this server does not run the budget engine (--budgets=false)"})
		return
	}
	rr := budget.ReserveRequest{TenantID: a.TenantID, KeyID: a.KeyID, Dimensions: dims, Provider: req.Provider, Model: req.Model,
		MaxCostNanoUSD: req.MaxCostNanoUSD()}
	if req.Usage != nil {
		t := req.Usage.Tokens()
		rr.Usage = &t
	}
	res, err := h.cfg.Reserver.Reserve(ctx, rr)
	var denied *budget.DeniedError
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, recordapi.Preflight{ReservationID: res.ID, AmountNanoUSD: res.AmountNanoUSD,
			AmountUSD: money.FormatNano(res.AmountNanoUSD), ExpiresAt: res.ExpiresAt, BudgetIDs: res.BudgetIDs, Unchecked: res.Unchecked})
	case errors.As(err, &denied):
		writeError(w, policy.DenialStatus(event.DenialBudgetExceeded), recordapi.Error{Code: recordapi.CodeBudgetExceeded,
			Message: fmt.Sprintf("hard budget %q has $%s left in this period; this call may cost up to $%s (its worst case: lower usage or max_cost_usd to reserve less)",
				denied.BudgetName, money.FormatNano(denied.LeftNanoUSD), money.FormatNano(denied.CallNanoUSD)), Budget: &recordapi.BudgetRefusal{ID: denied.BudgetID, Name: denied.BudgetName,
				AmountNanoUSD: denied.AmountNanoUSD, LeftNanoUSD: denied.LeftNanoUSD, RequestedNanoUSD: denied.CallNanoUSD,
				AmountUSD: money.FormatNano(denied.AmountNanoUSD), LeftUSD: money.FormatNano(denied.LeftNanoUSD),
				RequestedUSD: money.FormatNano(denied.CallNanoUSD)}})
	case errors.Is(err, budget.ErrInvalid):
		writeInvalid(w, []recordapi.FieldError{{Path: "", Message: err.Error()}})
	default:
		h.cfg.Log.Warn("record api: reservation failed; refusing (hard caps fail closed)", "tenant", a.TenantID, "err", err)
		writeError(w, policy.DenialStatus(event.DenialBudgetUnavailable), recordapi.Error{Code: recordapi.CodeBudgetUnavailable,
			Message: "budgets cannot be checked right now; retry shortly", RetryAfterSeconds: 1})
	}
}

// release gives back a reservation of the key's tenant whose call was not
// made (one already settled, released or expired stays as it is).
func (h *handler) release(w http.ResponseWriter, r *http.Request, c *caller) {
	id := r.PathValue("id")
	notFound := recordapi.Error{Code: recordapi.CodeNotFound, Message: "no reservation " + id + " of this key's tenant"}
	if !event.IsUUID(id) {
		writeError(w, http.StatusNotFound, notFound)
		return
	}
	if h.cfg.Reserver == nil || h.cfg.Reservations == nil {
		writeError(w, http.StatusServiceUnavailable, recordapi.Error{Code: recordapi.CodeBudgetUnavailable,
			Message: "this server does not run the budget engine (--budgets=false)"})
		return
	}
	tenant, found, err := h.cfg.Reservations.ReservationTenant(r.Context(), id)
	if err != nil {
		h.unavailable(w, "giving the reservation back", err)
		return
	}
	if !found || tenant != c.answer.TenantID {
		writeError(w, http.StatusNotFound, notFound)
		return
	}
	if err := h.cfg.Reserver.Release(r.Context(), id); err != nil {
		h.unavailable(w, "giving the reservation back", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func missingDimensions(p *policy.Policy, dims map[string]string) []recordapi.FieldError {
	var out []recordapi.FieldError
	for _, d := range p.RequiredDimensions {
		if dims[d] == "" {
			out = append(out, recordapi.FieldError{Path: "/dimensions/" + d, Message: "required by this key's policy"})
		}
	}
	return out
}

func missingNames(errs []recordapi.FieldError) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = strings.TrimPrefix(e.Path, "/dimensions/")
	}
	return out
}

func (h *handler) record(w http.ResponseWriter, r *http.Request, c *caller) {
	var rec recordapi.UsageRecord
	errs := recordapi.Decode(c.body, &rec)
	if hk := r.Header.Get(recordapi.IdempotencyHeader); hk != "" {
		switch {
		case rec.IdempotencyKey == "":
			rec.IdempotencyKey = hk
		case rec.IdempotencyKey != hk:
			errs = append(errs, recordapi.FieldError{Path: "/idempotency_key", Message: "differs from the Idempotency-Key header"})
		}
	}
	results, err := h.process(r.Context(), &c.answer, []recordapi.UsageRecord{rec}, [][]recordapi.FieldError{errs}, "")
	if err != nil {
		h.unavailable(w, "recording usage", err)
		return
	}
	res := results[0]
	if res.Error != nil {
		writeError(w, res.Status, *res.Error)
		return
	}
	writeJSON(w, res.Status, res)
}

func (h *handler) batch(w http.ResponseWriter, r *http.Request, c *caller) {
	var raw struct {
		Records []json.RawMessage `json:"records"`
	}
	if err := json.Unmarshal(c.body, &raw); err != nil || raw.Records == nil {
		writeInvalid(w, []recordapi.FieldError{{Path: "/records", Message: `the body must be {"records":[…]}`}})
		return
	}
	if len(raw.Records) > recordapi.MaxBatchRecords {
		writeError(w, http.StatusRequestEntityTooLarge, recordapi.Error{Code: recordapi.CodeTooLarge,
			Message: fmt.Sprintf("at most %d records per batch", recordapi.MaxBatchRecords)})
		return
	}
	recs := make([]recordapi.UsageRecord, len(raw.Records))
	errs := make([][]recordapi.FieldError, len(raw.Records))
	for i, item := range raw.Records {
		errs[i] = recordapi.DecodeAt(item, &recs[i], "/records/"+strconv.Itoa(i))
	}
	results, err := h.process(r.Context(), &c.answer, recs, errs, "/records/")
	if err != nil {
		h.unavailable(w, "recording usage", err)
		return
	}
	writeJSON(w, http.StatusOK, recordapi.BatchResult{Results: results})
}

// process records recs (decodeErrs[i] are record i's decoding problems;
// prefix+i is its pointer). An error means nothing can be said about any
// record: the caller retries the whole request, which is safe.
func (h *handler) process(ctx context.Context, a *policy.Answer, recs []recordapi.UsageRecord, decodeErrs [][]recordapi.FieldError, prefix string) ([]recordapi.UsageResult, error) {
	now := h.cfg.Now()
	results := make([]recordapi.UsageResult, len(recs))
	var claims []pgstore.Claim
	var claimed []int // record index of each claim
	for i := range recs {
		rec := &recs[i]
		p := ""
		if prefix != "" {
			p = prefix + strconv.Itoa(i)
		}
		errs := decodeErrs[i]
		if len(errs) == 0 || errs[0].Path != p { // the record is an object
			errs = recordapi.Merge(errs, rec.Validate(p, now))
		}
		results[i].IdempotencyKey = rec.IdempotencyKey
		if len(errs) > 0 {
			results[i].Status = http.StatusBadRequest
			results[i].Error = &recordapi.Error{Code: recordapi.CodeInvalidRequest, Message: invalidMessage(errs), Fields: errs}
			continue
		}
		at := now
		if rec.Time != nil {
			at = *rec.Time
		}
		claims = append(claims, pgstore.Claim{TenantID: a.TenantID, Key: rec.IdempotencyKey,
			EventID: recordapi.EventID(a.TenantID, rec.IdempotencyKey), Fingerprint: rec.Fingerprint(), Time: at})
		claimed = append(claimed, i)
	}
	if len(claims) == 0 {
		return results, nil
	}
	outcomes, err := h.cfg.Idempotency.Claim(ctx, claims)
	if err != nil {
		return nil, err
	}
	events := make([]event.Event, 0, len(claims))
	evIndex := make([]int, 0, len(claims))
	for j, o := range outcomes {
		i := claimed[j]
		if o.Conflict {
			results[i].Status = http.StatusConflict
			results[i].Error = &recordapi.Error{Code: recordapi.CodeIdempotencyConflict,
				Message: "this idempotency key was used for a different record; use a new key for a new record"}
			continue
		}
		dims := recordapi.Dimensions(a.Policy.DefaultDimensions, recs[i].Dimensions)
		e := recs[i].Event(a.TenantID, a.KeyID, dims, o.Time)
		results[i].Status = http.StatusAccepted
		results[i].EventID, results[i].Time, results[i].Duplicate = e.EventID, e.Time, o.Duplicate
		events = append(events, e)
		evIndex = append(evIndex, i)
	}
	if len(events) == 0 {
		return results, nil
	}
	// Published again on a duplicate: the first request may have claimed
	// the key and failed before JetStream had the event. The event id is
	// the same, so it is stored and counted once either way.
	pub, err := h.cfg.Publisher.Publish(ctx, events)
	if err != nil {
		return nil, err
	}
	for _, rj := range pub.Rejected {
		i := evIndex[rj.Index]
		results[i] = recordapi.UsageResult{Status: http.StatusBadRequest, IdempotencyKey: recs[i].IdempotencyKey,
			Error: &recordapi.Error{Code: recordapi.CodeInvalidRequest, Message: rj.Error}}
	}
	ovs, err := h.overrides(ctx, a.TenantID)
	if err != nil {
		h.cfg.Log.Warn("record api: pricing overrides unavailable; answering without costs", "tenant", a.TenantID, "err", err)
		return results, nil
	}
	for j := range events {
		i := evIndex[j]
		if results[i].Error == nil {
			results[i].Cost = h.cost(&events[j], ovs)
		}
	}
	return results, nil
}

// cost prices an event as the ingest consumer will (same catalogue revision
// in force at its time, same overrides, same request).
func (h *handler) cost(e *event.Event, ovs []pricing.Override) *recordapi.Cost {
	req := ingest.CostRequest(e)
	c := h.cfg.Catalogue.CatalogueAt(req.Time).Cost(req, e.Usage, ovs)
	out := &recordapi.Cost{Priced: c.Priced, CatalogueModel: c.Model}
	if c.HasProviderReported {
		out.ReportedNanoUSD = ptr(c.ProviderReportedNanoUSD)
	}
	if !c.Priced {
		return out
	}
	out.ListNanoUSD, out.TenantNanoUSD = ptr(c.ListNanoUSD), ptr(c.TenantNanoUSD)
	if n, ok := c.CatalogueNanoUSD(); ok {
		out.CatalogueNanoUSD = ptr(n)
	}
	return out
}

func ptr(n int64) *int64 { return &n }

func (h *handler) overrides(ctx context.Context, tenantID string) ([]pricing.Override, error) {
	if h.cfg.Overrides == nil {
		return nil, nil
	}
	return h.cfg.Overrides.TenantOverrides(ctx, tenantID)
}

func (h *handler) unavailable(w http.ResponseWriter, what string, err error) {
	h.cfg.Log.Error("record api: "+what+" failed", "err", err)
	writeError(w, http.StatusServiceUnavailable, recordapi.Error{Code: recordapi.CodeUnavailable,
		Message: what + " failed for now; retry the same request (records are deduplicated by idempotency key)", RetryAfterSeconds: 1})
}

func invalidMessage(errs []recordapi.FieldError) string {
	if len(errs) == 1 {
		p := errs[0].Path
		if p == "" {
			p = "the body"
		}
		return p + ": " + errs[0].Message
	}
	return fmt.Sprintf("%d fields are invalid; see fields", len(errs))
}

func writeInvalid(w http.ResponseWriter, errs []recordapi.FieldError) {
	writeError(w, http.StatusBadRequest, recordapi.Error{Code: recordapi.CodeInvalidRequest, Message: invalidMessage(errs), Fields: errs})
}

func writeError(w http.ResponseWriter, status int, e recordapi.Error) {
	if e.RetryAfterSeconds > 0 && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfterSeconds))
	}
	writeJSON(w, status, recordapi.ErrorBody{Error: e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
