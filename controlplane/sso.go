package controlplane

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/egress"
)

// OpenID Connect single sign-on per tenant: the authorization code flow
// with PKCE, state and nonce; the ID token's issuer, audience, expiry,
// signature (go-oidc) and nonce are checked; users are found by their
// provider subject, then by email, or created just in time; the groups
// claim sets their role through the tenant's RoleMapping. A session opened
// this way reaches its tenant only and is refreshed only while the provider
// refreshes its own token.

// SSOCallbackPath is the portal route the provider redirects to; register
// PublicURL + SSOCallbackPath at the provider.
const SSOCallbackPath = "/sso/callback"

// ssoLoginTTL is how long a started sign-in may take at the provider.
const ssoLoginTTL = 10 * time.Minute

// providerTTL is how long a provider's discovery document is cached.
const providerTTL = time.Hour

// OIDCConfig is a tenant's provider as its owners see it: never the
// client secret, only whether one is set.
type OIDCConfig struct {
	TenantID         string
	Enabled          bool
	DisplayName      string
	IssuerURL        string
	ClientID         string
	ClientSecretSet  bool
	Scopes           []string
	AllowedDomains   []string
	GroupsClaim      string
	Mapping          RoleMapping
	JIT              bool
	SSORequired      bool
	BreakGlassUserID string
	UpdatedAt        time.Time
	// RedirectURI is what to register at the provider.
	RedirectURI string
}

// OIDCConfigInput configures a tenant's provider. ClientSecret nil keeps
// the stored one; "" removes it (a public client, PKCE only).
type OIDCConfigInput struct {
	Enabled          bool
	DisplayName      string
	IssuerURL        string
	ClientID         string
	ClientSecret     *string
	Scopes           []string
	AllowedDomains   []string
	GroupsClaim      string
	Mapping          RoleMapping
	JIT              bool
	SSORequired      bool
	BreakGlassUserID string
}

// SSOOption is what the sign-in page shows: "Sign in with DisplayName".
type SSOOption struct {
	TenantSlug, DisplayName string
}

// SSOStart is where to send the browser, and the state to keep until it
// comes back (the portal compares it before finishing).
type SSOStart struct {
	AuthorizationURL, State string
}

// SSOService runs single sign-on.
type SSOService struct {
	*core
	accounts *AccountService
	// publicURL is the portal's external origin (the redirect URI's base).
	publicURL string
	egress    *egress.Policy
	client    *http.Client

	mu        sync.Mutex
	providers map[string]cachedProvider
}

type cachedProvider struct {
	p       *oidc.Provider
	fetched time.Time
}

func newSSOService(c *core, accounts *AccountService) *SSOService {
	s := &SSOService{core: c, accounts: accounts, providers: map[string]cachedProvider{}}
	s.SetEgress(nil)
	return s
}

// SetPublicURL sets the portal's external origin (https://spend.example.com);
// the redirect URI is it + SSOCallbackPath. Call before serving.
func (s *SSOService) SetPublicURL(u string) { s.publicURL = strings.TrimRight(u, "/") }

