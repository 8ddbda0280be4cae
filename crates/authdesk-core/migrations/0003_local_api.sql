-- Schema 3: the local API and the browser sign-in flow. Append-only.

-- Owner settings. Secret ones (the local API key) are sealed; the rest are plain.
CREATE TABLE settings (
    key          TEXT PRIMARY KEY,
    value        TEXT,
    sealed_value BLOB,
    updated_at   TEXT NOT NULL,
    CHECK ((value IS NULL) <> (sealed_value IS NULL))
) STRICT;

-- Origins the browser flow may redirect or post to (`targetOrigin`), and origins allowed
-- to call the API from a browser (CORS). Exact `scheme://host[:port]`.
CREATE TABLE allowed_origins (
    purpose    TEXT NOT NULL CHECK (purpose IN ('target', 'cors')),
    origin     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (purpose, origin)
) STRICT;

-- Account sign-in tokens: stored only as a SHA-256 hash, single use, bound to an account.
CREATE TABLE sign_in_tokens (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    username   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
) STRICT;
CREATE INDEX sign_in_tokens_by_expiry ON sign_in_tokens(expires_at);

-- Where the browser goes when a sign-in started by /connectorauth ends (JSON: the
-- validated targetOrigin URL and the callbackMessage).
ALTER TABLE pending_authorizations ADD COLUMN web_return TEXT;
