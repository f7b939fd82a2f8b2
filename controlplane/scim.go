package controlplane

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
)

// SCIM 2.0 provisioning: the identity provider creates, updates and
// deactivates a tenant's users and groups with a bearer token of the
// tenant. Membership follows: an active user whose groups (through the
// tenant's RoleMapping) grant a role is a member with that role; a user the
// provider deactivated, or one no group grants a role any more, is
// suspended (sessions of the tenant's single sign-on end, and so do live
// subscriptions). The protocol (JSON shapes, filters, PATCH) is package
// scim's; this is the state.

// SCIMService keeps provisioned users and groups.
type SCIMService struct {
	*core
	sso *SSOService
}

// SCIMToken is a tenant's provisioning token as listed (never the secret).
type SCIMToken struct {
	ID, TenantID, Name, Prefix string
	CreatedAt                  time.Time
	LastUsedAt, RevokedAt      *time.Time
	RotatedFromID              string
}

// SCIMUser is a provisioned user of a tenant.
type SCIMUser struct {
	ID, UserName, ExternalID           string
	DisplayName, GivenName, FamilyName string
	Email                              string
	Active                             bool
	Groups                             []SCIMRef
	Created, Updated                   time.Time
}

// SCIMGroup is a provisioned group of a tenant.
type SCIMGroup struct {
	ID, DisplayName, ExternalID string
	Members                     []SCIMRef
	Created, Updated            time.Time
}

// SCIMRef names a user or group (id and display text).
type SCIMRef struct{ ID, Display string }

// --- tokens (owners) ---

const scimTokenColumns = `id, tenant_id, name, prefix, created_at, last_used_at, revoked_at, coalesce(rotated_from::text, '')`

func scanSCIMToken(r pgx.Row) (SCIMToken, error) {
	var t SCIMToken
	return t, r.Scan(&t.ID, &t.TenantID, &t.Name, &t.Prefix, &t.CreatedAt, &t.LastUsedAt, &t.RevokedAt, &t.RotatedFromID)
}

const b62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func randomText(alphabet string, n int) (string, error) {
	b := make([]byte, n)
	for i := range b {
		x, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		b[i] = alphabet[x.Int64()]
	}
	return string(b), nil
}

func newSCIMSecret() (token, prefix string, hash []byte, err error) {
	if prefix, err = randomText("abcdefghijklmnopqrstuvwxyz234567", 10); err != nil {
		return
	}
	var secret string
	if secret, err = randomText(b62, 40); err != nil {
		return
	}
	token = "sgscim_" + prefix + "_" + secret
	return token, prefix, hashSCIMToken(token), nil
}

func hashSCIMToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// SCIMTokens lists a tenant's provisioning tokens (owners).
func (s *SCIMService) SCIMTokens(ctx context.Context, tenantID string) ([]SCIMToken, error) {
	if _, _, err := s.authorize(ctx, tenantID, RoleOwner); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+scimTokenColumns+` FROM scim_tokens WHERE tenant_id = $1 ORDER BY created_at DESC, id LIMIT 100`, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (SCIMToken, error) { return scanSCIMToken(r) })
}

// CreateSCIMToken issues a provisioning token (owners: the token manages
// members, owners included); the secret is returned once.
func (s *SCIMService) CreateSCIMToken(ctx context.Context, tenantID, name string) (SCIMToken, string, error) {
	p, _, err := s.authorize(ctx, tenantID, RoleOwner)
	if err != nil {
		return SCIMToken{}, "", err
	}
	if name, err = cleanName("name", name); err != nil {
		return SCIMToken{}, "", err
	}
	var t SCIMToken
	var secret string
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		t, secret, err = insertSCIMToken(ctx, tx, tenantID, name, p.UserID, nil)
		if err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "scim_token.create", "scim_token", t.ID, map[string]any{"name": name, "prefix": t.Prefix})
	})
	return t, secret, err
}

