package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/internal/testenv"
)

// audienceTampered is a provider user whose ID token names another client.
type audienceTampered struct{ *mockoidc.MockUser }

func (u audienceTampered) Claims(scope []string, c *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	rc := *c.RegisteredClaims
	rc.Audience = jwt.ClaimStrings{"another-application"}
	return u.MockUser.Claims(scope, &mockoidc.IDTokenClaims{Nonce: c.Nonce, RegisteredClaims: &rc})
}

// TestPortalSSO drives single sign-on, SCIM tokens and TOTP through the real
// portal in Chromium against a real `spendgate serve` and a real OpenID
// Connect provider (mockoidc, in this process): the owner configures the
// provider and a SCIM token in the portal; a new person signs in with
// "Sign in with Acme IdP" and gets the role of their group; a token for
// another audience is refused on the callback page; with SSO required a
// member's password is refused while the break-glass owner's is not; the
// owner turns TOTP on and signs in with a recovery code.
func TestPortalSSO(t *testing.T) {
	ctx := newBrowser(t)
	idp, err := mockoidc.Run()
	testenv.Must(t, err, "mock OIDC provider")
	t.Cleanup(func() { _ = idp.Shutdown() })
	s := testenv.StartServe(t, "--webhook-allow", "127.0.0.1", "--service-token", serviceToken)
	srv := &server{Serve: s, URL: s.APIURL}
	var signInRes struct{ SignIn struct{ AccessToken string } }
	testenv.MustGraphQL(t, srv.URL+"/query", "", `mutation($e:String!,$p:String!){signIn(email:$e,password:$p){accessToken}}`,
		map[string]any{"e": s.DemoEmail, "p": s.DemoPassword}, &signInRes)
	srv.Token = signInRes.SignIn.AccessToken
	var me struct {
		Me      struct{ ID string }
		Tenants []struct{ ID, Slug string }
	}
	srv.gql(t, `{me{id} tenants{id slug}}`, nil, &me)
	srv.TenantID = me.Tenants[0].ID

	// The owner configures the provider and a SCIM token in the portal.
	signIn(t, ctx, srv.URL, s.DemoEmail, s.DemoPassword)
	var redirect, scimSecret, scimBase string
	run(t, ctx, "configure single sign-on",
		goTo("sso", "sso-h"),
		chromedp.WaitVisible(chromedp.CSS(`form[aria-label="Single sign-on"]`)),
		chromedp.SendKeys(chromedp.CSS(`#sso-name`), "Acme IdP"),
		chromedp.SendKeys(chromedp.CSS(`#sso-issuer`), idp.Issuer()),
		chromedp.SendKeys(chromedp.CSS(`#sso-client`), idp.ClientID),
		chromedp.SendKeys(chromedp.CSS(`#sso-secret`), idp.ClientSecret),
		fill(`#sso-scopes`, "openid email profile groups"),
		chromedp.SendKeys(chromedp.CSS(`#sso-domains`), "acme.test"),
		chromedp.SendKeys(chromedp.CSS(`#sso-map`), "spend-admins=ADMIN\nFinance=VIEWER"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Single sign-on"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=sso-saved]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=redirect-uri]`)),
		into(&redirect, textOf(`[data-testid=redirect-uri]`)),
		chromedp.SendKeys(chromedp.CSS(`#scim-name`), "okta"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Create SCIM token"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=scim-secret]`)),
		into(&scimSecret, textOf(`[data-testid=scim-secret]`)),
		into(&scimBase, textOf(`[data-testid=scim-base]`)),
		shots(t, "40-sso-settings"),
	)
	if redirect != srv.URL+"/sso/callback" || scimBase != srv.URL+"/scim/v2" {
		t.Fatalf("redirect URI %q, SCIM base %q", redirect, scimBase)
	}
	req, _ := http.NewRequest(http.MethodGet, scimBase+"/Users", nil)
	req.Header.Set("Authorization", "Bearer "+scimSecret)
	res, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, "SCIM with the portal's token")
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("SCIM with the token the portal showed: %d", res.StatusCode)
	}

	// A new person signs in through the provider: created just in time,
	// with the role of their group.
	idp.QueueUser(&mockoidc.MockUser{Subject: "dana-1", Email: "dana@acme.test", EmailVerified: true, Groups: []string{"spend-admins"}})
	var tenantLabel string
	run(t, ctx, "sign in with the provider",
		chromedp.Click(chromedp.CSS(`header button.secondary`)), // sign out
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), "dana@acme.test"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=sso-button]`)),
		shots(t, "41-signin-sso-button"),
		chromedp.Click(chromedp.CSS(`[data-testid=sso-button]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav[aria-label="Sections"]`)),
		waitJS(`location.pathname === "/"`, 10*time.Second),
		waitJS(`document.querySelector('select[aria-label=Tenant] option:checked')`, 30*time.Second),
		into(&tenantLabel, textOf(`select[aria-label=Tenant] option:checked`)),
	)
	if !strings.Contains(tenantLabel, "(admin)") {
		t.Fatalf("dana's tenant after SSO: %q", tenantLabel)
	}

	// A token issued to another application is refused on the callback.
	idp.QueueUser(audienceTampered{&mockoidc.MockUser{Subject: "eve-1", Email: "eve@acme.test", EmailVerified: true, Groups: []string{"spend-admins"}}})
	var refused string
	run(t, ctx, "a token for another audience",
		chromedp.Click(chromedp.CSS(`header button.secondary`)),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), "eve@acme.test"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=sso-button]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=sso-button]`)),
		chromedp.WaitVisible(chromedp.CSS(`.error[role=alert]`)),
		into(&refused, textOf(`.error[role=alert]`)),
	)
	if !strings.Contains(refused, "audience") {
		t.Fatalf("the callback page says %q", refused)
	}

	// SSO required: a member's password is refused, the break-glass owner's not.
	srv.gql(t, `mutation($t:ID!){addMember(tenantId:$t,email:"bob@acme.test",password:"bob-password-1",role:VIEWER){role}}`, map[string]any{"t": srv.TenantID}, nil)
	srv.gql(t, `mutation($t:ID!,$in:TenantSSOInput!){configureTenantSSO(tenantId:$t,input:$in){ssoRequired}}`, map[string]any{"t": srv.TenantID,
		"in": map[string]any{"enabled": true, "displayName": "Acme IdP", "issuerUrl": idp.Issuer(), "clientId": idp.ClientID, "scopes": []string{"openid", "email", "profile", "groups"},
			"allowedDomains": []string{"acme.test"}, "groupMappings": []map[string]any{{"group": "spend-admins", "role": "ADMIN"}},
			"ssoRequired": true, "breakGlassUserId": me.Me.ID}}, nil)
	var bobErr string
	run(t, ctx, "password refused where SSO is required",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), "bob@acme.test"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "bob-password-1"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Sign in"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.error[role=alert]`)),
		into(&bobErr, textOf(`.error[role=alert]`)),
		shots(t, "42-signin-sso-required"),
	)
	if !strings.Contains(bobErr, "requires single sign-on") {
		t.Fatalf("bob's password sign-in says %q", bobErr)
	}
	signIn(t, ctx, srv.URL, s.DemoEmail, s.DemoPassword) // the break-glass owner

	// The owner turns TOTP on in the portal, then signs in with a recovery code.
	var secret, recovery string
	run(t, ctx, "turn on TOTP",
		goTo("account", "account-h"),
		chromedp.Click(`//button[text()="Turn on"]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=totp-secret]`)),
		into(&secret, textOf(`[data-testid=totp-secret]`)),
	)
	code, err := auth.TOTPCode(secret, time.Now())
	testenv.Must(t, err, "code")
	run(t, ctx, "confirm TOTP",
		chromedp.SendKeys(chromedp.CSS(`#totp-code`), code),
		chromedp.Click(chromedp.CSS(`form[aria-label="Confirm authenticator"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=recovery-codes]`)),
		into(&recovery, textOf(`[data-testid=recovery-codes] li code`)),
		shots(t, "43-recovery-codes"),
		chromedp.Click(`//button[text()="I saved them"]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=mfa-on]`)),
	)
	if len(recovery) != 11 {
		t.Fatalf("recovery code %q", recovery)
	}
	run(t, ctx, "sign in with a recovery code",
		chromedp.Click(chromedp.CSS(`header button.secondary`)),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), s.DemoEmail),
		chromedp.SendKeys(chromedp.CSS(`#password`), s.DemoPassword),
		chromedp.Click(chromedp.CSS(`form[aria-label="Sign in"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#mfa-code`)),
		shots(t, "44-signin-code"),
		chromedp.SendKeys(chromedp.CSS(`#mfa-code`), recovery),
		chromedp.Click(chromedp.CSS(`form[aria-label="Sign in"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav[aria-label="Sections"]`)),
	)

	// Nothing secret in clear in Postgres.
	pool, err := pgxpool.New(t.Context(), s.PostgresDSN)
	testenv.Must(t, err, "postgres")
	defer pool.Close()
	var clear int
	testenv.Must(t, pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM tenant_oidc WHERE client_secret_sealed LIKE '%' || $1 || '%' OR client_secret_sealed NOT LIKE 'sg1:%')
		+ (SELECT count(*) FROM user_totp WHERE secret_sealed LIKE '%' || $2 || '%')
		+ (SELECT count(*) FROM refresh_tokens WHERE idp_refresh_sealed IS NOT NULL AND idp_refresh_sealed NOT LIKE 'sg1:%')`, idp.ClientSecret, secret).Scan(&clear), "stored secrets")
	if clear != 0 {
		t.Fatal("a secret is stored in clear")
	}
}
