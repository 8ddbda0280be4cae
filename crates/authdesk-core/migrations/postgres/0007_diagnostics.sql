-- Version 7 (SQLite's schema 13): a failed refresh or sign-in keeps, next to its history
-- entry, the exchange with the token endpoint (redacted JSON).
ALTER TABLE credential_events ADD COLUMN exchange TEXT;
