//! The connector library: the built-in catalog (synced by hash at open) and the user's own
//! definitions. Each entry's OAuth app is `oauth_app`'s.
//!
//! Must not: remove a built-in entry or one in use, or fetch anything (discovery is the
//! engine's).

use std::path::Path;

use crate::store::{args, Db, Row};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{checked_text, hex, ts, Authdesk, MAX_NAME, META_CATALOG};
use crate::definition::edit;
use crate::definition::form::OAuthConnectorForm;
use crate::definition::{catalog, ConnectorDefinition};
use crate::domain::*;
use crate::error::{Error, Result};
use crate::store::{self, Store};

impl Authdesk {
    pub fn list_connectors(&self) -> Result<Vec<LibraryConnector>> {
        let store = self.store()?;
        let rows = store.conn().query_map(
            &format!("{LIBRARY_SELECT} ORDER BY source, slug"),
            args![],
            library_row,
        )?;
        let mut out = Vec::new();
        for row in rows {
            // A user definition stored by an older Authdesk may fail today's checks (they
            // grow stricter): it is left out of the list, with the reason in the log, rather
            // than hiding the whole library. `connectors add --replace` or `remove` mend it.
            match library_connector(row) {
                Ok(c) => out.push(c),
                Err(e) => tracing::warn!("a library connector no longer loads: {e}"),
            }
        }
        Ok(out)
    }

