// Package httpapi serves hard-cap reservations to the data plane and gives
// the gateway a client for them. Every request needs
// "Authorization: Bearer <service token>".
//
//	POST /internal/v1/reservations
//	  {"tenant_id","key_id","dimensions","provider","model","max_tokens","input_tokens_estimate"}
//	  200 {"reservation_id","amount_nano_usd","expires_at","budget_ids"[,"unchecked":true]}
//	  409 {"denied":true,"reason":"budget_exceeded","budget_id","budget_name","message"}
//	  503 {"denied":true,"reason":"budget_unavailable","message"}   (fail closed)
//	  400 {"error":{"message","type":"invalid_request_error"}}
//	POST /internal/v1/reservations/{id}/release
//	  204; 404 for an unknown reservation
package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/budget/pgstore"
	"github.com/spendgate/spendgate/dataplane/contract"
)

// Reserver is the budgets engine (budget/service.Service).
type Reserver interface {
	Reserve(ctx context.Context, r budget.ReserveRequest) (budget.Reservation, error)
	Release(ctx context.Context, id string) error
}

// Denial is the body of a refused reservation.
type Denial struct {
	Denied     bool   `json:"denied"`
	Reason     string `json:"reason"` // "budget_exceeded" or "budget_unavailable"
	BudgetID   string `json:"budget_id,omitempty"`
	BudgetName string `json:"budget_name,omitempty"`
	Message    string `json:"message"`
}

// Denial reasons.
const (
	ReasonExceeded    = "budget_exceeded"
	ReasonUnavailable = "budget_unavailable"
)

// Handler serves the reservation endpoints.
func Handler(r Reserver, serviceToken string, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	h := &handler{r: r, token: []byte("Bearer " + serviceToken), log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+contract.ReservationsPath, h.reserve)
	mux.HandleFunc("POST "+contract.ReleasePattern, h.release)
	return h.auth(mux)
}

type handler struct {
	r     Reserver
	token []byte
	log   *slog.Logger
}

func (h *handler) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		got := []byte(req.Header.Get("Authorization"))
		if len(h.token) <= len("Bearer ") || subtle.ConstantTimeCompare(got, h.token) != 1 {
			writeError(w, http.StatusUnauthorized, "authentication_error", "a valid service token is required")
			return
		}
		next.ServeHTTP(w, req)
	})
}

func (h *handler) reserve(w http.ResponseWriter, req *http.Request) {
	var in budget.ReserveRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "bad reservation request: "+err.Error())
		return
	}
	res, err := h.r.Reserve(req.Context(), in)
	var denied *budget.DeniedError
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, res)
	case errors.As(err, &denied):
		writeJSON(w, http.StatusConflict, Denial{Denied: true, Reason: ReasonExceeded, BudgetID: denied.BudgetID,
			BudgetName: denied.BudgetName, Message: denied.Error()})
	case errors.Is(err, budget.ErrInvalid):
		writeError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
	default:
		h.log.Warn("budget: reservation failed; denying (fail closed)", "tenant", in.TenantID, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, Denial{Denied: true, Reason: ReasonUnavailable,
			Message: "budget store unavailable; calls under a hard budget are refused"})
	}
}

func (h *handler) release(w http.ResponseWriter, req *http.Request) {
	err := h.r.Release(req.Context(), req.PathValue("id"))
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, pgstore.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found_error", err.Error())
	default:
		h.log.Warn("budget: release failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "api_error", "budget store unavailable")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type apiError struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	var e apiError
	e.Error.Message, e.Error.Type = msg, typ
	writeJSON(w, status, e)
}
