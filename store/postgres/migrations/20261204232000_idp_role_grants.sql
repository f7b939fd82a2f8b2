-- +goose Up
-- Scoped grants made by an identity provider's group mapping (OIDC groups
-- claim, SCIM group membership) are reconciled with the groups at every
-- sign-in, refresh and SCIM change; grants an admin made by hand ('admin')
-- are never touched by that reconciliation.
ALTER TABLE role_grants ADD COLUMN source text NOT NULL DEFAULT 'admin' CHECK (source IN ('admin', 'idp'));

-- +goose Down
ALTER TABLE role_grants DROP COLUMN source;