    /// The library narrowed by `category` (an unknown one is an error naming the
    /// categories) and `search` (part of the name or id, any case).
    pub fn search_connectors(
        &self,
        category: Option<&str>,
        search: Option<&str>,
    ) -> Result<Vec<LibraryConnector>> {
        let category = category.map(str::trim).filter(|c| !c.is_empty());
        if let Some(c) = category {
            if !crate::definition::CATEGORIES.contains(&c) {
                return Err(Error::InvalidInput(format!(
                    "there is no category {c:?}; the categories are {}",
                    crate::definition::CATEGORIES.join(", ")
                )));
            }
        }
        let needle = search
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty());
        Ok(self
            .list_connectors()?
            .into_iter()
            .filter(|c| category.is_none_or(|cat| c.category.as_deref() == Some(cat)))
            .filter(|c| {
                needle.as_ref().is_none_or(|n| {
                    c.name.to_lowercase().contains(n.as_str()) || c.slug.contains(n.as_str())
                })
            })
            .collect())
    }

    /// Finds a library entry by its name as Cyclr's documentation addresses connectors
    /// (`/v1.0/connectors/{name}[/{version}]/methods`), else by integer Id or slug.
    pub fn get_connector_by_name(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<LibraryConnector> {
        let found = self
            .list_connectors()?
            .into_iter()
            .find(|c| c.name == name && version.is_none_or(|v| c.version == v));
        match (found, version) {
            (Some(c), _) => Ok(c),
            (None, None) => self.get_connector(name),
            (None, Some(v)) => Err(Error::not_found_hint(
                "connector",
                format!("{name} {v}"),
                "the connector library lists every name and version",
            )),
        }
    }

    /// Finds a library entry by integer Id or by slug.
    pub fn get_connector(&self, reference: &str) -> Result<LibraryConnector> {
        let store = self.store()?;
        find_connector(&store.conn(), reference)
    }

    /// Adds a user connector from TOML text. `replace` allows overwriting a user connector
    /// with the same slug (its Id, settings and installs are kept).
    pub fn add_connector(
        &self,
        origin: &str,
        toml_text: &str,
        replace: bool,
    ) -> Result<LibraryConnector> {
        let def = ConnectorDefinition::from_toml(origin, toml_text)?;
        let now = ts(self.now());
        let slug = def.id.clone();
        self.store()?.write(|tx| {
            let existing: Option<String> = tx.query_opt(
                "SELECT source FROM connectors WHERE slug = ?1",
                args![&slug],
                |r| r.get(0),
            )?;
            match existing.as_deref() {
                Some("builtin") => {
                    return Err(Error::AlreadyExists(format!(
                        "a built-in connector with id `{slug}` already exists; give yours another id"
                    )))
                }
                Some(_) if !replace => {
                    return Err(Error::AlreadyExists(format!(
                        "connector `{slug}` already exists; to update it, add it again with --replace (in \
                         the window: Replace my connector with the same id)"
                    )))
                }
                Some(_) => {
                    tx.execute(
                        "UPDATE connectors SET definition = ?2, updated_at = ?3 WHERE slug = ?1",
                        args![slug, toml_text, now],
                    )?;
                }
                None => {
                    tx.execute(
                        "INSERT INTO connectors(slug, source, definition, created_at, updated_at)
                         VALUES (?1, 'user', ?2, ?3, ?3)",
                        args![slug, toml_text, now],
                    )?;
                }
            }
            Ok(())
        })?;
        self.get_connector(&slug)
    }

    /// Adds an OAuth connector made from the window's form (see [`OAuthConnectorForm`]).
    pub fn add_oauth_connector(&self, form: &OAuthConnectorForm) -> Result<LibraryConnector> {
        let text = form.to_toml()?;
        self.add_connector(&format!("{}.toml", form.id.trim()), &text, false)
    }

    /// Renames a user connector: its definition's `name`, changed in the stored file with
    /// everything else in it (comments too) left as it was.
    pub fn rename_connector(&self, reference: &str, name: &str) -> Result<LibraryConnector> {
        let (c, text) = self.user_definition(reference, "keeps its name")?;
        let name = checked_text("Name", name, MAX_NAME, true)?;
        let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| {
            Error::InvalidInput(format!(
                "the stored definition of `{}` does not parse: {e}",
                c.slug
            ))
        })?;
        doc["name"] = toml_edit::value(name);
        let text = doc.to_string();
        ConnectorDefinition::from_toml(&format!("{}.toml", c.slug), &text)?;
        let now = ts(self.now());
        self.store()?.write(|tx| {
            tx.execute(
                "UPDATE connectors SET definition = ?2, updated_at = ?3 WHERE id = ?1",
                args![c.id, text, now],
            )?;
            Ok(())
        })?;
        self.get_connector(&c.id.to_string())
    }

    /// A user connector and its definition's text; a built-in one is refused (`what` it
    /// does instead, e.g. "keeps its name"), pointing at Duplicate.
    fn user_definition(&self, reference: &str, what: &str) -> Result<(LibraryConnector, String)> {
        let c = self.get_connector(reference)?;
        if c.source == ConnectorSource::Builtin {
            return Err(Error::InvalidInput(format!(
                "`{}` is built in and {what}; duplicate it as your own connector (in the window: \
                 Duplicate as my connector) and change the copy",
                c.slug
            )));
        }
        let text = self.definition_text_of(c.id)?;
        Ok((c, text))
    }

    /// The connector editor's save: `text` as a new user connector (`editing` `None`), or
    /// as the new definition of the user connector `editing` (its id cannot change:
    /// installs name it; Duplicate makes a copy under another id).
    pub fn save_connector_text(
        &self,
        editing: Option<&str>,
        text: &str,
    ) -> Result<LibraryConnector> {
        let Some(reference) = editing else {
            return self.add_connector("the editor", text, false);
        };
        let (c, _) = self.user_definition(reference, "cannot be changed")?;
        let origin = format!("{}.toml", c.slug);
        let def = ConnectorDefinition::from_toml(&origin, text)?;
        if def.id != c.slug {
            return Err(Error::InvalidInput(format!(
                "id: the definition says `{}` but you are editing `{}`; the id names the \
                 connector in its installs and cannot change here (Duplicate makes a copy with \
                 another id)",
                def.id, c.slug
            )));
        }
        self.add_connector(&origin, text, true)
    }

    /// A copy of connector `reference` (built in or not) as a user connector with id `id`
    /// and `name` (default: its name and "(copy)"); its OAuth app is not copied.
    pub fn duplicate_connector(
        &self,
        reference: &str,
        id: &str,
        name: Option<&str>,
    ) -> Result<LibraryConnector> {
        let c = self.get_connector(reference)?;
        let text = self.definition_text_of(c.id)?;
        let name = name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| format!("{} (copy)", c.name));
        let text = edit::as_copy(&format!("{}.toml", id.trim()), &text, id, &name)?;
        self.add_connector(&format!("{}.toml", id.trim()), &text, false)
    }

    /// Adds a method to user connector `reference` (the editor's "Add a method").
    pub fn add_connector_method(
        &self,
        reference: &str,
        form: &edit::MethodForm,
    ) -> Result<LibraryConnector> {
        let (c, text) = self.user_definition(reference, "cannot be changed")?;
        let origin = format!("{}.toml", c.slug);
        let text = edit::with_method(&origin, &text, form)?;
        self.add_connector(&origin, &text, true)
    }

    /// A new API-key, Basic or no-auth connector from the editor's form.
    pub fn add_plain_connector(&self, form: &edit::PlainConnectorForm) -> Result<LibraryConnector> {
        let text = form.to_toml()?;
        self.add_connector(&format!("{}.toml", form.id.trim()), &text, false)
    }

    /// A user connector's definition as stored (to save it as a file); a built-in one's
    /// from the catalog.
    pub fn connector_definition_text(&self, reference: &str) -> Result<String> {
        self.definition_text_of(self.get_connector(reference)?.id)
    }

    /// The stored definition text of library entry `id` (found already).
    fn definition_text_of(&self, id: i64) -> Result<String> {
        self.store()?.conn().query_row(
            "SELECT definition FROM connectors WHERE id = ?1",
            args![id],
            |r| r.get(0),
        )
    }

    pub fn add_connector_file(&self, path: &Path, replace: bool) -> Result<LibraryConnector> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::io(
                format!("cannot read connector definition {}", path.display()),
                e,
            )
        })?;
        self.add_connector(&path.display().to_string(), &text, replace)
    }

    /// Removes a user connector that no account connector uses.
    pub fn remove_connector(&self, reference: &str) -> Result<()> {
        // By Id or slug without parsing the definition: one that no longer loads can still
        // be removed.
        let reference = reference.trim();
        let found: Option<(i64, String, String)> = self.store()?.conn().query_opt(
            "SELECT id, slug, source FROM connectors WHERE slug = ?1 OR CAST(id AS TEXT) = ?1",
            args![reference],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let Some((id, slug, source)) = found else {
            return Err(Error::not_found("connector", reference));
        };
        if source == "builtin" {
            return Err(Error::InvalidInput(format!(
                "connector `{slug}` is built in and cannot be removed"
            )));
        }
        self.store()?.write(|tx| {
            let used: i64 = tx.query_row(
                "SELECT count(*) FROM account_connectors WHERE connector_id = ?1",
                args![id],
                |r| r.get(0),
            )?;
            if used > 0 {
                return Err(Error::InvalidInput(format!(
                    "connector `{slug}` is installed in {used} account connector(s); delete those first"
                )));
            }
            tx.execute("DELETE FROM connectors WHERE id = ?1", args![id])?;
            Ok(())
        })
    }
}

