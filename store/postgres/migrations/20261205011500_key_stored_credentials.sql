-- A key can use the tenant's stored provider credentials: data planes put
-- the tenant's key for the provider on its calls in place of the caller's
-- (policy.Policy.InjectCredentials), so apps hold only a spendgate key.

-- +goose Up
ALTER TABLE api_keys ADD COLUMN inject_provider_credentials boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE api_keys DROP COLUMN inject_provider_credentials;
