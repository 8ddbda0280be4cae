-- Version 11 (SQLite's schema 17): MCP registrations and per-account-connector MCP settings.
CREATE TABLE mcp_registrations (
    connector_id              BIGINT PRIMARY KEY REFERENCES connectors(id) ON DELETE CASCADE,
    registration_client_uri   TEXT,
    sealed_registration_token BYTEA,
    registered_at             TEXT NOT NULL
);
CREATE TABLE mcp_account_connectors (
    account_connector_id BIGINT PRIMARY KEY REFERENCES account_connectors(id) ON DELETE CASCADE,
    step_up_scopes       TEXT NOT NULL DEFAULT '',
    request_tool         BIGINT NOT NULL DEFAULT 0,
    updated_at           TEXT NOT NULL
);
