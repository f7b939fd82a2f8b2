package controlplane

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

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
}

// Tenant is an organisation whose spend is tracked; Role is the caller's.
type Tenant struct {
	ID, Name, Slug string
	CreatedAt      time.Time
	Role           Role
}

// Member is a user's membership of a tenant.
type Member struct {
	User      User
	Role      Role
	CreatedAt time.Time
}

var errBadCredentials = &Error{Code: CodeUnauthenticated, Message: "wrong email or password"}

// SignIn checks a password and opens a session.
func (s *Service) SignIn(ctx context.Context, email, password string) (Session, error) {
	email, err := cleanEmail(email)
	if err != nil {
		return Session{}, err
	}
	var u User
	var hash string
	var disabled bool
	err = s.db.QueryRow(ctx, `SELECT id, email, name, created_at, password_hash, disabled FROM users WHERE email = $1`, email).
		Scan(&u.ID, &u.Email, &u.Name, &u.CreatedAt, &hash, &disabled)
	if errors.Is(err, pgx.ErrNoRows) {
		auth.CheckPassword("$2a$10$CwTycUXWue0Thq9StjUM0uJ8.jjKe0mTYQ4R8ZKSdZDB5Yk/3eBsu", password) // equal work for unknown emails
		return Session{}, errBadCredentials
	}
	if err != nil {
		return Session{}, err
	}
	if disabled || !auth.CheckPassword(hash, password) {
		return Session{}, errBadCredentials
	}
	return s.openSession(ctx, u)
}

func (s *Service) openSession(ctx context.Context, u User) (Session, error) {
	access, exp, err := s.tokens.Issue(u.ID, u.Email)
	if err != nil {
		return Session{}, err
	}
	refresh, hash, err := auth.NewRefreshToken()
	if err != nil {
		return Session{}, err
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3)`,
		hash, u.ID, time.Now().Add(auth.RefreshTTL)); err != nil {
		return Session{}, err
	}
	return Session{AccessToken: access, RefreshToken: refresh, ExpiresAt: exp, User: u}, nil
}

// Refresh trades a refresh token for a new session; the old token is spent.
func (s *Service) Refresh(ctx context.Context, token string) (Session, error) {
	var u User
	var sess Session
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `UPDATE refresh_tokens SET revoked_at = now()
			WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now() RETURNING user_id`,
			auth.HashRefreshToken(token)).Scan(&u.ID)
		if errors.Is(err, pgx.ErrNoRows) {
			return &Error{Code: CodeUnauthenticated, Message: "refresh token is invalid, expired or already used; sign in again"}
		}
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT email, name, created_at FROM users WHERE id = $1 AND NOT disabled`, u.ID).Scan(&u.Email, &u.Name, &u.CreatedAt)
	})
	if err != nil {
		return sess, err
	}
	return s.openSession(ctx, u)
}

// SignOut revokes a refresh token.
func (s *Service) SignOut(ctx context.Context, token string) error {
	_, err := s.db.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL`, auth.HashRefreshToken(token))
	return err
}

// ChangePassword sets the signed-in user's password after checking the
// current one, and ends every session of the user, this one included: all
// refresh tokens are revoked (access tokens already issued live out their
// short expiry), so whoever knew the old password is signed out.
func (s *Service) ChangePassword(ctx context.Context, current, next string) error {
	p, err := principal(ctx)
	if err != nil {
		return err
	}
	var hash string
	err = s.db.QueryRow(ctx, `SELECT password_hash FROM users WHERE id = $1 AND NOT disabled`, p.UserID).Scan(&hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrUnauthenticated
	}
	if err != nil {
		return err
	}
	if !auth.CheckPassword(hash, current) {
		return &Error{Code: CodeUnauthenticated, Message: "the current password is wrong"}
	}
	newHash, err := auth.HashPassword(next)
	if err != nil {
		return invalid("new password: %v", err)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1`, p.UserID, newHash); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL`, p.UserID); err != nil {
			return err
		}
		// Not a tenant's event: recorded without a tenant, for operators.
		return audit(ctx, tx, "", p, "user.password", "user", p.UserID, nil)
	})
}

// Authenticate turns an access token into a principal (HTTP middleware and
// websocket connection init use it).
func (s *Service) Authenticate(ctx context.Context, token string) (auth.Principal, error) {
	uid, email, err := s.tokens.Verify(token)
	if err != nil {
		return auth.Principal{}, &Error{Code: CodeUnauthenticated, Message: "access token is invalid or expired; refresh the session or sign in again"}
	}
	return auth.Principal{UserID: uid, Email: email}, nil
}

// Me returns the signed-in user.
func (s *Service) Me(ctx context.Context) (User, error) {
	p, err := principal(ctx)
	if err != nil {
		return User{}, err
	}
	var u User
	err = s.db.QueryRow(ctx, `SELECT id, email, name, created_at FROM users WHERE id = $1`, p.UserID).Scan(&u.ID, &u.Email, &u.Name, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, ErrUnauthenticated
	}
	return u, err
}

// Tenants lists the caller's tenants.
func (s *Service) Tenants(ctx context.Context) ([]Tenant, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT t.id, t.name, t.slug, t.created_at, m.role FROM tenants t
		JOIN memberships m ON m.tenant_id = t.id WHERE m.user_id = $1 ORDER BY t.name, t.id`, p.UserID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tenant, error) {
		var t Tenant
		return t, r.Scan(&t.ID, &t.Name, &t.Slug, &t.CreatedAt, &t.Role)
	})
}

