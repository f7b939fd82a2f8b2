package apiserver

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/spendgate/spendgate/egress"
	"github.com/spendgate/spendgate/internal/testenv"
)

// idp is a real OpenID Connect provider in the test (mockoidc: discovery,
// JWKS, authorization code with PKCE, token and refresh endpoints, RS256
// ID tokens).
func idp(t *testing.T) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.Run()
	testenv.Must(t, err, "mock OIDC provider")
	t.Cleanup(func() { _ = m.Shutdown() })
	return m
}

// tamperedUser is a provider user whose ID token claims are changed before
// signing: another audience, nonce, issuer, or an expiry in the past.
type tamperedUser struct {
	*mockoidc.MockUser
	tamper func(c *mockoidc.IDTokenClaims)
}

func (u tamperedUser) Claims(scope []string, c *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	cp := *c.RegisteredClaims
	c2 := &mockoidc.IDTokenClaims{Nonce: c.Nonce, RegisteredClaims: &cp}
	u.tamper(c2)
	return u.MockUser.Claims(scope, c2)
}

// unverified is a user whose ID token says email_verified: false
// (mockoidc's own users leave a false out).
type unverified struct{ *mockoidc.MockUser }

func (u unverified) Claims(scope []string, c *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	return jwt.MapClaims{"iss": c.Issuer, "sub": u.Subject, "aud": []string(c.Audience), "exp": c.ExpiresAt.Unix(), "iat": c.IssuedAt.Unix(),
		"nonce": c.Nonce, "email": u.Email, "email_verified": false, "groups": u.Groups}, nil
}

func person(email string, groups ...string) *mockoidc.MockUser {
	return &mockoidc.MockUser{Subject: "sub-" + email, Email: email, EmailVerified: true, PreferredUsername: strings.Split(email, "@")[0], Groups: groups}
}

