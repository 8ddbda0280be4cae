//! What the window's connector editor makes: a definition for a connector authenticated by
//! an API key, HTTP Basic or nothing ([`PlainConnectorForm`]; OAuth has its own form in
//! `form`), a method added to a definition's text ([`MethodForm`]), and a copy of a
//! definition under another id ([`as_copy`]). Every result is TOML that is loaded through
//! [`ConnectorDefinition::from_toml`], so it is checked like a file and what fails names
//! the field; edits go through `toml_edit`, so the rest of the text (comments and order)
//! stays as it was.
//!
//! Must not: store anything (the library does), or change a definition's `id` other than
//! in [`as_copy`].

use serde::{Deserialize, Serialize};
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table};

use super::auth::api_key::{ApiKeyDefinition, ApiKeyPlacement};
use super::{
    template, AuthDefinition, BodyFormat, ConnectorDefinition, HttpMethod, MethodDefinition,
    ParameterDefinition, ParameterLocation, PropertyDefinition,
};
use crate::error::{Error, Result};

/// How a [`PlainConnectorForm`] connector authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlainAuth {
    ApiKey,
    Basic,
    None,
}

/// The window's "New API key, Basic or open connector" form.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PlainConnectorForm {
    /// The slug: lowercase letters, digits and `-`.
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// May hold `{Property}` placeholders (e.g. `https://{Subdomain}.example.com/api`):
    /// each becomes a required property.
    pub api_base_url: String,
    pub auth: PlainAuth,
    /// API key only: where the key goes (header or query parameter) and under what name.
    #[serde(default)]
    pub placement: Option<ApiKeyPlacement>,
    #[serde(default)]
    pub key_name: Option<String>,
    /// API key only: put before the key, e.g. `Bearer ` (a trailing space is kept).
    #[serde(default)]
    pub prefix: Option<String>,
}

impl PlainConnectorForm {
    /// The definition as TOML text, checked like a file.
    pub fn to_toml(&self) -> Result<String> {
        let auth = match self.auth {
            PlainAuth::ApiKey => {
                let name = self
                    .key_name
                    .as_deref()
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| {
                        Error::InvalidInput(
                            "auth.name: give the header or query parameter the key goes in, \
                             e.g. X-API-Key"
                                .into(),
                        )
                    })?;
                AuthDefinition::ApiKey(ApiKeyDefinition {
                    placement: self.placement.unwrap_or(ApiKeyPlacement::Header),
                    name: name.to_string(),
                    prefix: self.prefix.clone().unwrap_or_default(),
                })
            }
            PlainAuth::Basic => AuthDefinition::Basic {},
            PlainAuth::None => AuthDefinition::None {},
        };
        let base = self.api_base_url.trim();
        let properties = template::placeholders(base)
            .map_err(|e| Error::InvalidInput(format!("api_base_url: {e}")))?
            .into_iter()
            .map(|name| PropertyDefinition {
                description: format!("{name} in the API base URL."),
                name,
                required: true,
                secret: false,
                pattern: None,
                suffix: None,
                example: None,
            })
            .collect();
        let definition = ConnectorDefinition {
            id: self.id.trim().to_string(),
            name: self.name.trim().to_string(),
            version: "1".into(),
            description: self.description.trim().to_string(),
            sources: vec![],
            category: None,
            verified_on: None,
            api_base_url: Some(base.to_string()),
            headers: Default::default(),
            auth,
            auth_methods: vec![],
            properties,
            methods: vec![],
            check: None,
            mcp: None,
            compiled: Default::default(),
        };
        let text = toml::to_string(&definition)
            .map_err(|e| Error::InvalidInput(format!("cannot write the definition: {e}")))?;
        let text = format!(
            "# Made in Authdesk's connector editor. Methods are added there or by hand \
             (docs/connector-format.md).\n{text}"
        );
        ConnectorDefinition::from_toml("the form", &text)?;
        Ok(text)
    }
}

/// The editor's "Add a method" form.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MethodForm {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub http_method: HttpMethod,
    /// Appended to the API base URL; `{name}` placeholders not named in `parameters` (nor
    /// properties) become required path parameters.
    pub path: String,
    #[serde(default)]
    pub body_format: Option<BodyFormat>,
    /// One parameter per line: `name location`, then `required` if it is
    /// (`per_page query`, `id path required`); location is path, query, header or body.
    #[serde(default)]
    pub parameters: String,
}

