//! What Authdesk keeps for MCP: a library entry made for a remote MCP server (its
//! definition, its OAuth app from dynamic client registration — ClientId, the sealed
//! ClientSecret and the sealed registration access token — written in one transaction), the
//! scopes an MCP server asked for in a step-up (asked at the next sign-in, never silently),
//! and, per account connector, whether agents get its free-form request tool.
//!
//! Must not: talk to an MCP server (the engine's `mcp` does), or widen a sign-in by itself:
//! step-up scopes are asked only when the user signs in again.

use crate::definition::ConnectorDefinition;
use crate::domain::LibraryConnector;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::store::args;
use crate::vault::SealedAt;

use super::{ts, Authdesk, T_CONNECTORS};

const T_REGISTRATIONS: &str = "mcp_registrations";

/// The client an MCP server's authorization server registered for Authdesk (RFC 7591), or
/// the ClientId the user gave.
pub struct McpClient {
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub registration_access_token: Option<Secret>,
    pub registration_client_uri: Option<String>,
    /// Whether it came from dynamic registration (else the user gave the ClientId).
    pub registered: bool,
}

impl Authdesk {
    /// Adds a user connector for an MCP server with its OAuth app, in one transaction: a
    /// failure writes nothing. Refuses an id already in the library.
    pub fn add_mcp_connector(
        &self,
        origin: &str,
        toml_text: &str,
        client: Option<&McpClient>,
    ) -> Result<LibraryConnector> {
        let def = ConnectorDefinition::from_toml(origin, toml_text)?;
        if def.mcp.is_none() {
            return Err(Error::InvalidInput(format!(
                "{origin} has no [mcp] section: it is not an MCP server's connector"
            )));
        }
        let vault = match client {
            Some(c) if c.client_secret.is_some() || c.registration_access_token.is_some() => {
                Some(self.vault()?)
            }
            _ => None,
        };
        let now = ts(self.now());
        let slug = def.id.clone();
        self.store()?.write(|tx| {
            let taken: bool = tx
                .query_opt(
                    "SELECT 1 FROM connectors WHERE slug = ?1",
                    args![&slug],
                    |_| Ok(true),
                )?
                .unwrap_or(false);
            if taken {
                return Err(Error::AlreadyExists(format!(
                    "connector `{slug}` already exists: give the MCP server another id (--id) or \
                     remove that connector first"
                )));
            }
            let id: i64 = tx
                .query_opt(
                    "INSERT INTO connectors(slug, source, definition, created_at, updated_at)
                     VALUES (?1, 'user', ?2, ?3, ?3) RETURNING id",
                    args![slug, toml_text, now],
                    |r| r.get(0),
                )?
                .ok_or_else(|| Error::InvalidInput("the connector was not stored".into()))?;
            let Some(c) = client else { return Ok(()) };
            let row = id.to_string();
            let seal =
                |table: &'static str, field: &'static str, s: &Option<Secret>| match (s, &vault) {
                    (Some(s), Some(v)) => Some(v.seal(
                        SealedAt {
                            table,
                            row: &row,
                            field,
                        },
                        s,
                    )),
                    _ => None,
                };
            let secret = seal(T_CONNECTORS, "ClientSecret", &c.client_secret);
            tx.execute(
                "UPDATE connectors SET client_id = ?2, sealed_client_secret = ?3 WHERE id = ?1",
                args![id, c.client_id.as_str(), secret],
            )?;
            if c.registered {
                let token = seal(
                    T_REGISTRATIONS,
                    "RegistrationAccessToken",
                    &c.registration_access_token,
                );
                tx.execute(
                    "INSERT INTO mcp_registrations(connector_id, registration_client_uri, \
                     sealed_registration_token, registered_at) VALUES (?1, ?2, ?3, ?4)",
                    args![id, c.registration_client_uri.as_deref(), token, now],
                )?;
            }
            Ok(())
        })?;
        self.get_connector(&slug)
    }

    /// Whether the library entry's OAuth app was registered dynamically, and where its
    /// registration is managed (RFC 7592).
    pub fn mcp_registration(&self, connector_id: i64) -> Result<Option<Option<String>>> {
        self.store()?.conn().query_opt(
            "SELECT registration_client_uri FROM mcp_registrations WHERE connector_id = ?1",
            args![connector_id],
            |r| r.get(0),
        )
    }

    /// The scopes an MCP server asked for beyond those granted (a step-up), asked at the
    /// account connector's next sign-in.
    pub fn mcp_step_up_scopes(&self, account_connector_id: i64) -> Result<Vec<String>> {
        let text: Option<String> = self.store()?.conn().query_opt(
            "SELECT step_up_scopes FROM mcp_account_connectors WHERE account_connector_id = ?1",
            args![account_connector_id],
            |r| r.get(0),
        )?;
        Ok(text
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect())
    }

    /// Records the scopes a step-up needs (the union with those already recorded); answers
    /// the whole set.
    pub fn add_mcp_step_up_scopes(
        &self,
        account_connector_id: i64,
        scopes: &[String],
    ) -> Result<Vec<String>> {
        let mut all = self.mcp_step_up_scopes(account_connector_id)?;
        for s in scopes {
            if !s.is_empty() && !all.contains(s) {
                all.push(s.clone());
            }
        }
        self.write_mcp_settings(account_connector_id, "step_up_scopes", &all.join(" "))?;
        Ok(all)
    }

    /// Whether agents get the account connector's free-form request tool.
    pub fn mcp_request_tool(&self, account_connector_id: i64) -> Result<bool> {
        let on: Option<i64> = self.store()?.conn().query_opt(
            "SELECT request_tool FROM mcp_account_connectors WHERE account_connector_id = ?1",
            args![account_connector_id],
            |r| r.get(0),
        )?;
        Ok(on.unwrap_or(0) != 0)
    }

    /// The account connectors whose free-form request tool agents get.
    pub fn mcp_request_tool_ids(&self) -> Result<std::collections::HashSet<i64>> {
        let ids: Vec<i64> = self.store()?.conn().query_map(
            "SELECT account_connector_id FROM mcp_account_connectors WHERE request_tool <> 0",
            args![],
            |r| r.get(0),
        )?;
        Ok(ids.into_iter().collect())
    }

    /// Turns the account connector's free-form request tool on or off for agents.
    pub fn set_mcp_request_tool(&self, account_connector_id: i64, on: bool) -> Result<()> {
        self.get_account_connector(account_connector_id)?;
        self.write_mcp_settings(account_connector_id, "request_tool", &(on as i64))
    }

    fn write_mcp_settings(
        &self,
        id: i64,
        column: &'static str,
        value: &dyn crate::store::value::ToValue,
    ) -> Result<()> {
        let now = ts(self.now());
        self.store()?.write(|tx| {
            tx.execute(
                &format!(
                    "INSERT INTO mcp_account_connectors(account_connector_id, {column}, updated_at)
                     VALUES (?1, ?2, ?3)
                     ON CONFLICT (account_connector_id) DO UPDATE SET {column} = ?2, updated_at = ?3"
                ),
                &[&id, value, &now],
            )?;
            Ok(())
        })
    }
}
