-- Pricing catalogue revisions: prices as data. The embedded catalogue is the
-- first revision; `pricing sync` proposes revisions, an admin applies or
-- rejects them. Applied revisions are effective-dated: an event is priced by
-- the revision in force at its time.

-- +goose Up
CREATE TABLE pricing_revisions (
    id              bigserial PRIMARY KEY,
    status          text NOT NULL CHECK (status IN ('proposed', 'applied', 'rejected')),
    -- The applied revision this one was computed from; applying it is refused
    -- once another revision has been applied since (its diff would be stale).
    base_id         bigint REFERENCES pricing_revisions(id),
    effective_from  timestamptz NOT NULL,
    source          text NOT NULL,
    -- The whole catalogue (pricing.File as JSON) and its diff against base.
    catalogue       jsonb NOT NULL,
    diff            jsonb NOT NULL,
    summary         text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text NOT NULL,
    decided_at      timestamptz,
    decided_by      text
);
CREATE INDEX pricing_revisions_applied ON pricing_revisions (effective_from, id) WHERE status = 'applied';

-- +goose Down
DROP TABLE pricing_revisions;
