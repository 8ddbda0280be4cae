-- Schema 13: a failed refresh or sign-in keeps, next to its history entry, the exchange
-- with the token endpoint (redacted JSON: endpoint, grant, client authentication, the
-- parameter names, status, OAuth error, WWW-Authenticate, Retry-After, the body).
ALTER TABLE credential_events ADD COLUMN exchange TEXT;
