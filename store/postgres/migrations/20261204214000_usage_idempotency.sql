-- Idempotency keys of the public record API (POST /v1/usage): one row per
-- tenant and key, naming the event it became, a fingerprint of the record
-- (reusing a key for another record is refused) and the event's time (a
-- retry without a time of its own gets the first one, so it stays the same
-- event everywhere ingest deduplicates). See docs/record-api.md.

-- +goose Up
CREATE TABLE usage_idempotency_keys (
    tenant_id        uuid NOT NULL,
    idempotency_key  text NOT NULL,
    event_id         uuid NOT NULL,
    fingerprint      bytea NOT NULL,
    event_time       timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, idempotency_key)
);
CREATE INDEX usage_idempotency_keys_created ON usage_idempotency_keys (created_at);

-- +goose Down
DROP TABLE usage_idempotency_keys;
