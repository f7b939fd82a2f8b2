// Package controlplane is spendgate's management service: tenants, users and
// roles, API keys and their policies, budgets, pricing overrides and the
// audit log, over Postgres. It validates every input, authorizes every call
// by tenant membership and role, and audits every mutation in the same
// transaction. GraphQL resolvers and the CLI call it; they hold no logic.
//
// Service is assembled from one service per concern (accounts.go,
// tenants.go, keys.go, policy.go, budgets.go, overrides.go, audit.go); they
// share only core: the database, the log, authorization and the watchers
// of live subscriptions' access (access.go).
package controlplane

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/egress"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/org"
	"github.com/spendgate/spendgate/secrets"
)

// Role of a member in a tenant, or on a node of its tree (package org owns
// the role model).
type Role = org.Role

// Tenant roles, from most to least powerful; a member's rights are its
// scoped grants only.
const (
	RoleOwner  = org.RoleOwner
	RoleAdmin  = org.RoleAdmin
	RoleViewer = org.RoleViewer
	RoleMember = org.RoleMember
)

// ParseRole validates a tenant role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(s))
	if !r.Tenant() {
		return "", invalid("unknown role %q (owner, admin, viewer, member)", s)
	}
	return r, nil
}

// Service is the control plane: the services of each concern, whose methods
// it exposes as its own.
type Service struct {
	*AccountService   // sign-in, sessions, passwords, the signed-in user
	*TenantService    // tenants, members, bootstrap
	*KeyService       // API keys and the data plane's policy answer
	*BudgetService    // budgets
	*OverrideService  // pricing overrides
	*AuditService     // the audit log
	*HierarchyService // workspaces, teams, projects, scoped roles, mappings
	*SSOService       // single sign-on through tenants' identity providers
	*SCIMService      // provisioning by identity providers (SCIM 2.0)
	core              *core
}

// New returns a service. pepper is the API key HMAC secret (≥ 16 bytes).
func New(db *pgxpool.Pool, pepper []byte, tokens *auth.Tokens, log *slog.Logger) (*Service, error) {
	if len(pepper) < 16 {
		return nil, errors.New("controlplane: the API key pepper must be at least 16 bytes")
	}
	c := &core{db: db, log: log, access: newAccessWatchers(), now: time.Now}
	c.accessRecheck.Store(int64(defaultAccessRecheck))
	keys := newKeyService(c, pepper)
	accounts := &AccountService{core: c, tokens: tokens, throttle: newSignInThrottle(DefaultThrottle())}
	accounts.sso = newSSOService(c, accounts)
	return &Service{
		core:             c,
		HierarchyService: &HierarchyService{core: c, keys: keys},
		AccountService:   accounts,
		SSOService:       accounts.sso,
		SCIMService:      &SCIMService{core: c, sso: accounts.sso},
		TenantService:    &TenantService{core: c},
		KeyService:       keys,
		BudgetService:    &BudgetService{core: c},
		OverrideService:  &OverrideService{core: c},
		AuditService:     &AuditService{core: c},
	}, nil
}

// core is what every part of the control plane shares.
type core struct {
	db     *pgxpool.Pool
	log    *slog.Logger
	access *accessWatchers
	// accessRecheck is how often a watched subscription re-reads its
	// caller's access (a time.Duration; see WatchAccess).
	accessRecheck atomic.Int64
	// onListen, when set, is called once ListenAccess listens (tests).
	onListen func()
	// keyring seals secrets at rest (identity providers' client secrets and
	// refresh tokens, TOTP seeds); nil refuses to store or read them.
	keyring *secrets.Keyring
	// now is the clock of TOTP codes and SSO requests (tests fix it).
	now func() time.Time
}

// SetSecrets sets the keyring that seals secrets at rest (from
// SPENDGATE_SECRETS_KEY); call before serving. Without one, configuring
// single sign-on and turning on TOTP answer an error naming the setting.
func (s *Service) SetSecrets(k *secrets.Keyring) { s.core.keyring = k }

// SetClock replaces the clock of TOTP codes and SSO requests (tests).
func (s *Service) SetClock(now func() time.Time) { s.core.now = now }

// seal and open wrap the keyring with a client error that says what to
// configure (the cause goes to the server log only).
func (c *core) seal(plaintext, aad string) (string, error) {
	v, err := c.keyring.SealString(plaintext, aad)
	if errors.Is(err, secrets.ErrNoKeyring) {
		return "", &apierr.Error{Code: apierr.CodeUnavailable, Message: "secrets cannot be stored: the operator has not set " + secrets.EnvVar, Cause: err}
	}
	return v, err
}

func (c *core) open(sealed, aad string) (string, error) {
	v, err := c.keyring.OpenString(sealed, aad)
	if err != nil {
		return "", &apierr.Error{Code: apierr.CodeUnavailable, Message: "a stored secret cannot be read with the configured " + secrets.EnvVar + " (ask the operator)", Cause: err}
	}
	return v, nil
}

// Authorize checks that the caller holds at least role need in tenantID. Other
// services (analytics, exports, subscriptions) use it so that every tenant
// read is authorized the same way as the management API.
func (s *Service) Authorize(ctx context.Context, tenantID string, need Role) (auth.Principal, error) {
	p, _, err := s.core.authorize(ctx, tenantID, need)
	return p, err
}

