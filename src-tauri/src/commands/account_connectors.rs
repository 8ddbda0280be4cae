//! One account connector: install it, its properties and credentials (typed into forms per
//! way to authenticate, or as an AuthValue), sign-in, refresh, disconnect, the inspector
//! (one secret revealed at a time), the history and the method tester.
//!
//! Must not: return a stored secret but through `reveal_secret` (one value the user asked
//! for), build a credential from a form itself (the core's `set_credential` does), or
//! disconnect or delete but through the engine (it revokes the tokens first).

use authdesk_core::definition::SignInMode;
use authdesk_core::engine::methods::MethodResponse;
use authdesk_core::engine::request::FreeRequest;
use authdesk_core::engine::RevocationReport;
use authdesk_core::inspect::Inspection;
use authdesk_core::token_store::CredentialEvent;
use authdesk_core::{AccountConnector, CredentialForm, InstallRequest, PropertyInput, Secret};
use serde::{Deserialize, Serialize};
use tauri::AppHandle;

use super::{R, S};
use crate::signin::{self, ConnectStarted};

#[tauri::command]
pub async fn account_connector(shell: S<'_>, id: i64) -> R<AccountConnector> {
    shell.db(move |desk| desk.get_account_connector(id)).await
}

#[tauri::command]
pub async fn install(
    shell: S<'_>,
    account_id: String,
    connector: String,
    name: String,
) -> R<AccountConnector> {
    shell
        .db(move |desk| {
            desk.install(
                &account_id,
                &connector,
                InstallRequest {
                    name,
                    ..Default::default()
                },
            )
        })
        .await
}

#[tauri::command]
pub async fn set_property(
    shell: S<'_>,
    id: i64,
    name: String,
    value: String,
) -> R<AccountConnector> {
    let input = [PropertyInput {
        name,
        value: Secret::new(value),
    }];
    shell
        .db(move |desk| desk.update_account_connector(id, &input, None))
        .await
}

#[tauri::command]
pub async fn remove_property(shell: S<'_>, id: i64, name: String) -> R<AccountConnector> {
    shell.db(move |desk| desk.remove_property(id, &name)).await
}

/// Cyclr's AuthValue text (tokens as JSON, `{}`, an API key, base64 of `user:password`).
#[tauri::command]
pub async fn set_auth_value(shell: S<'_>, id: i64, value: String) -> R<AccountConnector> {
    let value = Secret::new(value);
    shell
        .db(move |desk| desk.set_auth_value(id, &value))
        .await?;
    checked(&shell, id).await
}

/// The account connector after its connector's `[check]` ran on the credential just set
/// (when it names one).
async fn checked(shell: &super::Shell, id: i64) -> R<AccountConnector> {
    shell.engine.check_if_named(id).await;
    shell.db(move |desk| desk.get_account_connector(id)).await
}

/// "Check now": the connector's `[check]` request with the stored credential.
#[tauri::command]
pub async fn check_credential(
    shell: S<'_>,
    id: i64,
) -> R<authdesk_core::engine::check::CheckResult> {
    Ok(shell.engine.check(id).await?)
}

/// A setup link for the account connector, on the in-process local API (which must run):
/// `{"Id","Url","ExpiresAtUtc"}`, the default 5 minutes.
#[tauri::command]
pub async fn create_setup_link(shell: S<'_>, id: i64) -> R<serde_json::Value> {
    let port = shell.api.clone().map_err(|why| {
        authdesk_core::Error::InvalidInput(format!(
            "setup links are opened at the local API, which is not running ({why})"
        ))
    })?;
    let link = shell
        .db(move |desk| desk.create_setup_link(id, authdesk_core::setup_links::DEFAULT_TTL))
        .await?;
    Ok(serde_json::json!({
        "Id": link.id,
        "Url": format!("http://127.0.0.1:{port}/setup/{}", link.token.expose()),
        "ExpiresAtUtc": link.expires_at_utc,
    }))
}

/// What a credential form sends: its kind and its fields.
#[derive(Deserialize)]
#[serde(tag = "Kind", rename_all_fields = "PascalCase")]
pub enum CredentialInput {
    ApiKey {
        key: String,
    },
    Basic {
        username: String,
        password: String,
    },
    OAuth2 {
        access_token: Option<String>,
        refresh_token: Option<String>,
        expires: Option<String>,
        refresh_expires: Option<String>,
    },
    /// AuthFields: each field's value, by the field's name.
    AuthFields {
        values: std::collections::BTreeMap<String, String>,
    },
}

/// Credentials from the form of the account connector's way to authenticate; the app
/// encodes them (Basic) or builds the AuthValue (OAuth tokens).
#[tauri::command]
pub async fn set_credential(
    shell: S<'_>,
    id: i64,
    credential: CredentialInput,
) -> R<AccountConnector> {
    let secret = |s: Option<String>| s.filter(|s| !s.trim().is_empty()).map(Secret::new);
    let form = match credential {
        CredentialInput::ApiKey { key } => CredentialForm::ApiKey {
            key: Secret::new(key),
        },
        CredentialInput::Basic { username, password } => CredentialForm::Basic {
            username,
            password: Secret::new(password),
        },
        CredentialInput::OAuth2 {
            access_token,
            refresh_token,
            expires,
            refresh_expires,
        } => CredentialForm::OAuth2 {
            access_token: secret(access_token),
            refresh_token: secret(refresh_token),
            expires,
            refresh_expires,
        },
        CredentialInput::AuthFields { values } => CredentialForm::AuthFields {
            values: values
                .into_iter()
                .map(|(k, v)| (k, Secret::new(v)))
                .collect(),
        },
    };
    shell.db(move |desk| desk.set_credential(id, form)).await?;
    checked(&shell, id).await
}

