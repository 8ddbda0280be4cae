-- Schema 16: signed webhooks on credential events. Endpoints (their `whsec_` secret sealed),
-- the outbox (one row per event and endpoint, written in the same transaction as the
-- credential change it tells of; claimed for delivery with a lease), and every delivery
-- attempt (time, status or error, next retry).
CREATE TABLE webhook_endpoints (
    id             TEXT PRIMARY KEY,
    url            TEXT NOT NULL,
    account_id     TEXT REFERENCES accounts(id) ON DELETE CASCADE,
    events         TEXT NOT NULL,
    sealed_secret  BLOB NOT NULL,
    allow_loopback INTEGER NOT NULL DEFAULT 0,
    allow_private  INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL
) STRICT;
CREATE TABLE webhook_outbox (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id           TEXT NOT NULL,
    endpoint_id          TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    account_connector_id INTEGER NOT NULL,
    type                 TEXT NOT NULL,
    payload              TEXT NOT NULL,
    created_at           TEXT NOT NULL,
    attempts             INTEGER NOT NULL DEFAULT 0,
    next_attempt_at      TEXT NOT NULL,
    delivered_at         TEXT,
    failed_at            TEXT,
    claimed_by           TEXT,
    claimed_until        TEXT
) STRICT;
CREATE INDEX webhook_outbox_due ON webhook_outbox(next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX webhook_outbox_chain ON webhook_outbox(endpoint_id, account_connector_id, id);
CREATE TABLE webhook_attempts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id     INTEGER NOT NULL REFERENCES webhook_outbox(id) ON DELETE CASCADE,
    endpoint_id   TEXT NOT NULL,
    at            TEXT NOT NULL,
    status        INTEGER,
    error         TEXT,
    next_retry_at TEXT
) STRICT;
CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts(endpoint_id, id);
