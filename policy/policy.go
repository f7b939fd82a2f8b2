// Package policy defines the answer the control plane gives the data plane about
// a spendgate API key, and (in the files beside this one) how the data plane
// evaluates it. TinyGo-safe: parsing uses gjson, not encoding/json.
//
// Endpoint: GET /internal/v1/policy on the API server, with headers
//
//	Authorization: Bearer <service token>
//	X-Spendgate-Key: <the caller's spendgate key>
//
// It answers 200 with an Answer for every well-formed request (Valid=false with a
// Reason for unknown or revoked keys, so the data plane can cache negatives),
// 401 for a wrong service token, 400 when the key header is missing.
// Cache-Control: max-age=<CacheTTLSeconds> repeats the cache hint.
package policy

// Answer is the control plane's verdict on one key.
type Answer struct {
	Valid  bool   `json:"valid"`
	Reason string `json:"reason,omitempty"` // when !Valid: "unknown_key", "key_revoked", "malformed_key"

	TenantID  string `json:"tenant_id,omitempty"`
	KeyID     string `json:"key_id,omitempty"`
	KeyPrefix string `json:"key_prefix,omitempty"`

	// Blocked is true while a hard budget covering this key is exhausted.
	Blocked     bool   `json:"blocked"`
	BlockReason string `json:"block_reason,omitempty"` // e.g. "budget_exceeded"

	Policy Policy `json:"policy"`

	// Credentials are the tenant's stored provider credentials by provider
	// id, sent only when the key's policy says InjectCredentials: the data
	// plane puts them on the key's calls in place of the caller's own. The
	// answer travels only over the service-token channel (docs/security.md).
	Credentials map[string]string `json:"credentials,omitempty"`

	// CacheTTLSeconds tells the data plane how long it may reuse this answer.
	CacheTTLSeconds int `json:"cache_ttl_seconds"`
}

// Policy is what a key may do.
type Policy struct {
	// AllowedProviders lists provider names; empty allows all.
	AllowedProviders []string `json:"allowed_providers"`
	// AllowedModels lists model name globs ("gpt-4o*", "claude-*"); empty allows all.
	AllowedModels []string `json:"allowed_models"`
	// RequiredDimensions must be present (from headers or defaults) on every call.
	RequiredDimensions []string `json:"required_dimensions"`
	// DefaultDimensions apply when the request does not set them.
	DefaultDimensions map[string]string `json:"default_dimensions"`
	// RequirePricedModels denies models the pricing catalogue does not know
	// (set where a budget applies, so spend cannot escape it).
	RequirePricedModels bool `json:"require_priced_models"`
	// HardBudget is true when a hard-cap budget covers this key: the data
	// plane should reserve spend before forwarding (see budget package).
	HardBudget bool `json:"hard_budget"`
	// RequestsPerMinute limits calls of the key per minute; 0: no limit.
	// Both limits count in fixed UTC-minute windows (RateWindow, ratelimit.go).
	RequestsPerMinute int `json:"requests_per_minute,omitempty"`
	// TokensPerMinute limits input + output tokens of the key per minute;
	// 0: no limit. Tokens are known after a call, so a minute whose tokens
	// reached the limit refuses the calls that follow it.
	TokensPerMinute int64 `json:"tokens_per_minute,omitempty"`
	// AzureDeployments maps the tenant's Azure OpenAI deployment names
	// (chosen by the customer) to the catalogue models they serve; a call
	// to a deployment is checked, metered and priced as its model
	// (ResolveAzureDeployment). Delivered with every key of the tenant.
	AzureDeployments map[string]string `json:"azure_deployments,omitempty"`
	// InjectCredentials is set for keys whose calls carry the tenant's
	// stored provider credential (Answer.Credentials) instead of the
	// caller's: apps then hold only a spendgate key.
	InjectCredentials bool `json:"inject_credentials,omitempty"`
}

// ResolveAzureDeployment is the model an Azure OpenAI deployment stands
// for: its mapped model, or, for a deployment the tenant has not mapped,
// the deployment name itself (metered under that name, which no price
// names: unpriced, and refused for keys that require priced models).
func (p *Policy) ResolveAzureDeployment(deployment string) string {
	if m, ok := p.AzureDeployments[deployment]; ok && m != "" {
		return m
	}
	return deployment
}
