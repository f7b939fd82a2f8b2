package graph

import (
	"strings"

	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/graph/model"
)

func tenantSSO(c *controlplane.OIDCConfig) *model.TenantSso {
	if c == nil {
		return nil
	}
	out := &model.TenantSso{Enabled: c.Enabled, DisplayName: c.DisplayName, IssuerURL: c.IssuerURL, ClientID: c.ClientID,
		ClientSecretSet: c.ClientSecretSet, Scopes: nonNil(c.Scopes), AllowedDomains: nonNil(c.AllowedDomains), GroupsClaim: c.GroupsClaim,
		GroupMappings: []*model.SSOGroupMapping{}, JitProvisioning: c.JIT, SsoRequired: c.SSORequired, RedirectURI: c.RedirectURI, UpdatedAt: c.UpdatedAt}
	for _, r := range c.Mapping.Rules {
		m := &model.SSOGroupMapping{Group: r.Group, Role: role(r.Role)}
		if _, ok := r.Role.Scoped(); ok {
			sr, id := model.ScopedRole(strings.ToUpper(string(r.Role))), r.Scope.ID
			m.Role, m.ScopedRole, m.NodeID = model.RoleMember, &sr, &id
		}
		out.GroupMappings = append(out.GroupMappings, m)
	}
	if c.Mapping.DefaultRole != "" {
		d := role(c.Mapping.DefaultRole)
		out.DefaultRole = &d
	}
	if c.BreakGlassUserID != "" {
		out.BreakGlassUserID = &c.BreakGlassUserID
	}
	return out
}

func tenantSSOInput(in model.TenantSSOInput) controlplane.OIDCConfigInput {
	out := controlplane.OIDCConfigInput{Enabled: in.Enabled, DisplayName: in.DisplayName, IssuerURL: in.IssuerURL, ClientID: in.ClientID,
		ClientSecret: in.ClientSecret, Scopes: in.Scopes, AllowedDomains: in.AllowedDomains, GroupsClaim: deref(in.GroupsClaim),
		JIT: in.JitProvisioning == nil || *in.JitProvisioning, SSORequired: in.SsoRequired != nil && *in.SsoRequired,
		BreakGlassUserID: deref(in.BreakGlassUserID)}
	for _, m := range in.GroupMappings {
		r := controlplane.MappingRule{Group: m.Group, Scope: controlplane.GrantScope{Kind: controlplane.GrantTenant, ID: deref(m.NodeID)}}
		if m.Role != nil {
			r.Role = fromRole(*m.Role)
		}
		if m.ScopedRole != nil {
			// A tenant role given as well is refused by validation (it does
			// not fit the team or project scope).
			scoped := controlplane.Role(strings.ToLower(string(*m.ScopedRole)))
			r.Scope.Kind, _ = scoped.Scoped()
			if r.Role == "" {
				r.Role = scoped
			}
		}
		out.Mapping.Rules = append(out.Mapping.Rules, r)
	}
	if in.DefaultRole != nil {
		out.Mapping.DefaultRole = fromRole(*in.DefaultRole)
	}
	return out
}

func scimToken(t controlplane.SCIMToken) *model.SCIMToken {
	out := &model.SCIMToken{ID: t.ID, Name: t.Name, Prefix: t.Prefix, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt}
	if t.RotatedFromID != "" {
		out.RotatedFromID = &t.RotatedFromID
	}
	return out
}

func createdSCIMToken(t controlplane.SCIMToken, secret, base string) *model.CreatedSCIMToken {
	return &model.CreatedSCIMToken{Token: scimToken(t), Secret: secret, BaseURL: base}
}
