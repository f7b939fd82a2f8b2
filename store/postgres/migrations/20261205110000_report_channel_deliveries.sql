-- A scheduled report reaches each of its channels (email, slack) once per
-- schedule time: a channel that got it is recorded here at once, so when the
-- other channel fails and the scheduler retries the run, the retry sends
-- only to the channel still missing. report_runs records the slot once every
-- channel has it.

-- +goose Up
CREATE TABLE report_channel_deliveries (
    definition_id uuid NOT NULL REFERENCES report_definitions(id) ON DELETE CASCADE,
    tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    slot          timestamptz NOT NULL,
    channel       text NOT NULL CHECK (channel IN ('email', 'slack')),
    delivered_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (definition_id, slot, channel)
);

-- +goose Down
DROP TABLE report_channel_deliveries;
