package controlplane

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/apikey"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/org"
)

// APIKey is a data-plane key as listed (never with its secret).
type APIKey struct {
	ID, TenantID, Name, Prefix, Status string
	CreatedAt                          time.Time
	LastUsedAt, RevokedAt, ExpiresAt   *time.Time
	RotatedFrom                        *string
	// ProjectID is the project the key belongs to (nil: the tenant's, outside the tree).
	ProjectID *string
	Policy    KeyPolicy
}

// CreatedKey is a new key with its secret, shown exactly once.
type CreatedKey struct {
	Key    APIKey
	Secret string
}

const keyColumns = `id, tenant_id, name, prefix, status, created_at, last_used_at, revoked_at, expires_at, rotated_from,
	allowed_providers, allowed_models, required_dimensions, default_dimensions, require_priced_models,
	requests_per_minute, tokens_per_minute, project_id::text, inject_provider_credentials`

func scanKey(r pgx.Row) (APIKey, error) {
	var k APIKey
	var dims []byte
	err := r.Scan(&k.ID, &k.TenantID, &k.Name, &k.Prefix, &k.Status, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt, &k.ExpiresAt, &k.RotatedFrom,
		&k.Policy.AllowedProviders, &k.Policy.AllowedModels, &k.Policy.RequiredDimensions, &dims, &k.Policy.RequirePricedModels,
		&k.Policy.RequestsPerMinute, &k.Policy.TokensPerMinute, &k.ProjectID, &k.Policy.InjectProviderCredentials)
	switch {
	case err != nil:
	case string(dims) == "{}": // most keys have none, and a list scans many
		k.Policy.DefaultDimensions = map[string]string{}
	default:
		_ = json.Unmarshal(dims, &k.Policy.DefaultDimensions)
	}
	return k, err
}

// APIKeys lists a tenant's keys, newest first; status filters ("" = all).
// A scoped caller lists the keys of the projects in its subtrees.
func (s *KeyService) APIKeys(ctx context.Context, tenantID string, page Page, status string) (Connection[APIKey], error) {
	_, a, err := s.rights(ctx, tenantID)
	if err != nil {
		return Connection[APIKey]{}, err
	}
	if status != "" && status != "active" && status != "revoked" {
		return Connection[APIKey]{}, invalid("status must be active or revoked")
	}
	where := ``
	args := []any{tenantID, status}
	if a.Scoped() {
		var teams, projects []string
		for _, n := range a.Readable() {
			if n.ProjectID != "" {
				projects = append(projects, n.ProjectID)
			} else {
				teams = append(teams, n.TeamID)
			}
		}
		where = ` AND project_id IN (SELECT p.id FROM projects p WHERE p.tenant_id = $1 AND (p.id::text = ANY($3) OR p.team_id::text = ANY($4)))`
		args = append(args, projects, teams)
	}
	return listPage(ctx, s.db, page, byCreated, `SELECT `+keyColumns+` FROM api_keys WHERE tenant_id = $1 AND ($2 = '' OR status = $2)`+where,
		args, scanKey, func(k APIKey) (time.Time, string) { return k.CreatedAt, k.ID })
}

// APIKey returns one key of a tenant.
func (s *KeyService) APIKey(ctx context.Context, tenantID, id string) (APIKey, error) {
	if _, err := s.authorizeKey(ctx, tenantID, id, org.Read); err != nil {
		return APIKey{}, err
	}
	return getKey(ctx, s.db, tenantID, id)
}

// authorizeKey checks the caller's right on a key (on its project; a key
// without one is the tenant's) and returns the key's path. A key the caller
// cannot read is NOT_FOUND, as another tenant's.
func (c *core) authorizeKey(ctx context.Context, tenantID, keyID string, right org.Right) (org.Path, error) {
	if _, _, err := c.rights(ctx, tenantID); err != nil {
		return org.Path{}, err
	}
	if _, err := getKey(ctx, c.db, tenantID, keyID); err != nil {
		return org.Path{}, err
	}
	at, err := keyPath(ctx, c.db, tenantID, keyID)
	if err != nil {
		return org.Path{}, err
	}
	if _, _, err := c.authorizeAt(ctx, tenantID, org.Read, at); err != nil {
		return org.Path{}, notFound("API key")
	}
	if _, _, err := c.authorizeAt(ctx, tenantID, right, at); err != nil {
		return org.Path{}, err
	}
	return at, nil
}

func getKey(ctx context.Context, q querier, tenantID, id string) (APIKey, error) {
	return getOne(ctx, q, "api_keys", keyColumns, "API key", scanKey, tenantID, id)
}