/// Upserts the built-in catalog when the binary's catalog differs from the one recorded,
/// so the common start-up path is one small read.
pub(super) fn sync_builtin_catalog(store: &mut Store, now: &DateTime<Utc>) -> Result<()> {
    let sources = catalog::builtin_sources();
    let mut hasher = Sha256::new();
    for (file, text) in sources {
        hasher.update(file.as_bytes());
        hasher.update([0]);
        hasher.update(text.as_bytes());
        hasher.update([0]);
    }
    let digest = hex(&hasher.finalize());
    if store.meta(META_CATALOG)?.as_deref() == Some(digest.as_str()) {
        return Ok(());
    }
    let defs = catalog::builtin()?;
    let now = ts(*now);
    store.write(|tx| {
        if store::meta_in(tx, META_CATALOG)?.as_deref() == Some(digest.as_str()) {
            return Ok(());
        }
        for ((_, text), def) in sources.iter().zip(&defs) {
            tx.execute(
                "INSERT INTO connectors(slug, source, definition, created_at, updated_at)
                 VALUES (?1, 'builtin', ?2, ?3, ?3)
                 ON CONFLICT(slug) DO UPDATE SET definition = excluded.definition,
                     updated_at = excluded.updated_at
                 WHERE connectors.source = 'builtin' AND connectors.definition <> excluded.definition",
                args![def.id, text, now])?;
        }
        store::set_meta_in(tx, META_CATALOG, &digest)
    })
}

const LIBRARY_SELECT: &str = "SELECT id, slug, source, definition, client_id, \
     sealed_client_secret IS NOT NULL, client_public_jwk FROM connectors";

type LibraryRow = (
    i64,
    String,
    String,
    String,
    Option<String>,
    bool,
    Option<String>,
);

fn library_row(r: &Row<'_>) -> Result<LibraryRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

fn library_connector(row: LibraryRow) -> Result<LibraryConnector> {
    let (id, slug, source, text, client_id, client_secret_set, public_jwk) = row;
    let definition =
        crate::definition::parse_cached(&format!("library connector {id} ({slug})"), &text)?;
    let summary = connector_summary(id, &slug, &definition, definition.auth_methods()[0]);
    Ok(LibraryConnector {
        id,
        slug,
        name: summary.name,
        version: summary.version,
        description: summary.description,
        status: summary.status,
        icon: summary.icon,
        auth_description: summary.auth_description,
        auth_type: summary.auth_type,
        oauth2_type: summary.oauth2_type,
        auth_scheme: summary.auth_scheme,
        authentication: definition
            .auth_methods()
            .into_iter()
            .map(|m| authentication_view(&definition, m))
            .collect(),
        parameters: parameter_views(&definition),
        source: if source == "builtin" {
            ConnectorSource::Builtin
        } else {
            ConnectorSource::User
        },
        client_id,
        client_secret_set,
        public_jwk: public_jwk.and_then(|j| serde_json::from_str(&j).ok()),
        category: definition.category.clone(),
        definition,
    })
}

pub(super) fn find_connector(conn: &Db<'_>, reference: &str) -> Result<LibraryConnector> {
    let reference = reference.trim();
    let row = match reference.parse::<i64>() {
        Ok(id) => conn.query_opt(
            &format!("{LIBRARY_SELECT} WHERE id = ?1"),
            args![id],
            library_row,
        )?,
        Err(_) => conn.query_opt(
            &format!("{LIBRARY_SELECT} WHERE slug = ?1"),
            args![reference],
            library_row,
        )?,
    };
    row.map(library_connector)
        .transpose()?
        .ok_or_else(|| Error::not_found("connector", reference))
}