// Tenant returns one of the caller's tenants.
func (s *Service) Tenant(ctx context.Context, tenantID string) (Tenant, error) {
	_, role, err := s.authorize(ctx, tenantID, RoleViewer)
	if err != nil {
		return Tenant{}, err
	}
	t := Tenant{Role: role}
	err = s.db.QueryRow(ctx, `SELECT id, name, slug, created_at FROM tenants WHERE id = $1`, tenantID).Scan(&t.ID, &t.Name, &t.Slug, &t.CreatedAt)
	return t, err
}

// CreateTenant creates a tenant owned by the caller.
func (s *Service) CreateTenant(ctx context.Context, name, slug string) (Tenant, error) {
	p, err := principal(ctx)
	if err != nil {
		return Tenant{}, err
	}
	return s.createTenant(ctx, p, name, slug)
}

func (s *Service) createTenant(ctx context.Context, p auth.Principal, name, slug string) (Tenant, error) {
	var t Tenant
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		t, err = createTenantTx(ctx, tx, p, name, slug)
		return err
	})
	return t, err
}

// createTenantTx creates a tenant owned by p inside tx.
func createTenantTx(ctx context.Context, tx pgx.Tx, p auth.Principal, name, slug string) (Tenant, error) {
	name, err := cleanName("name", name)
	if err != nil {
		return Tenant{}, err
	}
	if slug, err = cleanSlug(slug); err != nil {
		return Tenant{}, err
	}
	t := Tenant{Name: name, Slug: slug, Role: RoleOwner}
	if err := tx.QueryRow(ctx, `INSERT INTO tenants (name, slug) VALUES ($1, $2) RETURNING id, created_at`, name, slug).Scan(&t.ID, &t.CreatedAt); err != nil {
		if isUniqueViolation(err) {
			return Tenant{}, newErr(CodeConflict, "a tenant with slug %q already exists", slug)
		}
		return Tenant{}, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, 'owner')`, t.ID, p.UserID); err != nil {
		return Tenant{}, err
	}
	return t, audit(ctx, tx, t.ID, p, "tenant.create", "tenant", t.ID, map[string]any{"name": name, "slug": slug})
}

// RenameTenant changes a tenant's display name.
func (s *Service) RenameTenant(ctx context.Context, tenantID, name string) (Tenant, error) {
	p, _, err := s.authorize(ctx, tenantID, RoleAdmin)
	if err != nil {
		return Tenant{}, err
	}
	if name, err = cleanName("name", name); err != nil {
		return Tenant{}, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE tenants SET name = $2 WHERE id = $1`, tenantID, name); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "tenant.rename", "tenant", tenantID, map[string]any{"name": name})
	})
	if err != nil {
		return Tenant{}, err
	}
	return s.Tenant(ctx, tenantID)
}

