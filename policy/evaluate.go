package policy

import (
	"path"
	"strings"

	"github.com/spendgate/spendgate/event"
)

// Decision is the data plane's verdict on one call: Reason is "" when the call
// may proceed, else an event.Denial* code with a message for the caller.
type Decision struct {
	Reason  string
	Message string
	// RetryAfterSeconds, when above 0, is how long until the same call can
	// pass (rate limits): sent as the retry-after header.
	RetryAfterSeconds int
}

// Allowed reports whether the call may proceed.
func (d Decision) Allowed() bool { return d.Reason == "" }

// Evaluate applies a key's answer to one call. The priced-model rule of
// RequirePricedModels needs the tenant's prices, which the answer does not
// carry: the data planes apply it after Evaluate allows (see priced.go).
func Evaluate(a *Answer, provider, model string, dims map[string]string) Decision {
	if !a.Valid {
		switch a.Reason {
		case "key_revoked":
			return Decision{Reason: event.DenialKeyRevoked, Message: "this spendgate API key has been revoked"}
		default:
			return Decision{Reason: event.DenialUnknownKey, Message: "the spendgate API key is not valid"}
		}
	}
	if a.Blocked {
		if a.BlockReason == event.DenialBudgetUnavailable {
			// The control plane could not check the key's hard budgets and
			// blocks it meanwhile (hard caps fail closed): a transient state.
			return Decision{Reason: event.DenialBudgetUnavailable,
				Message: "spend for this key cannot be checked against its hard budget right now; try again shortly"}
		}
		msg := "spend for this key has reached a hard budget; requests are blocked until the budget period resets or the budget is raised"
		return Decision{Reason: event.DenialBudgetExceeded, Message: msg}
	}
	p := &a.Policy
	if len(p.AllowedProviders) > 0 && !contains(p.AllowedProviders, provider) {
		return Decision{Reason: event.DenialProviderNotAllowed, Message: "provider " + provider + " is not allowed for this key (allowed: " + strings.Join(p.AllowedProviders, ", ") + ")"}
	}
	if len(p.AllowedModels) > 0 && !ModelAllowed(p.AllowedModels, model) {
		if model == "" {
			return Decision{Reason: event.DenialModelNotAllowed, Message: "the request names no model and this key only allows: " + strings.Join(p.AllowedModels, ", ")}
		}
		return Decision{Reason: event.DenialModelNotAllowed, Message: "model " + model + " is not allowed for this key (allowed: " + strings.Join(p.AllowedModels, ", ") + ")"}
	}
	var missing []string
	for _, d := range p.RequiredDimensions {
		if dims[d] == "" {
			missing = append(missing, d)
		}
	}
	if len(missing) > 0 {
		return Decision{Reason: event.DenialMissingDimension, Message: "missing required dimension(s) " + strings.Join(missing, ", ") +
			": set them with headers x-spendgate-dim-<name>: <value>"}
	}
	return Decision{}
}

// ModelAllowed matches a model against allow-list globs ("gpt-4o*", "claude-*").
// Matching ignores case; a Gemini "models/" prefix is ignored.
func ModelAllowed(globs []string, model string) bool {
	m := strings.ToLower(strings.TrimPrefix(model, "models/"))
	for _, g := range globs {
		if ok, err := path.Match(strings.ToLower(g), m); err == nil && ok {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
