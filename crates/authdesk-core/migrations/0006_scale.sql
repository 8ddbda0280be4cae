-- Schema 6: indexes for 100,000 account connectors on one desktop. Append-only.

-- Account lists are ordered by name (and searched by it).
CREATE INDEX accounts_by_name ON accounts(name, id);

-- An account's connectors, in Id order, a page at a time.
DROP INDEX account_connectors_by_account;
CREATE INDEX account_connectors_by_account ON account_connectors(account_id, id);
-- Counts and searches by status ("needs re-authentication" across every account).
CREATE INDEX account_connectors_by_status ON account_connectors(status, id);
-- Which account connectors use a library entry.
CREATE INDEX account_connectors_by_connector ON account_connectors(connector_id, id);
-- The keep-alive reads only what is due: expiring soon, or idle for long (a range per
-- status, so a pass with nothing due reads nothing).
CREATE INDEX account_connectors_by_expiry ON account_connectors(status, expires_at);
CREATE INDEX account_connectors_by_last_use
    ON account_connectors(status, COALESCE(last_refreshed_at, authenticated_at));
