-- Core control-plane schema. Money is integer nano-USD (1 USD = 1e9); rates are
-- integer nano-USD per million units. Later migrations add columns and tables;
-- the names below are a contract shared by the API, ingest and budget code.

-- +goose Up
CREATE TABLE tenants (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email          text NOT NULL UNIQUE CHECK (email = lower(email)),
    name           text NOT NULL DEFAULT '',
    password_hash  text NOT NULL,
    disabled       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

-- API keys for the data plane. The secret is never stored: secret_hash is
-- HMAC-SHA-256(pepper, full key). The policy columns live on the key row.
CREATE TABLE api_keys (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id              uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name                   text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    prefix                 text NOT NULL UNIQUE,
    secret_hash            bytea NOT NULL,
    status                 text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    created_by             uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    last_used_at           timestamptz,
    revoked_at             timestamptz,
    expires_at             timestamptz,
    rotated_from           uuid REFERENCES api_keys(id) ON DELETE SET NULL,
    allowed_providers      text[] NOT NULL DEFAULT '{}',
    allowed_models         text[] NOT NULL DEFAULT '{}',
    required_dimensions    text[] NOT NULL DEFAULT '{}',
    default_dimensions     jsonb  NOT NULL DEFAULT '{}',
    require_priced_models  boolean NOT NULL DEFAULT false
);
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id, created_at DESC, id);

-- Budgets: scope 'tenant' (whole tenant), 'key' (key_id), 'dimension'
-- (dimension_name = dimension_value). thresholds are percents of amount.
CREATE TABLE budgets (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    scope            text NOT NULL CHECK (scope IN ('tenant', 'key', 'dimension')),
    key_id           uuid REFERENCES api_keys(id) ON DELETE CASCADE,
    dimension_name   text,
    dimension_value  text,
    period           text NOT NULL CHECK (period IN ('day', 'week', 'month')),
    amount_nano_usd  bigint NOT NULL CHECK (amount_nano_usd > 0),
    thresholds       integer[] NOT NULL DEFAULT '{50,80,100}',
    hard             boolean NOT NULL DEFAULT false,
    webhook_url      text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((scope = 'key') = (key_id IS NOT NULL)),
    CHECK ((scope = 'dimension') = (dimension_name IS NOT NULL AND dimension_value IS NOT NULL))
);
CREATE INDEX budgets_tenant_idx ON budgets (tenant_id);

-- Tenant pricing overrides. provider '' matches any provider; model is a
-- catalogue model id or a glob. rates maps a usage class (the json names of
-- usage.Tokens: input, cached_input, cache_write_5m, cache_write_1h, output,
-- reasoning, audio_input, audio_output, image_input, image_output,
-- web_searches, characters, seconds, images) to nano-USD per million units.
-- percent_adjustment_bp is applied after rates, in basis points
-- (-1500 = 15 % discount, 1000 = 10 % markup).
CREATE TABLE pricing_overrides (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id              uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider               text NOT NULL DEFAULT '',
    model                  text NOT NULL CHECK (length(model) BETWEEN 1 AND 200),
    effective_from         timestamptz NOT NULL,
    effective_to           timestamptz,
    rates                  jsonb  NOT NULL DEFAULT '{}',
    percent_adjustment_bp  bigint NOT NULL DEFAULT 0 CHECK (percent_adjustment_bp > -10000),
    note                   text NOT NULL DEFAULT '',
    created_at             timestamptz NOT NULL DEFAULT now(),
    CHECK (effective_to IS NULL OR effective_to > effective_from)
);
CREATE INDEX pricing_overrides_tenant_idx ON pricing_overrides (tenant_id, model);

CREATE TABLE audit_log (
    id             bigserial PRIMARY KEY,
    tenant_id      uuid REFERENCES tenants(id) ON DELETE CASCADE,
    actor_user_id  uuid REFERENCES users(id) ON DELETE SET NULL,
    actor          text NOT NULL,
    action         text NOT NULL,
    target_type    text NOT NULL DEFAULT '',
    target_id      text NOT NULL DEFAULT '',
    details        jsonb NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, created_at DESC, id DESC);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE pricing_overrides;
DROP TABLE budgets;
DROP TABLE api_keys;
DROP TABLE memberships;
DROP TABLE users;
DROP TABLE tenants;