// CreateAPIKey makes a key, in a project when projectID is set (a project
// member creates keys in its project; keys outside the tree need a tenant
// admin); the secret is in the result and nowhere else.
func (s *KeyService) CreateAPIKey(ctx context.Context, tenantID, name string, pol KeyPolicy, expiresAt *time.Time, projectID *string) (CreatedKey, error) {
	if _, _, err := s.rights(ctx, tenantID); err != nil {
		return CreatedKey{}, err
	}
	at := org.Path{}
	if projectID != nil {
		n, err := s.visibleNode(ctx, tenantID, *projectID)
		if err != nil {
			return CreatedKey{}, err
		}
		if n.Kind != KindProject {
			return CreatedKey{}, invalid("keys belong to projects, not to a %s", n.Kind)
		}
		if n.ArchivedAt != nil {
			return CreatedKey{}, newErr(apierr.CodeConflict, "the project is archived")
		}
		at = n.Path
	}
	p, _, err := s.authorizeAt(ctx, tenantID, org.Manage, at)
	if err != nil {
		return CreatedKey{}, err
	}
	return s.createKey(ctx, p, tenantID, name, pol, expiresAt, projectID)
}

func (s *KeyService) createKey(ctx context.Context, p auth.Principal, tenantID, name string, pol KeyPolicy, expiresAt *time.Time, projectID *string) (CreatedKey, error) {
	name, err := cleanName("name", name)
	if err != nil {
		return CreatedKey{}, err
	}
	if err := validatePolicy(&pol); err != nil {
		return CreatedKey{}, err
	}
	if expiresAt != nil && !expiresAt.After(time.Now()) {
		return CreatedKey{}, invalid("expiresAt must be in the future")
	}
	var out CreatedKey
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = s.insertKey(ctx, tx, p, tenantID, name, pol, expiresAt, nil, projectID)
		if err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "api_key.create", "api_key", out.Key.ID, map[string]any{"name": name, "prefix": out.Key.Prefix, "project_id": projectID})
	})
	return out, err
}

func (s *KeyService) insertKey(ctx context.Context, tx pgx.Tx, p auth.Principal, tenantID, name string, pol KeyPolicy, expiresAt *time.Time, rotatedFrom, projectID *string) (CreatedKey, error) {
	g, err := apikey.Generate(s.pepper)
	if err != nil {
		return CreatedKey{}, err
	}
	dims, _ := json.Marshal(pol.DefaultDimensions)
	var createdBy any
	if p.UserID != "" {
		createdBy = p.UserID
	}
	k, err := scanKey(tx.QueryRow(ctx, `INSERT INTO api_keys (tenant_id, name, prefix, secret_hash, created_by, expires_at, rotated_from,
		allowed_providers, allowed_models, required_dimensions, default_dimensions, require_priced_models, requests_per_minute, tokens_per_minute,
		project_id, inject_provider_credentials) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING `+keyColumns,
		tenantID, name, g.Prefix, g.Hash, createdBy, expiresAt, rotatedFrom,
		pol.AllowedProviders, pol.AllowedModels, pol.RequiredDimensions, dims, pol.RequirePricedModels, pol.RequestsPerMinute, pol.TokensPerMinute,
		projectID, pol.InjectProviderCredentials))
	if err != nil {
		return CreatedKey{}, err
	}
	return CreatedKey{Key: k, Secret: g.Key}, nil
}

// UpdateAPIKeyPolicy replaces a key's policy.
func (s *KeyService) UpdateAPIKeyPolicy(ctx context.Context, tenantID, id string, pol KeyPolicy) (APIKey, error) {
	at, err := s.authorizeKey(ctx, tenantID, id, org.Manage)
	if err != nil {
		return APIKey{}, err
	}
	p, _, err := s.authorizeAt(ctx, tenantID, org.Manage, at)
	if err != nil {
		return APIKey{}, err
	}
	if err := validatePolicy(&pol); err != nil {
		return APIKey{}, err
	}
	var k APIKey
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := getKey(ctx, tx, tenantID, id); err != nil {
			return err
		}
		dims, _ := json.Marshal(pol.DefaultDimensions)
		var err error
		k, err = scanKey(tx.QueryRow(ctx, `UPDATE api_keys SET allowed_providers = $3, allowed_models = $4, required_dimensions = $5,
			default_dimensions = $6, require_priced_models = $7, requests_per_minute = $8, tokens_per_minute = $9,
			inject_provider_credentials = $10
			WHERE tenant_id = $1 AND id = $2 RETURNING `+keyColumns,
			tenantID, id, pol.AllowedProviders, pol.AllowedModels, pol.RequiredDimensions, dims, pol.RequirePricedModels,
			pol.RequestsPerMinute, pol.TokensPerMinute, pol.InjectProviderCredentials))
		if err != nil {
			return err
		}
		s.evictKey(k.Prefix)
		return audit(ctx, tx, tenantID, p, "api_key.policy", "api_key", id, map[string]any{
			"allowed_providers": pol.AllowedProviders, "allowed_models": pol.AllowedModels,
			"required_dimensions": pol.RequiredDimensions, "default_dimensions": pol.DefaultDimensions, "require_priced_models": pol.RequirePricedModels,
			"requests_per_minute": pol.RequestsPerMinute, "tokens_per_minute": pol.TokensPerMinute,
			"inject_provider_credentials": pol.InjectProviderCredentials})
	})
	return k, err
}

