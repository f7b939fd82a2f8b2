-- Provider connections and reconciliation (package reconcile): a tenant's
-- connections to providers' admin APIs with their keys sealed (package
-- secrets; never stored in clear), every report page kept as received for
-- audit, the provider-reported spend per day × model, the tenant's drift
-- threshold, and the drift alerts raised (once per threshold and day).

-- +goose Up
CREATE TABLE provider_connections (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider          text NOT NULL CHECK (provider IN ('openai', 'anthropic', 'google')),
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    admin_key_sealed  text NOT NULL DEFAULT '' CHECK (admin_key_sealed = '' OR admin_key_sealed LIKE 'sg1:%'),
    admin_key_last4   text NOT NULL DEFAULT '',
    data_key_sealed   text NOT NULL DEFAULT '' CHECK (data_key_sealed = '' OR data_key_sealed LIKE 'sg1:%'),
    data_key_last4    text NOT NULL DEFAULT '',
    lookback_days     int NOT NULL DEFAULT 3 CHECK (lookback_days BETWEEN 1 AND 31),
    enabled           boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- the last sync, for operators and the portal
    running           boolean NOT NULL DEFAULT false,
    progress          text NOT NULL DEFAULT '',
    last_run_at       timestamptz,
    last_ok_at        timestamptz,
    last_error        text NOT NULL DEFAULT '',
    last_pages        int NOT NULL DEFAULT 0,
    last_rows         int NOT NULL DEFAULT 0,
    failures          int NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, name)
);

CREATE TABLE provider_pages (
    id             bigserial PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    connection_id  uuid NOT NULL REFERENCES provider_connections(id) ON DELETE CASCADE,
    provider       text NOT NULL,
    endpoint       text NOT NULL,
    request_url    text NOT NULL,
    status         int NOT NULL,
    fetched_at     timestamptz NOT NULL,
    sha256         text NOT NULL,
    content_type   text NOT NULL DEFAULT '',
    body           bytea NOT NULL
);
CREATE INDEX provider_pages_tenant_idx ON provider_pages (tenant_id, connection_id, id DESC);
CREATE INDEX provider_pages_fetched_idx ON provider_pages (fetched_at);

CREATE TABLE provider_reported (
    connection_id  uuid NOT NULL REFERENCES provider_connections(id) ON DELETE CASCADE,
    tenant_id      uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider       text NOT NULL,
    day            date NOT NULL,
    model          text NOT NULL,
    requests       bigint NOT NULL DEFAULT 0,
    input_tokens   bigint NOT NULL DEFAULT 0,
    output_tokens  bigint NOT NULL DEFAULT 0,
    cost_nano_usd  bigint NOT NULL DEFAULT 0,
    has_cost       boolean NOT NULL DEFAULT false,
    fetched_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, day, model)
);
CREATE INDEX provider_reported_tenant_idx ON provider_reported (tenant_id, provider, day);

CREATE TABLE reconcile_settings (
    tenant_id          uuid PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    drift_threshold_bp int NOT NULL DEFAULT 200 CHECK (drift_threshold_bp BETWEEN 1 AND 100000),
    alert_webhook_url  text NOT NULL DEFAULT '',
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE reconcile_drift_alerts (
    id                 bigserial PRIMARY KEY,
    tenant_id          uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider           text NOT NULL,
    day                date NOT NULL,
    threshold_bp       int NOT NULL,
    drift_bp           bigint NOT NULL,
    drift_nano_usd     bigint NOT NULL,
    reported_nano_usd  bigint NOT NULL,
    metered_nano_usd   bigint NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    delivered_at       timestamptz,
    attempts           int NOT NULL DEFAULT 0,
    next_attempt_at    timestamptz NOT NULL DEFAULT now(),
    last_error         text NOT NULL DEFAULT '',
    UNIQUE (tenant_id, provider, day, threshold_bp)
);
CREATE INDEX reconcile_drift_alerts_due_idx ON reconcile_drift_alerts (next_attempt_at) WHERE delivered_at IS NULL;

-- +goose Down
DROP TABLE reconcile_drift_alerts;
DROP TABLE reconcile_settings;
DROP TABLE provider_reported;
DROP TABLE provider_pages;
DROP TABLE provider_connections;
