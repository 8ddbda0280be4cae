//! Semantic checks of a connector definition, beyond what serde's `deny_unknown_fields`
//! catches: ids, names, endpoints per grant, URL templates and what their placeholders may
//! stand for, header names, unique method ids, property patterns. Produces the
//! definition's [`Compiled`] form. Errors name the file and the field.
//!
//! Must not: check one auth type's settings (each type's module in `auth/` does, through
//! `AuthDefinition::check`).

use std::collections::{BTreeMap, BTreeSet};

use super::auth::AuthCheck;
use super::template::{self, SlotKind, UrlTemplate};
use super::{is_header_name, Compiled, ConnectorDefinition, ParameterLocation};
use crate::error::{Error, Result};

pub(super) fn check(def: &ConnectorDefinition, origin: &str) -> Result<Compiled> {
    let invalid = |field: &str, message: String| invalid_at(origin, field, message);
    let slug_ok = !def.id.is_empty()
        && def.id.len() <= 64
        && def
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !slug_ok {
        return Err(invalid(
            "id",
            "must be 1-64 characters of lowercase letters, digits and '-'".into(),
        ));
    }
    if def.name.trim().is_empty() {
        return Err(invalid("name", "must not be empty".into()));
    }
    if def.version.trim().is_empty() {
        return Err(invalid("version", "must not be empty".into()));
    }

    let mut compiled = Compiled::default();
    let mut property_names = BTreeSet::new();
    for (i, p) in def.properties.iter().enumerate() {
        let at = |f: &str| format!("properties[{i}].{f}");
        if !is_identifier(&p.name) {
            return Err(invalid(
                &at("name"),
                "must be letters, digits and '_' (it is used as a {placeholder})".into(),
            ));
        }
        if !property_names.insert(p.name.as_str()) {
            return Err(invalid(
                &at("name"),
                format!("`{}` is declared twice", p.name),
            ));
        }
        if let Some(pattern) = &p.pattern {
            let re = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
                invalid(
                    &at("pattern"),
                    format!("is not a valid regular expression ({e})"),
                )
            })?;
            compiled.patterns.insert(p.name.clone(), re);
        }
        if p.suffix.as_deref().is_some_and(str::is_empty) {
            return Err(invalid(&at("suffix"), "must not be empty".into()));
        }
    }

    // Every templated URL: parsed once, each placeholder a declared property.
    let mut kinds: BTreeMap<String, BTreeSet<SlotKind>> = BTreeMap::new();
    let mut url = |field: &str, text: &str| -> Result<UrlTemplate> {
        let t = UrlTemplate::parse(text).map_err(|e| invalid(field, e))?;
        for (slot, kind) in t.slots() {
            if !property_names.contains(slot.as_str()) {
                return Err(invalid(
                    field,
                    format!("placeholder {{{slot}}} names no declared property"),
                ));
            }
            kinds.entry(slot).or_default().insert(kind);
        }
        Ok(t)
    };

    compiled.api_base = def
        .api_base_url
        .as_deref()
        .map(|b| url("api_base_url", b))
        .transpose()?;
    for (name, value) in &def.headers {
        let field = format!("headers.{name}");
        if !is_header_name(name) {
            return Err(invalid(&field, "is not a valid HTTP header name".into()));
        }
        if value.chars().any(char::is_control) {
            return Err(invalid(
                &field,
                "must not contain control characters".into(),
            ));
        }
        for ph in template::placeholders(value).map_err(|e| invalid(&field, e))? {
            if !property_names.contains(ph.as_str()) {
                return Err(invalid(
                    &field,
                    format!("placeholder {{{ph}}} names no declared property"),
                ));
            }
        }
    }
    compiled.endpoints.push(def.auth.check(&mut AuthCheck {
        at: "auth".into(),
        property_names: &property_names,
        parse_url: &mut url,
        error: &invalid,
    })?);
    let mut auth_ids = BTreeSet::from([super::DEFAULT_AUTH_ID]);
    for (i, m) in def.auth_methods.iter().enumerate() {
        let prefix = format!("auth_methods[{i}]");
        let id_ok = !m.id.is_empty()
            && m.id.len() <= 64
            && m.id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(invalid(
                &format!("{prefix}.id"),
                "must be 1-64 letters, digits, '-' or '_'".into(),
            ));
        }
        if !auth_ids.insert(m.id.as_str()) {
            return Err(invalid(
                &format!("{prefix}.id"),
                format!("`{}` is used twice (`default` is the id of [auth])", m.id),
            ));
        }
        if m.name.trim().is_empty() {
            return Err(invalid(
                &format!("{prefix}.name"),
                "must not be empty".into(),
            ));
        }
        compiled.endpoints.push(m.auth.check(&mut AuthCheck {
            at: format!("{prefix}.auth"),
            property_names: &property_names,
            parse_url: &mut url,
            error: &invalid,
        })?);
    }

    let mut method_ids = BTreeSet::new();
    for (i, m) in def.methods.iter().enumerate() {
        let at = |f: &str| format!("methods[{i}].{f}");
        if m.id.is_empty()
            || !m
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        {
            return Err(invalid(
                &at("id"),
                "must be letters, digits, '-', '_' or '.'".into(),
            ));
        }
        if !method_ids.insert(m.id.as_str()) {
            return Err(invalid(
                &at("id"),
                format!("`{}` is used by two methods", m.id),
            ));
        }
        if m.name.trim().is_empty() {
            return Err(invalid(&at("name"), "must not be empty".into()));
        }
        let mut param_names = BTreeSet::new();
        for (j, p) in m.parameters.iter().enumerate() {
            let field = format!("methods[{i}].parameters[{j}].name");
            if p.name.is_empty() || !param_names.insert(p.name.as_str()) {
                return Err(invalid(
                    &field,
                    "must be non-empty and unique within the method".into(),
                ));
            }
            if property_names.contains(p.name.as_str()) {
                return Err(invalid(
                    &field,
                    format!(
                        "`{}` is also a property; give the parameter another name",
                        p.name
                    ),
                ));
            }
            if p.location == ParameterLocation::Header && !is_header_name(&p.name) {
                return Err(invalid(&field, "is not a valid HTTP header name".into()));
            }
        }
        let template = if is_absolute(&m.path) {
            UrlTemplate::parse(&m.path).map_err(|e| invalid(&at("path"), e))?
        } else if !m.path.starts_with('/') {
            return Err(invalid(
                &at("path"),
                "must start with '/' or be an absolute https:// URL".into(),
            ));
        } else {
            let base = compiled.api_base.as_ref().ok_or_else(|| {
                invalid(
                    &at("path"),
                    "is relative but the connector has no api_base_url".into(),
                )
            })?;
            base.join_path(&m.path)
                .map_err(|e| invalid(&at("path"), e))?
        };
        let path_params: BTreeSet<&str> = m
            .parameters
            .iter()
            .filter(|p| p.location == ParameterLocation::Path)
            .map(|p| p.name.as_str())
            .collect();
        let mut used = BTreeSet::new();
        for (slot, kind) in template.slots() {
            if path_params.contains(slot.as_str()) {
                if kind.is_host() {
                    return Err(invalid(
                        &at("path"),
                        format!(
                            "placeholder {{{slot}}} is a method parameter in the host; only \
                             properties may stand for a host"
                        ),
                    ));
                }
                used.insert(slot);
            } else if property_names.contains(slot.as_str()) {
                kinds.entry(slot).or_default().insert(kind);
            } else {
                return Err(invalid(
                    &at("path"),
                    format!("placeholder {{{slot}}} is neither a path parameter nor a property"),
                ));
            }
        }
        for (j, p) in m.parameters.iter().enumerate() {
            if p.location == ParameterLocation::Path && !used.contains(&p.name) {
                return Err(invalid(
                    &format!("methods[{i}].parameters[{j}]"),
                    format!("path parameter `{}` does not appear in path", p.name),
                ));
            }
        }
        compiled.methods.push(template);
    }
    compiled.slot_kinds = kinds;

    // Host constraints, and examples that pass their own checks.
    for (i, p) in def.properties.iter().enumerate() {
        let in_host = compiled
            .slot_kinds
            .get(&p.name)
            .is_some_and(|k| k.iter().any(|k| k.is_host()));
        if let (true, Some(suffix)) = (in_host, &p.suffix) {
            if !suffix.starts_with('.') {
                return Err(invalid(
                    &format!("properties[{i}].suffix"),
                    format!(
                        "`{}` stands for a host, so its suffix must start with '.' (e.g. \
                         \".example.com\"), or any host ending in the same letters would pass",
                        p.name
                    ),
                ));
            }
        }
    }
    Ok(compiled)
}

/// Checks each property's `example` against the definition (after [`check`]).
pub(super) fn check_examples(def: &ConnectorDefinition, origin: &str) -> Result<()> {
    for (i, p) in def.properties.iter().enumerate() {
        if let Some(example) = &p.example {
            def.check_property_value(&p.name, example)
                .map_err(|e| invalid_at(origin, &format!("properties[{i}].example"), e))?;
        }
    }
    Ok(())
}

fn is_absolute(path: &str) -> bool {
    path.starts_with("https://") || path.starts_with("http://")
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

pub(super) fn invalid_at(origin: &str, field: &str, message: impl Into<String>) -> Error {
    Error::InvalidDefinition {
        origin: origin.to_string(),
        field: field.to_string(),
        message: message.into(),
    }
}
