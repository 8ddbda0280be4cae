-- Schema 14: the provider's signing keys (its JWKS, public keys only), fetched at sign-in
-- and kept per account connector, so its ID tokens and JWT access tokens can be verified
-- offline. Gone with the account connector.
CREATE TABLE provider_keys (
    account_connector_id INTEGER PRIMARY KEY REFERENCES account_connectors(id) ON DELETE CASCADE,
    jwks_url             TEXT NOT NULL,
    issuer               TEXT,
    jwks                 TEXT NOT NULL,
    fetched_at           TEXT NOT NULL
) STRICT;