func insertSCIMToken(ctx context.Context, tx pgx.Tx, tenantID, name, by string, from any) (SCIMToken, string, error) {
	secret, prefix, hash, err := newSCIMSecret()
	if err != nil {
		return SCIMToken{}, "", err
	}
	t, err := scanSCIMToken(tx.QueryRow(ctx, `INSERT INTO scim_tokens (tenant_id, name, prefix, token_hash, created_by, rotated_from)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+scimTokenColumns, tenantID, name, prefix, hash, by, from))
	return t, secret, err
}

// RotateSCIMToken revokes a token and issues its successor (same name).
func (s *SCIMService) RotateSCIMToken(ctx context.Context, tenantID, id string) (SCIMToken, string, error) {
	p, _, err := s.authorize(ctx, tenantID, RoleOwner)
	if err != nil {
		return SCIMToken{}, "", err
	}
	if err := checkID("id", id); err != nil {
		return SCIMToken{}, "", err
	}
	var t SCIMToken
	var secret string
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var name string
		err := tx.QueryRow(ctx, `UPDATE scim_tokens SET revoked_at = now() WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING name`, tenantID, id).Scan(&name)
		if errors.Is(err, pgx.ErrNoRows) {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM scim_tokens WHERE tenant_id = $1 AND id = $2)`, tenantID, id).Scan(&exists); err != nil {
				return err
			}
			if exists {
				return newErr(apierr.CodeConflict, "this SCIM token is revoked; create a new one")
			}
			return notFound("SCIM token")
		}
		if err != nil {
			return err
		}
		if t, secret, err = insertSCIMToken(ctx, tx, tenantID, name, p.UserID, id); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "scim_token.rotate", "scim_token", t.ID, map[string]any{"from": id, "prefix": t.Prefix})
	})
	return t, secret, err
}

// RevokeSCIMToken stops a token at once.
func (s *SCIMService) RevokeSCIMToken(ctx context.Context, tenantID, id string) (SCIMToken, error) {
	p, _, err := s.authorize(ctx, tenantID, RoleOwner)
	if err != nil {
		return SCIMToken{}, err
	}
	if err := checkID("id", id); err != nil {
		return SCIMToken{}, err
	}
	var t SCIMToken
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		t, err = scanSCIMToken(tx.QueryRow(ctx, `UPDATE scim_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE tenant_id = $1 AND id = $2 RETURNING `+scimTokenColumns, tenantID, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("SCIM token")
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "scim_token.revoke", "scim_token", id, nil)
	})
	return t, err
}

// SCIMAuthenticate returns the tenant of a provisioning token (the part
// after "Bearer "); a wrong or revoked token is UNAUTHENTICATED.
func (s *SCIMService) SCIMAuthenticate(ctx context.Context, token string) (string, error) {
	if !strings.HasPrefix(token, "sgscim_") || len(token) > 100 {
		return "", apierr.New(apierr.CodeUnauthenticated, "wrong or revoked SCIM token")
	}
	var tenantID, id string
	var last *time.Time
	err := s.db.QueryRow(ctx, `SELECT tenant_id, id, last_used_at FROM scim_tokens WHERE token_hash = $1 AND revoked_at IS NULL`, hashSCIMToken(token)).Scan(&tenantID, &id, &last)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", apierr.New(apierr.CodeUnauthenticated, "wrong or revoked SCIM token")
	}
	if err != nil {
		return "", err
	}
	if last == nil || time.Since(*last) > time.Minute {
		_, _ = s.db.Exec(ctx, `UPDATE scim_tokens SET last_used_at = now() WHERE id = $1`, id)
	}
	return tenantID, nil
}

// scimActor is who the audit log names for provisioning changes.
func scimActor() auth.Principal { return auth.Principal{Email: "scim"} }

// --- users ---

const scimUserColumns = `su.user_id, su.user_name, su.external_id, su.display_name, su.given_name, su.family_name, u.email, su.active, su.created_at, su.updated_at`

func scanSCIMUser(r pgx.Row) (SCIMUser, error) {
	var u SCIMUser
	return u, r.Scan(&u.ID, &u.UserName, &u.ExternalID, &u.DisplayName, &u.GivenName, &u.FamilyName, &u.Email, &u.Active, &u.Created, &u.Updated)
}