impl MethodForm {
    fn method(&self, properties: &[PropertyDefinition]) -> Result<MethodDefinition> {
        let mut parameters = Vec::new();
        for (n, line) in self.parameters.lines().enumerate() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.is_empty() {
                continue;
            }
            let bad = |what: &str| {
                Error::InvalidInput(format!(
                    "parameters, line {}: {what}; write `name location` and then `required` if it \
                     is, e.g. `id path required` (location: path, query, header or body)",
                    n + 1
                ))
            };
            let (name, location, rest) = match words.as_slice() {
                [name, location, rest @ ..] => (*name, *location, rest),
                _ => return Err(bad("no location")),
            };
            let location = match location.to_ascii_lowercase().as_str() {
                "path" => ParameterLocation::Path,
                "query" => ParameterLocation::Query,
                "header" => ParameterLocation::Header,
                "body" => ParameterLocation::Body,
                other => return Err(bad(&format!("`{other}` is not a location"))),
            };
            let required = match rest {
                [] => false,
                [r] if r.eq_ignore_ascii_case("required") => true,
                _ => return Err(bad("only `required` may follow the location")),
            };
            parameters.push(ParameterDefinition {
                name: name.to_string(),
                location,
                required,
                description: String::new(),
            });
        }
        let path = self.path.trim();
        for slot in template::placeholders(path)
            .map_err(|e| Error::InvalidInput(format!("methods.{}.path: {e}", self.id.trim())))?
        {
            let known = parameters.iter().any(|p| p.name == slot)
                || properties.iter().any(|p| p.name == slot);
            if !known {
                parameters.push(ParameterDefinition {
                    name: slot,
                    location: ParameterLocation::Path,
                    required: true,
                    description: String::new(),
                });
            }
        }
        Ok(MethodDefinition {
            id: self.id.trim().to_string(),
            name: self.name.trim().to_string(),
            description: self.description.trim().to_string(),
            http_method: self.http_method,
            path: path.to_string(),
            parameters,
            body_format: self.body_format.unwrap_or_default(),
            write: false,
        })
    }
}

fn parsed(origin: &str, text: &str) -> Result<DocumentMut> {
    text.parse().map_err(|e| {
        Error::InvalidInput(format!(
            "{origin}: the definition does not parse as TOML: {e}"
        ))
    })
}

/// `text` with `form`'s method added after the others (the rest of the text as it was).
pub fn with_method(origin: &str, text: &str, form: &MethodForm) -> Result<String> {
    let def = ConnectorDefinition::from_toml(origin, text)?;
    let method = form.method(&def.properties)?;
    if def.methods.iter().any(|m| m.id == method.id) {
        return Err(Error::AlreadyExists(format!(
            "methods: `{}` already has a method with id `{}`; give this one another id",
            def.id, method.id
        )));
    }
    let mut doc = parsed(origin, text)?;
    // `methods = []` (how a definition with none is written out) becomes `[[methods]]`.
    let empty_inline = doc
        .get("methods")
        .and_then(Item::as_array)
        .is_some_and(|a| a.is_empty());
    if empty_inline {
        doc.remove("methods");
    }
    let methods = doc
        .entry("methods")
        .or_insert(Item::ArrayOfTables(ArrayOfTables::new()));
    let Some(methods) = methods.as_array_of_tables_mut() else {
        return Err(Error::InvalidInput(format!(
            "{origin}: `methods` is written as an inline array; add the method to the text by \
             hand (Edit definition)"
        )));
    };
    methods.push(method_table(&method));
    let text = doc.to_string();
    ConnectorDefinition::from_toml(origin, &text)?;
    Ok(text)
}

/// The word serde writes for a unit variant (`GET`, `query`, `form`).
fn word<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// `method` as a `[[methods]]` table, its parameters as `[[methods.parameters]]`.
fn method_table(m: &MethodDefinition) -> Table {
    let mut t = Table::new();
    t["id"] = toml_edit::value(&m.id);
    t["name"] = toml_edit::value(&m.name);
    if !m.description.is_empty() {
        t["description"] = toml_edit::value(&m.description);
    }
    t["http_method"] = toml_edit::value(word(&m.http_method));
    t["path"] = toml_edit::value(&m.path);
    if m.body_format != BodyFormat::default() {
        t["body_format"] = toml_edit::value(word(&m.body_format));
    }
    if !m.parameters.is_empty() {
        let mut ps = ArrayOfTables::new();
        for p in &m.parameters {
            let mut pt = Table::new();
            pt["name"] = toml_edit::value(&p.name);
            pt["in"] = toml_edit::value(word(&p.location));
            if p.required {
                pt["required"] = toml_edit::value(true);
            }
            ps.push(pt);
        }
        t["parameters"] = Item::ArrayOfTables(ps);
    }
    t
}

