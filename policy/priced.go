package policy

import (
	"errors"

	"github.com/tidwall/gjson"

	"github.com/spendgate/spendgate/event"
)

// Keys with Policy.RequirePricedModels refuse models that have no price for
// their tenant: pricing.Catalogue.Priced with the tenant's overrides. The
// embedded gateway under serve asks it in-process; the Envoy filter and a
// standalone gateway ask the control plane's priced endpoint:
//
//	GET /internal/v1/priced?tenant_id=<tenant uuid>&provider=<provider id>&model=<model name>
//	Authorization: Bearer <service token>
//
// It answers 200 with a PricedAnswer ({"priced":true|false,"cache_ttl_seconds":N}):
// whether the model has a price for that tenant now, from the catalogue or a
// tenant pricing override that sets a rate for it (pricing.Catalogue.Priced).
// 400 for a missing, malformed or oversize parameter, 401 for a wrong service
// token, 503 when the tenant's overrides cannot be read.

// MaxPricedProviderBytes bounds the provider parameter (provider ids are
// short); the model is bounded by event.MaxModelNameBytes, like the model
// names events carry.
const MaxPricedProviderBytes = 64

// PricedAnswer is the priced endpoint's answer.
type PricedAnswer struct {
	Priced bool `json:"priced"`
	// CacheTTLSeconds tells the data plane how long it may reuse the answer.
	CacheTTLSeconds int `json:"cache_ttl_seconds"`
}

// ErrMalformedPricedAnswer is returned for a priced answer that is not the
// documented JSON object.
var ErrMalformedPricedAnswer = errors.New("policy: malformed answer from the priced endpoint")

// ParsePricedAnswer decodes the priced endpoint's answer (TinyGo-safe).
func ParsePricedAnswer(b []byte) (PricedAnswer, error) {
	if !gjson.ValidBytes(b) {
		return PricedAnswer{}, ErrMalformedPricedAnswer
	}
	r := gjson.ParseBytes(b)
	p := r.Get("priced")
	if !r.IsObject() || !p.IsBool() {
		return PricedAnswer{}, ErrMalformedPricedAnswer
	}
	ttl := r.Get("cache_ttl_seconds")
	if ttl.Exists() && ttl.Type != gjson.Number {
		return PricedAnswer{}, ErrMalformedPricedAnswer
	}
	return PricedAnswer{Priced: p.Bool(), CacheTTLSeconds: int(min(max(ttl.Int(), 0), 1<<31-1))}, nil
}

// PricedQuery is the query string asking whether provider's model is priced
// for a tenant (without the leading '?'), each value percent-encoded.
func PricedQuery(tenantID, provider, model string) string {
	b := make([]byte, 0, 40+len(tenantID)+len(provider)+len(model)*3)
	b = append(b, "tenant_id="...)
	b = appendQueryEscaped(b, tenantID)
	b = append(b, "&provider="...)
	b = appendQueryEscaped(b, provider)
	b = append(b, "&model="...)
	b = appendQueryEscaped(b, model)
	return string(b)
}

// appendQueryEscaped percent-encodes s for a query value, keeping only RFC
// 3986's unreserved characters (net/url's QueryEscape without the import:
// the filter stays small under TinyGo).
func appendQueryEscaped(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return b
}

// PricedUnavailable refuses a call whose model could not be checked for a
// price (the priced endpoint or the overrides unreachable): retryable, as
// the policy service being down is.
func PricedUnavailable(model string) Decision {
	return Decision{Reason: event.DenialAuthUnavailable,
		Message: "the spendgate policy service could not say whether model " + model + " has a price, which this key requires; try again shortly"}
}

// UnpricedModel is the decision refusing a model without a price for a key
// that requires priced models.
func UnpricedModel(model string) Decision {
	if model == "" {
		return Decision{Reason: event.DenialUnpricedModel, Message: "the request names no model and this key only allows priced models"}
	}
	return Decision{Reason: event.DenialUnpricedModel, Message: "model " + model + " has no known price and this key only allows priced models"}
}