func (s *SCIMService) userGroups(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}, tenantID string, users []SCIMUser) error {
	for i := range users {
		rows, err := q.Query(ctx, `SELECT g.id, g.display_name FROM scim_group_members gm JOIN scim_groups g ON g.id = gm.group_id
			WHERE g.tenant_id = $1 AND gm.user_id = $2 ORDER BY g.display_name`, tenantID, users[i].ID)
		if err != nil {
			return err
		}
		users[i].Groups, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (SCIMRef, error) {
			var g SCIMRef
			return g, r.Scan(&g.ID, &g.Display)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func validateSCIMUser(u *SCIMUser) error {
	u.UserName = strings.TrimSpace(u.UserName)
	if u.UserName == "" || len(u.UserName) > 254 {
		return invalid("userName must be 1-254 characters")
	}
	email := u.Email
	if email == "" && strings.Contains(u.UserName, "@") {
		email = u.UserName
	}
	var err error
	if u.Email, err = cleanEmail(email); err != nil {
		return invalid("the user needs an email: a primary email in emails, or an email as userName")
	}
	for _, f := range []*string{&u.DisplayName, &u.GivenName, &u.FamilyName, &u.ExternalID} {
		if len(*f) > 256 {
			return invalid("names and externalId must be at most 256 characters")
		}
	}
	return nil
}

// CreateSCIMUser provisions a user: the account is found by email or
// created (without a password: it signs in through the provider), and made
// a member as its groups grant.
func (s *SCIMService) CreateSCIMUser(ctx context.Context, tenantID string, in SCIMUser) (SCIMUser, error) {
	if err := validateSCIMUser(&in); err != nil {
		return SCIMUser{}, err
	}
	var id string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id FROM users WHERE email = $1`, in.Email).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			name := strings.TrimSpace(in.DisplayName)
			if name == "" {
				name = strings.TrimSpace(in.GivenName + " " + in.FamilyName)
			}
			err = tx.QueryRow(ctx, `INSERT INTO users (email, name, password_hash) VALUES ($1, $2, '') RETURNING id`, in.Email, name).Scan(&id)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO scim_users (tenant_id, user_id, user_name, external_id, active, display_name, given_name, family_name)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, tenantID, id, in.UserName, in.ExternalID, in.Active, in.DisplayName, in.GivenName, in.FamilyName)
		if isUniqueViolation(err) {
			return newErr(apierr.CodeConflict, "a user with userName %q or email %s is already provisioned", in.UserName, in.Email)
		}
		if err != nil {
			return err
		}
		if err := audit(ctx, tx, tenantID, scimActor(), "scim.user.create", "user", id, map[string]any{"userName": in.UserName, "active": in.Active}); err != nil {
			return err
		}
		return s.syncMembership(ctx, tx, tenantID, id)
	})
	if err != nil {
		return SCIMUser{}, err
	}
	s.afterSync(tenantID)
	return s.GetSCIMUser(ctx, tenantID, id)
}

// GetSCIMUser returns a provisioned user.
func (s *SCIMService) GetSCIMUser(ctx context.Context, tenantID, id string) (SCIMUser, error) {
	if !isUUID(id) {
		return SCIMUser{}, notFound("user")
	}
	u, err := scanSCIMUser(s.db.QueryRow(ctx, `SELECT `+scimUserColumns+` FROM scim_users su JOIN users u ON u.id = su.user_id
		WHERE su.tenant_id = $1 AND su.user_id = $2`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return u, notFound("user")
	}
	if err != nil {
		return u, err
	}
	list := []SCIMUser{u}
	err = s.userGroups(ctx, s.db, tenantID, list)
	return list[0], err
}

// SCIMUserFilter is what IdPs filter users by (userName or externalId eq).
type SCIMUserFilter struct{ UserName, ExternalID, Email string }

// ListSCIMUsers lists provisioned users, 1-based startIndex, at most count.
func (s *SCIMService) ListSCIMUsers(ctx context.Context, tenantID string, f SCIMUserFilter, startIndex, count int) ([]SCIMUser, int, error) {
	where := `su.tenant_id = $1 AND ($2 = '' OR lower(su.user_name) = lower($2)) AND ($3 = '' OR su.external_id = $3) AND ($4 = '' OR u.email = lower($4))`
	args := []any{tenantID, f.UserName, f.ExternalID, f.Email}
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM scim_users su JOIN users u ON u.id = su.user_id WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+scimUserColumns+` FROM scim_users su JOIN users u ON u.id = su.user_id WHERE `+where+`
		ORDER BY su.created_at, su.user_id OFFSET $5 LIMIT $6`, append(args, startIndex-1, count)...)
	if err != nil {
		return nil, 0, err
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SCIMUser, error) { return scanSCIMUser(r) })
	if err != nil {
		return nil, 0, err
	}
	return users, total, s.userGroups(ctx, s.db, tenantID, users)
}

// ReplaceSCIMUser sets a provisioned user's attributes (PUT, and PATCH
// after package scim applied the operations). active=false suspends the
// membership and ends the tenant's sessions of the user. The account's
// email is not changed (it may belong to other tenants too).
func (s *SCIMService) ReplaceSCIMUser(ctx context.Context, tenantID, id string, in SCIMUser) (SCIMUser, error) {
	if !isUUID(id) {
		return SCIMUser{}, notFound("user")
	}
	if in.Email == "" {
		in.Email = "placeholder@example.com" // the stored email stays; only userName is checked
	}
	if err := validateSCIMUser(&in); err != nil {
		return SCIMUser{}, err
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var wasActive bool
		err := tx.QueryRow(ctx, `SELECT active FROM scim_users WHERE tenant_id = $1 AND user_id = $2 FOR UPDATE`, tenantID, id).Scan(&wasActive)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("user")
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE scim_users SET user_name = $3, external_id = $4, active = $5, display_name = $6, given_name = $7, family_name = $8,
			updated_at = now() WHERE tenant_id = $1 AND user_id = $2`, tenantID, id, in.UserName, in.ExternalID, in.Active, in.DisplayName, in.GivenName, in.FamilyName)
		if isUniqueViolation(err) {
			return newErr(apierr.CodeConflict, "another user has userName %q", in.UserName)
		}
		if err != nil {
			return err
		}
		action := "scim.user.update"
		switch {
		case wasActive && !in.Active:
			action = "scim.user.deactivate"
		case !wasActive && in.Active:
			action = "scim.user.reactivate"
		}
		if err := audit(ctx, tx, tenantID, scimActor(), action, "user", id, map[string]any{"userName": in.UserName, "active": in.Active}); err != nil {
			return err
		}
		return s.syncMembership(ctx, tx, tenantID, id)
	})
	if err != nil {
		return SCIMUser{}, err
	}
	s.afterSync(tenantID)
	return s.GetSCIMUser(ctx, tenantID, id)
}

