-- Scheduled jobs run under a lease: a claim takes lease_token/lease_until
-- without moving next_run_at, so a runner that dies mid-run leaves the job
-- due and another replica takes it over once the lease lapses. A failed run
-- is retried with backoff (failures counts consecutive failures); progress
-- is what a running job last reported, for operators.

-- +goose Up
ALTER TABLE scheduled_jobs
    ADD COLUMN failures      integer     NOT NULL DEFAULT 0,
    ADD COLUMN progress      text        NOT NULL DEFAULT '',
    ADD COLUMN lease_token   uuid,
    ADD COLUMN lease_until   timestamptz,
    ADD COLUMN started_at    timestamptz,
    ADD COLUMN last_duration interval;

-- +goose Down
ALTER TABLE scheduled_jobs
    DROP COLUMN failures,
    DROP COLUMN progress,
    DROP COLUMN lease_token,
    DROP COLUMN lease_until,
    DROP COLUMN started_at,
    DROP COLUMN last_duration;
