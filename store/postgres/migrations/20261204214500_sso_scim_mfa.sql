-- Sign-in the way companies require (issue #24): OIDC single sign-on per
-- tenant, SCIM 2.0 provisioning, TOTP for local accounts. Secrets are stored
-- sealed (package secrets: sg1:<key id>:<AES-256-GCM>) or hashed, never in
-- clear. Numbered by timestamp so it merges with other areas' migrations.

-- +goose Up
-- Owners can require TOTP of the tenant's password sessions.
ALTER TABLE tenants ADD COLUMN mfa_required boolean NOT NULL DEFAULT false;

-- A member the identity provider deactivated (SCIM active=false) keeps the
-- row (and role) but reaches nothing until reactivated.
ALTER TABLE memberships ADD COLUMN suspended_at timestamptz;

-- A tenant's OpenID Connect provider. role_mapping is
-- {"rules":[{"group":"…","role":"admin","scope":{"kind":"tenant"}}],"defaultRole":""}
-- (scope kinds beyond "tenant", such as teams and projects, come later).
CREATE TABLE tenant_oidc (
    tenant_id             uuid PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    enabled               boolean NOT NULL DEFAULT true,
    display_name          text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    issuer_url            text NOT NULL,
    client_id             text NOT NULL,
    client_secret_sealed  text NOT NULL DEFAULT '',
    allowed_domains       text[] NOT NULL DEFAULT '{}',
    scopes                text[] NOT NULL DEFAULT '{openid,email,profile,offline_access}',
    groups_claim          text NOT NULL DEFAULT 'groups',
    role_mapping          jsonb NOT NULL DEFAULT '{}',
    jit                   boolean NOT NULL DEFAULT true,
    sso_required          boolean NOT NULL DEFAULT false,
    break_glass_user_id   uuid REFERENCES users(id) ON DELETE SET NULL,
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenant_oidc_domains_idx ON tenant_oidc USING gin (allowed_domains);

-- Authorization requests in flight: state (hashed), nonce and the PKCE
-- verifier (sealed), for ten minutes, used once.
CREATE TABLE sso_logins (
    state_hash       bytea PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    nonce            text NOT NULL,
    verifier_sealed  text NOT NULL,
    redirect_uri     text NOT NULL,
    expires_at       timestamptz NOT NULL,
    used_at          timestamptz
);
CREATE INDEX sso_logins_expires_idx ON sso_logins (expires_at);

-- Which user an identity provider's subject is, per tenant.
CREATE TABLE sso_identities (
    tenant_id      uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    issuer         text NOT NULL,
    subject        text NOT NULL,
    user_id        uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, issuer, subject)
);
CREATE INDEX sso_identities_user_idx ON sso_identities (user_id);

-- A session opened through a tenant's provider reaches that tenant only and
-- is refreshed only while the provider refreshes its own token (sealed).
ALTER TABLE refresh_tokens ADD COLUMN sso_tenant_id uuid REFERENCES tenants(id) ON DELETE CASCADE;
ALTER TABLE refresh_tokens ADD COLUMN idp_refresh_sealed text;

-- TOTP of local accounts: the seed sealed; last_step refuses a code's reuse.
CREATE TABLE user_totp (
    user_id        uuid PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret_sealed  text NOT NULL,
    confirmed_at   timestamptz,
    last_step      bigint NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE recovery_codes (
    user_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash  bytea NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- SCIM bearer tokens: only SHA-256 of the token is stored.
CREATE TABLE scim_tokens (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    prefix        text NOT NULL UNIQUE,
    token_hash    bytea NOT NULL UNIQUE,
    created_by    uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz,
    rotated_from  uuid REFERENCES scim_tokens(id) ON DELETE SET NULL
);
CREATE INDEX scim_tokens_tenant_idx ON scim_tokens (tenant_id, created_at DESC, id);

-- Users and groups as the identity provider provisioned them.
CREATE TABLE scim_users (
    tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id       uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    user_name     text NOT NULL,
    external_id   text NOT NULL DEFAULT '',
    active        boolean NOT NULL DEFAULT true,
    display_name  text NOT NULL DEFAULT '',
    given_name    text NOT NULL DEFAULT '',
    family_name   text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);
CREATE UNIQUE INDEX scim_users_name_idx ON scim_users (tenant_id, lower(user_name));
CREATE TABLE scim_groups (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    display_name  text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 256),
    external_id   text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX scim_groups_name_idx ON scim_groups (tenant_id, lower(display_name));
CREATE TABLE scim_group_members (
    group_id  uuid NOT NULL REFERENCES scim_groups(id) ON DELETE CASCADE,
    user_id   uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX scim_group_members_user_idx ON scim_group_members (user_id);

-- +goose Down
DROP TABLE scim_group_members;
DROP TABLE scim_groups;
DROP TABLE scim_users;
DROP TABLE scim_tokens;
DROP TABLE recovery_codes;
DROP TABLE user_totp;
ALTER TABLE refresh_tokens DROP COLUMN idp_refresh_sealed;
ALTER TABLE refresh_tokens DROP COLUMN sso_tenant_id;
DROP TABLE sso_identities;
DROP TABLE sso_logins;
DROP TABLE tenant_oidc;
ALTER TABLE memberships DROP COLUMN suspended_at;
ALTER TABLE tenants DROP COLUMN mfa_required;
