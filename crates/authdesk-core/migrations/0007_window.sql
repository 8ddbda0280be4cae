-- Schema 7: what the desktop window shows. Append-only.

-- What made the engine act, for the history: a method call, the keep-alive, or the user.
ALTER TABLE credential_events ADD COLUMN trigger TEXT;

-- The last verdict of a method call on the stored credential: 2xx verified it, 401/403
-- refused it. It holds only for the credential version it was made with (a new key, a
-- sign-in or a refresh makes it unknown again).
ALTER TABLE account_connectors ADD COLUMN checked_at TEXT;
ALTER TABLE account_connectors ADD COLUMN checked_status INTEGER;
ALTER TABLE account_connectors ADD COLUMN checked_version INTEGER;
