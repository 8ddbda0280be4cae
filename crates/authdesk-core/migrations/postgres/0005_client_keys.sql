-- Version 5 (SQLite's schema 11): a library entry's OAuth app may authenticate with a
-- private key (`private_key_jwt`): the key sealed like the ClientSecret, its public JWK
-- (what the provider registers, not secret) in the clear so it is shown without opening
-- the vault.
ALTER TABLE connectors ADD COLUMN sealed_client_private_key BYTEA;
ALTER TABLE connectors ADD COLUMN client_public_jwk TEXT;