// Members lists a tenant's members.
func (s *Service) Members(ctx context.Context, tenantID string, page Page) (Connection[Member], error) {
	if _, _, err := s.authorize(ctx, tenantID, RoleViewer); err != nil {
		return Connection[Member]{}, err
	}
	limit, err := page.limit()
	if err != nil {
		return Connection[Member]{}, err
	}
	where, args, err := keyset(page, 2)
	if err != nil {
		return Connection[Member]{}, err
	}
	where = replaceCols(where, "m.created_at", "m.user_id::text")
	rows, err := s.db.Query(ctx, `SELECT u.id, u.email, u.name, u.created_at, m.role, m.created_at FROM memberships m
		JOIN users u ON u.id = m.user_id WHERE m.tenant_id = $1`+where+` ORDER BY m.created_at DESC, m.user_id DESC LIMIT `+itoa(limit+1),
		append([]any{tenantID}, args...)...)
	if err != nil {
		return Connection[Member]{}, err
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Member, error) {
		var m Member
		return m, r.Scan(&m.User.ID, &m.User.Email, &m.User.Name, &m.User.CreatedAt, &m.Role, &m.CreatedAt)
	})
	if err != nil {
		return Connection[Member]{}, err
	}
	return paginate(items, limit, func(m Member) (time.Time, string) { return m.CreatedAt, m.User.ID }), nil
}

// AddMember adds a user to a tenant, creating the user when the email is new
// (then a password is required). Only owners can add owners.
func (s *Service) AddMember(ctx context.Context, tenantID, email, name, password string, role Role) (Member, error) {
	p, myRole, err := s.authorize(ctx, tenantID, RoleAdmin)
	if err != nil {
		return Member{}, err
	}
	if role.rank() == 0 {
		return Member{}, invalid("unknown role %q", role)
	}
	if role == RoleOwner && myRole != RoleOwner {
		return Member{}, forbidden("only owners can add owners")
	}
	if email, err = cleanEmail(email); err != nil {
		return Member{}, err
	}
	if len(name) > maxName {
		return Member{}, invalid("name must be at most %d characters", maxName)
	}
	m := Member{Role: role}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id, email, name, created_at FROM users WHERE email = $1`, email).Scan(&m.User.ID, &m.User.Email, &m.User.Name, &m.User.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			if password == "" {
				return invalid("no user has email %s yet: give a password to create the account", email)
			}
			hash, herr := auth.HashPassword(password)
			if herr != nil {
				return invalid("%v", herr)
			}
			err = tx.QueryRow(ctx, `INSERT INTO users (email, name, password_hash) VALUES ($1, $2, $3) RETURNING id, email, name, created_at`,
				email, name, hash).Scan(&m.User.ID, &m.User.Email, &m.User.Name, &m.User.CreatedAt)
		}
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3) RETURNING created_at`,
			tenantID, m.User.ID, role).Scan(&m.CreatedAt); err != nil {
			if isUniqueViolation(err) {
				return newErr(CodeConflict, "%s is already a member", email)
			}
			return err
		}
		return audit(ctx, tx, tenantID, p, "member.add", "user", m.User.ID, map[string]any{"email": email, "role": role})
	})
	return m, err
}

// UpdateMemberRole changes a member's role. Only owners grant or take away the
// owner role, and a tenant always keeps at least one owner.
func (s *Service) UpdateMemberRole(ctx context.Context, tenantID, userID string, role Role) (Member, error) {
	p, myRole, err := s.authorize(ctx, tenantID, RoleAdmin)
	if err != nil {
		return Member{}, err
	}
	if err := checkID("userId", userID); err != nil {
		return Member{}, err
	}
	if role.rank() == 0 {
		return Member{}, invalid("unknown role %q", role)
	}
	var m Member
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var current Role
		err := tx.QueryRow(ctx, `SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2 FOR UPDATE`, tenantID, userID).Scan(&current)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("member")
		}
		if err != nil {
			return err
		}
		if (current == RoleOwner || role == RoleOwner) && myRole != RoleOwner {
			return forbidden("only owners can grant or take away the owner role")
		}
		if current == RoleOwner && role != RoleOwner {
			if err := lastOwnerGuard(ctx, tx, tenantID); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, `UPDATE memberships SET role = $3 WHERE tenant_id = $1 AND user_id = $2 RETURNING created_at`,
			tenantID, userID, role).Scan(&m.CreatedAt); err != nil {
			return err
		}
		m.Role = role
		if err := tx.QueryRow(ctx, `SELECT id, email, name, created_at FROM users WHERE id = $1`, userID).Scan(&m.User.ID, &m.User.Email, &m.User.Name, &m.User.CreatedAt); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "member.role", "user", userID, map[string]any{"from": current, "to": role})
	})
	return m, err
}

