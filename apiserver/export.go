package apiserver

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spendgate/spendgate/analytics"
	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/money"
	"github.com/spendgate/spendgate/spend"
)

// exportSpend answers GET /export/spend.csv: any breakdown (or, with bucket,
// time series) as CSV, authorized like GraphQL (Bearer access token; any
// member of the tenant). Parameters:
//
//	tenantId, from, to         required; RFC 3339 times, [from, to)
//	groupBy                    comma-separated: key, provider, model, status, operation,
//	                           service_tier, source, workspace, team, project, dim:<name>
//	                           (breakdowns need one)
//	bucket                     hour, day, week or month: a time series instead
//	top                        breakdowns: keep the top N groups, the rest as one "(other)" row
//	key, provider, model, operation, source, status,
//	workspace, team, project   filters, repeatable or comma-separated
//	dim.<name>                 dimension filter, repeatable or comma-separated
//
// Money columns are exact decimal USD.
func (s *Server) exportSpend(w http.ResponseWriter, r *http.Request) {
	q, top, err := exportQuery(r.URL.Query())
	if err != nil {
		writeExportError(w, err)
		return
	}
	a := s.cfg.Analytics
	var rows [][]string
	if q.Bucket != "" {
		pts, err := a.TimeSeries(r.Context(), q)
		if err != nil {
			s.exportFailed(w, err)
			return
		}
		for _, p := range pts {
			rows = append(rows, exportRow([]string{p.Start.UTC().Format(time.RFC3339)}, p.Group))
		}
	} else {
		b, err := a.Breakdown(r.Context(), q, top)
		if err != nil {
			s.exportFailed(w, err)
			return
		}
		for _, g := range b.Groups {
			rows = append(rows, exportRow(nil, g))
		}
		if b.OtherGroups {
			other := analytics.Group{Keys: make([]string, len(q.GroupBy)), Labels: make([]string, len(q.GroupBy)), Sums: b.Other}
			for i := range other.Keys {
				other.Keys[i], other.Labels[i] = "(other)", "(other)"
			}
			rows = append(rows, exportRow(nil, other))
		}
	}
	header := []string{}
	if q.Bucket != "" {
		header = append(header, "bucket_start")
	}
	header = append(header, q.GroupBy...)
	for _, g := range q.GroupBy {
		header = append(header, g+"_label")
	}
	header = append(header, "requests", "unpriced_requests", "list_cost_usd", "tenant_cost_usd", "input_tokens", "output_tokens")
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="spend.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write(header)
	_ = cw.WriteAll(rows) // flushes; a write error means the client went away
}

func exportRow(prefix []string, g analytics.Group) []string {
	row := make([]string, 0, len(prefix)+len(g.Keys)+len(g.Labels)+6)
	row = append(row, prefix...)
	row = append(row, g.Keys...)
	row = append(row, g.Labels...)
	return append(row, strconv.FormatUint(g.Events, 10), strconv.FormatUint(g.UnpricedEvents, 10),
		money.FormatNano(g.ListNanoUSD), money.FormatNano(g.TenantNanoUSD),
		strconv.FormatInt(g.InputTokens, 10), strconv.FormatInt(g.OutputTokens, 10))
}

func exportQuery(v url.Values) (analytics.Query, int, error) {
	bad := func(msg string) error {
		return &apierr.Error{Code: apierr.CodeInvalidArgument, Message: msg}
	}
	var q analytics.Query
	q.TenantID = v.Get("tenantId")
	if q.TenantID == "" {
		return q, 0, bad("tenantId is required")
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		t, err := time.Parse(time.RFC3339, v.Get(p.name))
		if err != nil {
			return q, 0, bad(p.name + " must be an RFC 3339 time such as 2026-11-01T00:00:00Z")
		}
		*p.dst = t
	}
	q.GroupBy = list(v, "groupBy")
	q.Bucket = v.Get("bucket")
	if q.Bucket == "" && len(q.GroupBy) == 0 {
		return q, 0, bad("groupBy is required for a breakdown (or give bucket for a time series)")
	}
	top := 0
	if t := v.Get("top"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 {
			return q, 0, bad("top must be a positive number")
		}
		top = n
	}
	f := &q.Filters
	f.KeyIDs, f.Providers, f.Models = list(v, "key"), list(v, "provider"), list(v, "model")
	f.Operations, f.Sources, f.Statuses = list(v, "operation"), list(v, "source"), list(v, "status")
	f.WorkspaceIDs, f.TeamIDs, f.ProjectIDs = list(v, "workspace"), list(v, "team"), list(v, "project")
	for _, st := range f.Statuses {
		if n, err := strconv.Atoi(st); err != nil || n < 100 || n > 599 {
			return q, 0, bad("status " + strconv.Quote(st) + " is not an HTTP status (100-599)")
		}
	}
	for name := range v {
		if d, ok := strings.CutPrefix(name, "dim."); ok {
			if !spend.ValidDimensionName(d) {
				return q, 0, bad("dimension filter " + strconv.Quote(d) + ": a name of letters, digits, _ . - (at most 64)")
			}
			if f.Dimensions == nil {
				f.Dimensions = map[string][]string{}
			}
			f.Dimensions[d] = list(v, name)
		}
	}
	return q, top, nil
}

// list reads a repeatable, comma-separated parameter.
func list(v url.Values, name string) []string {
	var out []string
	for _, raw := range v[name] {
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func (s *Server) exportFailed(w http.ResponseWriter, err error) {
	var cpErr *apierr.Error
	if !errors.As(err, &cpErr) || cpErr.Cause != nil {
		s.log.Error("export failed", "err", err)
	}
	writeExportError(w, err)
}

// writeExportError answers with the same codes as GraphQL, as JSON.
func writeExportError(w http.ResponseWriter, err error) {
	code, msg, status := apierr.CodeInternal, "internal error", http.StatusInternalServerError
	var cpErr *apierr.Error
	if errors.As(err, &cpErr) {
		code, msg = cpErr.Code, cpErr.Message
		status = map[string]int{apierr.CodeInvalidArgument: http.StatusBadRequest, apierr.CodeUnauthenticated: http.StatusUnauthorized,
			apierr.CodeForbidden: http.StatusForbidden, apierr.CodeNotFound: http.StatusNotFound, apierr.CodeConflict: http.StatusConflict,
			apierr.CodeUnavailable: http.StatusServiceUnavailable, apierr.CodeResourceExhausted: http.StatusTooManyRequests}[code]
		if status == 0 {
			status = http.StatusInternalServerError
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
