-- Email as a budget-alert channel: a budget's recipients, and 'email' rows
-- in the alert outbox (at most one per budget and threshold within the
-- operator's --alert-email-debounce; see budget/pgstore).

-- +goose Up
ALTER TABLE budgets ADD COLUMN alert_emails text[] NOT NULL DEFAULT '{}';
ALTER TABLE budget_alert_outbox DROP CONSTRAINT budget_alert_outbox_kind_check;
ALTER TABLE budget_alert_outbox ADD CONSTRAINT budget_alert_outbox_kind_check CHECK (kind IN ('nats', 'webhook', 'email'));
CREATE INDEX budget_alert_outbox_email_idx ON budget_alert_outbox (budget_id) WHERE kind = 'email';

-- +goose Down
DROP INDEX budget_alert_outbox_email_idx;
DELETE FROM budget_alert_outbox WHERE kind = 'email';
ALTER TABLE budget_alert_outbox DROP CONSTRAINT budget_alert_outbox_kind_check;
ALTER TABLE budget_alert_outbox ADD CONSTRAINT budget_alert_outbox_kind_check CHECK (kind IN ('nats', 'webhook'));
ALTER TABLE budgets DROP COLUMN alert_emails;
