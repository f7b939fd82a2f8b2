-- Scheduled spend reports (package report): who receives which report, how
-- often and in which time zone, and one row per report sent. When a report
-- runs is the scheduler's business (scheduled_jobs, job "report:<id>").

-- +goose Up
CREATE TABLE report_definitions (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id         uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    frequency         text NOT NULL CHECK (frequency IN ('weekly', 'monthly', 'cron')),
    cron              text NOT NULL DEFAULT '',
    time_zone         text NOT NULL DEFAULT 'UTC',
    scope             text NOT NULL CHECK (scope IN ('tenant', 'team', 'project')),
    team_id           uuid,
    project_id        uuid,
    emails            text[] NOT NULL DEFAULT '{}',
    slack_webhook_url text NOT NULL DEFAULT '',
    enabled           boolean NOT NULL DEFAULT true,
    -- Reports are sent for schedule times from here on: set when the report
    -- is created, its schedule changes or it is enabled again, so none of
    -- these sends a report for a time before it.
    scheduled_since   timestamptz NOT NULL DEFAULT now(),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((scope = 'team') = (team_id IS NOT NULL)),
    CHECK ((scope = 'project') = (project_id IS NOT NULL)),
    -- the composite keys make a node of another tenant impossible
    FOREIGN KEY (tenant_id, team_id) REFERENCES teams (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX report_definitions_tenant_idx ON report_definitions (tenant_id, name);

-- One row per report sent: a scheduled one once per schedule time (slot),
-- so a retried or taken-over run does not send it twice; test sends too.
CREATE TABLE report_runs (
    id              bigserial PRIMARY KEY,
    definition_id   uuid NOT NULL REFERENCES report_definitions(id) ON DELETE CASCADE,
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    slot            timestamptz NOT NULL,
    test            boolean NOT NULL DEFAULT false,
    period_from     timestamptz NOT NULL,
    period_to       timestamptz NOT NULL,
    spend_nano_usd  bigint NOT NULL,
    channels        text[] NOT NULL DEFAULT '{}',
    sent_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX report_runs_slot_idx ON report_runs (definition_id, slot) WHERE NOT test;
CREATE INDEX report_runs_tenant_idx ON report_runs (tenant_id, sent_at DESC);

-- +goose Down
DROP TABLE report_runs;
DROP TABLE report_definitions;
