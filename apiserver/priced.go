package apiserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/spendgate/spendgate/dataplane/contract"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/meter"
	"github.com/spendgate/spendgate/policy"
	"github.com/spendgate/spendgate/pricing"
)

// pricedRoute is where New serves priced.
const pricedRoute = "GET " + contract.PricedPath

// priced is the data plane's priced endpoint (GET /internal/v1/priced, the
// contract is in policy/priced.go): whether a model has a price for a tenant
// now, from the shipped catalogue or one of the tenant's pricing overrides.
// The Envoy filter asks it for keys that require priced models, since it
// carries no pricing catalogue; it caches the answer for cache_ttl_seconds.
func (s *Server) priced(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if !ServiceTokenOK(r, s.cfg.ServiceToken) {
		dataPlaneError(w, http.StatusUnauthorized, "wrong or missing service token")
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		dataPlaneError(w, http.StatusBadRequest, "malformed query: "+err.Error())
		return
	}
	tenantID, provider, model := q.Get("tenant_id"), q.Get("provider"), q.Get("model")
	if msg := pricedParamsError(tenantID, provider, model); msg != "" {
		dataPlaneError(w, http.StatusBadRequest, msg)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	overrides, err := s.cp.TenantOverrides(ctx, tenantID)
	if err != nil {
		s.log.Error("priced endpoint: reading pricing overrides failed", "tenant_id", tenantID, "err", err)
		dataPlaneError(w, http.StatusServiceUnavailable, "reading the tenant's pricing overrides failed")
		return
	}
	ttl := int(s.cp.PolicyCacheTTL / time.Second)
	now := time.Now()
	a := policy.PricedAnswer{
		Priced:          s.catalogueAt(now).Priced(pricing.Request{Provider: provider, Model: model, Time: now}, overrides),
		CacheTTLSeconds: ttl,
	}
	w.Header().Set("Cache-Control", "private, max-age="+strconv.Itoa(ttl))
	_ = json.NewEncoder(w).Encode(a)
}

// pricedParamsError explains what is wrong with the priced endpoint's
// parameters, or returns "".
func pricedParamsError(tenantID, provider, model string) string {
	switch {
	case tenantID == "":
		return "missing tenant_id parameter"
	case !event.IsUUID(tenantID):
		return "tenant_id must be a UUID"
	case provider == "":
		return "missing provider parameter"
	case len(provider) > policy.MaxPricedProviderBytes:
		return "provider exceeds " + strconv.Itoa(policy.MaxPricedProviderBytes) + " bytes"
	case model == "":
		return "missing model parameter"
	case len(model) > event.MaxModelNameBytes:
		return "model exceeds " + strconv.Itoa(event.MaxModelNameBytes) + " bytes"
	}
	if _, ok := meter.ProviderByID(provider); !ok {
		return "unknown provider " + strconv.Quote(provider)
	}
	return ""
}

// dataPlaneError answers a data-plane endpoint's error as {"error": msg}.
func dataPlaneError(w http.ResponseWriter, status int, msg string) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// catalogueAt is the catalogue in force at t: the applied revision when the
// server follows revisions, else the embedded one.
func (s *Server) catalogueAt(t time.Time) *pricing.Catalogue {
	if s.cfg.Catalogue != nil {
		return s.cfg.Catalogue.CatalogueAt(t)
	}
	return pricing.Default()
}
