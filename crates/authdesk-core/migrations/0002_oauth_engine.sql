-- Schema 2: the OAuth engine. Append-only: never edit schema 1.

-- Bumped on every change of an account connector's credentials, so a task that waited for
-- someone else's refresh can tell that the stored token is newer than the one it had.
ALTER TABLE account_connectors ADD COLUMN credential_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE account_connectors ADD COLUMN last_refreshed_at TEXT;
-- Transient refresh failures in a row, and when to try again (back-off).
ALTER TABLE account_connectors ADD COLUMN refresh_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE account_connectors ADD COLUMN retry_after TEXT;

-- Authorization requests in flight. `state` is stored only as a SHA-256 hash and taken
-- (deleted) exactly once; the PKCE verifier is sealed.
CREATE TABLE pending_authorizations (
    state_hash           TEXT PRIMARY KEY,
    account_connector_id INTEGER NOT NULL REFERENCES account_connectors(id) ON DELETE CASCADE,
    redirect_uri         TEXT NOT NULL,
    sealed_verifier      BLOB,
    created_at           TEXT NOT NULL,
    expires_at           TEXT NOT NULL
) STRICT;

-- At most one refresh per credential in flight across processes. `holder` names the
-- process (`pid:<pid>:<random>`) so a lease left by a killed process can be taken over.
CREATE TABLE refresh_leases (
    account_connector_id INTEGER PRIMARY KEY REFERENCES account_connectors(id) ON DELETE CASCADE,
    holder               TEXT NOT NULL,
    expires_at           TEXT NOT NULL
) STRICT;

-- History of what happened to a credential (never its values).
CREATE TABLE credential_events (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    account_connector_id INTEGER NOT NULL REFERENCES account_connectors(id) ON DELETE CASCADE,
    at                   TEXT NOT NULL,
    kind                 TEXT NOT NULL,
    detail               TEXT
) STRICT;
CREATE INDEX credential_events_by_connector ON credential_events(account_connector_id, id);
