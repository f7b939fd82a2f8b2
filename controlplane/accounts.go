package controlplane

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
)

// User is a person who can sign in.
type User struct {
	ID, Email, Name string
	CreatedAt       time.Time
}

// Session is the result of signing in.
type Session struct {
	AccessToken  string
	RefreshToken string
	ExpiresAt    time.Time
	User         User
	// SSOTenantID is the tenant whose identity provider opened the session
	// ("" for a password session).
	SSOTenantID string
}

// AccountService signs people in and manages their sessions and passwords.
type AccountService struct {
	*core
	tokens   *auth.Tokens
	throttle *signInThrottle
	sso      *SSOService
}

var (
	errBadCredentials = &apierr.Error{Code: apierr.CodeUnauthenticated, Message: "wrong email or password"}
	errTokenExpired   = &apierr.Error{Code: apierr.CodeUnauthenticated, Message: "access token expired; refresh the session or sign in again"}
	errSessionEnded   = &apierr.Error{Code: apierr.CodeUnauthenticated, Message: "this session has ended (the password was changed or the account disabled); sign in again"}
)

// SignIn checks a password and opens a session. Failures are throttled per
// account and per client address (see ThrottleConfig) and logged, without
// the password.
func (s *AccountService) SignIn(ctx context.Context, email, password string) (Session, error) {
	return s.SignInMFA(ctx, email, password, "")
}

// SignInMFA is SignIn with the second factor: an account with TOTP turned
// on needs mfaCode (a current authenticator code or an unused recovery
// code); without one the answer is MFA_REQUIRED, with a wrong one a failure
// counted like a wrong password. A user whose every tenant requires single
// sign-on (and who is not its break-glass owner) cannot sign in with a
// password at all.
func (s *AccountService) SignInMFA(ctx context.Context, email, password, mfaCode string) (Session, error) {
	email, err := cleanEmail(email)
	if err != nil {
		return Session{}, err
	}
	addr := auth.ClientAddrFrom(ctx)
	if err := s.throttled(email, addr, "sign-in"); err != nil {
		return Session{}, err
	}
	var u User
	var hash string
	var disabled bool
	var version int64
	err = s.db.QueryRow(ctx, `SELECT id, email, name, created_at, password_hash, disabled, token_version FROM users WHERE email = $1`, email).
		Scan(&u.ID, &u.Email, &u.Name, &u.CreatedAt, &hash, &disabled, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		auth.CheckPassword("$2a$10$CwTycUXWue0Thq9StjUM0uJ8.jjKe0mTYQ4R8ZKSdZDB5Yk/3eBsu", password) // equal work for unknown emails
		s.failed(email, addr, "sign-in", "unknown email")
		return Session{}, errBadCredentials
	}
	if err != nil {
		return Session{}, err
	}
	if disabled {
		s.failed(email, addr, "sign-in", "account disabled")
		return Session{}, errBadCredentials
	}
	if !auth.CheckPassword(hash, password) {
		s.failed(email, addr, "sign-in", "wrong password")
		return Session{}, errBadCredentials
	}
	if err := s.passwordAllowed(ctx, u.ID); err != nil {
		return Session{}, err
	}
	hasMFA, err := s.hasTOTP(ctx, u.ID)
	if err != nil {
		return Session{}, err
	}
	if hasMFA {
		if strings.TrimSpace(mfaCode) == "" {
			return Session{}, errMFANeeded
		}
		ok, err := s.checkSecondFactor(ctx, u.ID, mfaCode)
		if err != nil {
			return Session{}, err
		}
		if !ok {
			s.failed(email, addr, "sign-in", "wrong two-factor code")
			return Session{}, errBadSecondFactor
		}
	}
	s.throttle.succeed(email)
	return s.openSession(ctx, u, version)
}

var (
	errMFANeeded = &apierr.Error{Code: apierr.CodeMFARequired,
		Message: "enter the 6-digit code of your authenticator app (or a recovery code)"}
	errBadSecondFactor = &apierr.Error{Code: apierr.CodeUnauthenticated,
		Message: "the two-factor code is wrong, expired or was already used"}
)