// SetAccessRecheck sets how often watched subscriptions re-read their
// caller's access from Postgres (default 30 s).
func (s *Service) SetAccessRecheck(d time.Duration) { s.core.accessRecheck.Store(int64(d)) }

// SetThrottle replaces the sign-in throttle's settings (and forgets its
// counts); call before serving.
func (s *Service) SetThrottle(cfg ThrottleConfig) { s.AccountService.throttle = newSignInThrottle(cfg) }

// SetWebhookEgress sets which budget webhook destinations are allowed
// beyond public addresses (the operator's --webhook-allow); call before
// serving.
func (s *Service) SetWebhookEgress(p *egress.Policy) { s.BudgetService.egress = p }

// SetAlertEmail says whether budgets may have alert email recipients (the
// server has SMTP configured); call before serving.
func (s *Service) SetAlertEmail(on bool) { s.BudgetService.alertEmail = on }

// NotFound is the client error for an object the tenant does not have.
func NotFound(what string) error { return notFound(what) }

// --- principals and authorization ---

func principal(ctx context.Context) (auth.Principal, error) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return auth.Principal{}, apierr.ErrUnauthenticated
	}
	if !p.ExpiresAt.IsZero() && !time.Now().Before(p.ExpiresAt) {
		return auth.Principal{}, errTokenExpired
	}
	return p, nil
}

// caller returns the signed-in user after checking that the session is
// still current (for operations that name no tenant; authorize checks it
// with the membership). A websocket authenticates once, at connection init,
// and then runs operations for as long as it stays open: this is what ends
// them when the token expires or the password changes.
func (c *core) caller(ctx context.Context) (auth.Principal, error) {
	p, err := principal(ctx)
	if err != nil {
		return p, err
	}
	return p, c.checkSession(ctx, p)
}

// checkSession answers errSessionEnded when p's token version is not the
// user's current one or the user is disabled or gone.
func (c *core) checkSession(ctx context.Context, p auth.Principal) error {
	var version int64
	var disabled bool
	err := c.db.QueryRow(ctx, `SELECT token_version, disabled FROM users WHERE id = $1`, p.UserID).Scan(&version, &disabled)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (disabled || version != p.TokenVersion)) {
		return errSessionEnded
	}
	return err
}

// authorize checks the caller's role in a tenant. A tenant the caller does not
// belong to answers FORBIDDEN whether or not it exists, so ids cannot be probed.
// The same read checks that the session is current (see caller).
func (c *core) authorize(ctx context.Context, tenantID string, need Role) (auth.Principal, Role, error) {
	p, err := principal(ctx)
	if err != nil {
		return p, "", err
	}
	if !isUUID(tenantID) {
		return p, "", invalid("tenantId %q is not a valid id", tenantID)
	}
	var role *Role
	var version int64
	var disabled, suspended bool
	var gate tenantGate
	err = c.db.QueryRow(ctx, `SELECT u.token_version, u.disabled, m.role, m.suspended_at IS NOT NULL, `+gateColumns+` FROM users u
		LEFT JOIN memberships m ON m.user_id = u.id AND m.tenant_id = $1
		LEFT JOIN tenants t ON t.id = $1 LEFT JOIN tenant_oidc o ON o.tenant_id = $1
		WHERE u.id = $2`, tenantID, p.UserID).Scan(append([]any{&version, &disabled, &role, &suspended}, gate.scanTargets()...)...)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (disabled || version != p.TokenVersion)) {
		return p, "", errSessionEnded
	}
	if err != nil {
		return p, "", err
	}
	if role == nil {
		return p, "", forbidden("you are not a member of this tenant")
	}
	if suspended {
		return p, "", forbidden("your membership of this tenant is suspended (deactivated by its identity provider)")
	}
	if err := gate.admits(p, tenantID); err != nil {
		return p, "", err
	}
	if role.Rank() < need.Rank() {
		return p, *role, forbidden("this needs the %s role; you are %s", need, *role)
	}
	return p, *role, nil
}

func isUUID(s string) bool { return event.IsUUID(s) }

func checkID(what, id string) error {
	if !isUUID(id) {
		return invalid("%s %q is not a valid id", what, id)
	}
	return nil
}

// inTx runs f in a transaction.
func (c *core) inTx(ctx context.Context, f func(tx pgx.Tx) error) error {
	tx, err := c.db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // rollback after commit is a no-op
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func isUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23505"
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// getOne reads one object of a tenant by id from table: INVALID_ARGUMENT for
// a malformed id, NOT_FOUND (named what) for another tenant's or none.
func getOne[T any](ctx context.Context, q querier, table, columns, what string, scan func(pgx.Row) (T, error), tenantID, id string) (T, error) {
	var zero T
	if err := checkID("id", id); err != nil {
		return zero, err
	}
	v, err := scan(q.QueryRow(ctx, `SELECT `+columns+` FROM `+table+` WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return v, notFound(what)
	}
	return v, err
}

// deleteOne removes a tenant's row of table by id, for admins, with its
// audit entry (action kind.delete); NOT_FOUND names it what.
func (c *core) deleteOne(ctx context.Context, tenantID, id, table, what, kind string) error {
	p, _, err := c.authorize(ctx, tenantID, RoleAdmin)
	if err != nil {
		return err
	}
	if err := checkID("id", id); err != nil {
		return err
	}
	return c.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE tenant_id = $1 AND id = $2`, tenantID, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound(what)
		}
		return audit(ctx, tx, tenantID, p, kind+".delete", kind, id, nil)
	})
}
