-- Schema 5: Cyclr-style API clients (OAuth client credentials for partner code) and the
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