// ssoSignIn runs the browser's part of single sign-on without a browser:
// startSSOSignIn, the provider's authorization endpoint (which redirects
// back at once), then finishSSOSignIn with the code and state of the
// redirect.
func (h *harness) ssoSignIn(email, slug string) gqlResponse {
	h.t.Helper()
	d := h.must("", `mutation($e:String,$s:String){startSSOSignIn(email:$e,tenantSlug:$s){authorizationUrl state}}`, map[string]any{"e": email, "s": slug})
	authURL := get(d, "startSSOSignIn", "authorizationUrl").(string)
	state := get(d, "startSSOSignIn", "state").(string)
	u, err := url.Parse(authURL)
	testenv.Must(h.t, err, "authorization URL")
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") != state {
		h.t.Fatalf("authorization URL lacks PKCE, nonce or state: %s", authURL)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(authURL)
	testenv.Must(h.t, err, "authorize")
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(back.String(), h.srv.URL+"/sso/callback") {
		h.t.Fatalf("the provider answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return h.gql("", `mutation($s:String!,$c:String!){finishSSOSignIn(state:$s,code:$c){accessToken refreshToken user{id email}}}`,
		map[string]any{"s": back.Query().Get("state"), "c": back.Query().Get("code")})
}

const configureSSO = `mutation($t:ID!,$in:TenantSSOInput!){configureTenantSSO(tenantId:$t,input:$in){enabled displayName issuerUrl clientId clientSecretSet
	scopes allowedDomains groupsClaim groupMappings{group role} defaultRole jitProvisioning ssoRequired breakGlassUserId redirectUri}}`

func ssoInput(m *mockoidc.MockOIDC, extra map[string]any) map[string]any {
	in := map[string]any{"enabled": true, "displayName": "Acme IdP", "issuerUrl": m.Issuer(), "clientId": m.ClientID, "clientSecret": m.ClientSecret,
		"scopes": []string{"openid", "email", "profile", "groups"}, "allowedDomains": []string{"acme.test"},
		"groupMappings": []map[string]any{{"group": "spend-admins", "role": "ADMIN"}, {"group": "Finance", "role": "VIEWER"}}}
	for k, v := range extra {
		in[k] = v
	}
	return in
}

func TestSSOSignIn(t *testing.T) {
	h := newHarness(t)
	h.cp.SSOService.SetEgress(egress.MustAllow("127.0.0.1")) // the provider runs on loopback
	m := idp(t)
	alice, acme := h.owner("alice@acme.test", "acme")
	ctx := context.Background()

	// Configuration: owners only; the secret is stored sealed and never shown.
	d := h.must(alice, configureSSO, map[string]any{"t": acme, "in": ssoInput(m, nil)})
	cfg := get(d, "configureTenantSSO")
	if get(cfg, "clientSecretSet") != true || get(cfg, "redirectUri") != h.srv.URL+"/sso/callback" || strings.Contains(toJSON(d), m.ClientSecret) {
		t.Fatalf("configuration answer: %v", d)
	}
	var sealed string
	testenv.Must(t, h.pool.QueryRow(ctx, `SELECT client_secret_sealed FROM tenant_oidc WHERE tenant_id = $1`, acme).Scan(&sealed), "stored secret")
	if !strings.HasPrefix(sealed, "sg1:test:") || strings.Contains(sealed, m.ClientSecret) {
		t.Fatalf("client secret stored as %q", sealed)
	}
	if r := h.gql(alice, configureSSO, map[string]any{"t": acme, "in": ssoInput(m, map[string]any{"issuerUrl": "https://127.0.0.1:1/nothing"})}); r.code() != "INVALID_ARGUMENT" {
		t.Fatalf("an issuer without discovery: %+v", r)
	}

	// The sign-in page finds the provider by email domain or slug.
	if d := h.must("", `{ssoOption(email:"dana@ACME.test"){tenantSlug displayName}}`, nil); get(d, "ssoOption", "displayName") != "Acme IdP" {
		t.Fatalf("ssoOption by domain: %v", d)
	}

	// Just-in-time creation with the role of the groups claim.
	danaAtIdP := person("dana@acme.test", "spend-admins", "engineering")
	m.QueueUser(danaAtIdP)
	r := h.ssoSignIn("dana@acme.test", "")
	if len(r.Errors) > 0 {
		t.Fatalf("sign-in: %+v", r.Errors)
	}
	dana := get(r.Data, "finishSSOSignIn", "accessToken").(string)
	danaRefresh := get(r.Data, "finishSSOSignIn", "refreshToken").(string)
	if d := h.must(dana, `{tenants{slug role}}`, nil); toJSON(d) != `{"tenants":[{"role":"ADMIN","slug":"acme"}]}` {
		t.Fatalf("dana's tenants: %v", d)
	}
	if d := h.must(alice, `query($t:ID!){auditLog(tenantId:$t,first:1){edges{node{action actor details}}}}`, map[string]any{"t": acme}); !strings.Contains(toJSON(d), `member.add`) || !strings.Contains(toJSON(d), `\"via\": \"sso\"`) {
		t.Fatalf("the just-in-time member is not audited: %v", d)
	}

	// The SSO session reaches its tenant only.
	d = h.must(alice, `mutation{createTenant(name:"Other",slug:"other"){id}}`, nil)
	other := get(d, "createTenant", "id").(string)
	h.must(alice, `mutation($t:ID!){addMember(tenantId:$t,email:"dana@acme.test",role:VIEWER){role}}`, map[string]any{"t": other})
	if r := h.gql(dana, `query($t:ID!){members(tenantId:$t){edges{node{role}}}}`, map[string]any{"t": other}); r.code() != "FORBIDDEN" {
		t.Fatalf("acme's SSO session on another tenant: %+v", r)
	}

	// The next sign-in follows the groups: Finance maps to viewer.
	m.QueueUser(person("dana@acme.test", "finance"))
	r = h.ssoSignIn("", "acme")
	if len(r.Errors) > 0 {
		t.Fatalf("second sign-in: %+v", r.Errors)
	}
	if d := h.must(get(r.Data, "finishSSOSignIn", "accessToken").(string), `{tenants{role}}`, nil); toJSON(d) != `{"tenants":[{"role":"VIEWER"}]}` {
		t.Fatalf("dana after the group change: %v", d)
	}

	// Refused: no mapped group, a domain not allowed, and tampered tokens.
	for name, c := range map[string]struct {
		user mockoidc.User
		want string
	}{
		"no mapped group":    {person("erin@acme.test", "engineering"), "no group that has a role"},
		"domain not allowed": {person("mallory@evil.test", "spend-admins"), "domain evil.test is not allowed"},
		"unverified email":   {unverified{person("frank@acme.test", "spend-admins")}, "not verified"},
		"wrong audience":     {tamperedUser{person("gina@acme.test", "spend-admins"), func(c *mockoidc.IDTokenClaims) { c.Audience = jwt.ClaimStrings{"another-app"} }}, "audience"},
		"wrong nonce":        {tamperedUser{person("gina@acme.test", "spend-admins"), func(c *mockoidc.IDTokenClaims) { c.Nonce = "replayed-nonce" }}, "nonce"},
		"expired token":      {tamperedUser{person("gina@acme.test", "spend-admins"), func(c *mockoidc.IDTokenClaims) { c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Minute)) }}, "expired"},
		"another issuer":     {tamperedUser{person("gina@acme.test", "spend-admins"), func(c *mockoidc.IDTokenClaims) { c.Issuer = "https://evil.example" }}, "issuer"},
	} {
		m.QueueUser(c.user)
		r := h.ssoSignIn("", "acme")
		if r.code() != "UNAUTHENTICATED" || !strings.Contains(r.Errors[0].Message, c.want) {
			t.Errorf("%s: want UNAUTHENTICATED about %q, got %+v", name, c.want, r.Errors)
		}
	}
	var ginas int
	testenv.Must(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE email = 'gina@acme.test'`).Scan(&ginas), "count")
	if ginas != 0 {
		t.Fatal("a refused token created its user")
	}
	// A state is used once.
	d = h.must("", `mutation{startSSOSignIn(tenantSlug:"acme"){authorizationUrl state}}`, nil)
	state := get(d, "startSSOSignIn", "state").(string)
	for i, want := range []string{"UNAUTHENTICATED", "UNAUTHENTICATED"} {
		if r := h.gql("", `mutation($s:String!){finishSSOSignIn(state:$s,code:"not-a-code"){accessToken}}`, map[string]any{"s": state}); r.code() != want {
			t.Fatalf("finish #%d with a bad code: %+v", i+1, r)
		}
	}

	// Refresh goes through the provider; the provider's refresh token is
	// stored sealed; when the provider refuses, the session ends.
	// (Dana is a viewer since her second sign-in; the refreshed ID token of
	// her first session says spend-admins again: the role follows it.)
	d = h.must("", `mutation($r:String!){refreshSession(refreshToken:$r){accessToken refreshToken}}`, map[string]any{"r": danaRefresh})
	danaRefresh = get(d, "refreshSession", "refreshToken").(string)
	if d := h.must(get(d, "refreshSession", "accessToken").(string), `{tenants{role}}`, nil); toJSON(d) != `{"tenants":[{"role":"ADMIN"}]}` {
		t.Fatalf("dana's role after a refresh whose token says spend-admins: %v", d)
	}
	// Removed from every mapped group at the provider: the next refresh ends the session.
	m.QueueUser(danaAtIdP)
	r = h.ssoSignIn("", "acme")
	lastRefresh := get(r.Data, "finishSSOSignIn", "refreshToken").(string)
	danaAtIdP.Groups = []string{"engineering"}
	if r := h.gql("", `mutation($r:String!){refreshSession(refreshToken:$r){accessToken}}`, map[string]any{"r": lastRefresh}); r.code() != "UNAUTHENTICATED" || !strings.Contains(r.Errors[0].Message, "no group") {
		t.Fatalf("refresh after leaving every mapped group: %+v", r)
	}
	danaAtIdP.Groups = []string{"spend-admins"}
	var idpSealed string
	testenv.Must(t, h.pool.QueryRow(ctx, `SELECT idp_refresh_sealed FROM refresh_tokens WHERE revoked_at IS NULL AND sso_tenant_id = $1 ORDER BY created_at DESC LIMIT 1`, acme).Scan(&idpSealed), "stored refresh")
	// (The provider's refresh tokens are JWTs, with dots; a sealed value is base64url, without.)
	if !strings.HasPrefix(idpSealed, "sg1:test:") || strings.Contains(idpSealed, ".") {
		t.Fatalf("the provider's refresh token stored as %.30q…", idpSealed)
	}
	// (Twice: golang.org/x/oauth2 tries both client authentication styles
	// of a provider that offers both.)
	for range 2 {
		m.QueueError(&mockoidc.ServerError{Code: http.StatusBadRequest, Error: mockoidc.InvalidGrant, Description: "user disabled"})
	}
	if r := h.gql("", `mutation($r:String!){refreshSession(refreshToken:$r){accessToken}}`, map[string]any{"r": danaRefresh}); r.code() != "UNAUTHENTICATED" || !strings.Contains(r.Errors[0].Message, "identity provider ended") {
		t.Fatalf("refresh refused by the provider: %+v", r)
	}

	// SSO required: passwords refused for members, the break-glass owner
	// excepted; requiring it from a password session needs that designation.
	h.must(alice, `mutation($t:ID!){addMember(tenantId:$t,email:"bob@acme.test",password:"bob-password-1",role:ADMIN){role}}`, map[string]any{"t": acme})
	if r := h.gql(alice, configureSSO, map[string]any{"t": acme, "in": ssoInput(m, map[string]any{"ssoRequired": true})}); r.code() != "INVALID_ARGUMENT" || !strings.Contains(r.Errors[0].Message, "lock you out") {
		t.Fatalf("requiring SSO without a break-glass owner, from a password session: %+v", r)
	}
	aliceID := get(h.must(alice, `{me{id}}`, nil), "me", "id").(string)
	d = h.must(alice, configureSSO, map[string]any{"t": acme, "in": ssoInput(m, map[string]any{"ssoRequired": true, "breakGlassUserId": aliceID, "clientSecret": nil})})
	if get(d, "configureTenantSSO", "clientSecretSet") != true {
		t.Fatalf("leaving clientSecret out dropped the stored one: %v", d)
	}
	if r := h.gql("", `mutation{signIn(email:"bob@acme.test",password:"bob-password-1"){accessToken}}`, nil); r.code() != "FORBIDDEN" || !strings.Contains(r.Errors[0].Message, "Sign in with Acme IdP") {
		t.Fatalf("bob's password on an SSO-required tenant: %+v", r)
	}
	breakGlass := h.signIn("alice@acme.test", "password-123")
	h.must(breakGlass, `query($t:ID!){members(tenantId:$t){edges{node{role}}}}`, map[string]any{"t": acme})
	// A password session of a member of an SSO-required and another tenant
	// reaches only the other.
	h.must(alice, `mutation($t:ID!){addMember(tenantId:$t,email:"bob@acme.test",role:VIEWER){role}}`, map[string]any{"t": other})
	bob := h.signIn("bob@acme.test", "bob-password-1")
	if r := h.gql(bob, `query($t:ID!){members(tenantId:$t){edges{node{role}}}}`, map[string]any{"t": acme}); r.code() != "FORBIDDEN" || !strings.Contains(r.Errors[0].Message, "requires single sign-on") {
		t.Fatalf("bob's password session on acme: %+v", r)
	}
	if d := h.must(bob, `{tenants{slug}}`, nil); toJSON(d) != `{"tenants":[{"slug":"other"}]}` {
		t.Fatalf("bob's tenants: %v", d)
	}

	// Turning the provider off ends its sessions at the next operation.
	m.QueueUser(person("dana@acme.test", "spend-admins"))
	r = h.ssoSignIn("", "acme")
	dana = get(r.Data, "finishSSOSignIn", "accessToken").(string)
	h.must(dana, `query($t:ID!){members(tenantId:$t){edges{node{role}}}}`, map[string]any{"t": acme})
	h.must(breakGlass, configureSSO, map[string]any{"t": acme, "in": ssoInput(m, map[string]any{"enabled": false})})
	if r := h.gql(dana, `query($t:ID!){members(tenantId:$t){edges{node{role}}}}`, map[string]any{"t": acme}); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("dana after SSO was turned off: %+v", r)
	}

	// No secret in any answer, the audit log or the server log.
	all := toJSON(h.must(breakGlass, `query($t:ID!){auditLog(tenantId:$t,first:100){edges{node{details}}} tenantSSO(tenantId:$t){clientSecretSet}}`, map[string]any{"t": acme}))
	for _, secret := range []string{m.ClientSecret} {
		if strings.Contains(all, secret) || strings.Contains(h.logs.String(), secret) {
			t.Fatal("the client secret leaked into an answer or a log")
		}
	}
}
