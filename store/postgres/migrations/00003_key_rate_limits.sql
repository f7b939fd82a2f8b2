-- Per-key rate limits of the key policy: requests and tokens (input + output)
-- per minute; 0 means no limit.

-- +goose Up
ALTER TABLE api_keys
    ADD COLUMN requests_per_minute integer NOT NULL DEFAULT 0 CHECK (requests_per_minute >= 0),
    ADD COLUMN tokens_per_minute   bigint  NOT NULL DEFAULT 0 CHECK (tokens_per_minute >= 0);

-- +goose Down
ALTER TABLE api_keys DROP COLUMN tokens_per_minute, DROP COLUMN requests_per_minute;
