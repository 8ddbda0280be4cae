-- Authdesk schema, version 1. Migrations are append-only: never edit a released file,
-- add the next number instead.
--
-- Secret values never appear in plaintext here: columns named `sealed*` hold
-- XChaCha20-Poly1305 ciphertext whose associated data names the table, row and field.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,           -- GUID, lowercase hyphenated
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    timezone    TEXT NOT NULL DEFAULT 'UTC',
    created_at  TEXT NOT NULL
) STRICT;

CREATE TABLE account_users (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    username   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (account_id, username)
) STRICT;

-- The connector library: built-in definitions (synced from the binary's catalog) and the
-- user's own. `definition` is the TOML text, validated whenever it is read.
CREATE TABLE connectors (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    slug                 TEXT NOT NULL UNIQUE,
    source               TEXT NOT NULL CHECK (source IN ('builtin', 'user')),
    definition           TEXT NOT NULL,
    client_id            TEXT,
    sealed_client_secret BLOB,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
) STRICT;

CREATE TABLE account_connectors (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id         TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    connector_id       INTEGER NOT NULL REFERENCES connectors(id),
    name               TEXT NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    status             TEXT NOT NULL DEFAULT 'not_authenticated'
                       CHECK (status IN ('not_authenticated', 'authenticated', 'needs_reauth', 'error')),
    last_error         TEXT,
    sign_in_mode       TEXT CHECK (sign_in_mode IN ('webview', 'system_browser')),
    token_type         TEXT,
    scopes             TEXT,
    expires_at         TEXT,
    refresh_expires_at TEXT,
    authenticated_at   TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
) STRICT;
CREATE INDEX account_connectors_by_account ON account_connectors(account_id);

CREATE TABLE account_connector_properties (
    account_connector_id INTEGER NOT NULL REFERENCES account_connectors(id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    value                TEXT,
    sealed_value         BLOB,
    CHECK ((value IS NULL) <> (sealed_value IS NULL)),
    PRIMARY KEY (account_connector_id, name)
) STRICT;

-- Credentials of an account connector: AccessToken, RefreshToken, IdToken, ApiKey,
-- BasicCredentials. Replaced together, in the transaction that updates the metadata above.
CREATE TABLE account_connector_secrets (
    account_connector_id INTEGER NOT NULL REFERENCES account_connectors(id) ON DELETE CASCADE,
    field                TEXT NOT NULL,
    sealed               BLOB NOT NULL,
    PRIMARY KEY (account_connector_id, field)
) STRICT;