// SetEgress sets which internal hosts the provider's endpoints may be on
// (the operator's --webhook-allow); by default only public addresses over
// https. Call before serving.
func (s *SSOService) SetEgress(p *egress.Policy) {
	s.egress = p
	s.client = &http.Client{Timeout: 10 * time.Second, Transport: p.Transport(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (s *SSOService) redirectURI() (string, error) {
	if s.publicURL == "" {
		return "", &apierr.Error{Code: apierr.CodeUnavailable, Message: "single sign-on needs the portal's public URL: the operator must set --public-url"}
	}
	return s.publicURL + SSOCallbackPath, nil
}

func oidcAAD(tenantID string) string { return "oidc-client-secret/" + tenantID }
func idpRefreshAAD(tenantID, userID string) string {
	return "idp-refresh/" + tenantID + "/" + userID
}

// --- configuration (owners) ---

const oidcColumns = `tenant_id, enabled, display_name, issuer_url, client_id, client_secret_sealed <> '', scopes, allowed_domains, groups_claim,
	role_mapping, jit, sso_required, coalesce(break_glass_user_id::text, ''), updated_at`

func scanOIDC(r pgx.Row) (OIDCConfig, error) {
	var c OIDCConfig
	var mapping []byte
	err := r.Scan(&c.TenantID, &c.Enabled, &c.DisplayName, &c.IssuerURL, &c.ClientID, &c.ClientSecretSet, &c.Scopes, &c.AllowedDomains,
		&c.GroupsClaim, &mapping, &c.JIT, &c.SSORequired, &c.BreakGlassUserID, &c.UpdatedAt)
	if err == nil {
		err = json.Unmarshal(mapping, &c.Mapping)
	}
	return c, err
}

// TenantOIDC returns a tenant's provider (owners), nil when none is set.
func (s *SSOService) TenantOIDC(ctx context.Context, tenantID string) (*OIDCConfig, error) {
	if _, _, err := s.authorize(ctx, tenantID, RoleOwner); err != nil {
		return nil, err
	}
	c, err := scanOIDC(s.db.QueryRow(ctx, `SELECT `+oidcColumns+` FROM tenant_oidc WHERE tenant_id = $1`, tenantID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c.RedirectURI, _ = s.redirectURI()
	return &c, nil
}

var (
	groupsClaimRE = regexp.MustCompile(`^[A-Za-z0-9_:/.\-]{1,100}$`)
	scopeRE       = regexp.MustCompile(`^[\x21\x23-\x5b\x5d-\x7e]{1,100}$`) // RFC 6749 scope-token
	domainRE      = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
)

func (s *SSOService) validateOIDC(ctx context.Context, in *OIDCConfigInput) error {
	var err error
	if in.DisplayName, err = cleanName("displayName", in.DisplayName); err != nil {
		return err
	}
	in.IssuerURL = strings.TrimRight(strings.TrimSpace(in.IssuerURL), "/")
	u, perr := url.Parse(in.IssuerURL)
	if perr != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || len(in.IssuerURL) > 2000 {
		return invalid("issuerUrl must be the provider's absolute https URL (https://login.example.com/...), without query or fragment")
	}
	if err := s.egress.CheckURL(ctx, in.IssuerURL, nil); err != nil {
		return invalid("issuerUrl %v", err)
	}
	// CheckURL passed, so a non-public host is one the operator allowed:
	// plain http is accepted there only (a test's or an internal provider).
	if u.Scheme != "https" && !(u.Scheme == "http" && !publicHost(ctx, u.Hostname())) {
		return invalid("issuerUrl must use https (plain http only for a host the operator allows with --webhook-allow)")
	}
	in.ClientID = strings.TrimSpace(in.ClientID)
	if in.ClientID == "" || len(in.ClientID) > 500 {
		return invalid("clientId must be 1-500 characters")
	}
	if in.ClientSecret != nil && len(*in.ClientSecret) > 2000 {
		return invalid("clientSecret must be at most 2000 characters")
	}
	if len(in.Scopes) == 0 {
		in.Scopes = []string{"openid", "email", "profile", "offline_access"}
	}
	hasOpenID := false
	for _, sc := range in.Scopes {
		if !scopeRE.MatchString(sc) {
			return invalid("scope %q is not a valid OAuth scope", sc)
		}
		hasOpenID = hasOpenID || sc == "openid"
	}
	if !hasOpenID {
		in.Scopes = append([]string{"openid"}, in.Scopes...)
	}
	if len(in.Scopes) > 20 || len(in.AllowedDomains) > 50 {
		return invalid("at most 20 scopes and 50 allowed domains")
	}
	for i, d := range in.AllowedDomains {
		d = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@"))
		if !domainRE.MatchString(d) {
			return invalid("allowed domain %q is not a domain name (example.com)", in.AllowedDomains[i])
		}
		in.AllowedDomains[i] = d
	}
	if in.AllowedDomains == nil {
		in.AllowedDomains = []string{}
	}
	if in.GroupsClaim == "" {
		in.GroupsClaim = "groups"
	}
	if !groupsClaimRE.MatchString(in.GroupsClaim) {
		return invalid("groupsClaim must be a claim name (letters, digits, _ : / . -)")
	}
	if err := in.Mapping.validate(); err != nil {
		return err
	}
	if in.SSORequired && !in.Enabled {
		return invalid("single sign-on can only be required while the provider is enabled")
	}
	if in.BreakGlassUserID != "" {
		if err := checkID("breakGlassUserId", in.BreakGlassUserID); err != nil {
			return err
		}
	}
	return nil
}

// publicHost reports whether host is a public address (or a name resolving
// to one): what the default egress policy lets through.
func publicHost(ctx context.Context, host string) bool {
	return egress.MustAllow("").CheckURL(ctx, "http://"+host, nil) == nil
}

// ConfigureOIDC sets a tenant's provider (owners; audited without the
// secret). The issuer's discovery document is read first, so a wrong URL is
// refused now rather than at the first sign-in. Turning the provider off,
// or changing its issuer or client, ends the sessions it opened.
func (s *SSOService) ConfigureOIDC(ctx context.Context, tenantID string, in OIDCConfigInput) (OIDCConfig, error) {
	p, _, err := s.authorize(ctx, tenantID, RoleOwner)
	if err != nil {
		return OIDCConfig{}, err
	}
	if err := s.validateOIDC(ctx, &in); err != nil {
		return OIDCConfig{}, err
	}
	if in.SSORequired && p.SSOTenant != tenantID && p.UserID != in.BreakGlassUserID {
		return OIDCConfig{}, invalid("requiring single sign-on would lock you out: sign in through the provider first, or name yourself the break-glass owner")
	}
	if in.Enabled {
		if _, err := s.provider(in.IssuerURL); err != nil {
			return OIDCConfig{}, invalid("the provider's discovery document at %s/.well-known/openid-configuration could not be used: %v", in.IssuerURL, err)
		}
	}
	var sealed *string
	if in.ClientSecret != nil {
		v := ""
		if *in.ClientSecret != "" {
			if v, err = s.seal(*in.ClientSecret, oidcAAD(tenantID)); err != nil {
				return OIDCConfig{}, err
			}
		}
		sealed = &v
	}
	mapping, _ := json.Marshal(in.Mapping)
	var breakGlass any
	if in.BreakGlassUserID != "" {
		breakGlass = in.BreakGlassUserID
	}
	var out OIDCConfig
	endSessions := false
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := checkMappingScopes(ctx, tx, tenantID, in.Mapping); err != nil {
			return err
		}
		if breakGlass != nil {
			var role Role
			err := tx.QueryRow(ctx, `SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2`, tenantID, breakGlass).Scan(&role)
			if errors.Is(err, pgx.ErrNoRows) || (err == nil && role != RoleOwner) {
				return invalid("the break-glass user must be an owner of this tenant")
			}
			if err != nil {
				return err
			}
		}
		var oldIssuer, oldClient string
		var oldEnabled bool
		err := tx.QueryRow(ctx, `SELECT issuer_url, client_id, enabled FROM tenant_oidc WHERE tenant_id = $1 FOR UPDATE`, tenantID).Scan(&oldIssuer, &oldClient, &oldEnabled)
		existed := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if !existed && sealed == nil {
			empty := ""
			sealed = &empty
		}
		endSessions = existed && (oldIssuer != in.IssuerURL || oldClient != in.ClientID || (oldEnabled && !in.Enabled))
		out, err = scanOIDC(tx.QueryRow(ctx, `INSERT INTO tenant_oidc (tenant_id, enabled, display_name, issuer_url, client_id, client_secret_sealed,
			scopes, allowed_domains, groups_claim, role_mapping, jit, sso_required, break_glass_user_id, updated_at)
			VALUES ($1, $2, $3, $4, $5, coalesce($6, ''), $7, $8, $9, $10, $11, $12, $13, now())
			ON CONFLICT (tenant_id) DO UPDATE SET enabled = $2, display_name = $3, issuer_url = $4, client_id = $5,
			client_secret_sealed = coalesce($6, tenant_oidc.client_secret_sealed), scopes = $7, allowed_domains = $8, groups_claim = $9,
			role_mapping = $10, jit = $11, sso_required = $12, break_glass_user_id = $13, updated_at = now()
			RETURNING `+oidcColumns, tenantID, in.Enabled, in.DisplayName, in.IssuerURL, in.ClientID, sealed, in.Scopes, in.AllowedDomains,
			in.GroupsClaim, mapping, in.JIT, in.SSORequired, breakGlass))
		if err != nil {
			return err
		}
		if endSessions {
			if err := endSSOSessions(ctx, tx, tenantID); err != nil {
				return err
			}
		}
		return audit(ctx, tx, tenantID, p, "sso.configure", "tenant", tenantID, map[string]any{
			"enabled": in.Enabled, "issuer": in.IssuerURL, "clientId": in.ClientID, "clientSecretChanged": in.ClientSecret != nil,
			"allowedDomains": in.AllowedDomains, "groupsClaim": in.GroupsClaim, "mapping": in.Mapping, "jit": in.JIT,
			"ssoRequired": in.SSORequired, "breakGlassUserId": in.BreakGlassUserID, "sessionsEnded": endSessions})
	})
	if err != nil {
		return OIDCConfig{}, err
	}
	out.RedirectURI, _ = s.redirectURI()
	return out, nil
}

// DeleteOIDC removes a tenant's provider (owners) and ends the sessions it
// opened.
func (s *SSOService) DeleteOIDC(ctx context.Context, tenantID string) error {
	p, _, err := s.authorize(ctx, tenantID, RoleOwner)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM tenant_oidc WHERE tenant_id = $1`, tenantID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("single sign-on configuration")
		}
		if err := endSSOSessions(ctx, tx, tenantID); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "sso.delete", "tenant", tenantID, nil)
	})
}

// endSSOSessions revokes the refresh tokens of sessions tenantID's provider
// opened; their access tokens stop at the next operation (tenantGate).
func endSSOSessions(ctx context.Context, tx pgx.Tx, tenantID string) error {
	_, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = now() WHERE sso_tenant_id = $1 AND revoked_at IS NULL`, tenantID)
	return err
}

// --- signing in (anonymous) ---

type ssoTarget struct {
	tenantID, slug string
	cfg            OIDCConfig
	secretSealed   string
}

// findTarget finds the enabled provider of a tenant by its slug or by the
// email's domain.
func (s *SSOService) findTarget(ctx context.Context, email, slug string) (*ssoTarget, error) {
	email, slug = strings.ToLower(strings.TrimSpace(email)), strings.ToLower(strings.TrimSpace(slug))
	domain := ""
	if i := strings.LastIndexByte(email, '@'); i >= 0 {
		domain = email[i+1:]
	}
	if slug == "" && domain == "" {
		return nil, invalid("give your work email or your organisation's tenant slug")
	}
	rows, err := s.db.Query(ctx, `SELECT t.slug, client_secret_sealed, `+oidcColumns+` FROM tenant_oidc JOIN tenants t ON t.id = tenant_oidc.tenant_id
		WHERE enabled AND (($1 <> '' AND t.slug = $1) OR ($1 = '' AND $2 <> '' AND $2 = ANY(allowed_domains))) LIMIT 2`, slug, domain)
	if err != nil {
		return nil, err
	}
	targets, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ssoTarget, error) {
		var t ssoTarget
		var mapping []byte
		c := &t.cfg
		err := r.Scan(&t.slug, &t.secretSealed, &c.TenantID, &c.Enabled, &c.DisplayName, &c.IssuerURL, &c.ClientID, &c.ClientSecretSet, &c.Scopes,
			&c.AllowedDomains, &c.GroupsClaim, &mapping, &c.JIT, &c.SSORequired, &c.BreakGlassUserID, &c.UpdatedAt)
		if err == nil {
			err = json.Unmarshal(mapping, &c.Mapping)
		}
		t.tenantID = c.TenantID
		return t, err
	})
	if err != nil {
		return nil, err
	}
	switch len(targets) {
	case 0:
		return nil, nil
	case 1:
		return &targets[0], nil
	}
	return nil, invalid("several organisations sign in people of %s: give your tenant slug instead", domain)
}