// RevokeAPIKey stops a key from working; revoking twice is harmless.
func (s *KeyService) RevokeAPIKey(ctx context.Context, tenantID, id string) (APIKey, error) {
	at, err := s.authorizeKey(ctx, tenantID, id, org.Manage)
	if err != nil {
		return APIKey{}, err
	}
	p, _, err := s.authorizeAt(ctx, tenantID, org.Manage, at)
	if err != nil {
		return APIKey{}, err
	}
	var k APIKey
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := getKey(ctx, tx, tenantID, id); err != nil {
			return err
		}
		var err error
		k, err = scanKey(tx.QueryRow(ctx, `UPDATE api_keys SET status = 'revoked', revoked_at = coalesce(revoked_at, now())
			WHERE tenant_id = $1 AND id = $2 RETURNING `+keyColumns, tenantID, id))
		if err != nil {
			return err
		}
		s.evictKey(k.Prefix)
		return audit(ctx, tx, tenantID, p, "api_key.revoke", "api_key", id, map[string]any{"prefix": k.Prefix})
	})
	return k, err
}

// RotateAPIKey issues a new secret with the same name and policy and revokes
// the old key.
func (s *KeyService) RotateAPIKey(ctx context.Context, tenantID, id string) (CreatedKey, error) {
	at, err := s.authorizeKey(ctx, tenantID, id, org.Manage)
	if err != nil {
		return CreatedKey{}, err
	}
	p, _, err := s.authorizeAt(ctx, tenantID, org.Manage, at)
	if err != nil {
		return CreatedKey{}, err
	}
	var out CreatedKey
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		old, err := getKey(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		if old.Status != "active" {
			return newErr(apierr.CodeConflict, "only active keys can be rotated; this key is %s", old.Status)
		}
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET status = 'revoked', revoked_at = now() WHERE id = $1`, id); err != nil {
			return err
		}
		s.evictKey(old.Prefix)
		out, err = s.insertKey(ctx, tx, p, tenantID, old.Name, old.Policy, old.ExpiresAt, &old.ID, old.ProjectID)
		if err != nil {
			return err
		}
		// Key-scoped budgets follow the key.
		if _, err := tx.Exec(ctx, `UPDATE budgets SET key_id = $2, updated_at = now() WHERE key_id = $1`, id, out.Key.ID); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "api_key.rotate", "api_key", out.Key.ID, map[string]any{"rotated_from": id, "prefix": out.Key.Prefix})
	})
	return out, err
}

// KeyNames maps the given key ids of a tenant to their names (revoked keys
// included); ids that are not the tenant's keys are left out. The caller has
// authorized the tenant.
func (s *KeyService) KeyNames(ctx context.Context, tenantID string, ids []string) (map[string]string, error) {
	return namesByID(ctx, s.db, `SELECT id::text, name FROM api_keys WHERE tenant_id = $1 AND id = ANY($2::uuid[])`, tenantID, ids)
}

// namesByID runs sql (id and name of rows of tenant $1 whose id is in $2)
// for the ids that are UUIDs and maps each id found to its name.
func namesByID(ctx context.Context, db interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}, sql, tenantID string, ids []string) (map[string]string, error) {
	valid := make([]string, 0, len(ids))
	for _, id := range ids {
		if isUUID(id) {
			valid = append(valid, id)
		}
	}
	out := make(map[string]string, len(valid))
	if len(valid) == 0 {
		return out, nil
	}
	rows, err := db.Query(ctx, sql, tenantID, valid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, err
		}
		out[id] = name
	}
	return out, rows.Err()
}
