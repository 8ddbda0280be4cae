-- Version 6 (SQLite's schema 12): keys an account connector holds for itself (the DPoP key
-- its tokens are bound to, RFC 9449), sealed, with the public key's RFC 7638 thumbprint in
-- the clear. Gone with the account connector.
CREATE TABLE account_connector_keys (
    account_connector_id BIGINT NOT NULL REFERENCES account_connectors(id) ON DELETE CASCADE,
    purpose              TEXT COLLATE "C" NOT NULL,
    sealed               BYTEA NOT NULL,
    jkt                  TEXT NOT NULL,
    created_at           TEXT NOT NULL,
    PRIMARY KEY (account_connector_id, purpose)
);
