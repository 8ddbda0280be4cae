//! The connector library: add a definition (a file, an issuer's metadata, the OAuth form
//! or the API-key/Basic/no-auth form), look at one in detail, and the connector editor:
//! rename, edit the text, add a method, duplicate, remove; set its OAuth app.
//!
//! Must not: answer a library OAuth app's ClientSecret (the entry says only whether it is
//! set), remove one unless `public` is asked (a blank secret keeps the stored one), or
//! parse or write a definition itself (the core does).

use authdesk_core::definition::edit::{MethodForm, PlainConnectorForm};
use authdesk_core::definition::form::OAuthConnectorForm;
use authdesk_core::definition::ConnectorDefinition;
use authdesk_core::service::PrivateKeySource;
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

/// The connector editor's save: `text` as a new user connector (`editing` null) or as
/// the new definition of user connector `editing` (the core checks it like a file).
#[tauri::command]
pub async fn save_connector_text(
    shell: S<'_>,
    editing: Option<String>,
    text: String,
) -> R<LibraryConnector> {
    shell
        .db(move |desk| desk.save_connector_text(editing.as_deref(), &text))
        .await
}

/// A copy of a connector (built in or not) as the user's own, under another id.
#[tauri::command]
pub async fn duplicate_connector(
    shell: S<'_>,
    connector: String,
    id: String,
    name: Option<String>,
) -> R<LibraryConnector> {
    shell
        .db(move |desk| desk.duplicate_connector(&connector, &id, name.as_deref()))
        .await
}

/// Adds a method to a user connector (the editor's "Add a method").
#[tauri::command]
pub async fn add_connector_method(
    shell: S<'_>,
    connector: String,
    form: MethodForm,
) -> R<LibraryConnector> {
    shell
        .db(move |desk| desk.add_connector_method(&connector, &form))
        .await
}

/// A new API-key, Basic or no-auth connector from the editor's form.
#[tauri::command]
pub async fn add_plain_connector(shell: S<'_>, form: PlainConnectorForm) -> R<LibraryConnector> {
    shell.db(move |desk| desk.add_plain_connector(&form)).await
}

/// Removes a user connector that no account connector uses.
#[tauri::command]
pub async fn remove_connector(shell: S<'_>, connector: String) -> R<()> {
    shell
        .db(move |desk| desk.remove_connector(&connector))
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

/// Sets the library entry's private key (`private_key_jwt`): imported from `private_key`
/// (PEM), or, with `generate`, made here. Only its public JWK comes back (`PublicJwk`).
#[tauri::command]
pub async fn set_connector_client_key(
    shell: S<'_>,
    connector: String,
    client_id: String,
    private_key: Option<String>,
    generate: bool,
) -> R<LibraryConnector> {
    let pem = private_key
        .filter(|p| !p.trim().is_empty())
        .map(Secret::new);
    if pem.is_some() == generate {
        return Err("Import a private key or generate one, not both."
            .to_string()
            .into());
    }
    shell
        .db(move |desk| {
            let source = match &pem {
                Some(pem) => PrivateKeySource::Pem(pem),
                None => PrivateKeySource::Generate,
            };
            desk.set_connector_client_key(&connector, &client_id, source)
        })
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

/// Opens one of a connector's sources (by its place in `sources`) in the system browser:
/// only an https URL the definition names, never one the page makes up.
#[tauri::command]
pub async fn open_source(shell: S<'_>, connector: String, index: usize) -> R<()> {
    let url = shell
        .db(move |desk| {
            let c = desk.get_connector(&connector)?;
            c.definition.sources.get(index).cloned().ok_or_else(|| {
                authdesk_core::Error::InvalidInput(format!("{} has no source {index}", c.name))
            })
        })
        .await?;
    if !url.starts_with("https://") {
        return Err(
            authdesk_core::Error::InvalidInput("only https sources are opened".into()).into(),
        );
    }
    open::that_detached(&url).map_err(|e| {
        authdesk_core::Error::InvalidInput(format!(
            "no browser could be opened ({e}); the address is {url}"
        ))
    })?;
    Ok(())
}