// passwordAllowed refuses a password sign-in of a user all of whose
// tenants require single sign-on (the break-glass owner excepted). A user
// of no tenant, or of one tenant that allows passwords, may sign in; the
// tenants requiring SSO stay closed to that session (tenantGate).
func (s *AccountService) passwordAllowed(ctx context.Context, userID string) error {
	var members, ssoOnly int
	var names []string
	err := s.db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE o.enabled AND o.sso_required AND o.break_glass_user_id IS DISTINCT FROM m.user_id),
		coalesce(array_agg(o.display_name) FILTER (WHERE o.enabled AND o.sso_required), '{}')
		FROM memberships m LEFT JOIN tenant_oidc o ON o.tenant_id = m.tenant_id
		WHERE m.user_id = $1 AND m.suspended_at IS NULL`, userID).Scan(&members, &ssoOnly, &names)
	if err != nil {
		return err
	}
	if members > 0 && ssoOnly == members {
		return forbidden("your organisation requires single sign-on: use “Sign in with %s”", strings.Join(names, "” or “"))
	}
	return nil
}

// throttled refuses a password check of email from addr while the account
// or the address is locked by earlier failures.
func (s *AccountService) throttled(email, addr, what string) error {
	wait := s.throttle.wait(email, addr)
	if wait <= 0 {
		return nil
	}
	secs := int64((wait + time.Second - 1) / time.Second)
	s.log.Warn("controlplane: password check refused: too many failures", "what", what, "email", email, "client_addr", addr, "retry_after_s", secs)
	return newErr(apierr.CodeRateLimited, "too many failed sign-ins for this account or from this address; try again in %d s", secs)
}

// failed counts and logs a failed password check (never the password).
func (s *AccountService) failed(email, addr, what, reason string) {
	failures, locked := s.throttle.fail(email, addr)
	s.log.Warn("controlplane: password check failed", "what", what, "email", email, "client_addr", addr, "reason", reason,
		"account_failures", failures, "locked_for", locked)
}

// openSession issues an access token at the user's token version and a new
// refresh token.
func (s *AccountService) openSession(ctx context.Context, u User, version int64) (Session, error) {
	return s.openSessionVia(ctx, u, version, ssoSession{})
}

// ssoSession is what a session opened by a tenant's identity provider
// carries: the tenant (the only one it reaches) and the provider's refresh
// token, sealed, which every refresh of the session spends at the provider.
type ssoSession struct {
	tenantID, idpRefreshSealed string
}

func (s *AccountService) openSessionVia(ctx context.Context, u User, version int64, via ssoSession) (Session, error) {
	access, exp, err := s.tokens.IssueSSO(u.ID, u.Email, version, via.tenantID)
	if err != nil {
		return Session{}, err
	}
	refresh, hash, err := auth.NewRefreshToken()
	if err != nil {
		return Session{}, err
	}
	var tenant, idp any
	if via.tenantID != "" {
		tenant = via.tenantID
	}
	if via.idpRefreshSealed != "" {
		idp = via.idpRefreshSealed
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, user_id, expires_at, sso_tenant_id, idp_refresh_sealed) VALUES ($1, $2, $3, $4, $5)`,
		hash, u.ID, time.Now().Add(auth.RefreshTTL), tenant, idp); err != nil {
		return Session{}, err
	}
	return Session{AccessToken: access, RefreshToken: refresh, ExpiresAt: exp, User: u, SSOTenantID: via.tenantID}, nil
}

