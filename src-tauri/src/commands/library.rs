//! The connector library: add a definition (a file, an issuer's metadata, or the OAuth
//! form), look at one in detail, rename a user connector, set its OAuth app.
//!
//! Must not: answer a library OAuth app's ClientSecret (the entry says only whether it is
//! set), remove one unless `public` is asked (a blank secret keeps the stored one), or
//! parse or write a definition itself (the core does).

use authdesk_core::definition::form::OAuthConnectorForm;
use authdesk_core::definition::ConnectorDefinition;
use authdesk_core::{ClientSecretChange, LibraryConnector, Secret};
use serde::Serialize;

use super::{R, S};

#[tauri::command]
pub async fn add_connector(
    shell: S<'_>,
    file_name: String,
    text: String,
    replace: bool,
) -> R<LibraryConnector> {
    shell
        .db(move |desk| desk.add_connector(&file_name, &text, replace))
        .await
}

#[tauri::command]
pub async fn discover_connector(
    shell: S<'_>,
    issuer: String,
    id: Option<String>,
    name: Option<String>,
) -> R<LibraryConnector> {
    let found = shell
        .engine
        .discover(
            &issuer,
            id.as_deref().filter(|s| !s.is_empty()),
            name.as_deref().filter(|s| !s.is_empty()),
        )
        .await?;
    shell
        .db(move |desk| {
            desk.add_connector(&format!("discovered from {issuer}"), &found.toml, false)
        })
        .await
}

/// A new OAuth connector from the form's fields (written as a definition file).
#[tauri::command]
pub async fn add_oauth_connector(shell: S<'_>, form: OAuthConnectorForm) -> R<LibraryConnector> {
    shell.db(move |desk| desk.add_oauth_connector(&form)).await
}

/// A library entry with everything a user needs to set it up: its definition (auth,
/// endpoints, scopes, properties, methods, sources), the redirect URI to register, and
/// the definition file's text.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectorDetail {
    connector: LibraryConnector,
    definition: ConnectorDefinition,
    redirect_uri: String,
    definition_text: String,
}

#[tauri::command]
pub async fn connector_detail(shell: S<'_>, connector: String) -> R<ConnectorDetail> {
    let redirect_uri = shell.callback_uri();
    shell
        .db(move |desk| {
            let c = desk.get_connector(&connector)?;
            Ok(ConnectorDetail {
                definition: (*c.definition).clone(),
                definition_text: desk.connector_definition_text(&c.slug)?,
                connector: c,
                redirect_uri,
            })
        })
        .await
}

#[tauri::command]
pub async fn rename_connector(
    shell: S<'_>,
    connector: String,
    name: String,
) -> R<LibraryConnector> {
    shell
        .db(move |desk| desk.rename_connector(&connector, &name))
        .await
}

/// Removes the library entry's OAuth app (ClientId and ClientSecret); account connectors
/// with a ClientId of their own keep it.
#[tauri::command]
pub async fn clear_connector_client(shell: S<'_>, connector: String) -> R<LibraryConnector> {
    shell
        .db(move |desk| desk.clear_connector_client(&connector))
        .await
}

/// Saves the library entry's OAuth app. A blank `client_secret` keeps the stored one;
/// `public` (explicit) makes it a public client without a secret.
#[tauri::command]
pub async fn set_connector_client(
    shell: S<'_>,
    connector: String,
    client_id: String,
    client_secret: Option<String>,
    public: bool,
) -> R<LibraryConnector> {
    let secret = client_secret.filter(|s| !s.is_empty()).map(Secret::new);
    if public && secret.is_some() {
        return Err(
            "A public client has no ClientSecret: clear the secret field, or untick \
                    \"Public client\"."
                .to_string()
                .into(),
        );
    }
    shell
        .db(move |desk| {
            let change = match (&secret, public) {
                (Some(s), _) => ClientSecretChange::Set(s),
                (None, true) => ClientSecretChange::Public,
                (None, false) => ClientSecretChange::Keep,
            };
            desk.update_connector_client(&connector, &client_id, change)
        })
        .await
}
