-- When the stored access token was obtained (sign-in, refresh, or an AuthValue set): with
-- its expiry this gives the token's lifetime, which bounds the refresh margin.
ALTER TABLE account_connectors ADD COLUMN access_obtained_at TEXT;
UPDATE account_connectors SET access_obtained_at = COALESCE(last_refreshed_at, authenticated_at)
 WHERE expires_at IS NOT NULL;