// Refresh trades a refresh token for a new session; the old token is spent.
//
// A session opened by a tenant's identity provider is refreshed only when
// the provider still refreshes its own token (its token endpoint is called
// with the stored, sealed refresh token): a user the provider disabled or
// signed out loses the spendgate session at the next refresh.
func (s *AccountService) Refresh(ctx context.Context, token string) (Session, error) {
	var u User
	var sess Session
	var version int64
	var ssoTenant, idpSealed *string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `UPDATE refresh_tokens SET revoked_at = now()
			WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now() RETURNING user_id, sso_tenant_id, idp_refresh_sealed`,
			auth.HashRefreshToken(token)).Scan(&u.ID, &ssoTenant, &idpSealed)
		if errors.Is(err, pgx.ErrNoRows) {
			return &apierr.Error{Code: apierr.CodeUnauthenticated, Message: "refresh token is invalid, expired or already used; sign in again"}
		}
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `SELECT email, name, created_at, token_version FROM users WHERE id = $1 AND NOT disabled`, u.ID).
			Scan(&u.Email, &u.Name, &u.CreatedAt, &version)
		if errors.Is(err, pgx.ErrNoRows) {
			return errSessionEnded
		}
		return err
	})
	if err != nil {
		return sess, err
	}
	if ssoTenant != nil {
		sealed := ""
		if idpSealed != nil {
			sealed = *idpSealed
		}
		next, err := s.sso.refreshAtProvider(ctx, *ssoTenant, u, sealed)
		if err != nil {
			return sess, err
		}
		return s.openSessionVia(ctx, u, version, ssoSession{tenantID: *ssoTenant, idpRefreshSealed: next})
	}
	return s.openSession(ctx, u, version)
}

// SignOut revokes a refresh token.
func (s *AccountService) SignOut(ctx context.Context, token string) error {
	_, err := s.db.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL`, auth.HashRefreshToken(token))
	return err
}

// ChangePassword sets the signed-in user's password after checking the
// current one, and ends every session of the user, this one included: the
// user's token version is bumped, so every access token issued before stops
// working on its next request, and all refresh tokens are revoked. Whoever
// knew the old password is signed out at once.
func (s *AccountService) ChangePassword(ctx context.Context, current, next string) error {
	p, err := s.caller(ctx)
	if err != nil {
		return err
	}
	// A stolen access token must not make the current password guessable.
	if err := s.throttled(p.Email, auth.ClientAddrFrom(ctx), "change-password"); err != nil {
		return err
	}
	var hash string
	err = s.db.QueryRow(ctx, `SELECT password_hash FROM users WHERE id = $1 AND NOT disabled`, p.UserID).Scan(&hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return apierr.ErrUnauthenticated
	}
	if err != nil {
		return err
	}
	if !auth.CheckPassword(hash, current) {
		s.failed(p.Email, auth.ClientAddrFrom(ctx), "change-password", "wrong current password")
		return &apierr.Error{Code: apierr.CodeUnauthenticated, Message: "the current password is wrong"}
	}
	newHash, err := auth.HashPassword(next)
	if err != nil {
		return invalid("new password: %v", err)
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2, token_version = token_version + 1 WHERE id = $1`, p.UserID, newHash); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL`, p.UserID); err != nil {
			return err
		}
		if err := notifyAccess(ctx, tx, accessChange{User: p.UserID}); err != nil {
			return err
		}
		// Not a tenant's event: recorded without a tenant, for operators.
		return audit(ctx, tx, "", p, "user.password", "user", p.UserID, nil)
	})
	if err == nil {
		s.access.sessionsEnded(p.UserID) // and so do the user's live subscriptions
	}
	return err
}

// Authenticate turns an access token into a principal (HTTP middleware and
// websocket connection init use it): the token must be signed and
// unexpired. Whether its version is still the user's is checked by every
// operation, in the same read as the caller's membership (authorize,
// caller), so a password change ends sessions at their next operation at no
// extra query per request, also on a websocket authenticated earlier.
func (s *AccountService) Authenticate(_ context.Context, token string) (auth.Principal, error) {
	p, err := s.tokens.Verify(token)
	if err != nil {
		return auth.Principal{}, &apierr.Error{Code: apierr.CodeUnauthenticated, Message: "access token is invalid or expired; refresh the session or sign in again"}
	}
	return p, nil
}

// Me returns the signed-in user.
func (s *AccountService) Me(ctx context.Context) (User, error) {
	p, err := s.caller(ctx)
	if err != nil {
		return User{}, err
	}
	var u User
	err = s.db.QueryRow(ctx, `SELECT id, email, name, created_at FROM users WHERE id = $1`, p.UserID).Scan(&u.ID, &u.Email, &u.Name, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, apierr.ErrUnauthenticated
	}
	return u, err
}
