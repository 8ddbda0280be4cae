//! AuthFields (`[auth] type = "auth_fields"`, Cyclr's `AuthFields`): named values the user
//! gives per account connector, each put on every request in the JSON body, the query or a
//! header. Declared as `[[auth.fields]]` entries with `name`, `placement`, `secret` and
//! `description`.
//!
//! How the engine puts them on a request is `engine::access::auth_fields`.
//!
//! Must not: hold or read a value (the vault does).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::AuthCheck;
use crate::definition::{is_header_name, AuthEndpoints};
use crate::error::Result;

/// The most fields one connector declares (each is a secret to seal and send).
pub const MAX_AUTH_FIELDS: usize = 32;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthFieldsDefinition {
    pub fields: Vec<AuthField>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthField {
    /// The key in the AuthValue object, and the body key, query parameter or header name.
    pub name: String,
    pub placement: FieldPlacement,
    /// Masked wherever it is shown (the value is sealed either way). Default: true.
    #[serde(default = "yes")]
    pub secret: bool,
    /// What the user types there, shown next to the input.
    #[serde(default)]
    pub description: String,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldPlacement {
    /// A key of the JSON object body (a method whose body is not a JSON object cannot
    /// carry it).
    Body,
    Query,
    Header,
}

impl FieldPlacement {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldPlacement::Body => "body",
            FieldPlacement::Query => "query",
            FieldPlacement::Header => "header",
        }
    }
}

impl AuthFieldsDefinition {
    /// Checks each field's name for where it goes; names are unique (a header's in any
    /// case). AuthFields have no endpoints.
    pub(in crate::definition) fn check(&self, cx: &mut AuthCheck) -> Result<AuthEndpoints> {
        if self.fields.is_empty() {
            return Err(cx.invalid(
                &cx.field("fields"),
                "declare at least one field ([[auth.fields]] with name and placement)".into(),
            ));
        }
        if self.fields.len() > MAX_AUTH_FIELDS {
            return Err(cx.invalid(
                &cx.field("fields"),
                format!(
                    "declares {} fields; at most {MAX_AUTH_FIELDS}",
                    self.fields.len()
                ),
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, f) in self.fields.iter().enumerate() {
            let at = cx.field(&format!("fields[{i}].name"));
            let name = f.name.as_str();
            let valid = match f.placement {
                FieldPlacement::Header => is_header_name(name),
                FieldPlacement::Query | FieldPlacement::Body => {
                    !name.trim().is_empty()
                        && name.trim() == name
                        && !name.chars().any(char::is_control)
                }
            };
            if !valid {
                return Err(cx.invalid(
                    &at,
                    format!(
                        "{name:?} is not a valid {} name",
                        match f.placement {
                            FieldPlacement::Header => "header",
                            FieldPlacement::Query => "query parameter",
                            FieldPlacement::Body => "body key",
                        }
                    ),
                ));
            }
            if !seen.insert(name.to_ascii_lowercase()) {
                return Err(cx.invalid(&at, format!("{name:?} is declared twice")));
            }
        }
        Ok(AuthEndpoints::default())
    }

    pub fn field(&self, name: &str) -> Option<&AuthField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Cyclr's `AuthScheme`: the one header or query parameter, when there is only one.
    pub fn scheme(&self) -> Option<String> {
        match self.fields.as_slice() {
            [only] if only.placement != FieldPlacement::Body => Some(only.name.clone()),
            _ => None,
        }
    }

    /// What a person reads about it (`connectors show`).
    pub fn summary(&self) -> Vec<(&'static str, String)> {
        self.fields
            .iter()
            .map(|f| {
                (
                    "field",
                    format!(
                        "{} in the {}{}{}",
                        f.name,
                        f.placement.as_str(),
                        if f.secret { " (secret)" } else { "" },
                        if f.description.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", f.description)
                        }
                    ),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::definition::ConnectorDefinition;

    fn parse(auth: &str) -> Result<ConnectorDefinition, String> {
        let text = format!(
            "id = \"f\"\nname = \"F\"\nversion = \"1\"\napi_base_url = \"https://api.example.com\"\n[auth]\n{auth}\n"
        );
        ConnectorDefinition::from_toml("f.toml", &text).map_err(|e| e.to_string())
    }

    #[test]
    fn fields_are_read_and_checked_by_name() {
        let d = parse(
            "type = \"auth_fields\"\n[[auth.fields]]\nname = \"api_key\"\nplacement = \"body\"\n\
             [[auth.fields]]\nname = \"X-User\"\nplacement = \"header\"\nsecret = false",
        )
        .unwrap();
        let crate::definition::AuthDefinition::AuthFields(f) = &d.auth else {
            panic!("not auth_fields");
        };
        assert!(f.fields[0].secret, "secret by default");
        assert!(!f.fields[1].secret);
        assert_eq!(d.auth.auth_type().cyclr_name(), "AuthFields");
        assert_eq!(d.auth.scheme(), None, "two fields: no single AuthScheme");

        for (auth, says) in [
            ("type = \"auth_fields\"\nfields = []", "auth.fields: declare at least one field"),
            (
                "type = \"auth_fields\"\n[[auth.fields]]\nname = \"Bad Header\"\nplacement = \"header\"",
                "auth.fields[0].name",
            ),
            (
                "type = \"auth_fields\"\n[[auth.fields]]\nname = \"k\"\nplacement = \"query\"\n\
                 [[auth.fields]]\nname = \"K\"\nplacement = \"body\"",
                "\"K\" is declared twice",
            ),
            (
                "type = \"auth_fields\"\n[[auth.fields]]\nname = \"k\"\nplacement = \"cookie\"",
                "unknown variant `cookie`, expected one of `body`, `query`, `header`",
            ),
            // A field of another type is named.
            (
                "type = \"auth_fields\"\nprefix = \"Bearer \"\n[[auth.fields]]\nname = \"k\"\nplacement = \"query\"",
                "prefix",
            ),
        ] {
            let e = parse(auth).unwrap_err();
            assert!(e.contains(says), "expected {says:?} in: {e}");
        }
    }
}
