package controlplane

import (
	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
)

// tenantGate is what a tenant demands of a session beyond membership, as
// read with the membership (authorize) or the tenant list.
type tenantGate struct {
	// SSORequired: the tenant's provider is enabled and password sessions
	// are refused, except BreakGlass (the user is the designated owner who
	// may still use a password when the provider is down).
	SSORequired, BreakGlass bool
	// SSOEnabled: the tenant's provider is configured and enabled; sessions
	// it opened end when it is disabled or removed.
	SSOEnabled bool
	// MFARequired: password sessions need a user with TOTP turned on.
	MFARequired, UserHasMFA bool
}

var (
	errOtherSSOTenant = &apierr.Error{Code: apierr.CodeForbidden,
		Message: "this session was opened through another tenant's single sign-on; sign in again to reach this tenant"}
	errSSORequired = &apierr.Error{Code: apierr.CodeForbidden,
		Message: "this tenant requires single sign-on: sign in with its identity provider"}
	errMFARequired = &apierr.Error{Code: apierr.CodeForbidden,
		Message: "this tenant requires two-factor authentication: turn on an authenticator app under Account, then sign in again"}
	errSSODisabled = &apierr.Error{Code: apierr.CodeUnauthenticated,
		Message: "this tenant's single sign-on was turned off; sign in again"}
)

// admits is the one rule of which session may reach which tenant (authorize
// and the tenant list call it): a session opened by a tenant's identity
// provider reaches that tenant only, and only while the provider is enabled;
// a password session reaches a tenant unless it requires single sign-on (the
// break-glass owner excepted) or two-factor authentication the user has not
// turned on. Identity providers do their own second factor.
func (g tenantGate) admits(p auth.Principal, tenantID string) error {
	if p.SSOTenant != "" {
		switch {
		case p.SSOTenant != tenantID:
			return errOtherSSOTenant
		case !g.SSOEnabled:
			return errSSODisabled
		}
		return nil
	}
	if p.UserID == "" {
		return nil
	}
	if g.SSORequired && !g.BreakGlass {
		return errSSORequired
	}
	if g.MFARequired && !g.UserHasMFA {
		return errMFARequired
	}
	return nil
}

// gateColumns reads a tenantGate for tenant $1 and user u (the query
// aliases users as u and has tenants t, tenant_oidc o joined on $1).
const gateColumns = `coalesce(o.enabled AND o.sso_required, false), coalesce(o.break_glass_user_id = u.id, false), coalesce(o.enabled, false),
	coalesce(t.mfa_required, false), EXISTS (SELECT 1 FROM user_totp ut WHERE ut.user_id = u.id AND ut.confirmed_at IS NOT NULL)`

func (g *tenantGate) scanTargets() []any {
	return []any{&g.SSORequired, &g.BreakGlass, &g.SSOEnabled, &g.MFARequired, &g.UserHasMFA}
}