#[tauri::command]
pub async fn set_sign_in_mode(shell: S<'_>, id: i64, mode: String) -> R<AccountConnector> {
    let mode = match mode.as_str() {
        "webview" => Some(SignInMode::Webview),
        "system_browser" => Some(SignInMode::SystemBrowser),
        _ => None,
    };
    shell.db(move |desk| desk.set_sign_in_mode(id, mode)).await
}

/// Starts a sign-in: an isolated webview window whose redirect is intercepted, or the system
/// browser with the local API's (or a loopback) redirect. The result arrives as the event
/// `sign-in-finished`.
#[tauri::command]
pub async fn connect(app: AppHandle, shell: S<'_>, id: i64) -> R<ConnectStarted> {
    signin::start(&app, &shell, id).await
}

#[tauri::command]
pub fn cancel_sign_in(app: AppHandle, id: i64) {
    signin::cancel(&app, id);
}

#[tauri::command]
pub async fn disconnect(shell: S<'_>, id: i64) -> R<RevocationReport> {
    Ok(shell.engine.disconnect(id).await?)
}

/// What Disconnect or Delete will do, so the window can say it before doing it.
#[tauri::command]
pub async fn removal_preview(shell: S<'_>, id: i64) -> R<authdesk_core::engine::RemovalPreview> {
    Ok(shell.engine.removal_preview(id).await?)
}

#[tauri::command]
pub async fn delete_account_connector(shell: S<'_>, id: i64) -> R<RevocationReport> {
    Ok(shell.engine.delete_account_connector(id).await?)
}

/// The inspector, every value masked.
#[tauri::command]
pub async fn inspect(shell: S<'_>, id: i64) -> R<Inspection> {
    shell.db(move |desk| desk.inspect(id, false)).await
}

/// One stored secret's value, because the user asked for that one (Reveal or Copy).
#[tauri::command]
pub async fn reveal_secret(shell: S<'_>, id: i64, field: String) -> R<String> {
    shell
        .db(move |desk| {
            desk.credential_secret(id, &field)?
                .map(|s| s.expose().to_string())
                .ok_or_else(|| authdesk_core::Error::not_found("stored secret", field))
        })
        .await
}

#[tauri::command]
pub async fn history(shell: S<'_>, id: i64) -> R<Vec<CredentialEvent>> {
    shell.db(move |desk| desk.credential_events(id, 50)).await
}

#[tauri::command]
pub async fn refresh_now(shell: S<'_>, id: i64) -> R<AccountConnector> {
    Ok(shell.engine.refresh_now(id).await?)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MethodInfo {
    id: String,
    name: String,
    description: String,
    http_method: String,
    path: String,
    parameters: Vec<ParameterInfo>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterInfo {
    name: String,
    location: String,
    required: bool,
    description: String,
    /// The JSON type a tool's argument takes (`string`, `number`, `integer`, `boolean`,
    /// `object`, `array`); methods' parameters are `string`.
    kind: String,
}

#[tauri::command]
pub async fn methods(shell: S<'_>, id: i64) -> R<Vec<MethodInfo>> {
    let def = shell
        .db(move |desk| desk.account_connector_definition(id))
        .await?;
    if def.mcp.is_some() {
        // An MCP server: its tools, as the server lists them now.
        let tools = shell.engine.mcp_tools(None, id).await?;
        return Ok(tools.into_iter().map(tool_info).collect());
    }
    Ok(def
        .methods
        .iter()
        .map(|m| MethodInfo {
            id: m.id.clone(),
            name: m.name.clone(),
            description: m.description.clone(),
            http_method: format!("{:?}", m.http_method).to_uppercase(),
            path: m.path.clone(),
            parameters: m
                .parameters
                .iter()
                .map(|p| ParameterInfo {
                    name: p.name.clone(),
                    location: format!("{:?}", p.location).to_lowercase(),
                    required: p.required,
                    description: p.description.clone(),
                    kind: "string".into(),
                })
                .collect(),
        })
        .collect())
}

/// An MCP tool as the method tester shows it: HttpMethod `TOOL`, its arguments from the
/// input schema's properties.
fn tool_info(t: authdesk_core::mcp::Tool) -> MethodInfo {
    let schema = &t.input_schema;
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let parameters = schema["properties"]
        .as_object()
        .map(|props| {
            props
                .iter()
                .map(|(name, p)| ParameterInfo {
                    name: name.clone(),
                    location: "argument".into(),
                    required: required.contains(&name.as_str()),
                    description: p["description"].as_str().unwrap_or_default().to_string(),
                    kind: p["type"].as_str().unwrap_or("string").to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    MethodInfo {
        id: t.name.clone(),
        name: t.name.clone(),
        description: t.description.unwrap_or_default(),
        http_method: "TOOL".into(),
        path: t.name,
        parameters,
    }
}

#[tauri::command]
pub async fn call_method(
    shell: S<'_>,
    id: i64,
    method: String,
    parameters: serde_json::Map<String, serde_json::Value>,
) -> R<MethodResponse> {
    Ok(shell.engine.call_method(id, &method, &parameters).await?)
}

/// The tester's free-form request: any request on the connector's origins, auth applied.
#[tauri::command]
pub async fn send_request(shell: S<'_>, id: i64, request: FreeRequest) -> R<MethodResponse> {
    Ok(shell.engine.send_request(id, &request).await?)
}