// SSOOptionFor tells the sign-in page whether an email or tenant slug signs
// in through a provider (nil: no).
func (s *SSOService) SSOOptionFor(ctx context.Context, email, slug string) (*SSOOption, error) {
	t, err := s.findTarget(ctx, email, slug)
	if err != nil || t == nil {
		return nil, err
	}
	return &SSOOption{TenantSlug: t.slug, DisplayName: t.cfg.DisplayName}, nil
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hashState(state string) []byte {
	h := sha256.Sum256([]byte("sso-state\x00" + state))
	return h[:]
}

// StartSignIn begins a sign-in through the provider of the email's domain
// or the tenant slug: a fresh state, nonce and PKCE verifier are kept (the
// verifier sealed) for ten minutes, and the answer says where to send the
// browser.
func (s *SSOService) StartSignIn(ctx context.Context, email, slug string) (SSOStart, error) {
	t, err := s.findTarget(ctx, email, slug)
	if err != nil {
		return SSOStart{}, err
	}
	if t == nil {
		return SSOStart{}, notFound("single sign-on for this email or tenant")
	}
	redirect, err := s.redirectURI()
	if err != nil {
		return SSOStart{}, err
	}
	prov, err := s.provider(t.cfg.IssuerURL)
	if err != nil {
		return SSOStart{}, &apierr.Error{Code: apierr.CodeUnavailable, Message: t.cfg.DisplayName + " cannot be reached now; try again later", Cause: err}
	}
	state, err := randomToken()
	if err != nil {
		return SSOStart{}, err
	}
	nonce, err := randomToken()
	if err != nil {
		return SSOStart{}, err
	}
	verifier := oauth2.GenerateVerifier()
	sealedVerifier, err := s.seal(verifier, "pkce/"+state)
	if err != nil {
		return SSOStart{}, err
	}
	if _, err := s.db.Exec(ctx, `DELETE FROM sso_logins WHERE expires_at < now() - interval '1 hour'`); err != nil {
		return SSOStart{}, err
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO sso_logins (state_hash, tenant_id, nonce, verifier_sealed, redirect_uri, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		hashState(state), t.tenantID, nonce, sealedVerifier, redirect, s.now().Add(ssoLoginTTL)); err != nil {
		return SSOStart{}, err
	}
	conf := s.oauthConfig(t.cfg, "", prov, redirect)
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
	if strings.Contains(email, "@") {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", strings.ToLower(strings.TrimSpace(email))))
	}
	return SSOStart{AuthorizationURL: conf.AuthCodeURL(state, opts...), State: state}, nil
}

func (s *SSOService) oauthConfig(c OIDCConfig, secret string, prov *oidc.Provider, redirect string) *oauth2.Config {
	return &oauth2.Config{ClientID: c.ClientID, ClientSecret: secret, Endpoint: prov.Endpoint(), RedirectURL: redirect, Scopes: c.Scopes}
}

// provider returns the issuer's provider from its discovery document
// (cached for an hour); go-oidc refuses a document naming another issuer.
func (s *SSOService) provider(issuer string) (*oidc.Provider, error) {
	s.mu.Lock()
	c, ok := s.providers[issuer]
	s.mu.Unlock()
	if ok && time.Since(c.fetched) < providerTTL {
		return c.p, nil
	}
	// Background: the key set go-oidc keeps refetches keys with this
	// context later, after the request that first needed it ended.
	p, err := oidc.NewProvider(oidc.ClientContext(context.Background(), s.client), issuer)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.providers[issuer] = cachedProvider{p: p, fetched: time.Now()}
	s.mu.Unlock()
	return p, nil
}

// ssoRefused is the answer to a sign-in the provider's answer does not
// support; why goes to the log (and, short, to the user).
func (s *SSOService) ssoRefused(tenantID, why string, cause error) error {
	s.log.Warn("controlplane: single sign-on refused", "tenant", tenantID, "reason", why, "err", cause)
	return &apierr.Error{Code: apierr.CodeUnauthenticated, Message: "single sign-on failed: " + why + "; start again"}
}

// tokenProblem names what is wrong with an ID token go-oidc refused.
func tokenProblem(err error) string {
	var expired *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &expired):
		return "the identity provider's token has expired"
	case strings.Contains(msg, "audience"):
		return "the identity provider's token was issued to another application (audience)"
	case strings.Contains(msg, "issued by a different provider"):
		return "the identity provider's token names another issuer"
	case strings.Contains(msg, "signature"):
		return "the identity provider's token signature does not verify"
	}
	return "the identity provider's token was refused"
}

