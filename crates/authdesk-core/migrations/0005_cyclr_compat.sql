-- Schema 5: Cyclr compatibility. Cyclr-style API clients (OAuth client credentials for partner code) and the
-- bearer tokens they get. Secrets and tokens are stored only as SHA-256 hashes of 256-bit
-- random values. Append-only.
CREATE TABLE api_clients (
    client_id   TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
) STRICT;

CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES api_clients(client_id) ON DELETE CASCADE,
    -- Set for `scope=account:{AccountId}` tokens: they work for that account only.
    account_id TEXT REFERENCES accounts(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
) STRICT;
CREATE INDEX api_tokens_by_expiry ON api_tokens(expires_at);

-- Account fields Cyclr's API documents. Authdesk runs no cycles and sends no transaction
-- webhooks: these are stored and returned as given, so partner code round-trips them.
ALTER TABLE accounts ADD COLUMN step_data_success_retention_hours INTEGER;
ALTER TABLE accounts ADD COLUMN step_data_errored_retention_hours INTEGER;
ALTER TABLE accounts ADD COLUMN transaction_error_webhook_enabled INTEGER;
ALTER TABLE accounts ADD COLUMN transaction_error_webhook_url TEXT;
ALTER TABLE accounts ADD COLUMN transaction_error_webhook_include_warnings INTEGER;
ALTER TABLE accounts ADD COLUMN parent_account_id TEXT;

-- Which of the connector's ways to authenticate the account connector uses (the id of an
-- `auth_methods` entry of its definition; NULL: the default `[auth]`), and whether it was
-- installed by LAUNCH as the partner's own connector (Cyclr's IsPartnerIntegrationConnector).
ALTER TABLE account_connectors ADD COLUMN authentication_method TEXT;
ALTER TABLE account_connectors ADD COLUMN partner_integration INTEGER NOT NULL DEFAULT 0;
