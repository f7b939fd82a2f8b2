-- Billing: per-tenant billing settings, issued invoices and their numbers.
-- Drafts are never stored (they are recomputed from ClickHouse on demand); an
-- issued invoice is frozen here with the lines, totals and pricing basis it
-- was issued with, and a trigger refuses any later change to them. Only the
-- status moves on: issued -> paid, issued -> void. See docs/billing.md.

-- +goose Up
CREATE TABLE billing_settings (
    tenant_id        uuid PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    -- IANA time zone the billing periods are cut in
    time_zone        text NOT NULL DEFAULT 'UTC',
    -- day of the month a period starts on (1: calendar months)
    period_start_day int NOT NULL DEFAULT 1 CHECK (period_start_day BETWEEN 1 AND 28),
    -- invoice lines per provider x model, optionally split by team, project,
    -- workspace or dim:<name> ('' for none)
    group_by         text NOT NULL DEFAULT '',
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- The last invoice number of each tenant: numbers are sequential per tenant
-- without gaps (the row is locked while an invoice is issued).
CREATE TABLE invoice_counters (
    tenant_id   uuid PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    last_number bigint NOT NULL
);

CREATE TABLE invoices (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id         uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    number            bigint NOT NULL CHECK (number > 0),
    period_label      text NOT NULL,
    period_start      timestamptz NOT NULL,
    period_end        timestamptz NOT NULL CHECK (period_end > period_start),
    time_zone         text NOT NULL,
    group_by          text NOT NULL,
    status            text NOT NULL CHECK (status IN ('issued', 'paid', 'void')),
    currency          text NOT NULL DEFAULT 'USD',
    -- exact sums (nano-USD) and the amount due: the sum of the lines rounded
    -- to cents (a multiple of 10 000 000 nano-USD)
    list_nano_usd     bigint NOT NULL,
    tenant_nano_usd   bigint NOT NULL,
    total_nano_usd    bigint NOT NULL CHECK (total_nano_usd % 10000000 = 0),
    -- billing.Line values: usage lines and adjustments of earlier periods
    lines             jsonb NOT NULL,
    -- billing.PricingBasis: catalogue revisions and tenant overrides in force
    pricing           jsonb NOT NULL,
    -- billing.ProviderFigure values (metered vs provider-reported)
    provider_reported jsonb NOT NULL DEFAULT '[]',
    issued_at         timestamptz NOT NULL,
    issued_by         text NOT NULL,
    paid_at           timestamptz,
    paid_by           text,
    voided_at         timestamptz,
    voided_by         text,
    void_reason       text,
    UNIQUE (tenant_id, number)
);
-- One live invoice per tenant and period: issuing twice (or concurrently)
-- issues once. A void invoice leaves its period free to be issued again.
CREATE UNIQUE INDEX invoices_one_per_period ON invoices (tenant_id, period_start) WHERE status <> 'void';
CREATE INDEX invoices_by_tenant ON invoices (tenant_id, period_start DESC);

-- +goose StatementBegin
CREATE FUNCTION invoices_frozen() RETURNS trigger AS $$
BEGIN
    IF NEW.tenant_id IS DISTINCT FROM OLD.tenant_id OR NEW.number IS DISTINCT FROM OLD.number
       OR NEW.period_label IS DISTINCT FROM OLD.period_label OR NEW.period_start IS DISTINCT FROM OLD.period_start
       OR NEW.period_end IS DISTINCT FROM OLD.period_end OR NEW.time_zone IS DISTINCT FROM OLD.time_zone
       OR NEW.group_by IS DISTINCT FROM OLD.group_by OR NEW.currency IS DISTINCT FROM OLD.currency
       OR NEW.list_nano_usd IS DISTINCT FROM OLD.list_nano_usd OR NEW.tenant_nano_usd IS DISTINCT FROM OLD.tenant_nano_usd
       OR NEW.total_nano_usd IS DISTINCT FROM OLD.total_nano_usd OR NEW.lines IS DISTINCT FROM OLD.lines
       OR NEW.pricing IS DISTINCT FROM OLD.pricing OR NEW.provider_reported IS DISTINCT FROM OLD.provider_reported
       OR NEW.issued_at IS DISTINCT FROM OLD.issued_at OR NEW.issued_by IS DISTINCT FROM OLD.issued_by THEN
        RAISE EXCEPTION 'invoice % is issued: its contents never change', OLD.id USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (OLD.status = 'issued' AND NEW.status IN ('paid', 'void')) THEN
        RAISE EXCEPTION 'invoice % cannot go from % to %', OLD.id, OLD.status, NEW.status USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER invoices_frozen BEFORE UPDATE ON invoices FOR EACH ROW EXECUTE FUNCTION invoices_frozen();

-- +goose Down
DROP TABLE invoices;
DROP FUNCTION invoices_frozen();
DROP TABLE invoice_counters;
DROP TABLE billing_settings;