// DeleteSCIMUser deprovisions a user: the membership goes, and the
// tenant's sessions of the user end. The account stays (other tenants).
func (s *SCIMService) DeleteSCIMUser(ctx context.Context, tenantID, id string) error {
	if !isUUID(id) {
		return notFound("user")
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM scim_users WHERE tenant_id = $1 AND user_id = $2`, tenantID, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("user")
		}
		if _, err := tx.Exec(ctx, `DELETE FROM scim_group_members gm USING scim_groups g WHERE g.id = gm.group_id AND g.tenant_id = $1 AND gm.user_id = $2`, tenantID, id); err != nil {
			return err
		}
		if err := s.setAccess(ctx, tx, tenantID, id, "", false, true); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, scimActor(), "scim.user.delete", "user", id, nil)
	})
	if err == nil {
		s.afterSync(tenantID)
	}
	return err
}

// --- groups ---

func (s *SCIMService) groupMembers(ctx context.Context, tenantID string, groups []SCIMGroup) error {
	for i := range groups {
		rows, err := s.db.Query(ctx, `SELECT u.id, u.email FROM scim_group_members gm JOIN users u ON u.id = gm.user_id
			WHERE gm.group_id = $1 ORDER BY u.email`, groups[i].ID)
		if err != nil {
			return err
		}
		if groups[i].Members, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (SCIMRef, error) {
			var m SCIMRef
			return m, r.Scan(&m.ID, &m.Display)
		}); err != nil {
			return err
		}
	}
	return nil
}

const scimGroupColumns = `id, display_name, external_id, created_at, updated_at`

func scanSCIMGroup(r pgx.Row) (SCIMGroup, error) {
	var g SCIMGroup
	return g, r.Scan(&g.ID, &g.DisplayName, &g.ExternalID, &g.Created, &g.Updated)
}

// GetSCIMGroup returns a provisioned group with its members.
func (s *SCIMService) GetSCIMGroup(ctx context.Context, tenantID, id string) (SCIMGroup, error) {
	if !isUUID(id) {
		return SCIMGroup{}, notFound("group")
	}
	g, err := scanSCIMGroup(s.db.QueryRow(ctx, `SELECT `+scimGroupColumns+` FROM scim_groups WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return g, notFound("group")
	}
	if err != nil {
		return g, err
	}
	list := []SCIMGroup{g}
	err = s.groupMembers(ctx, tenantID, list)
	return list[0], err
}

