-- Budget counters, applied events, alerts with their delivery outbox, and
-- hard-cap reservations. Money is integer nano-USD.

-- +goose Up
-- Spend and open reservations of one budget in one period [period_start, period_end).
CREATE TABLE budget_spend (
    budget_id          uuid NOT NULL REFERENCES budgets(id) ON DELETE CASCADE,
    period_start       timestamptz NOT NULL,
    period_end         timestamptz NOT NULL,
    spent_nano_usd     bigint NOT NULL DEFAULT 0 CHECK (spent_nano_usd >= 0),
    reserved_nano_usd  bigint NOT NULL DEFAULT 0 CHECK (reserved_nano_usd >= 0),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (budget_id, period_start)
);

-- Events already counted (idempotence by event_id), written in the same
-- transaction as the counters.
CREATE TABLE budget_applied_events (
    event_id    text PRIMARY KEY,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per budget, threshold and period: the unique key makes alerts
-- exactly-once even with concurrent appliers.
CREATE TABLE budget_alerts (
    id                 bigserial PRIMARY KEY,
    budget_id          uuid NOT NULL REFERENCES budgets(id) ON DELETE CASCADE,
    tenant_id          uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    threshold_percent  integer NOT NULL,
    period_start       timestamptz NOT NULL,
    period_end         timestamptz NOT NULL,
    spent_nano_usd     bigint NOT NULL,
    amount_nano_usd    bigint NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (budget_id, threshold_percent, period_start)
);
CREATE INDEX budget_alerts_tenant_idx ON budget_alerts (tenant_id, created_at DESC);

-- Durable delivery queue: one 'nats' row per alert, one 'webhook' row when the
-- budget has a webhook URL. Rows are written with the alert.
CREATE TABLE budget_alert_outbox (
    id               bigserial PRIMARY KEY,
    alert_id         bigint NOT NULL REFERENCES budget_alerts(id) ON DELETE CASCADE,
    budget_id        uuid NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('nats', 'webhook')),
    webhook_url      text NOT NULL DEFAULT '',
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    failed_at        timestamptz,
    last_error       text NOT NULL DEFAULT ''
);
CREATE INDEX budget_alert_outbox_due_idx ON budget_alert_outbox (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;

-- Hard-cap reservations: an estimated maximum held against every hard budget
-- that covers a call, settled by the usage event, released, or expired.
CREATE TABLE budget_reservations (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    key_id           text NOT NULL DEFAULT '',
    amount_nano_usd  bigint NOT NULL CHECK (amount_nano_usd >= 0),
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'settled', 'released', 'expired')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    closed_at        timestamptz
);
CREATE INDEX budget_reservations_open_idx ON budget_reservations (expires_at) WHERE status = 'open';

CREATE TABLE budget_reservation_items (
    reservation_id   uuid NOT NULL REFERENCES budget_reservations(id) ON DELETE CASCADE,
    budget_id        uuid NOT NULL REFERENCES budgets(id) ON DELETE CASCADE,
    period_start     timestamptz NOT NULL,
    amount_nano_usd  bigint NOT NULL,
    PRIMARY KEY (reservation_id, budget_id)
);

-- +goose Down
DROP TABLE budget_reservation_items;
DROP TABLE budget_reservations;
DROP TABLE budget_alert_outbox;
DROP TABLE budget_alerts;
DROP TABLE budget_applied_events;
DROP TABLE budget_spend;
