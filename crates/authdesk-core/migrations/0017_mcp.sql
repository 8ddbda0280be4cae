-- Schema 17: MCP servers as connectors, and Authdesk as an MCP server.
-- A library entry made by dynamic client registration (RFC 7591) keeps where its
-- registration is managed and the registration access token (sealed); an account connector
-- keeps the scopes an MCP server asked for in a step-up (403 insufficient_scope), asked in
-- the next sign-in, and whether agents get its free-form request tool.
CREATE TABLE mcp_registrations (
    connector_id              INTEGER PRIMARY KEY REFERENCES connectors(id) ON DELETE CASCADE,
    registration_client_uri   TEXT,
    sealed_registration_token BLOB,
    registered_at             TEXT NOT NULL
) STRICT;
CREATE TABLE mcp_account_connectors (
    account_connector_id INTEGER PRIMARY KEY REFERENCES account_connectors(id) ON DELETE CASCADE,
    step_up_scopes       TEXT NOT NULL DEFAULT '',
    request_tool         INTEGER NOT NULL DEFAULT 0,
    updated_at           TEXT NOT NULL
) STRICT;
