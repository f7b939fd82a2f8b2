package org

import "slices"

// KeyPolicy is what a key may do, and, on a workspace, team or project, the
// defaults every key below inherits. Empty allow-lists allow everything; a
// zero rate limit is no limit.
type KeyPolicy struct {
	AllowedProviders    []string          `json:"allowed_providers,omitempty"`
	AllowedModels       []string          `json:"allowed_models,omitempty"`
	RequiredDimensions  []string          `json:"required_dimensions,omitempty"`
	DefaultDimensions   map[string]string `json:"default_dimensions,omitempty"`
	RequirePricedModels bool              `json:"require_priced_models,omitempty"`
	// RequestsPerMinute and TokensPerMinute (input + output) limit a key's
	// rate; 0 means no limit.
	RequestsPerMinute int   `json:"requests_per_minute,omitempty"`
	TokensPerMinute   int64 `json:"tokens_per_minute,omitempty"`
	// InjectProviderCredentials: the key's calls carry the tenant's stored
	// provider credential instead of the caller's (policy.Policy.InjectCredentials).
	InjectProviderCredentials bool `json:"inject_provider_credentials,omitempty"`
}

// Effective is the policy in force for a key: the layers from the top of
// the tree down to the key's own policy (workspace, team, project, key;
// any may be absent), combined so that a lower layer can only narrow what
// an upper one allows:
//
//   - allowed providers: the intersection of the non-empty lists (a lower
//     list naming only providers the upper one excludes allows none: the
//     answer is then the lower list filtered, which may be empty, and an
//     empty result after a non-empty layer is the closed list "none");
//   - allowed models: globs cannot be intersected, so the lowest non-empty
//     list is in force (a key narrows its project's list by naming its own);
//   - required dimensions: the union;
//   - default dimensions: merged, a lower layer's value winning per name;
//   - require priced models and stored provider credentials: true when any
//     layer says so;
//   - rate limits: the smallest non-zero limit.
//
// Closed reports an intersection of provider lists that left nothing: no
// call of the key is allowed (the data plane gets a policy that allows a
// provider no call can use).
func Effective(layers ...KeyPolicy) (p KeyPolicy, closed bool) {
	p.DefaultDimensions = map[string]string{}
	var providers []string
	restricted := false
	for _, l := range layers {
		if len(l.AllowedProviders) > 0 {
			if !restricted {
				providers = slices.Clone(l.AllowedProviders)
				restricted = true
			} else {
				providers = slices.DeleteFunc(providers, func(id string) bool { return !slices.Contains(l.AllowedProviders, id) })
			}
		}
		if len(l.AllowedModels) > 0 {
			p.AllowedModels = slices.Clone(l.AllowedModels)
		}
		for _, d := range l.RequiredDimensions {
			if !slices.Contains(p.RequiredDimensions, d) {
				p.RequiredDimensions = append(p.RequiredDimensions, d)
			}
		}
		for k, v := range l.DefaultDimensions {
			p.DefaultDimensions[k] = v
		}
		p.RequirePricedModels = p.RequirePricedModels || l.RequirePricedModels
		p.InjectProviderCredentials = p.InjectProviderCredentials || l.InjectProviderCredentials
		p.RequestsPerMinute = minLimit(p.RequestsPerMinute, l.RequestsPerMinute)
		p.TokensPerMinute = minLimit(p.TokensPerMinute, l.TokensPerMinute)
	}
	p.AllowedProviders = providers
	if p.AllowedProviders == nil {
		p.AllowedProviders = []string{}
	}
	if p.AllowedModels == nil {
		p.AllowedModels = []string{}
	}
	if p.RequiredDimensions == nil {
		p.RequiredDimensions = []string{}
	}
	return p, restricted && len(providers) == 0
}

// ClosedProvider is the provider an effective policy allows when the
// intersection of its layers' provider lists is empty: no provider has this
// id, so every call is refused as provider_not_allowed.
const ClosedProvider = "none"

func minLimit[T int | int64](a, b T) T {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}
