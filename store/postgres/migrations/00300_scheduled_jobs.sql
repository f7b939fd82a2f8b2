-- Scheduled jobs: one row per named periodic job. A run is claimed by moving
-- next_run_at forward in one UPDATE, so replicas never run a job twice for
-- one slot (see the schedule package).

-- +goose Up
CREATE TABLE scheduled_jobs (
    name          text PRIMARY KEY,
    next_run_at   timestamptz NOT NULL,
    last_run_at   timestamptz,
    last_ok_at    timestamptz,
    last_error    text NOT NULL DEFAULT '',
    runs          bigint NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE scheduled_jobs;
