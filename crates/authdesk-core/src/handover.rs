//! Hand-over bundles: accounts and their account connectors, with their secrets, properties,
//! the user connector definitions and the library OAuth apps they use, encrypted with age
//! to the receiver's X25519 recipient (`age1...`), and imported by the receiver, who re-seals
//! everything under their own vault key.
//!
//! The receiver's identity (`AGE-SECRET-KEY-1...`) is made on first use and kept sealed in
//! the settings, under the vault's key (the OS keychain on a desktop, the key file on a
//! team server, so every replica has it); only its recipient is ever shown.
//!
//! An import decrypts and reads the whole bundle before it writes anything (age
//! authenticates every byte: a tampered file is refused whole), prepares every install
//! (every check), then adds what is missing: user connectors by id (a different definition
//! of the receiver's is kept), OAuth apps where the receiver has none, and the accounts and
//! account connectors in one transaction. An account connector already present (same
//! account, connector and name) is left as it is, so importing a bundle twice adds nothing
//! the second time.
//!
//! Must not: write a bundle's plaintext anywhere (it lives in memory only, its types have
//! no `Debug`), show the identity, or overwrite what the receiver already has.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{AccountConnector, InstallRequest, NewAccount, PropertyInput};
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::service::{fields, Authdesk};

/// The settings key of the sealed identity.
const IDENTITY: &str = "handover_identity";
const FORMAT: &str = "authdesk-handover";
/// Largest bundle read (a few thousand account connectors).
pub const MAX_BUNDLE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Bundle {
    format: String,
    version: u32,
    created_at: DateTime<Utc>,
    accounts: Vec<BundleAccount>,
    connectors: Vec<BundleConnector>,
    #[serde(rename = "OAuthApps")]
    oauth_apps: Vec<BundleApp>,
    account_connectors: Vec<BundleAccountConnector>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct BundleAccount {
    id: String,
    name: String,
    description: String,
    timezone: String,
}

/// A user connector's definition (built-in ones are in every Authdesk).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct BundleConnector {
    slug: String,
    definition: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct BundleApp {
    connector: String,
    client_id: String,
    client_secret: Option<String>,
    client_private_key: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct BundleAccountConnector {
    account_id: String,
    connector: String,
    name: String,
    description: String,
    /// The way to authenticate, by its id in the definition.
    method: String,
    properties: BTreeMap<String, String>,
    /// Cyclr's AuthValue of the stored credential; none when nothing is stored.
    auth_value: Option<String>,
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExportReport {
    pub recipient: String,
    pub accounts: usize,
    pub account_connectors: usize,
    pub connectors: usize,
    #[serde(rename = "OAuthApps")]
    pub oauth_apps: usize,
    /// What could not go into the bundle as it is, and why.
    pub notes: Vec<String>,
}

/// What an import did, item by item.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImportReport {
    pub accounts: Vec<Imported>,
    pub connectors: Vec<Imported>,
    #[serde(rename = "OAuthApps")]
    pub oauth_apps: Vec<Imported>,
    pub account_connectors: Vec<Imported>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Imported {
    /// The receiver's Id (an account's GUID, an account connector's number), or the
    /// connector's id for connectors and OAuth apps.
    pub id: String,
    pub name: String,
    /// `added`, `already present`, or `kept yours` (the receiver's differs and stays).
    pub outcome: &'static str,
}

impl ImportReport {
    /// How many items the import added.
    pub fn added(&self) -> usize {
        [
            &self.accounts,
            &self.connectors,
            &self.oauth_apps,
            &self.account_connectors,
        ]
        .iter()
        .map(|l| l.iter().filter(|i| i.outcome == "added").count())
        .sum()
    }
}

/// Writes a bundle to `path`, readable and writable by its owner only, flushed to disk.
pub fn write_bundle_file(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let failed = |e: std::io::Error| {
        Error::InvalidInput(format!(
            "cannot write the bundle to {}: {e}",
            path.display()
        ))
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path).map_err(failed)?;
    f.write_all(bytes).map_err(failed)?;
    f.sync_all().map_err(failed)
}

/// Reads a bundle file (at most [`MAX_BUNDLE_BYTES`]).
pub fn read_bundle_file(path: &std::path::Path) -> Result<Vec<u8>> {
    let failed =
        |e: std::io::Error| Error::InvalidInput(format!("cannot read {}: {e}", path.display()));
    let size = std::fs::metadata(path).map_err(failed)?.len();
    if size > MAX_BUNDLE_BYTES as u64 {
        return Err(Error::InvalidInput(format!(
            "{} is {size} bytes; a bundle is at most {MAX_BUNDLE_BYTES} bytes",
            path.display()
        )));
    }
    std::fs::read(path).map_err(failed)
}

impl Authdesk {
    /// This desk's hand-over recipient (`age1...`), its identity made on first use.
    pub fn handover_recipient(&self) -> Result<String> {
        Ok(self.handover_identity()?.to_public().to_string())
    }

    fn handover_identity(&self) -> Result<age::x25519::Identity> {
        let kept = self.sealed_setting_or_make(IDENTITY, || {
            Secret::new(
                age::x25519::Identity::generate()
                    .to_string()
                    .expose_secret()
                    .to_string(),
            )
        })?;
        age::x25519::Identity::from_str(kept.expose())
            .map_err(|_| Error::Internal("the stored hand-over identity cannot be read".into()))
    }

    /// The chosen accounts (all when `accounts` is empty) and their account connectors,
    /// encrypted to `recipient`: the bundle's armored bytes, and what is in it.
    pub fn export_bundle(
        &self,
        recipient: &str,
        accounts: &[String],
    ) -> Result<(Vec<u8>, ExportReport)> {
        let to = age::x25519::Recipient::from_str(recipient.trim()).map_err(|_| {
            Error::InvalidInput(
                "--to: not an age X25519 recipient (age1...); ask the receiver for the line \
                 `authdesk identity show` prints"
                    .into(),
            )
        })?;
        let chosen = if accounts.is_empty() {
            self.list_accounts()?
        } else {
            accounts
                .iter()
                .map(|id| self.get_account(id))
                .collect::<Result<Vec<_>>>()?
        };
        let mut notes = Vec::new();
        let mut bundle = Bundle {
            format: FORMAT.into(),
            version: 1,
            created_at: self.now(),
            accounts: Vec::new(),
            connectors: Vec::new(),
            oauth_apps: Vec::new(),
            account_connectors: Vec::new(),
        };
        let mut connectors_used = BTreeSet::new();
        for account in &chosen {
            bundle.accounts.push(BundleAccount {
                id: account.id.clone(),
                name: account.name.clone(),
                description: account.description.clone(),
                timezone: account.timezone.clone(),
            });
            for ac in self.list_account_connectors(Some(&account.id))? {
                connectors_used.insert(ac.connector.slug.clone());
                bundle
                    .account_connectors
                    .push(self.bundled_account_connector(&ac, &mut notes)?);
            }
        }
        for slug in &connectors_used {
            let c = self.get_connector(slug)?;
            if c.source == crate::domain::ConnectorSource::User {
                bundle.connectors.push(BundleConnector {
                    slug: slug.clone(),
                    definition: self.connector_definition_text(slug)?,
                });
            }
            if let Some(client_id) = &c.client_id {
                bundle.oauth_apps.push(BundleApp {
                    connector: slug.clone(),
                    client_id: client_id.clone(),
                    client_secret: self
                        .connector_client_secret(c.id)?
                        .map(|s| s.expose().to_string()),
                    client_private_key: self
                        .connector_client_private_key(c.id)?
                        .map(|s| s.expose().to_string()),
                });
            }
        }
        let report = ExportReport {
            recipient: to.to_string(),
            accounts: bundle.accounts.len(),
            account_connectors: bundle.account_connectors.len(),
            connectors: bundle.connectors.len(),
            oauth_apps: bundle.oauth_apps.len(),
            notes,
        };
        let plain = Secret::new(
            serde_json::to_string(&bundle)
                .map_err(|e| Error::Internal(format!("the bundle cannot be written: {e}")))?,
        );
        let sealed = age::encrypt_and_armor(&to, plain.expose().as_bytes())
            .map_err(|e| Error::Internal(format!("the bundle cannot be encrypted: {e}")))?;
        Ok((sealed.into_bytes(), report))
    }

    fn bundled_account_connector(
        &self,
        ac: &AccountConnector,
        notes: &mut Vec<String>,
    ) -> Result<BundleAccountConnector> {
        let mut properties = BTreeMap::new();
        for p in &ac.properties {
            if let Some(v) = self.property_value(ac.id, &p.name)? {
                properties.insert(p.name.clone(), v.expose().to_string());
            }
        }
        let auth_value = if crate::engine::dpop::is_dpop_type(ac.token_type.as_deref()) {
            notes.push(format!(
                "{} ({}): its tokens are bound to this machine's DPoP key; the receiver signs in",
                ac.name, ac.id
            ));
            None
        } else {
            self.auth_value_of(ac)?
        };
        Ok(BundleAccountConnector {
            account_id: ac.account_id.clone(),
            connector: ac.connector.slug.clone(),
            name: ac.name.clone(),
            description: ac.description.clone(),
            method: ac.authentication.method_id.clone(),
            properties,
            auth_value,
        })
    }

    /// The stored credential as Cyclr's AuthValue text (what an install takes back).
    fn auth_value_of(&self, ac: &AccountConnector) -> Result<Option<String>> {
        let secret = |field: &str| -> Result<Option<String>> {
            Ok(self
                .credential_secret(ac.id, field)?
                .map(|s| s.expose().to_string()))
        };
        let text = match ac.authentication.auth_type {
            "OAuth2" => {
                let mut v = serde_json::Map::new();
                for field in [
                    fields::ACCESS_TOKEN,
                    fields::REFRESH_TOKEN,
                    fields::ID_TOKEN,
                ] {
                    if let Some(s) = secret(field)? {
                        v.insert(field.into(), s.into());
                    }
                }
                if v.is_empty() {
                    return Ok(None);
                }
                let date = |d: &Option<DateTime<Utc>>| {
                    d.map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                };
                for (k, val) in [
                    ("Expires", date(&ac.expires_at)),
                    ("RefreshExpires", date(&ac.refresh_expires_at)),
                    ("TokenType", ac.token_type.clone()),
                    ("Scope", ac.scopes.clone()),
                ] {
                    if let Some(val) = val {
                        v.insert(k.into(), val.into());
                    }
                }
                serde_json::Value::Object(v).to_string()
            }
            "OAuth1" => match (secret(fields::ACCESS_TOKEN)?, secret(fields::TOKEN_SECRET)?) {
                (Some(a), Some(s)) => {
                    serde_json::json!({"AccessToken": a, "TokenSecret": s}).to_string()
                }
                _ => return Ok(None),
            },
            "ApiKey" => match secret(fields::API_KEY)? {
                Some(k) => k,
                None => return Ok(None),
            },
            "Basic" => match secret(fields::BASIC)? {
                Some(joined) => base64::engine::general_purpose::STANDARD.encode(joined),
                None => return Ok(None),
            },
            "AuthFields" => {
                let mut v = serde_json::Map::new();
                for field in &ac.secrets_set {
                    if let (Some(name), Some(value)) =
                        (field.strip_prefix("AuthField:"), secret(field)?)
                    {
                        v.insert(name.into(), value.into());
                    }
                }
                if v.is_empty() {
                    return Ok(None);
                }
                serde_json::Value::Object(v).to_string()
            }
            _ => return Ok(None),
        };
        Ok(Some(text))
    }

    /// Decrypts a bundle with this desk's identity and adds what it holds (see the module
    /// header): nothing is written unless the whole bundle decrypts and every install is
    /// valid here.
    pub fn import_bundle(&self, bytes: &[u8]) -> Result<ImportReport> {
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(Error::InvalidInput(format!(
                "the bundle is {} bytes; the limit is {MAX_BUNDLE_BYTES}",
                bytes.len()
            )));
        }
        let identity = self.handover_identity()?;
        let plain = age::decrypt(&identity, bytes).map_err(|e| {
            Error::InvalidInput(match e {
                age::DecryptError::NoMatchingKeys => {
                    "this bundle was not encrypted to this desk's identity (`authdesk identity \
                     show`): ask the sender to export again --to that recipient; nothing was \
                     imported"
                        .to_string()
                }
                _ => format!(
                    "the bundle cannot be decrypted ({e}): it is damaged or was altered; \
                     nothing was imported"
                ),
            })
        })?;
        let plain = Secret::new(String::from_utf8(plain).map_err(|_| {
            Error::InvalidInput("the bundle's content is not text; nothing was imported".into())
        })?);
        let bundle: Bundle = serde_json::from_str(plain.expose()).map_err(|e| {
            Error::InvalidInput(format!(
                "the bundle's content is not a hand-over bundle (line {}, column {}); nothing \
                 was imported",
                e.line(),
                e.column()
            ))
        })?;
        if bundle.format != FORMAT || bundle.version != 1 {
            return Err(Error::InvalidInput(format!(
                "the bundle is {} version {}; this Authdesk reads {FORMAT} version 1",
                bundle.format, bundle.version
            )));
        }
        self.import_read_bundle(bundle)
    }

    fn import_read_bundle(&self, bundle: Bundle) -> Result<ImportReport> {
        let mut report = ImportReport {
            accounts: Vec::new(),
            connectors: Vec::new(),
            oauth_apps: Vec::new(),
            account_connectors: Vec::new(),
        };
        // Every definition must read before anything is written.
        for c in &bundle.connectors {
            crate::definition::ConnectorDefinition::from_toml(&c.slug, &c.definition)?;
        }
        for c in &bundle.connectors {
            let outcome = match self.get_connector(&c.slug) {
                Ok(_) if self.connector_definition_text(&c.slug)? == c.definition => {
                    "already present"
                }
                Ok(_) => "kept yours",
                Err(Error::NotFound { .. }) => {
                    self.add_connector(&format!("{}.toml", c.slug), &c.definition, false)?;
                    "added"
                }
                Err(e) => return Err(e),
            };
            report.connectors.push(Imported {
                id: c.slug.clone(),
                name: c.slug.clone(),
                outcome,
            });
        }
        for app in &bundle.oauth_apps {
            let here = self.get_connector(&app.connector)?;
            let outcome = match &here.client_id {
                Some(id) if *id == app.client_id => "already present",
                Some(_) => "kept yours",
                None => {
                    let secret = app.client_secret.as_deref().map(Secret::new);
                    self.set_connector_client(&app.connector, &app.client_id, secret.as_ref())?;
                    if let Some(pem) = &app.client_private_key {
                        self.set_connector_client_key(
                            &app.connector,
                            &app.client_id,
                            crate::service::PrivateKeySource::Pem(&Secret::new(pem.as_str())),
                        )?;
                    }
                    "added"
                }
            };
            report.oauth_apps.push(Imported {
                id: app.connector.clone(),
                name: here.name.clone(),
                outcome,
            });
        }
        // Accounts and their account connectors: prepared (every check), then one write.
        let mut batches = Vec::new();
        for account in &bundle.accounts {
            let existing = self.get_account(&account.id).ok();
            report.accounts.push(Imported {
                id: account.id.clone(),
                name: account.name.clone(),
                outcome: if existing.is_some() {
                    "already present"
                } else {
                    "added"
                },
            });
            let present: BTreeSet<(String, String)> = match &existing {
                Some(_) => self
                    .list_account_connectors(Some(&account.id))?
                    .into_iter()
                    .map(|ac| (ac.connector.slug, ac.name))
                    .collect(),
                None => BTreeSet::new(),
            };
            let mut installs = Vec::new();
            for ac in bundle
                .account_connectors
                .iter()
                .filter(|ac| ac.account_id == account.id)
            {
                if present.contains(&(ac.connector.clone(), ac.name.clone())) {
                    report.account_connectors.push(Imported {
                        id: String::new(),
                        name: ac.name.clone(),
                        outcome: "already present",
                    });
                    continue;
                }
                let req = InstallRequest {
                    name: ac.name.clone(),
                    description: Some(ac.description.clone()),
                    authentication_id: Some(ac.method.clone()),
                    auth_value: ac.auth_value.as_deref().map(Secret::new),
                    properties: ac
                        .properties
                        .iter()
                        .map(|(name, value)| PropertyInput {
                            name: name.clone(),
                            value: Secret::new(value.as_str()),
                        })
                        .collect(),
                    partner_integration: false,
                };
                installs.push(self.prepare_install(&ac.connector, req).map_err(|e| {
                    Error::InvalidInput(format!(
                        "account connector \"{}\" of account {}: {e}; nothing of the accounts \
                         was imported",
                        ac.name, account.id
                    ))
                })?);
            }
            batches.push((
                NewAccount {
                    id: Some(account.id.clone()),
                    name: account.name.clone(),
                    description: Some(account.description.clone()),
                    timezone: Some(account.timezone.clone()),
                    settings: Default::default(),
                },
                installs,
            ));
        }
        for (_, installed) in self.launch_all(batches)? {
            for ac in installed {
                report.account_connectors.push(Imported {
                    id: ac.id.to_string(),
                    name: ac.name,
                    outcome: "added",
                });
            }
        }
        Ok(report)
    }
}