// idClaims are the ID token claims sign-in reads (groups separately: its
// claim name is configured, and providers send a list or one string).
type idClaims struct {
	Email         string `json:"email"`
	EmailVerified *bool  `json:"email_verified"`
	Name          string `json:"name"`
	PreferredName string `json:"preferred_username"`
}

func claimGroups(raw map[string]json.RawMessage, claim string) ([]string, bool) {
	v, ok := raw[claim]
	if !ok {
		return nil, false
	}
	var list []string
	if json.Unmarshal(v, &list) == nil {
		return list, true
	}
	var one string
	if json.Unmarshal(v, &one) == nil {
		return []string{one}, true
	}
	return nil, false
}

// FinishSignIn completes a sign-in when the provider redirected back with
// code and state: the state must be one this service issued (unused, at
// most ten minutes old); the code is exchanged with the PKCE verifier; the
// ID token's signature, issuer, audience, expiry and nonce are checked;
// then the user is found or created and their role set from the groups.
func (s *SSOService) FinishSignIn(ctx context.Context, state, code string) (Session, error) {
	if state == "" || code == "" || len(state) > 200 || len(code) > 4000 {
		return Session{}, invalid("state and code must come from the identity provider's redirect")
	}
	var tenantID, nonce, sealedVerifier, redirect string
	err := s.db.QueryRow(ctx, `UPDATE sso_logins SET used_at = now() WHERE state_hash = $1 AND used_at IS NULL AND expires_at > $2
		RETURNING tenant_id, nonce, verifier_sealed, redirect_uri`, hashState(state), s.now()).Scan(&tenantID, &nonce, &sealedVerifier, &redirect)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, &apierr.Error{Code: apierr.CodeUnauthenticated, Message: "this sign-in is unknown, expired or already finished; start again"}
	}
	if err != nil {
		return Session{}, err
	}
	verifier, err := s.open(sealedVerifier, "pkce/"+state)
	if err != nil {
		return Session{}, err
	}
	var secretSealed string
	cfg, err := scanOIDCWithSecret(s.db.QueryRow(ctx, `SELECT client_secret_sealed, `+oidcColumns+` FROM tenant_oidc WHERE tenant_id = $1 AND enabled`, tenantID), &secretSealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, s.ssoRefused(tenantID, "single sign-on is not enabled for this tenant", nil)
	}
	if err != nil {
		return Session{}, err
	}
	secret := ""
	if secretSealed != "" {
		if secret, err = s.open(secretSealed, oidcAAD(tenantID)); err != nil {
			return Session{}, err
		}
	}
	prov, err := s.provider(cfg.IssuerURL)
	if err != nil {
		return Session{}, &apierr.Error{Code: apierr.CodeUnavailable, Message: cfg.DisplayName + " cannot be reached now; try again later", Cause: err}
	}
	hctx := context.WithValue(ctx, oauth2.HTTPClient, s.client)
	tok, err := s.oauthConfig(cfg, secret, prov, redirect).Exchange(hctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return Session{}, s.ssoRefused(tenantID, "the identity provider did not accept the sign-in code", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return Session{}, s.ssoRefused(tenantID, "the identity provider sent no ID token", nil)
	}
	idt, err := prov.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: s.now}).Verify(oidc.ClientContext(ctx, s.client), rawID)
	if err != nil {
		return Session{}, s.ssoRefused(tenantID, tokenProblem(err), err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return Session{}, s.ssoRefused(tenantID, "the identity provider's token belongs to another sign-in (nonce)", nil)
	}
	var claims idClaims
	var raw map[string]json.RawMessage
	if err := idt.Claims(&claims); err != nil {
		return Session{}, s.ssoRefused(tenantID, "the identity provider's token is unreadable", err)
	}
	_ = idt.Claims(&raw)
	groups, hasGroups := claimGroups(raw, cfg.GroupsClaim)
	u, version, err := s.linkUser(ctx, cfg, idt.Issuer, idt.Subject, claims, groups, hasGroups)
	if err != nil {
		return Session{}, err
	}
	idpSealed := ""
	if tok.RefreshToken != "" {
		if idpSealed, err = s.seal(tok.RefreshToken, idpRefreshAAD(tenantID, u.ID)); err != nil {
			return Session{}, err
		}
	}
	s.log.Info("controlplane: signed in through single sign-on", "tenant", tenantID, "user", u.ID, "email", u.Email)
	return s.accounts.openSessionVia(ctx, u, version, ssoSession{tenantID: tenantID, idpRefreshSealed: idpSealed})
}

