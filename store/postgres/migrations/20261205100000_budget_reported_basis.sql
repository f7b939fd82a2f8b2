-- Provider-reported spend toward budgets, and hard-cap breach webhooks
-- (package budget: basis.go, breach.go; budget/pgstore).
--
-- A tenant or openai/anthropic provider budget may count the larger of its
-- metered and provider-reported spend (spend_basis). The reported figure of
-- a period is kept beside the metered one on the period's counter row, set
-- each time reconciliation stores reports for the tenant, so reservations
-- decide under the same row lock as before.
--
-- A hard budget may name a breach webhook (its HMAC secret sealed by
-- package secrets, never returned). A breach is recorded once per budget and
-- period and delivered through the budget alert outbox ('breach' rows).

-- +goose Up
ALTER TABLE budgets
    ADD COLUMN spend_basis text NOT NULL DEFAULT 'metered' CHECK (spend_basis IN ('metered', 'max_metered_reported')),
    ADD COLUMN breach_webhook_url text NOT NULL DEFAULT '',
    ADD COLUMN breach_webhook_secret_sealed text NOT NULL DEFAULT ''
        CHECK (breach_webhook_secret_sealed = '' OR breach_webhook_secret_sealed LIKE 'sg1:%');

ALTER TABLE budget_spend ADD COLUMN reported_nano_usd bigint NOT NULL DEFAULT 0 CHECK (reported_nano_usd >= 0);

CREATE TABLE budget_breaches (
    id                 bigserial PRIMARY KEY,
    event_id           uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    budget_id          uuid NOT NULL REFERENCES budgets(id) ON DELETE CASCADE,
    tenant_id          uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    period_start       timestamptz NOT NULL,
    period_end         timestamptz NOT NULL,
    limit_nano_usd     bigint NOT NULL,
    metered_nano_usd   bigint NOT NULL,
    reported_nano_usd  bigint NOT NULL,
    counted_nano_usd   bigint NOT NULL,
    -- the JSON body sent, fixed when recorded so every retry sends the same bytes
    payload            bytea NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (budget_id, period_start)
);
CREATE INDEX budget_breaches_tenant_idx ON budget_breaches (tenant_id, created_at DESC);

ALTER TABLE budget_alert_outbox
    ALTER COLUMN alert_id DROP NOT NULL,
    ADD COLUMN breach_id bigint REFERENCES budget_breaches(id) ON DELETE CASCADE,
    DROP CONSTRAINT budget_alert_outbox_kind_check,
    ADD CONSTRAINT budget_alert_outbox_kind_check CHECK (kind IN ('nats', 'webhook', 'email', 'breach')),
    ADD CONSTRAINT budget_alert_outbox_subject_check CHECK ((kind = 'breach') = (breach_id IS NOT NULL) AND (alert_id IS NULL) = (breach_id IS NOT NULL));
CREATE INDEX budget_alert_outbox_breach_idx ON budget_alert_outbox (breach_id) WHERE breach_id IS NOT NULL;

-- +goose Down
DELETE FROM budget_alert_outbox WHERE kind = 'breach';
DROP INDEX budget_alert_outbox_breach_idx;
ALTER TABLE budget_alert_outbox
    DROP CONSTRAINT budget_alert_outbox_subject_check,
    DROP CONSTRAINT budget_alert_outbox_kind_check,
    ADD CONSTRAINT budget_alert_outbox_kind_check CHECK (kind IN ('nats', 'webhook', 'email')),
    DROP COLUMN breach_id,
    ALTER COLUMN alert_id SET NOT NULL;
DROP TABLE budget_breaches;
ALTER TABLE budget_spend DROP COLUMN reported_nano_usd;
ALTER TABLE budgets DROP COLUMN breach_webhook_secret_sealed, DROP COLUMN breach_webhook_url, DROP COLUMN spend_basis;
