-- Version 9 (SQLite's schema 15): single-use setup links; only the token's SHA-256 is kept.
CREATE TABLE setup_links (
    id                   TEXT COLLATE "C" PRIMARY KEY,
    token_hash           TEXT COLLATE "C" NOT NULL UNIQUE,
    account_connector_id BIGINT NOT NULL REFERENCES account_connectors(id) ON DELETE CASCADE,
    created_at           TEXT NOT NULL,
    expires_at           TEXT NOT NULL,
    used_at              TEXT,
    revoked_at           TEXT
);
CREATE INDEX setup_links_by_account_connector ON setup_links(account_connector_id);
