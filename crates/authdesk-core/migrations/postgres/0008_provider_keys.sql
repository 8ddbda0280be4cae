-- Version 8 (SQLite's schema 14): the provider's signing keys (its JWKS, public keys only),
-- fetched at sign-in and kept per account connector for offline verification of its JWTs.
CREATE TABLE provider_keys (
    account_connector_id BIGINT PRIMARY KEY REFERENCES account_connectors(id) ON DELETE CASCADE,
    jwks_url             TEXT NOT NULL,
    issuer               TEXT,
    jwks                 TEXT NOT NULL,
    fetched_at           TEXT NOT NULL
);
