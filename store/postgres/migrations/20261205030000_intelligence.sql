-- Spend intelligence (docs/intelligence.md): anomaly episodes found by the
-- hourly detector with their alert outbox and the hour each tenant was
-- judged through; savings recommendations with their state (who applied or
-- dismissed one, and when; the audit log has the same).

-- +goose Up
CREATE TABLE anomaly_episodes (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id               uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    dimension               text NOT NULL CHECK (dimension IN ('tenant', 'key', 'team', 'project', 'model')),
    series_value            text NOT NULL DEFAULT '',
    started_at              timestamptz NOT NULL,
    last_anomalous_at       timestamptz NOT NULL,
    ended_at                timestamptz,
    peak_hour               timestamptz NOT NULL,
    peak_nano_usd           bigint NOT NULL,
    peak_expected_nano_usd  bigint NOT NULL,
    peak_score              double precision NOT NULL,
    severity                text NOT NULL CHECK (severity IN ('minor', 'major', 'critical')),
    excess_nano_usd         bigint NOT NULL,
    anomalous_hours         integer NOT NULL,
    detected_at             timestamptz NOT NULL,
    CHECK (dimension = 'tenant' AND series_value = '' OR dimension <> 'tenant' AND series_value <> '')
);
-- One open episode per series: the one alert per runaway holds even if two
-- job runs race.
CREATE UNIQUE INDEX anomaly_episodes_open_idx ON anomaly_episodes (tenant_id, dimension, series_value) WHERE ended_at IS NULL;
CREATE INDEX anomaly_episodes_tenant_idx ON anomaly_episodes (tenant_id, started_at DESC);

CREATE TABLE anomaly_cursors (
    tenant_id          uuid PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    judged_through     timestamptz NOT NULL
);

CREATE TABLE anomaly_alert_outbox (
    id               bigserial PRIMARY KEY,
    episode_id       uuid NOT NULL REFERENCES anomaly_episodes(id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('nats', 'webhook')),
    webhook_url      text NOT NULL DEFAULT '',
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    failed_at        timestamptz,
    last_error       text NOT NULL DEFAULT ''
);
CREATE INDEX anomaly_alert_outbox_due_idx ON anomaly_alert_outbox (kind, next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;

CREATE TABLE recommendations (
    id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id                 uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    fingerprint               text NOT NULL,
    kind                      text NOT NULL CHECK (kind IN ('cheaper_model', 'prompt_caching', 'batch_api', 'price_model', 'revoke_key')),
    key_id                    text NOT NULL DEFAULT '',
    provider                  text NOT NULL DEFAULT '',
    model                     text NOT NULL DEFAULT '',
    alternative               text NOT NULL DEFAULT '',
    title                     text NOT NULL,
    detail                    text NOT NULL,
    current_monthly_nano_usd  bigint NOT NULL DEFAULT 0,
    monthly_savings_nano_usd  bigint NOT NULL DEFAULT 0 CHECK (monthly_savings_nano_usd >= 0),
    events                    bigint NOT NULL DEFAULT 0,
    state                     text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'applied', 'dismissed')),
    state_changed_by          text NOT NULL DEFAULT '',
    state_changed_by_user     uuid REFERENCES users(id) ON DELETE SET NULL,
    state_changed_at          timestamptz,
    first_seen_at             timestamptz NOT NULL DEFAULT now(),
    refreshed_at              timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, fingerprint)
);
CREATE INDEX recommendations_tenant_idx ON recommendations (tenant_id, state, monthly_savings_nano_usd DESC);

-- +goose Down
DROP TABLE recommendations;
DROP TABLE anomaly_alert_outbox;
DROP TABLE anomaly_cursors;
DROP TABLE anomaly_episodes;
