-- Schema 10: the account connectors whose API key or Basic password a provider refused (a
-- 401/403 from a method call) are counted under "needs attention" with the others; this
-- partial index holds only those, so the count reads nothing else.
CREATE INDEX account_connectors_refused ON account_connectors(status, id) WHERE checked_status IN (401, 403);
