package apiserver

import (
	"net/http"
	"strconv"
	"time"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/reconcile"
)

// Provider reconciliation's HTTP routes, authorized like GraphQL (Bearer
// access token): the reconciliation as CSV (viewers) and a raw report page
// as received (admins; audited).

// exportReconciliation answers GET /export/reconciliation.csv?tenantId=&from=&to=[&provider=]
// (from and to: RFC 3339 UTC midnights).
func (s *Server) exportReconciliation(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q := reconcile.Query{TenantID: v.Get("tenantId")}
	var err error
	if q.From, err = time.Parse(time.RFC3339, v.Get("from")); err != nil {
		writeExportError(w, apierr.Invalid("from must be an RFC 3339 time such as 2026-11-01T00:00:00Z"))
		return
	}
	if q.To, err = time.Parse(time.RFC3339, v.Get("to")); err != nil {
		writeExportError(w, apierr.Invalid("to must be an RFC 3339 time such as 2026-12-01T00:00:00Z"))
		return
	}
	if p := v.Get("provider"); p != "" {
		if q.Provider, err = reconcile.ParseProvider(p); err != nil {
			writeExportError(w, err)
			return
		}
	}
	rep, err := s.cfg.Reconcile.Reconcile(r.Context(), q)
	if err != nil {
		s.exportFailed(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="reconciliation.csv"`)
	_ = reconcile.WriteCSV(w, &rep) // a write error means the client went away
}

// downloadPage answers GET /reconcile/pages/{id}?tenantId=: the page's body
// as received, with its sha256 and fetch time in headers.
func (s *Server) downloadPage(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeExportError(w, apierr.Invalid("%q is not a page id", r.PathValue("id")))
		return
	}
	pg, err := s.cfg.Reconcile.DownloadPage(r.Context(), r.URL.Query().Get("tenantId"), id)
	if err != nil {
		s.exportFailed(w, err)
		return
	}
	ct := pg.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", `attachment; filename="`+string(pg.Provider)+"-"+pg.Endpoint+"-"+strconv.FormatInt(pg.ID, 10)+`"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Spendgate-Sha256", pg.SHA256)
	w.Header().Set("X-Spendgate-Fetched-At", pg.FetchedAt.UTC().Format(time.RFC3339Nano))
	w.Header().Set("X-Spendgate-Request-Url", pg.RequestURL)
	_, _ = w.Write(pg.Body)
}
