package controlplane

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
)

// Tenant is an organisation whose spend is tracked; Role is the caller's.
type Tenant struct {
	ID, Name, Slug string
	CreatedAt      time.Time
	Role           Role
	// MFARequired: password sessions need two-factor authentication.
	MFARequired bool
	gate        tenantGate
}

// Member is a user's membership of a tenant.
type Member struct {
	User      User
	Role      Role
	CreatedAt time.Time
	// Suspended: the identity provider deactivated the member (SCIM).
	Suspended bool
}

// TenantService manages tenants and their members.
type TenantService struct{ *core }

// Tenants lists the caller's tenants.
func (s *TenantService) Tenants(ctx context.Context) ([]Tenant, error) {
	p, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	// Tenants the session cannot reach because of how it signed in (another
	// tenant's single sign-on, or a password where SSO is required) are left
	// out; a tenant requiring two-factor authentication is listed (the user
	// can turn it on).
	rows, err := s.db.Query(ctx, `SELECT t.id, t.name, t.slug, t.created_at, t.mfa_required, m.role, `+gateColumns+` FROM tenants t
		JOIN memberships m ON m.tenant_id = t.id AND m.suspended_at IS NULL JOIN users u ON u.id = m.user_id
		LEFT JOIN tenant_oidc o ON o.tenant_id = t.id WHERE m.user_id = $1 ORDER BY t.name, t.id`, p.UserID)
	if err != nil {
		return nil, err
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tenant, error) {
		var t Tenant
		var g tenantGate
		err := r.Scan(append([]any{&t.ID, &t.Name, &t.Slug, &t.CreatedAt, &t.MFARequired, &t.Role}, g.scanTargets()...)...)
		t.gate = g
		return t, err
	})
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, t := range all {
		if err := t.gate.admits(p, t.ID); err == nil || errors.Is(err, errMFARequired) {
			out = append(out, t)
		}
	}
	return out, nil
}

// Tenant returns one of the caller's tenants.
func (s *TenantService) Tenant(ctx context.Context, tenantID string) (Tenant, error) {
	_, role, err := s.authorize(ctx, tenantID, RoleMember)
	if err != nil {
		return Tenant{}, err
	}
	t := Tenant{Role: role}
	err = s.db.QueryRow(ctx, `SELECT id, name, slug, created_at, mfa_required FROM tenants WHERE id = $1`, tenantID).Scan(&t.ID, &t.Name, &t.Slug, &t.CreatedAt, &t.MFARequired)
	return t, err
}

// CreateTenant creates a tenant owned by the caller.
func (s *TenantService) CreateTenant(ctx context.Context, name, slug string) (Tenant, error) {
	p, err := s.caller(ctx)
	if err != nil {
		return Tenant{}, err
	}
	return s.createTenant(ctx, p, name, slug)
}

func (s *TenantService) createTenant(ctx context.Context, p auth.Principal, name, slug string) (Tenant, error) {
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
			return Tenant{}, newErr(apierr.CodeConflict, "a tenant with slug %q already exists", slug)
		}
		return Tenant{}, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, 'owner')`, t.ID, p.UserID); err != nil {
		return Tenant{}, err
	}
	return t, audit(ctx, tx, t.ID, p, "tenant.create", "tenant", t.ID, map[string]any{"name": name, "slug": slug})
}

// RenameTenant changes a tenant's display name.
func (s *TenantService) RenameTenant(ctx context.Context, tenantID, name string) (Tenant, error) {
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

// memberOrder lists members newest first.
var memberOrder = keysetCols{created: "m.created_at", id: "m.user_id", cursorID: byCreated.cursorID}

// Members lists a tenant's members.
func (s *TenantService) Members(ctx context.Context, tenantID string, page Page) (Connection[Member], error) {
	if _, _, err := s.authorize(ctx, tenantID, RoleViewer); err != nil {
		return Connection[Member]{}, err
	}
	return listPage(ctx, s.db, page, memberOrder, `SELECT u.id, u.email, u.name, u.created_at, m.role, m.created_at, m.suspended_at IS NOT NULL FROM memberships m
		JOIN users u ON u.id = m.user_id WHERE m.tenant_id = $1`, []any{tenantID},
		func(r pgx.Row) (Member, error) {
			var m Member
			return m, r.Scan(&m.User.ID, &m.User.Email, &m.User.Name, &m.User.CreatedAt, &m.Role, &m.CreatedAt, &m.Suspended)
		}, func(m Member) (time.Time, string) { return m.CreatedAt, m.User.ID })
}

// AddMember adds a user to a tenant, creating the user when the email is new
// (then a password is required). Only owners can add owners.
func (s *TenantService) AddMember(ctx context.Context, tenantID, email, name, password string, role Role) (Member, error) {
	p, myRole, err := s.authorize(ctx, tenantID, RoleAdmin)
	if err != nil {
		return Member{}, err
	}
	if !role.Tenant() {
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
				return newErr(apierr.CodeConflict, "%s is already a member", email)
			}
			return err
		}
		return audit(ctx, tx, tenantID, p, "member.add", "user", m.User.ID, map[string]any{"email": email, "role": role})
	})
	return m, err
}

// UpdateMemberRole changes a member's role. Only owners grant or take away the
// owner role, and a tenant always keeps at least one owner.
func (s *TenantService) UpdateMemberRole(ctx context.Context, tenantID, userID string, role Role) (Member, error) {
	p, myRole, err := s.authorize(ctx, tenantID, RoleAdmin)
	if err != nil {
		return Member{}, err
	}
	if err := checkID("userId", userID); err != nil {
		return Member{}, err
	}
	if !role.Tenant() {
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
		if err := notifyAccess(ctx, tx, accessChange{User: userID, Tenant: tenantID, Role: role}); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "member.role", "user", userID, map[string]any{"from": current, "to": role})
	})
	if err == nil {
		s.access.roleChanged(userID, tenantID, role) // live subscriptions needing more end now
	}
	return m, err
}

func lastOwnerGuard(ctx context.Context, tx pgx.Tx, tenantID string) error {
	var owners int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE tenant_id = $1 AND role = 'owner'`, tenantID).Scan(&owners); err != nil {
		return err
	}
	if owners <= 1 {
		return newErr(apierr.CodeConflict, "a tenant must keep at least one owner")
	}
	return nil
}

// RemoveMember removes a user from a tenant.
func (s *TenantService) RemoveMember(ctx context.Context, tenantID, userID string) error {
	p, myRole, err := s.authorize(ctx, tenantID, RoleAdmin)
	if err != nil {
		return err
	}
	if err := checkID("userId", userID); err != nil {
		return err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
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
		if err := notifyAccess(ctx, tx, accessChange{User: userID, Tenant: tenantID}); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "member.remove", "user", userID, nil)
	})
	if err == nil {
		s.access.roleChanged(userID, tenantID, "") // the removed member's live subscriptions end now
	}
	return err
}

// CreateOwner bootstraps a tenant and its first owner (CLI and first start),
// all or nothing: a refused tenant (say, a taken slug) leaves no account
// behind. An existing user with that email becomes owner of the new tenant;
// the password is then not used (it sets the password of new accounts only).
func (s *TenantService) CreateOwner(ctx context.Context, email, password, tenantName, slug string) (User, Tenant, error) {
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
				return newErr(apierr.CodeConflict, "%s was created at the same time; run the command again", email)
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
