-- Version 13 (SQLite's schema 19): the expired pending sign-ins, deleted by each start, read
-- by an index rather than by a scan.
CREATE INDEX IF NOT EXISTS pending_authorizations_by_expiry ON pending_authorizations(expires_at);
