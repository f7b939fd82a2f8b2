package controlplane

import (
	"errors"
	"testing"

	"github.com/spendgate/spendgate/auth"
)

func TestTenantGate(t *testing.T) {
	pw := auth.Principal{UserID: "u"}
	sso := func(tenant string) auth.Principal { return auth.Principal{UserID: "u", SSOTenant: tenant} }
	for name, c := range map[string]struct {
		p    auth.Principal
		g    tenantGate
		want error
	}{
		"password, nothing required":             {pw, tenantGate{}, nil},
		"password where SSO is required":         {pw, tenantGate{SSOEnabled: true, SSORequired: true}, errSSORequired},
		"break-glass owner's password":           {pw, tenantGate{SSOEnabled: true, SSORequired: true, BreakGlass: true}, nil},
		"password without TOTP where required":   {pw, tenantGate{MFARequired: true}, errMFARequired},
		"password with TOTP where required":      {pw, tenantGate{MFARequired: true, UserHasMFA: true}, nil},
		"break-glass owner still needs TOTP":     {pw, tenantGate{SSOEnabled: true, SSORequired: true, BreakGlass: true, MFARequired: true}, errMFARequired},
		"SSO session on its tenant":              {sso("t"), tenantGate{SSOEnabled: true, SSORequired: true, MFARequired: true}, nil},
		"SSO session on another tenant":          {sso("other"), tenantGate{}, errOtherSSOTenant},
		"SSO session after the provider was off": {sso("t"), tenantGate{SSOEnabled: false}, errSSODisabled},
		"in-process caller (CLI, no user)":       {auth.Principal{}, tenantGate{SSORequired: true, MFARequired: true}, nil},
	} {
		if got := c.g.admits(c.p, "t"); !errors.Is(got, c.want) {
			t.Errorf("%s: %v, want %v", name, got, c.want)
		}
	}
}