func scanOIDCWithSecret(r pgx.Row, secret *string) (OIDCConfig, error) {
	var c OIDCConfig
	var mapping []byte
	err := r.Scan(secret, &c.TenantID, &c.Enabled, &c.DisplayName, &c.IssuerURL, &c.ClientID, &c.ClientSecretSet, &c.Scopes, &c.AllowedDomains,
		&c.GroupsClaim, &mapping, &c.JIT, &c.SSORequired, &c.BreakGlassUserID, &c.UpdatedAt)
	if err == nil {
		err = json.Unmarshal(mapping, &c.Mapping)
	}
	return c, err
}

// linkUser finds the provider's user (by subject, then email), creates it
// when just-in-time provisioning is on, and sets its membership's role from
// the groups when the tenant maps groups to roles.
func (s *SSOService) linkUser(ctx context.Context, cfg OIDCConfig, issuer, subject string, c idClaims, groups []string, hasGroups bool) (User, int64, error) {
	tenantID := cfg.TenantID
	email, err := cleanEmail(c.Email)
	if err != nil {
		return User{}, 0, s.ssoRefused(tenantID, "the identity provider sent no usable email (request the email scope)", err)
	}
	if c.EmailVerified != nil && !*c.EmailVerified {
		return User{}, 0, s.ssoRefused(tenantID, "the identity provider says the email "+email+" is not verified", nil)
	}
	if len(cfg.AllowedDomains) > 0 {
		domain := email[strings.LastIndexByte(email, '@')+1:]
		ok := false
		for _, d := range cfg.AllowedDomains {
			ok = ok || d == domain
		}
		if !ok {
			return User{}, 0, s.ssoRefused(tenantID, "the email domain "+domain+" is not allowed for this tenant", nil)
		}
	}
	role := Role("")
	mapped := !cfg.Mapping.Empty()
	if mapped {
		if !hasGroups && len(cfg.Mapping.Rules) > 0 {
			s.log.Warn("controlplane: single sign-on token has no groups claim", "tenant", tenantID, "claim", cfg.GroupsClaim)
		}
		if role = cfg.Mapping.TenantRole(groups); role == "" {
			return User{}, 0, s.ssoRefused(tenantID, "your account is in no group that has a role in this tenant", nil)
		}
	}
	name := c.Name
	if name == "" {
		name = c.PreferredName
	}
	if len(name) > maxName {
		name = name[:maxName]
	}
	var u User
	var version int64
	narrowed := false
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT u.id, u.email, u.name, u.created_at, u.token_version FROM sso_identities i JOIN users u ON u.id = i.user_id
			WHERE i.tenant_id = $1 AND i.issuer = $2 AND i.subject = $3 AND NOT u.disabled`, tenantID, issuer, subject).
			Scan(&u.ID, &u.Email, &u.Name, &u.CreatedAt, &version)
		if errors.Is(err, pgx.ErrNoRows) {
			var disabled bool
			err = tx.QueryRow(ctx, `SELECT id, email, name, created_at, token_version, disabled FROM users WHERE email = $1`, email).
				Scan(&u.ID, &u.Email, &u.Name, &u.CreatedAt, &version, &disabled)
			if err == nil && disabled {
				return s.ssoRefused(tenantID, "this account is disabled", nil)
			}
		}
		var member bool
		var current Role
		var suspended bool
		if err == nil {
			err = tx.QueryRow(ctx, `SELECT role, suspended_at IS NOT NULL FROM memberships WHERE tenant_id = $1 AND user_id = $2 FOR UPDATE`, tenantID, u.ID).Scan(&current, &suspended)
			member = err == nil
			if errors.Is(err, pgx.ErrNoRows) {
				err = nil
			}
		} else if errors.Is(err, pgx.ErrNoRows) {
			if !cfg.JIT {
				return s.ssoRefused(tenantID, "no account for "+email+" in this tenant (ask an admin to add you)", nil)
			}
			err = tx.QueryRow(ctx, `INSERT INTO users (email, name, password_hash) VALUES ($1, $2, '') RETURNING id, email, name, created_at, token_version`,
				email, name).Scan(&u.ID, &u.Email, &u.Name, &u.CreatedAt, &version)
		}
		if err != nil {
			return err
		}
		actor := auth.Principal{UserID: u.ID, Email: u.Email}
		switch {
		case member && suspended:
			return s.ssoRefused(tenantID, "your membership of this tenant is suspended", nil)
		case !member && !mapped && !cfg.JIT:
			return s.ssoRefused(tenantID, "you are not a member of this tenant (ask an admin to add you)", nil)
		case !member:
			if role == "" {
				role = RoleViewer // just in time, no mapping: the least role
			}
			if _, err := tx.Exec(ctx, `INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)`, tenantID, u.ID, role); err != nil {
				return err
			}
			if err := audit(ctx, tx, tenantID, actor, "member.add", "user", u.ID, map[string]any{"email": u.Email, "role": role, "via": "sso"}); err != nil {
				return err
			}
		case mapped && role != current:
			if role, err = setSSORole(ctx, tx, s.log, tenantID, actor, current, role); err != nil {
				return err
			}
		}
		if mapped {
			if narrowed, err = syncIdPGrants(ctx, tx, s.log, tenantID, actor, u.ID, cfg.Mapping, groups); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO sso_identities (tenant_id, issuer, subject, user_id) VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant_id, issuer, subject) DO UPDATE SET user_id = $4, last_login_at = now()`, tenantID, issuer, subject, u.ID)
		return err
	})
	if err != nil {
		return User{}, 0, err
	}
	if mapped {
		s.access.roleChanged(u.ID, tenantID, role)
	}
	if narrowed {
		s.access.grantsNarrowed(u.ID, tenantID)
	}
	return u, version, nil
}

