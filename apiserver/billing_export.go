package apiserver

import (
	"bytes"
	"fmt"
	"net/http"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/billing"
	"github.com/spendgate/spendgate/graph"
)

// mountBillingExports serves invoices and chargeback statements as PDF and
// CSV, authorized like GraphQL (Bearer access token; billing's role):
//
//	GET /export/invoice.pdf|csv?tenantId=&id=            an issued invoice
//	GET /export/invoice.pdf|csv?tenantId=&period=YYYY-MM  the draft of a period
//	GET /export/statement.pdf|csv?tenantId=&period=&groupBy=team|project|workspace|dim:<name>
func (s *Server) mountBillingExports() {
	s.mux.Handle("GET "+graph.InvoicePDFPath, s.authenticate(http.HandlerFunc(s.exportInvoice(true))))
	s.mux.Handle("GET "+graph.InvoiceCSVPath, s.authenticate(http.HandlerFunc(s.exportInvoice(false))))
	s.mux.Handle("GET "+graph.StatementPDFPath, s.authenticate(http.HandlerFunc(s.exportStatement(true))))
	s.mux.Handle("GET "+graph.StatementCSVPath, s.authenticate(http.HandlerFunc(s.exportStatement(false))))
}

func (s *Server) exportInvoice(pdf bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		tenantID, id, period := q.Get("tenantId"), q.Get("id"), q.Get("period")
		var inv billing.Invoice
		var err error
		switch {
		case (id == "") == (period == ""):
			err = apierr.Invalid("give id (an issued invoice) or period (YYYY-MM, its draft), not both")
		case id != "":
			inv, err = s.cfg.Billing.Invoice(r.Context(), tenantID, id)
		default:
			inv, err = s.cfg.Billing.Draft(r.Context(), tenantID, period)
		}
		if err != nil {
			s.exportFailed(w, err)
			return
		}
		name := "invoice-" + inv.Period.Label + "-" + inv.NumberText()
		s.writeDocument(w, r, tenantID, name, pdf,
			func(buf *bytes.Buffer, tenantName string) error {
				return billing.WriteInvoicePDF(buf, &inv, tenantName)
			},
			func(buf *bytes.Buffer) error { return billing.WriteInvoiceCSV(buf, &inv) })
	}
}

func (s *Server) exportStatement(pdf bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		tenantID := q.Get("tenantId")
		st, err := s.cfg.Billing.Statement(r.Context(), tenantID, q.Get("period"), q.Get("groupBy"))
		if err != nil {
			s.exportFailed(w, err)
			return
		}
		s.writeDocument(w, r, tenantID, "chargeback-"+st.Period.Label, pdf,
			func(buf *bytes.Buffer, tenantName string) error {
				return billing.WriteStatementPDF(buf, &st, tenantName)
			},
			func(buf *bytes.Buffer) error { return billing.WriteStatementCSV(buf, &st) })
	}
}

// writeDocument renders into memory first, so a failure is still an error
// response rather than a truncated file.
func (s *Server) writeDocument(w http.ResponseWriter, r *http.Request, tenantID, name string, pdf bool,
	writePDF func(*bytes.Buffer, string) error, writeCSV func(*bytes.Buffer) error) {
	var buf bytes.Buffer
	contentType, ext := "text/csv; charset=utf-8", "csv"
	if pdf {
		t, err := s.cp.Tenant(r.Context(), tenantID)
		if err != nil {
			s.exportFailed(w, err)
			return
		}
		contentType, ext = "application/pdf", "pdf"
		if err := writePDF(&buf, t.Name); err != nil {
			s.exportFailed(w, err)
			return
		}
	} else if err := writeCSV(&buf); err != nil {
		s.exportFailed(w, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name+"."+ext))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}