// ListSCIMGroups lists groups (filter displayName eq), with members unless
// excluded.
func (s *SCIMService) ListSCIMGroups(ctx context.Context, tenantID, displayName, externalID string, startIndex, count int, members bool) ([]SCIMGroup, int, error) {
	where := `tenant_id = $1 AND ($2 = '' OR lower(display_name) = lower($2)) AND ($3 = '' OR external_id = $3)`
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM scim_groups WHERE `+where, tenantID, displayName, externalID).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+scimGroupColumns+` FROM scim_groups WHERE `+where+` ORDER BY created_at, id OFFSET $4 LIMIT $5`,
		tenantID, displayName, externalID, startIndex-1, count)
	if err != nil {
		return nil, 0, err
	}
	groups, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SCIMGroup, error) { return scanSCIMGroup(r) })
	if err != nil || !members {
		return groups, total, err
	}
	return groups, total, s.groupMembers(ctx, tenantID, groups)
}

// CreateSCIMGroup provisions a group with its members.
func (s *SCIMService) CreateSCIMGroup(ctx context.Context, tenantID string, in SCIMGroup) (SCIMGroup, error) {
	in.DisplayName = strings.TrimSpace(in.DisplayName)
	if in.DisplayName == "" || len(in.DisplayName) > 256 || len(in.ExternalID) > 256 {
		return SCIMGroup{}, invalid("displayName must be 1-256 characters")
	}
	var id string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO scim_groups (tenant_id, display_name, external_id) VALUES ($1, $2, $3) RETURNING id`,
			tenantID, in.DisplayName, in.ExternalID).Scan(&id)
		if isUniqueViolation(err) {
			return newErr(apierr.CodeConflict, "a group named %q already exists", in.DisplayName)
		}
		if err != nil {
			return err
		}
		if err := audit(ctx, tx, tenantID, scimActor(), "scim.group.create", "scim_group", id, map[string]any{"displayName": in.DisplayName}); err != nil {
			return err
		}
		return s.setGroupMembers(ctx, tx, tenantID, id, refIDs(in.Members), nil, true)
	})
	if err != nil {
		return SCIMGroup{}, err
	}
	s.afterSync(tenantID)
	return s.GetSCIMGroup(ctx, tenantID, id)
}

func refIDs(refs []SCIMRef) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, r.ID)
	}
	return out
}

