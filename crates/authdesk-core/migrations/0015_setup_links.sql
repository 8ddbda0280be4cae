-- Schema 15: setup links (Cyclr's setup token, made safe for mail scanners): a single-use
-- link that lets a customer authenticate one account connector. Only the token's SHA-256
-- is stored; used, revoked or past its expiry it opens nothing. Gone with the account
-- connector.
CREATE TABLE setup_links (
    id                   TEXT PRIMARY KEY,
    token_hash           TEXT NOT NULL UNIQUE,
    account_connector_id INTEGER NOT NULL REFERENCES account_connectors(id) ON DELETE CASCADE,
    created_at           TEXT NOT NULL,
    expires_at           TEXT NOT NULL,
    used_at              TEXT,
    revoked_at           TEXT
) STRICT;
CREATE INDEX setup_links_by_account_connector ON setup_links(account_connector_id);
