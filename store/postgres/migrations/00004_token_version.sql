-- A user's token version: every access token carries the version it was
-- issued at, and a token of an older version is refused. Changing the
-- password bumps it, which ends every session at once (refresh tokens are
-- revoked in the same transaction).

-- +goose Up
ALTER TABLE users ADD COLUMN token_version bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE users DROP COLUMN token_version;