// setSSORole changes a member's role to what the provider's groups grant
// (audited, announced to live watches) and returns the role in force: the
// last owner keeps the owner role (logged).
func setSSORole(ctx context.Context, tx pgx.Tx, log interface {
	Warn(msg string, args ...any)
}, tenantID string, actor auth.Principal, current, role Role) (Role, error) {
	if current == RoleOwner && role != RoleOwner {
		if err := lastOwnerGuard(ctx, tx, tenantID); err != nil {
			log.Warn("controlplane: single sign-on kept the last owner's role", "tenant", tenantID, "user", actor.UserID, "groups_role", role)
			return current, nil
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE memberships SET role = $3 WHERE tenant_id = $1 AND user_id = $2`, tenantID, actor.UserID, role); err != nil {
		return current, err
	}
	if err := notifyAccess(ctx, tx, accessChange{User: actor.UserID, Tenant: tenantID, Role: role}); err != nil {
		return current, err
	}
	return role, audit(ctx, tx, tenantID, actor, "member.role", "user", actor.UserID, map[string]any{"from": current, "to": role, "via": "sso"})
}

// refreshAtProvider spends the session's provider refresh token at the
// provider's token endpoint and returns the next one, sealed. Any failure
// (the user was disabled or signed out there, the provider was turned off,
// the token expired) ends the session.
func (s *SSOService) refreshAtProvider(ctx context.Context, tenantID string, u User, sealed string) (string, error) {
	ended := func(why string, cause error) error {
		s.log.Warn("controlplane: single sign-on session ended at refresh", "tenant", tenantID, "user", u.ID, "reason", why, "err", cause)
		return &apierr.Error{Code: apierr.CodeUnauthenticated, Message: "your identity provider ended this session (" + why + "); sign in again"}
	}
	if sealed == "" {
		return "", ended("it gave no refresh token", nil)
	}
	var secretSealed string
	cfg, err := scanOIDCWithSecret(s.db.QueryRow(ctx, `SELECT client_secret_sealed, `+oidcColumns+` FROM tenant_oidc WHERE tenant_id = $1 AND enabled`, tenantID), &secretSealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ended("single sign-on is off", nil)
	}
	if err != nil {
		return "", err
	}
	rt, err := s.open(sealed, idpRefreshAAD(tenantID, u.ID))
	if err != nil {
		return "", err
	}
	secret := ""
	if secretSealed != "" {
		if secret, err = s.open(secretSealed, oidcAAD(tenantID)); err != nil {
			return "", err
		}
	}
	prov, err := s.provider(cfg.IssuerURL)
	if err != nil {
		return "", ended("it cannot be reached", err)
	}
	hctx := context.WithValue(ctx, oauth2.HTTPClient, s.client)
	tok, err := s.oauthConfig(cfg, secret, prov, "").TokenSource(hctx, &oauth2.Token{RefreshToken: rt}).Token()
	if err != nil {
		return "", ended("it refused to refresh", err)
	}
	if rawID, _ := tok.Extra("id_token").(string); rawID != "" {
		idt, err := prov.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: s.now}).Verify(oidc.ClientContext(ctx, s.client), rawID)
		if err != nil {
			return "", ended(tokenProblem(err), err)
		}
		// The groups of the refreshed token set the role, as at sign-in.
		var raw map[string]json.RawMessage
		_ = idt.Claims(&raw)
		if groups, ok := claimGroups(raw, cfg.GroupsClaim); ok && !cfg.Mapping.Empty() {
			role := cfg.Mapping.TenantRole(groups)
			if role == "" {
				return "", ended("your account is in no group that has a role in this tenant any more", nil)
			}
			var current Role
			narrowed := false
			err := s.inTx(ctx, func(tx pgx.Tx) error {
				if err := tx.QueryRow(ctx, `SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2 AND suspended_at IS NULL FOR UPDATE`,
					tenantID, u.ID).Scan(&current); err != nil {
					return err
				}
				actor := auth.Principal{UserID: u.ID, Email: u.Email}
				if current != role {
					if role, err = setSSORole(ctx, tx, s.log, tenantID, actor, current, role); err != nil {
						return err
					}
				}
				narrowed, err = syncIdPGrants(ctx, tx, s.log, tenantID, actor, u.ID, cfg.Mapping, groups)
				return err
			})
			if errors.Is(err, pgx.ErrNoRows) {
				return "", ended("your membership of this tenant ended", nil)
			}
			if err != nil {
				return "", err
			}
			s.access.roleChanged(u.ID, tenantID, role)
			if narrowed {
				s.access.grantsNarrowed(u.ID, tenantID)
			}
		}
	}
	next := tok.RefreshToken
	if next == "" {
		next = rt
	}
	return s.seal(next, idpRefreshAAD(tenantID, u.ID))
}

// SCIMBaseURL is the SCIM endpoint to give identity providers ("" when the
// public URL is not set).
func (s *SSOService) SCIMBaseURL() string {
	if s.publicURL == "" {
		return ""
	}
	return s.publicURL + "/scim/v2"
}