// UpdateSCIMGroup renames a group (displayName non-empty) and changes its
// members: replace (the whole list, PUT or a PATCH replace of members) or
// add and remove lists (PATCH add/remove).
func (s *SCIMService) UpdateSCIMGroup(ctx context.Context, tenantID, id, displayName, externalID string, add, remove []string, replace bool) (SCIMGroup, error) {
	if !isUUID(id) {
		return SCIMGroup{}, notFound("group")
	}
	displayName = strings.TrimSpace(displayName)
	if len(displayName) > 256 || len(externalID) > 256 {
		return SCIMGroup{}, invalid("displayName must be at most 256 characters")
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE scim_groups SET display_name = coalesce(nullif($3, ''), display_name), external_id = coalesce(nullif($4, ''), external_id),
			updated_at = now() WHERE tenant_id = $1 AND id = $2`, tenantID, id, displayName, externalID)
		if isUniqueViolation(err) {
			return newErr(apierr.CodeConflict, "a group named %q already exists", displayName)
		}
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("group")
		}
		if err := audit(ctx, tx, tenantID, scimActor(), "scim.group.update", "scim_group", id,
			map[string]any{"displayName": displayName, "added": len(add), "removed": len(remove), "replaced": replace}); err != nil {
			return err
		}
		return s.setGroupMembers(ctx, tx, tenantID, id, add, remove, replace)
	})
	if err != nil {
		return SCIMGroup{}, err
	}
	s.afterSync(tenantID)
	return s.GetSCIMGroup(ctx, tenantID, id)
}

// DeleteSCIMGroup removes a group; its members' roles follow.
func (s *SCIMService) DeleteSCIMGroup(ctx context.Context, tenantID, id string) error {
	if !isUUID(id) {
		return notFound("group")
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT user_id FROM scim_group_members WHERE group_id = $1`, id)
		if err != nil {
			return err
		}
		members, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM scim_groups WHERE tenant_id = $1 AND id = $2`, tenantID, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("group")
		}
		for _, u := range members {
			if err := s.syncMembership(ctx, tx, tenantID, u); err != nil {
				return err
			}
		}
		return audit(ctx, tx, tenantID, scimActor(), "scim.group.delete", "scim_group", id, nil)
	})
	if err == nil {
		s.afterSync(tenantID)
	}
	return err
}

// setGroupMembers changes a group's members (only users provisioned in the
// tenant; others are refused) and re-derives the roles of everyone touched.
func (s *SCIMService) setGroupMembers(ctx context.Context, tx pgx.Tx, tenantID, groupID string, add, remove []string, replace bool) error {
	touched := map[string]bool{}
	if replace {
		rows, err := tx.Query(ctx, `DELETE FROM scim_group_members WHERE group_id = $1 RETURNING user_id`, groupID)
		if err != nil {
			return err
		}
		old, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, u := range old {
			touched[u] = true
		}
	}
	for _, u := range add {
		var ok bool
		if isUUID(u) {
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM scim_users WHERE tenant_id = $1 AND user_id = $2)`, tenantID, u).Scan(&ok); err != nil {
				return err
			}
		}
		if !ok {
			return invalid("member %q is not a user provisioned in this tenant", u)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO scim_group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, groupID, u); err != nil {
			return err
		}
		touched[u] = true
	}
	for _, u := range remove {
		if !isUUID(u) {
			continue
		}
		if _, err := tx.Exec(ctx, `DELETE FROM scim_group_members WHERE group_id = $1 AND user_id = $2`, groupID, u); err != nil {
			return err
		}
		touched[u] = true
	}
	for u := range touched {
		if err := s.syncMembership(ctx, tx, tenantID, u); err != nil {
			return err
		}
	}
	return nil
}

// --- membership from provisioning ---