/// `text` as a new connector: its `id` and `name` replaced (comments and everything else
/// kept; the ways to authenticate get new AuthenticationIds, which derive from the id).
pub fn as_copy(origin: &str, text: &str, id: &str, name: &str) -> Result<String> {
    let mut doc = parsed(origin, text)?;
    doc["id"] = toml_edit::value(id.trim());
    doc["name"] = toml_edit::value(name.trim());
    let text = doc.to_string();
    ConnectorDefinition::from_toml(origin, &text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "# my comment\nid = \"acme\"\nname = \"Acme\"\nversion = \"1\"\n\
        api_base_url = \"https://api.acme.example\"\n[auth]\ntype = \"basic\"\n";

    fn form(path: &str, parameters: &str) -> MethodForm {
        MethodForm {
            id: "get-user".into(),
            name: "Get user".into(),
            description: String::new(),
            http_method: HttpMethod::Get,
            path: path.into(),
            body_format: None,
            parameters: parameters.into(),
        }
    }

    #[test]
    fn a_method_is_added_with_its_path_parameters_and_the_text_kept() {
        let text = with_method("t", BASE, &form("/users/{user_id}", "fields query\n")).unwrap();
        assert!(text.starts_with("# my comment\n"), "{text}");
        let def = ConnectorDefinition::from_toml("t", &text).unwrap();
        let m = def.method("get-user").unwrap();
        let params: Vec<(&str, ParameterLocation, bool)> = m
            .parameters
            .iter()
            .map(|p| (p.name.as_str(), p.location, p.required))
            .collect();
        assert_eq!(
            params,
            [
                ("fields", ParameterLocation::Query, false),
                ("user_id", ParameterLocation::Path, true)
            ]
        );
        // A second method lands after the first; the same id twice is refused.
        let mut second = form("/me", "");
        second.id = "me".into();
        let text = with_method("t", &text, &second).unwrap();
        let def = ConnectorDefinition::from_toml("t", &text).unwrap();
        assert_eq!(def.methods.len(), 2);
        let e = with_method("t", &text, &second).unwrap_err().to_string();
        assert!(e.contains("already has a method with id `me`"), "{e}");
    }

    #[test]
    fn what_a_form_cannot_say_is_refused_with_the_field_named() {
        let e = with_method("t", BASE, &form("/x", "id"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("parameters, line 1: no location"), "{e}");
        let e = with_method("t", BASE, &form("/x", "\nid cookie"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2: `cookie` is not a location"), "{e}");
        let e = with_method("t", BASE, &form("/x", "id path maybe"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("only `required`"), "{e}");
        let inline = BASE.replace("[auth]", "methods = [{ id = \"a\", name = \"A\", http_method = \"GET\", path = \"/a\" }]\n[auth]");
        let e = with_method("t", &inline, &form("/x", ""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("inline array"), "{e}");
        let plain = PlainConnectorForm {
            id: "k".into(),
            name: "K".into(),
            description: String::new(),
            api_base_url: "https://{Sub}.example.com".into(),
            auth: PlainAuth::ApiKey,
            placement: None,
            key_name: None,
            prefix: None,
        };
        let e = plain.to_toml().unwrap_err().to_string();
        assert!(e.contains("auth.name"), "{e}");
    }

    #[test]
    fn a_plain_connector_declares_the_properties_its_base_url_names() {
        let plain = PlainConnectorForm {
            id: "sub-key".into(),
            name: "Sub key".into(),
            description: String::new(),
            api_base_url: "https://{Subdomain}.example.com/api".into(),
            auth: PlainAuth::ApiKey,
            placement: Some(ApiKeyPlacement::Query),
            key_name: Some("api_key".into()),
            prefix: None,
        };
        let def = ConnectorDefinition::from_toml("t", &plain.to_toml().unwrap()).unwrap();
        assert_eq!(def.properties[0].name, "Subdomain");
        assert!(def.properties[0].required);
        assert_eq!(def.auth.scheme().as_deref(), Some("api_key"));
        let copy = as_copy("t", BASE, "acme-copy", "Acme (copy)").unwrap();
        let def = ConnectorDefinition::from_toml("t", &copy).unwrap();
        assert_eq!(
            (def.id.as_str(), def.name.as_str()),
            ("acme-copy", "Acme (copy)")
        );
        assert!(copy.starts_with("# my comment"));
    }
}