func lastOwnerGuard(ctx context.Context, tx pgx.Tx, tenantID string) error {
	var owners int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE tenant_id = $1 AND role = 'owner'`, tenantID).Scan(&owners); err != nil {
		return err
	}
	if owners <= 1 {
		return newErr(CodeConflict, "a tenant must keep at least one owner")
	}
	return nil
}

// RemoveMember removes a user from a tenant.
func (s *Service) RemoveMember(ctx context.Context, tenantID, userID string) error {
	p, myRole, err := s.authorize(ctx, tenantID, RoleAdmin)
	if err != nil {
		return err
	}
	if err := checkID("userId", userID); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var current Role
		err := tx.QueryRow(ctx, `SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2 FOR UPDATE`, tenantID, userID).Scan(&current)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("member")
		}
		if err != nil {
			return err
		}
		if current == RoleOwner {
			if myRole != RoleOwner {
				return forbidden("only owners can remove owners")
			}
			if err := lastOwnerGuard(ctx, tx, tenantID); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "member.remove", "user", userID, nil)
	})
}

// CreateOwner bootstraps a tenant and its first owner (CLI and first start),
// all or nothing: a refused tenant (say, a taken slug) leaves no account
// behind. An existing user with that email becomes owner of the new tenant;
// the password is then not used (it sets the password of new accounts only).
func (s *Service) CreateOwner(ctx context.Context, email, password, tenantName, slug string) (User, Tenant, error) {
	email, err := cleanEmail(email)
	if err != nil {
		return User{}, Tenant{}, err
	}
	var u User
	var t Tenant
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id, email, name, created_at FROM users WHERE email = $1`, email).Scan(&u.ID, &u.Email, &u.Name, &u.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			hash, herr := auth.HashPassword(password)
			if herr != nil {
				return invalid("%v", herr)
			}
			err = tx.QueryRow(ctx, `INSERT INTO users (email, name, password_hash) VALUES ($1, '', $2) RETURNING id, email, name, created_at`,
				email, hash).Scan(&u.ID, &u.Email, &u.Name, &u.CreatedAt)
			if isUniqueViolation(err) {
				return newErr(CodeConflict, "%s was created at the same time; run the command again", email)
			}
		}
		if err != nil {
			return err
		}
		t, err = createTenantTx(ctx, tx, auth.Principal{UserID: u.ID, Email: u.Email}, tenantName, slug)
		return err
	})
	if err != nil {
		return User{}, Tenant{}, err
	}
	return u, t, nil
}

// AuditEntry is one audited mutation.
type AuditEntry struct {
	ID                                  int64
	Actor, Action, TargetType, TargetID string
	Details                             string
	CreatedAt                           time.Time
}

// AuditLog lists a tenant's audit log, newest first (admins).
func (s *Service) AuditLog(ctx context.Context, tenantID string, page Page) (Connection[AuditEntry], error) {
	if _, _, err := s.authorize(ctx, tenantID, RoleAdmin); err != nil {
		return Connection[AuditEntry]{}, err
	}
	limit, err := page.limit()
	if err != nil {
		return Connection[AuditEntry]{}, err
	}
	where, args, err := keyset(page, 2)
	if err != nil {
		return Connection[AuditEntry]{}, err
	}
	where = replaceCols(where, "created_at", "lpad(id::text, 20, '0')")
	if len(args) == 2 {
		args[1] = padID(args[1].(string))
	}
	rows, err := s.db.Query(ctx, `SELECT id, actor, action, target_type, target_id, details::text, created_at FROM audit_log
		WHERE tenant_id = $1`+where+` ORDER BY created_at DESC, id DESC LIMIT `+itoa(limit+1), append([]any{tenantID}, args...)...)
	if err != nil {
		return Connection[AuditEntry]{}, err
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var a AuditEntry
		return a, r.Scan(&a.ID, &a.Actor, &a.Action, &a.TargetType, &a.TargetID, &a.Details, &a.CreatedAt)
	})
	if err != nil {
		return Connection[AuditEntry]{}, err
	}
	return paginate(items, limit, func(a AuditEntry) (time.Time, string) { return a.CreatedAt, itoa64(a.ID) }), nil
}