// syncMembership derives a provisioned user's membership: active and
// granted a role by its groups (the tenant's RoleMapping; without a mapping,
// the role it has, viewer for a new member) → a member with that role;
// deactivated, or no role → suspended.
func (s *SCIMService) syncMembership(ctx context.Context, tx pgx.Tx, tenantID, userID string) error {
	var active bool
	err := tx.QueryRow(ctx, `SELECT active FROM scim_users WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID).Scan(&active)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // not provisioned here: memberships made by hand are the admins'
	}
	if err != nil {
		return err
	}
	var mappingJSON []byte
	var mapping RoleMapping
	err = tx.QueryRow(ctx, `SELECT role_mapping FROM tenant_oidc WHERE tenant_id = $1`, tenantID).Scan(&mappingJSON)
	if err == nil {
		err = json.Unmarshal(mappingJSON, &mapping)
	}
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	var current *Role
	if err := tx.QueryRow(ctx, `SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2 FOR UPDATE`, tenantID, userID).Scan(&current); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	role := RoleViewer
	switch {
	case !mapping.Empty():
		var groups []string
		rows, err := tx.Query(ctx, `SELECT g.display_name, g.external_id FROM scim_group_members gm JOIN scim_groups g ON g.id = gm.group_id
			WHERE g.tenant_id = $1 AND gm.user_id = $2`, tenantID, userID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var name, ext string
			if err := rows.Scan(&name, &ext); err != nil {
				rows.Close()
				return err
			}
			groups = append(groups, name)
			if ext != "" {
				groups = append(groups, ext)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		role = mapping.TenantRole(groups)
		on := active && role != ""
		if err := s.setAccess(ctx, tx, tenantID, userID, role, on); err != nil || (!on && role != "") {
			return err // deactivated: the suspended membership keeps its grants for its return
		}
		// Announced through NOTIFY at commit (every process, this one too).
		_, err = syncIdPGrants(ctx, tx, s.log, tenantID, scimActor(), userID, mapping, groups)
		return err
	case current != nil:
		role = *current
	}
	return s.setAccess(ctx, tx, tenantID, userID, role, active && role != "")
}

// setAccess makes userID a member with role (when on) or suspends the
// membership (when !on or role ""; remove: delete it). The last active
// owner is never suspended or demoted (CONFLICT).
func (s *SCIMService) setAccess(ctx context.Context, tx pgx.Tx, tenantID, userID string, role Role, on bool, remove ...bool) error {
	var current *Role
	var suspended bool
	err := tx.QueryRow(ctx, `SELECT role, suspended_at IS NOT NULL FROM memberships WHERE tenant_id = $1 AND user_id = $2 FOR UPDATE`, tenantID, userID).Scan(&current, &suspended)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	deleting := len(remove) > 0 && remove[0]
	if current != nil && *current == RoleOwner && !suspended && (!on || role != RoleOwner || deleting) {
		var owners int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE tenant_id = $1 AND role = 'owner' AND suspended_at IS NULL`, tenantID).Scan(&owners); err != nil {
			return err
		}
		if owners <= 1 {
			return newErr(apierr.CodeConflict, "this would leave the tenant without an active owner")
		}
	}
	switch {
	case deleting:
		if current == nil {
			return nil
		}
		if _, err := tx.Exec(ctx, `DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID); err != nil {
			return err
		}
		return s.ended(ctx, tx, tenantID, userID)
	case on:
		if current != nil && *current == role && !suspended {
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)
			ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = $3, suspended_at = NULL`, tenantID, userID, role); err != nil {
			return err
		}
		return notifyAccess(ctx, tx, accessChange{User: userID, Tenant: tenantID, Role: role})
	default:
		if current == nil || suspended {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE memberships SET suspended_at = now() WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID); err != nil {
			return err
		}
		return s.ended(ctx, tx, tenantID, userID)
	}
}

// ended revokes the tenant's single sign-on sessions of the user and
// announces that the user's access to the tenant ended.
func (s *SCIMService) ended(ctx context.Context, tx pgx.Tx, tenantID, userID string) error {
	if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND sso_tenant_id = $2 AND revoked_at IS NULL`, userID, tenantID); err != nil {
		return err
	}
	return notifyAccess(ctx, tx, accessChange{User: userID, Tenant: tenantID})
}

// afterSync ends this process's watches whose access a provisioning change
// took away. The change's NOTIFY (sent in its transaction) reaches every
// process, this one included, through ListenAccess; re-reading the
// tenant's memberships here makes it immediate without the listener.
func (s *SCIMService) afterSync(tenantID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := s.db.Query(ctx, `SELECT user_id, CASE WHEN suspended_at IS NULL THEN role ELSE '' END FROM memberships WHERE tenant_id = $1`, tenantID)
	if err != nil {
		return
	}
	current := map[string]Role{}
	for rows.Next() {
		var u string
		var r Role
		if rows.Scan(&u, &r) == nil {
			current[u] = r
		}
	}
	rows.Close()
	s.access.mu.Lock()
	users := make([]string, 0, len(s.access.byUser))
	for u := range s.access.byUser {
		users = append(users, u)
	}
	s.access.mu.Unlock()
	for _, u := range users {
		s.access.roleChanged(u, tenantID, current[u])
	}
}
